import torch

from nextgen_ml.data.dropout import drop_modalities


def test_drop_modalities_never_empties_a_row() -> None:
    torch.manual_seed(0)
    present = torch.rand(2000, 4) > 0.3
    present[:5] = False  # rows without data stay without data
    for p in (0.0, 0.5, 0.99):
        kept = drop_modalities(present, p)
        assert torch.all(kept <= present)  # only ever hides present modalities
        assert torch.equal(kept.any(1), present.any(1))
    kept = drop_modalities(present, 0.5)
    dropped = (present & ~kept).sum() / present.sum()
    assert 0.35 < float(dropped) < 0.55  # about p, a bit less because of the rescued rows
    assert torch.equal(drop_modalities(present, 0.0), present)
