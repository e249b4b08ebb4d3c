"""Plot a healthy and a diseased synthetic patient: 12-lead ECG (3x4 + rhythm strip) and SAX ED/ES frames.

Usage: ``python scripts/plot_cohort.py [--out docs/figures/cohort_examples.png] [--seed 0]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nextgen_ml.data.codec import decode_ecg, decode_image  # noqa: E402
from nextgen_ml.data.cohort import CohortConfig, generate_cohort  # noqa: E402
from nextgen_ml.data.schema import ECG_LEADS  # noqa: E402

LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))


def _ecg_panel(ax: plt.Axes, ecg_mv: np.ndarray, fs: float, title: str) -> None:
    """Standard 3x4 layout (2.5 s per lead) plus a 10 s lead II rhythm strip on ECG paper (25 mm/s, 10 mm/mV)."""
    seg = int(2.5 * fs)
    lead = {name: ecg_mv[i] - np.median(ecg_mv[i]) for i, name in enumerate(ECG_LEADS)}
    for row, names in enumerate(LAYOUT):
        for colno, name in enumerate(names):
            t = np.arange(seg) / fs + 2.5 * colno
            y = lead[name][seg * colno: seg * (colno + 1)] - 3.0 * row
            ax.plot(t, y, color="black", lw=0.6)
            ax.text(2.5 * colno + 0.05, 0.55 - 3.0 * row, name, fontsize=8)
    t = np.arange(lead["II"].size) / fs
    ax.plot(t, lead["II"] - 9.0, color="black", lw=0.6)
    ax.text(0.05, 0.55 - 9.0, "II", fontsize=8)
    ax.set_xticks(np.arange(0, 10.01, 0.2))
    ax.set_yticks(np.arange(-10.5, 1.51, 0.5))
    ax.set_xticks(np.arange(0, 10.01, 0.04), minor=True)
    ax.set_yticks(np.arange(-10.5, 1.51, 0.1), minor=True)
    ax.grid(which="major", color="#f4a6a6", lw=0.6)
    ax.grid(which="minor", color="#fbdada", lw=0.3)
    ax.set_xlim(0, 10)
    ax.set_ylim(-10.5, 1.5)
    ax.tick_params(labelbottom=False, labelleft=False, length=0)
    ax.set_title(title, fontsize=10, loc="left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/figures/cohort_examples.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = CohortConfig(missing={"ecg": 0.0, "image": 0.0})
    cohort = generate_cohort(300, sites=1, seed=args.seed, config=config)
    lat = cohort.latent
    healthy = lat.index[(lat["diagnosis"] == "normal") & (lat["lvef"] > 58) & (lat["hr_bpm"].between(60, 80))][0]
    sick = lat.index[lat["prior_mi"] & lat["af"] & (lat["lvef"] < 45)]
    sick = sick[0] if len(sick) else lat.index[lat["prior_mi"] & (lat["lvef"] < 45)][0]
    fig = plt.figure(figsize=(16, 10))
    grid = fig.add_gridspec(2, 4, width_ratios=[3.2, 3.2, 1, 1], hspace=0.25, wspace=0.05)
    for row, idx in enumerate((healthy, sick)):
        p, rec = lat.loc[idx], cohort.table.slice(int(idx), 1).to_pylist()[0]
        title = (f"{p['patient_id']} ({p['diagnosis']}): HR {p['hr_bpm']:.0f}/min, QRS {p['qrs_ms']:.0f} ms, "
                 f"QTc {p['qtc_ms']:.0f} ms, {'AF' if p['af'] else 'sinus'}"
                 + (f", prior {['anterior', 'inferior', 'lateral'][int(p['territory'])]} MI" if p["prior_mi"] else ""))
        _ecg_panel(fig.add_subplot(grid[row, :2]), decode_ecg(rec["ecg"]), config.ecg_fs_hz, title)
        frames = decode_image(rec["image"])
        for k, label in enumerate(rec["image"]["frame_labels"]):
            ax = fig.add_subplot(grid[row, 2 + k])
            ax.imshow(frames[k], cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"SAX {label}" + (f"\nLVEF {p['lvef']:.0f}%" if k == 0 else ""), fontsize=9)
            ax.axis("off")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
