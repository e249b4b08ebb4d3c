"""``PretrainedModel``: a loaded bundle — preprocessing + net + task — with ``predict`` and ``explain``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from nextgen_ml.bundle.inputs import Source, open_source
from nextgen_ml.bundle.outputs import prediction_columns
from nextgen_ml.bundle.preprocess import Preprocessor, to_device
from nextgen_ml.data.panel import VariantPanel


class PretrainedModel:
    """A model ready for new patients: records in, a DataFrame of predictions out.

    Args:
        path: the bundle directory it was loaded from.
        net: the ``MultimodalNet`` (weights loaded, eval mode).
        task: the task object (``predict(logits)`` turns logits into probabilities / risks).
        preprocessor: the fitted per-modality transforms.
        manifest: ``bundle.json`` (versions, modalities, task).
        config: the run's resolved config.
        card: ``model_card.json`` (or an empty dict).
        panel: the variant panel genotypes must follow (None without genomics).
        device: where the net runs.
    """

    def __init__(self, path: Path, net: nn.Module, task: Any, preprocessor: Preprocessor, manifest: dict[str, Any],
                 config: dict[str, Any], card: dict[str, Any], panel: VariantPanel | None,
                 device: str | torch.device = "cpu") -> None:
        self.path, self.net, self.task, self.preprocessor = path, net.eval().to(device), task, preprocessor
        self.manifest, self.config, self.card, self.panel = manifest, config, card, panel
        self.device = torch.device(device)
        self.columns = prediction_columns(task)

    # ------------------------------------------------------------------ description
    @property
    def modalities(self) -> list[str]:
        return self.preprocessor.modalities

    @property
    def schema_version(self) -> str:
        """Record schema version the model was trained on."""
        return str(self.manifest["schema_version"])

    def __repr__(self) -> str:
        return (f"PretrainedModel({self.manifest.get('name', self.path.name)!r}, task={type(self.task).__name__}"
                f"({getattr(self.task, 'target', '')}), modalities={self.modalities}, outputs={self.columns})")

    # ------------------------------------------------------------------ preprocessing
    def records(self, source: Source) -> tuple[Any, int]:
        """``(records, count)`` of any accepted source, after schema-version and panel checks."""
        return open_source(source, self.preprocessor.columns, self.schema_version, self.panel)

    def preprocess(self, source: Source, batch_size: int = 64):
        """Iterate ``(patient_ids, batch)`` over a source, exactly as the model sees it."""
        records, _ = self.records(source)
        return self.preprocessor.batches(records, batch_size)

    # ------------------------------------------------------------------ prediction
    @torch.no_grad()
    def predict(self, source: Source, batch_size: int = 64) -> pd.DataFrame:
        """Predictions for every record of ``source``.

        Args:
            source: a list of record dicts, a pyarrow Table in the record schema, a ``RecordStore`` (view) or the
                path of a record store directory.
            batch_size: records per forward pass.

        Returns:
            DataFrame with ``patient_id`` and the prediction columns (e.g. ``mace_probability``), one row per record
            in input order.

        Raises:
            InputMismatchError: a record (or the source) does not match the bundle's preprocessing; the message
                names the record and field.
        """
        ids: list[str] = []
        preds: list[np.ndarray] = []
        for batch_ids, batch in self.preprocess(source, batch_size):
            moved = to_device(batch, self.device)
            out = self.net(moved["inputs"], moved["mask"])
            preds.append(self.task.predict(out["logits"]).float().cpu().numpy())
            ids.extend(batch_ids)
        values = np.concatenate(preds) if preds else np.zeros((0, len(self.columns)), dtype=np.float32)
        values = values.reshape(len(ids), len(self.columns))  # (N,) or (N, K) → (N, K)
        frame = pd.DataFrame(values, columns=self.columns)
        frame.insert(0, "patient_id", ids)
        return frame

    def verify(self, atol: float | None = None) -> float:
        """Largest |difference| between this bundle's predictions on its reference records and the predictions
        the source checkpoint made for them at export (through the training pipeline).

        Args:
            atol: if given, raise :class:`BundleError` when the difference exceeds it.
        """
        import pyarrow.ipc as ipc

        from nextgen_ml.bundle.files import REFERENCE_PREDICTIONS, REFERENCE_RECORDS, BundleError

        if not (self.path / REFERENCE_RECORDS).is_file():
            raise BundleError(f"bundle {self.path}: no {REFERENCE_RECORDS} (exported without its record store)")
        table = ipc.open_file(str(self.path / REFERENCE_RECORDS)).read_all()
        expected = pd.read_csv(self.path / REFERENCE_PREDICTIONS)
        got = self.predict(table)
        if list(got["patient_id"]) != list(expected["patient_id"].astype(str)):
            raise BundleError(f"bundle {self.path}: reference predictions are for other patients than its records")
        diff = float(np.abs(got[self.columns].to_numpy() - expected[self.columns].to_numpy()).max())
        if atol is not None and diff > atol:
            raise BundleError(f"bundle {self.path}: predictions differ from the checkpoint's by {diff:.2e} > {atol}")
        return diff

    # ------------------------------------------------------------------ explanation
    def output_fn(self, output: int | str = 0) -> Callable[[Mapping[str, Tensor]], Tensor]:
        """Net output dict → ``(B,)``: the prediction column ``output`` (index or name) in prediction space."""
        k = self.columns.index(output) if output in self.columns else output if isinstance(output, int) else -1
        if not 0 <= k < len(self.columns):
            raise ValueError(f"output: {output!r} is not one of the prediction columns {self.columns}")

        def fn(out: Mapping[str, Tensor]) -> Tensor:
            pred = self.task.predict(out["logits"])
            return pred if pred.ndim == 1 else pred[:, k]

        return fn

    def explain(
        self,
        source: Source,
        output: int | str = 0,
        saliency: Sequence[str] = ("ecg", "image"),
        method: str = "integrated_gradients",
        n_steps: int = 32,
        max_records: int = 64,
    ):
        """Explain the predictions of a few patients.

        Args:
            source: as for :meth:`predict` (meant for a handful of patients).
            output: which prediction column to explain (index or name, e.g. ``"mace_probability"``).
            saliency: modalities to compute Captum saliency for (among ``ecg``, ``image``, ``genomics``, ``tabular``).
            method: ``"integrated_gradients"``, ``"saliency"`` or ``"input_x_gradient"``.
            n_steps: integrated-gradients steps.
            max_records: refuse larger sources (exact modality Shapley values cost 2^M fusion passes per batch).

        Returns:
            :class:`nextgen_ml.interpret.explain.Explanation`: per-patient modality contributions (Shapley values
            summing to prediction − no-data output), attention maps between modalities (cross-attention fusion),
            and saliency arrays shaped like the model inputs.
        """
        from nextgen_ml.interpret.explain import explain_batch

        fn = self.output_fn(output)
        records, n = self.records(source)
        if n > max_records:
            raise ValueError(f"records: {n} records; explain() takes at most max_records={max_records}")
        batches = list(self.preprocessor.batches(records, batch_size=max(1, n)))
        if not batches:
            raise ValueError("records: nothing to explain (no records)")
        ids, batch = batches[0]
        moved = to_device(batch, self.device)
        name = output if isinstance(output, str) else self.columns[output]
        return explain_batch(self.net, moved["inputs"], moved["mask"], fn, ids, name, saliency, method, n_steps)
