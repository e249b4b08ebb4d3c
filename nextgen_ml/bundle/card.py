"""The model card: what the model was trained on, for what, how well (with CIs), privacy, use and limits."""

from __future__ import annotations

from typing import Any

#: what every bundle of this framework is for, and what it is not.
INTENDED_USE: tuple[str, ...] = (
    "Research and teaching: demonstrating multimodal cardiology modelling, interpretation and deployment "
    "(bundles, notebooks) end to end.",
    "Benchmarking preprocessing, fusion strategies and privacy settings on data with the nextgen_ml record schema.",
    "Not for clinical decision making, diagnosis, triage or any use on real patients.",
)

_LIMITATIONS: tuple[str, ...] = (
    "Predictions are only meaningful for records preprocessed like the training data (same lead set, image "
    "frames, variant panel); load_pretrained checks these and refuses mismatching records.",
    "Calibration and subgroup performance (sex, age, site) were not assessed beyond the metrics below.",
    "Absent modalities are handled by the fusion's mask; performance with few modalities is lower than with all.",
)
_SYNTHETIC: tuple[str, ...] = (
    "Trained and evaluated on the synthetic cohort of nextgen_ml.data.cohort: its metrics say nothing about "
    "performance on real patients, and its signals (ECG morphology, cine MRI, genotypes, notes) are simplified.",
)
_SMALL: str = "A deliberately small model (few MB) trained for a few epochs on CPU; larger models train better."


def _data_section(config: dict[str, Any], split_sizes: dict[str, int]) -> dict[str, Any]:
    data = config.get("data", {})
    return {
        "source": "synthetic cohort (nextgen_ml.data.cohort)" if data.get("cohort") else "record store",
        "store": str(data.get("data_dir", "")).rsplit("/", 1)[-1],
        "cohort": data.get("cohort"),
        "modalities": data.get("modalities"),
        "split": data.get("split"),
        "split_sizes": split_sizes,
        "test_sites": data.get("test_sites") or [],
    }


def build_card(
    name: str,
    manifest: dict[str, Any],
    config: dict[str, Any],
    metrics: dict[str, float],
    intervals: dict[str, dict[str, Any]],
    split_sizes: dict[str, int],
    n_parameters: int,
) -> dict[str, Any]:
    """The model card as a JSON-ready dict.

    Args:
        name: bundle name.
        manifest: ``bundle.json`` contents.
        config: resolved run config.
        metrics: the run's flat ``stage/metric`` values (``metrics.json``), may include ``privacy/epsilon``.
        intervals: metric → bootstrap CI (see :func:`nextgen_ml.bundle.ci.bootstrap_ci`).
        split_sizes: patients per split.
        n_parameters: parameters of the net.
    """
    model = config.get("model", {})
    encoders = {m: (e.get("name") if isinstance(e, dict) else e) for m, e in (model.get("encoder") or {}).items()
                if m in manifest["modalities"]}
    fusion = model.get("fusion", {})
    task = config.get("task", {})
    epsilon = metrics.get("privacy/epsilon")
    privacy_cfg = config.get("privacy") or {}
    limitations = list(_LIMITATIONS) + (list(_SYNTHETIC) if config.get("data", {}).get("cohort") else [])
    if n_parameters < 2_000_000:
        limitations.append(_SMALL)
    return {
        "name": name,
        "nextgen_ml_version": manifest["nextgen_ml_version"],
        "record_schema_version": manifest["schema_version"],
        "model": {"encoders": encoders, "fusion": fusion.get("name") if isinstance(fusion, dict) else fusion,
                  "embed_dim": model.get("embed_dim"), "parameters": n_parameters},
        "task": {"kind": manifest["task"]["kind"], "target": manifest["task"].get("target"),
                 "outputs": manifest["outputs"], "monitor": task.get("monitor")},
        "data": _data_section(config, split_sizes),
        "training": {"seed": config.get("seed"), "max_epochs": (config.get("trainer") or {}).get("max_epochs"),
                     "optimizer": (config.get("optimizer") or {}).get("_target_"),
                     "lr": (config.get("optimizer") or {}).get("lr")},
        "metrics": dict(sorted(metrics.items())),
        "confidence_intervals": intervals,
        "privacy": {"differential_privacy": bool(privacy_cfg.get("enabled")) or epsilon is not None,
                    "epsilon": epsilon, "delta": metrics.get("privacy/delta", privacy_cfg.get("delta"))},
        "intended_use": list(INTENDED_USE),
        "limitations": limitations,
    }


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def render_markdown(card: dict[str, Any]) -> str:
    """``MODEL_CARD.md`` text of a card from :func:`build_card`."""
    m, t, d, p = card["model"], card["task"], card["data"], card["privacy"]
    lines = [f"# Model card: {card['name']}", "",
             f"nextgen_ml {card['nextgen_ml_version']} · record schema {card['record_schema_version']}", "",
             "## Model", "",
             f"- fusion: `{m['fusion']}`, embed_dim {m['embed_dim']}, {m['parameters']:,} parameters",
             *[f"- {mod} encoder: `{enc}`" for mod, enc in m["encoders"].items()], "",
             "## Task", "",
             f"- {t['kind']} on `{t['target']}`; outputs: {', '.join(f'`{o}`' for o in t['outputs'])}", "",
             "## Data", "",
             f"- source: {d['source']} (`{d['store']}`)",
             f"- modalities: {', '.join(d['modalities'] or [])}",
             f"- split: {d['split']}; patients per split: {d['split_sizes'] or 'unknown'}"]
    if d.get("cohort"):
        lines.append(f"- cohort: {d['cohort']}")
    lines += ["", "## Metrics", ""]
    if card["confidence_intervals"]:
        lines += ["| metric | estimate | 95% CI (bootstrap) | n |", "|---|---|---|---|"]
        for name, ci in card["confidence_intervals"].items():
            lines.append(f"| {name} | {ci['estimate']:.3f} | [{ci['low']:.3f}, {ci['high']:.3f}] "
                         f"({ci['n_boot']} resamples) | {ci['n']} |")
        lines.append("")
    if card["metrics"]:
        lines += ["| metric | value |", "|---|---|", *[f"| {k} | {_fmt(v)} |" for k, v in card["metrics"].items()]]
    else:
        lines.append("No metrics.json was found next to the checkpoint.")
    eps = p["epsilon"]
    lines += ["", "## Privacy", "",
              f"- differential privacy: ε = {eps:.3g}, δ = {p['delta']}" if eps is not None
              else "- trained without differential privacy (no `privacy/epsilon` in the run's metrics)",
              "", "## Intended use", "", *[f"- {u}" for u in card["intended_use"]],
              "", "## Limitations", "", *[f"- {u}" for u in card["limitations"]], ""]
    return "\n".join(lines)
