"""Model interpretation: modality-level attributions (Shapley values, leave-one-out) via presence masks."""

from nextgen_ml.interpret.attention import AttentionMaps, attention_maps
from nextgen_ml.interpret.explain import Explanation, explain_batch
from nextgen_ml.interpret.modalities import coalition_outputs, leave_one_out, modality_shapley, outputs_under_masks
from nextgen_ml.interpret.saliency import image_heatmap, input_saliency, lead_importance

__all__ = [
    "AttentionMaps",
    "Explanation",
    "attention_maps",
    "coalition_outputs",
    "explain_batch",
    "image_heatmap",
    "input_saliency",
    "lead_importance",
    "leave_one_out",
    "modality_shapley",
    "outputs_under_masks",
]
