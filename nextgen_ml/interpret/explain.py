"""One call that explains a batch: modality Shapley values, cross-modal attention and ECG/image saliency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from nextgen_ml.interpret.attention import AttentionMaps, attention_maps
from nextgen_ml.interpret.modalities import modality_shapley
from nextgen_ml.interpret.saliency import OutputFn, input_saliency


@dataclass
class Explanation:
    """Why the model predicted what it did, per patient.

    Args:
        patient_ids: one per row.
        output: name of the explained scalar (e.g. ``"mace_probability"``).
        prediction: ``(B,)`` the explained output with every present modality, ``f(all)``.
        base_value: ``(B,)`` the output with no modality visible, ``f(none)``.
        contributions: rows = patients, columns = modalities: exact Shapley values over the present modalities
            (0 for absent ones); each row sums to ``prediction - base_value``.
        present: rows = patients, columns = modalities: whether the modality was in the record.
        attention: cross-modal attention maps (cross-attention fusion only), else None.
        saliency: modality → attribution array shaped like ``inputs[modality]`` (``(B, L, T)`` ECG,
            ``(B, F, H, W)`` image).
        inputs: modality → the preprocessed model input (numpy), for plotting next to the saliency.
    """

    patient_ids: list[str]
    output: str
    prediction: np.ndarray
    base_value: np.ndarray
    contributions: pd.DataFrame
    present: pd.DataFrame
    attention: AttentionMaps | None = None
    saliency: dict[str, np.ndarray] = field(default_factory=dict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.patient_ids)

    def summary(self) -> pd.DataFrame:
        """One row per patient: prediction, base value and each modality's contribution."""
        frame = self.contributions.add_prefix("contribution_")
        frame.insert(0, "base_value", self.base_value)
        frame.insert(0, self.output, self.prediction)
        return frame


def explain_batch(
    net: nn.Module,
    inputs: Mapping[str, Tensor],
    mask: Mapping[str, Tensor],
    output_fn: OutputFn,
    patient_ids: Sequence[str],
    output: str = "output",
    saliency: Sequence[str] = ("ecg", "image"),
    method: str = "integrated_gradients",
    n_steps: int = 32,
) -> Explanation:
    """Explain ``output_fn(net(inputs, mask))`` for every row of a batch.

    Args:
        net: a ``MultimodalNet``; put in eval mode.
        inputs / mask: a batch as in the batch contract.
        output_fn: net output dict → ``(B,)`` (e.g. the predicted probability).
        patient_ids: row labels.
        output: name of the explained output.
        saliency: modalities to compute Captum saliency for (skipped when absent from the batch).
        method: Captum method, see :data:`nextgen_ml.interpret.saliency.SALIENCY_METHODS`.
        n_steps: integrated-gradients steps.
    """
    net.eval()
    names = sorted(mask)
    with torch.no_grad():
        prediction = output_fn(net(inputs, mask)).float()  # (B,)
        none = {m: torch.zeros_like(mask[m]) for m in names}
        base = output_fn(net(inputs, none)).float()  # (B,)
    shapley = modality_shapley(net, inputs, mask, output_fn)  # modality → (B,)
    index = pd.Index(list(patient_ids), name="patient_id")
    contributions = pd.DataFrame({m: shapley[m].double().cpu().numpy() for m in names}, index=index)
    present = pd.DataFrame({m: mask[m].cpu().numpy() for m in names}, index=index)
    maps = attention_maps(net, inputs, mask)
    sal = {m: input_saliency(net, inputs, mask, m, output_fn, method, n_steps).cpu().numpy()
           for m in saliency if m in inputs}
    return Explanation(
        patient_ids=list(patient_ids),
        output=output,
        prediction=prediction.cpu().numpy(),
        base_value=base.cpu().numpy(),
        contributions=contributions,
        present=present,
        attention=maps,
        saliency=sal,
        inputs={m: x.detach().cpu().numpy() for m, x in inputs.items()},
    )
