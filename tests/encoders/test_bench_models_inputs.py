"""scripts/bench_models.py covers every registered encoder: each name maps (``encoder_modality``) to a modality
with an example input."""

from __future__ import annotations

import pytest
import torch

from nextgen_ml.data.schema import MODALITIES
from nextgen_ml.registry import create_encoder, list_encoders
from nextgen_ml.registry import encoder_modality as modality_of  # what bench_models uses
from scripts.bench_models import EXAMPLE_INPUTS


def test_every_registered_encoder_has_a_modality_with_an_example_input() -> None:
    for name in list_encoders():
        assert modality_of(name) in MODALITIES and modality_of(name) in EXAMPLE_INPUTS, name
    assert modality_of("heart_sound_cnn1d") == "heart_sound"  # not "heart": the longest modality prefix wins
    with pytest.raises(ValueError, match="starts with no modality"):
        modality_of("audio_cnn")


@pytest.mark.parametrize("name", ["heart_sound_cnn1d", "heart_sound_stats_pool", "wearable_window_transformer",
                                  "wearable_stats_pool"])
def test_sensor_example_inputs_run_through_their_encoders(name: str) -> None:
    enc = create_encoder(name, embed_dim=16)
    out = enc(EXAMPLE_INPUTS[modality_of(name)](enc, 2))
    assert out.shape == (2, 16) and torch.isfinite(out).all()


def test_rewriting_the_models_table_keeps_the_hand_written_sections(tmp_path) -> None:
    from scripts.bench_models import hand_written_rest

    doc = tmp_path / "models.md"
    assert hand_written_rest(doc) == ""  # a new file: only the generated table
    doc.write_text("# Models\n\n| generated | table |\n\n## Fusion families\n\nhand-written text\n\n## More\nkept\n")
    assert hand_written_rest(doc) == "\n## Fusion families\n\nhand-written text\n\n## More\nkept\n"
