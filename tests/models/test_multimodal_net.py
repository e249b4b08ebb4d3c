"""MultimodalNet and build_multimodal_net with tiny stand-in encoders (test helpers with the encoder contract)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from nextgen_ml.models import MultimodalNet, build_head, build_multimodal_net
from nextgen_ml.registry import list_fusions


class TinyEncoder(nn.Module):
    """Encoder contract in miniature: ``(B, in_dim)`` → ``(B, D)`` or ``(B, T, D)``; counts its calls."""

    def __init__(self, in_dim: int, embed_dim: int = 8, tokens: int = 3) -> None:
        super().__init__()
        self.out_dim, self.tokens = embed_dim, tokens
        self.vec = nn.Linear(in_dim, embed_dim)
        self.tok = nn.Linear(in_dim, tokens * embed_dim)
        self.calls: list[str] = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls.append("forward")
        return self.vec(x)

    def forward_tokens(self, x: Tensor) -> Tensor:
        self.calls.append("forward_tokens")
        return self.tok(x).view(x.shape[0], self.tokens, self.out_dim)  # (B, T, D)


IN = {"ecg": 7, "image": 5, "tabular": 4}


def encoders() -> dict[str, nn.Module]:
    return {m: TinyEncoder(d) for m, d in IN.items()}


def batch(b: int = 6) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    gen = torch.Generator().manual_seed(0)
    inputs = {m: torch.randn(b, d, generator=gen) for m, d in IN.items()}
    mask = {m: torch.rand(b, generator=gen) > 0.4 for m in IN}
    return inputs, mask


def fusion_kwargs(name: str) -> dict:
    if name == "film_encoders":  # no feature-map stages in these encoders: condition none (tests/fusion: real ones)
        return {"name": name, "targets": []}
    return {"name": name, "num_heads": 2} if name in ("bottleneck", "cross_attention") else name


@pytest.mark.parametrize("fusion", list_fusions())
def test_forward_named_outputs_and_encoder_api(fusion: str) -> None:
    torch.manual_seed(0)
    net = build_multimodal_net(encoders(), fusion_kwargs(fusion), num_outputs=3, embed_dim=16)
    inputs, mask = batch()
    out = net(inputs, mask)
    aux = hasattr(net.fusion, "forward_with_aux")  # training mode: its per-row auxiliary loss comes along
    assert set(out) == {"logits", "embedding", *(["aux_loss"] if aux else [])}
    assert not aux or out["aux_loss"].shape == (6,)
    assert out["logits"].shape == (6, 3) and out["embedding"].shape == (6, net.fusion.out_dim)
    out["logits"].sum().backward()
    expected = "forward_tokens" if net.fusion.uses_tokens else "forward"
    assert all(enc.calls == [expected] for enc in net.encoders.values())


def test_only_given_modalities_are_encoded() -> None:
    net = build_multimodal_net(encoders(), "concat", num_outputs=1, embed_dim=16)
    inputs, mask = batch()
    out = net({"ecg": inputs["ecg"]}, mask)
    assert out["logits"].shape == (6, 1)
    assert net.encoders["ecg"].calls == ["forward"]
    assert net.encoders["image"].calls == [] and net.encoders["tabular"].calls == []


def test_builder_head_and_errors() -> None:
    net = build_multimodal_net(encoders(), {"name": "gated", "gate": "sigmoid"}, num_outputs=4, embed_dim=16,
                               head_hidden=(8,), dropout=0.1)
    assert isinstance(net, MultimodalNet) and net.fusion.gate == "sigmoid"
    assert [type(m).__name__ for m in net.head.modules()].count("Linear") == 2
    assert isinstance(build_head(16, 2), nn.Linear)
    reused = build_multimodal_net(encoders(), net.fusion, num_outputs=1, embed_dim=16)
    assert reused.fusion is net.fusion
    with pytest.raises(ValueError, match="num_outputs"):
        build_head(16, 0)
    with pytest.raises(ValueError, match="'name'"):
        build_multimodal_net({"ecg": {"in_channels": 12}}, "concat", num_outputs=1)
    with pytest.raises(KeyError, match="unknown encoder"):
        build_multimodal_net({"ecg": "ecg_does_not_exist"}, "concat", num_outputs=1)
    with pytest.raises(KeyError, match="unknown fusion"):
        build_multimodal_net(encoders(), "attention", num_outputs=1)
    with pytest.raises(ValueError, match="out_dim"):
        build_multimodal_net({"ecg": nn.Linear(3, 3)}, "concat", num_outputs=1)


def test_net_input_errors() -> None:
    net = build_multimodal_net(encoders(), "concat", num_outputs=1, embed_dim=16)
    inputs, mask = batch()
    with pytest.raises(ValueError, match=r"without an encoder: \['text'\]"):
        net({**inputs, "text": inputs["ecg"]}, {**mask, "text": mask["ecg"]})
    with pytest.raises(ValueError, match=r"mask is missing for modalities \['ecg'\]"):
        net(inputs, {k: v for k, v in mask.items() if k != "ecg"})
    # a batch where no row has any modality (Collate leaves every modality out of inputs) names the modalities
    absent = {m: torch.zeros(4, dtype=torch.bool) for m in IN}
    with pytest.raises(ValueError, match=r"no row of this batch has any of the modalities \['ecg', 'image', 'tabu"):
        net({}, absent)


def test_model_spec_is_the_typed_builder_of_config_nodes():
    from nextgen_ml.models import ModelSpec

    node = {"encoder": {"tabular": "tabular_mlp"}, "fusion": "concat", "embed_dim": 16, "head_hidden": [8],
            "dropout": 0.1}
    spec = ModelSpec.from_config(node)
    assert spec == ModelSpec({"tabular": "tabular_mlp"}, "concat", 16, (8,), 0.1)
    # a modality the spec names no encoder for gets its modality's default encoder
    net = spec.build(["tabular", "genomics"], {"tabular": {"cardinalities": [0, 3]},
                                               "genomics": {"n_variants": 4, "gene_index": [0, 0, 1, 1]}}, 2)
    assert set(net.encoders) == {"genomics", "tabular"} and net.head(torch.zeros(1, net.fusion.out_dim)).shape == (1, 2)
