"""Captum saliency and attention maps on small nets whose answers are known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nextgen_ml.interpret.attention import attention_maps
from nextgen_ml.interpret.saliency import image_heatmap, input_saliency, lead_importance
from nextgen_ml.models.builder import build_multimodal_net


class LinearEcgNet(nn.Module):
    """logit = Σ w·ecg + Σ image (image only shifts the output): integrated gradients of the logit w.r.t. the ECG
    from a zero baseline are exactly w·x."""

    def __init__(self, leads: int = 3, samples: int = 20) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(leads, samples, generator=torch.Generator().manual_seed(0)))

    def forward(self, inputs, mask):
        ecg = (inputs["ecg"] * self.w).sum(dim=(1, 2)) * mask["ecg"]
        img = inputs["image"].sum(dim=(1, 2, 3)) * mask["image"]
        return {"logits": (ecg + img)[:, None]}


def _batch(b: int = 4):
    g = torch.Generator().manual_seed(1)
    inputs = {"ecg": torch.randn(b, 3, 20, generator=g), "image": torch.randn(b, 2, 8, 8, generator=g)}
    mask = {"ecg": torch.tensor([True, True, False, True]), "image": torch.ones(b, dtype=torch.bool)}
    return inputs, mask


def logit(out):
    return out["logits"][:, 0]


@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "input_x_gradient"])
def test_linear_net_attributions(method):
    net = LinearEcgNet()
    inputs, mask = _batch()
    attr = input_saliency(net, inputs, mask, "ecg", logit, method=method, n_steps=8)
    assert attr.shape == inputs["ecg"].shape
    expected = net.w.detach() * (inputs["ecg"] if method != "saliency" else 1.0)
    present = mask["ecg"][:, None, None]
    torch.testing.assert_close(attr, torch.where(present, expected.expand_as(attr), torch.zeros_like(attr)),
                               atol=1e-5, rtol=1e-4)
    image_attr = input_saliency(net, inputs, mask, "image", logit, method=method, n_steps=8)
    assert image_attr.shape == (4, 2, 8, 8)
    assert image_heatmap(image_attr).shape == (4, 8, 8)
    shares = lead_importance(attr)
    assert shares.shape == (4, 3)
    torch.testing.assert_close(shares[mask["ecg"]].sum(dim=1), torch.ones(3))


def test_saliency_errors():
    net = LinearEcgNet()
    inputs, mask = _batch()
    with pytest.raises(ValueError, match="unknown saliency method"):
        input_saliency(net, inputs, mask, "ecg", logit, method="lime")
    with pytest.raises(ValueError, match="'text' is not in inputs"):
        input_saliency(net, inputs, mask, "text", logit)
    with pytest.raises(ValueError, match="token ids"):
        input_saliency(net, {**inputs, "ecg": inputs["ecg"].long()}, mask, "ecg", logit)


def _net(fusion: str):
    encoders = {"ecg": {"name": "ecg_xresnet1d_small", "widths": [8, 8, 8, 8]}, "tabular": "tabular_mlp"}
    return build_multimodal_net(encoders, fusion, num_outputs=1, embed_dim=16,
                                modality_specs={"ecg": {"in_channels": 12}}).eval()


def test_attention_maps_cross_attention_and_none_for_concat():
    from nextgen_ml.data.transforms import TabularTransform

    cards = TabularTransform().spec()["cardinalities"]
    inputs = {"ecg": torch.randn(3, 12, 200), "tabular": torch.tensor([[0.0 if c == 0 else 1.0 for c in cards]] * 3)}
    mask = {"ecg": torch.tensor([True, False, True]), "tabular": torch.ones(3, dtype=torch.bool)}
    maps = attention_maps(_net("cross_attention"), inputs, mask)
    assert maps is not None and maps.modalities == ["ecg", "tabular"]
    assert maps.cls.shape == (3, 2) and maps.between.shape == (3, 2, 2)
    assert float(maps.cls[1, 0]) == 0.0 and float(maps.between[1, 0].sum()) == 0.0
    assert attention_maps(_net("concat"), inputs, mask) is None
