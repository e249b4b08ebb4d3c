"""Integration: MultimodalNet built by name from the real registered encoders, for every fusion."""

from __future__ import annotations

import pytest
import torch
from opacus.validators import ModuleValidator

from nextgen_ml.fusion import DP_REFUSED
from nextgen_ml.models import build_multimodal_net
from nextgen_ml.registry import list_encoders, list_fusions

ENCODERS = {"ecg": "ecg_xresnet1d_small", "genomics": {"name": "genomics_prs_linear", "hidden": 8},
            "tabular": "tabular_mlp"}
SPECS = {"ecg": {"in_channels": 8}, "genomics": {"n_variants": 32}, "text": {"vocab_size": 100}}

pytestmark = pytest.mark.skipif(
    not {"ecg_xresnet1d_small", "genomics_prs_linear", "tabular_mlp"} <= set(list_encoders()),
    reason="needs the ecg/genomics/tabular encoders",
)


def batch(b: int = 4) -> tuple[dict, dict]:
    from nextgen_ml.encoders.tabular import default_cardinalities

    g = torch.Generator().manual_seed(0)
    cols = [torch.randn(b, generator=g) if c == 0 else torch.randint(0, c, (b,), generator=g).float()
            for c in default_cardinalities()]
    inputs = {"ecg": torch.randn(b, 8, 250, generator=g), "genomics": torch.randint(0, 3, (b, 32), generator=g).float(),
              "tabular": torch.stack(cols, dim=1)}
    mask = {"ecg": torch.tensor([True, False, True, False]), "genomics": torch.tensor([True, True, False, False]),
            "tabular": torch.tensor([True, True, True, False])}
    return inputs, mask


@pytest.mark.parametrize("fusion", list_fusions())
def test_real_encoders_every_fusion(fusion: str) -> None:
    torch.manual_seed(0)
    net = build_multimodal_net(ENCODERS, fusion, num_outputs=2, embed_dim=32, modality_specs=SPECS)
    assert net.encoders["ecg"].out_dim == 32 and net.fusion.out_dim == 32
    inputs, mask = batch()
    out = net(inputs, mask)
    assert out["logits"].shape == (4, 2) and torch.isfinite(out["logits"]).all()
    out["logits"].sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    errors = ModuleValidator.validate(net, strict=False)
    assert [str(e) for e in errors] == ([f"fusion {fusion!r} is refused under differential privacy: "
                                         f"{DP_REFUSED[fusion]}"] if fusion in DP_REFUSED else [])
    net.eval()
    ref = net(inputs, mask)["logits"]
    ecg = torch.where(mask["ecg"][:, None, None], inputs["ecg"], torch.full_like(inputs["ecg"], 9.0))  # (B, L, T)
    poisoned = dict(inputs, ecg=ecg)
    torch.testing.assert_close(net(poisoned, mask)["logits"], ref, rtol=0, atol=0)
