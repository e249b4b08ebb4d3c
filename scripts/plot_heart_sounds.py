"""Plot synthetic heart sounds of a patient without and with a murmur: waveform and spectrogram per patient.

The patient with the murmur has aortic stenosis (crescendo-decrescendo systolic murmur between S1 and S2, loudest
at the aortic site); the other has neither valve disease, gallops nor AF. Both are shown at the aortic site (AV).

Usage: ``python scripts/plot_heart_sounds.py [--out docs/figures/heart_sound_examples.png] [--seed 0]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import signal as sps  # noqa: E402

from nextgen_ml.data.codec import decode_heart_sound  # noqa: E402
from nextgen_ml.data.cohort import CohortConfig, generate_cohort  # noqa: E402

SECONDS = 3.0


def _pick(latent, rows: dict, murmur: bool) -> str:
    """Patient id of the first sinus-rhythm patient with an AV recording, with (severe-ish) AS or with nothing."""
    lat = latent.set_index("patient_id")
    clean = ~(lat["mitral_regurgitation"] | lat["s3"] | lat["s4"] | lat["innocent_murmur"] | lat["af"])
    wanted = (lat["aortic_stenosis"] & (lat["as_vmax"] > 3.2)) if murmur else ~lat["aortic_stenosis"]
    for pid in lat.index[clean & wanted]:
        hs = rows.get(pid)
        if hs is not None and "AV" in hs["sites"]:
            return pid
    raise SystemExit(f"no suitable patient {'with' if murmur else 'without'} a murmur; try another --seed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures/heart_sound_examples.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=300, help="cohort size to search for the two patients")
    args = parser.parse_args()

    config = CohortConfig(ecg_fs_hz=100.0, ecg_seconds=2, image_size=32, wearable_hours=1,
                          missing={"heart_sound": 0.0, "wearable": 1.0})
    cohort = generate_cohort(args.n, sites=1, seed=args.seed, config=config)
    rows = dict(zip(cohort.table.column("patient_id").to_pylist(), cohort.table.column("heart_sound").to_pylist()))
    lat = cohort.latent.set_index("patient_id")
    fig, axes = plt.subplots(2, 2, figsize=(13, 6.5), sharex=True, gridspec_kw={"height_ratios": [1, 1.2]})
    for col, murmur in enumerate((False, True)):
        pid = _pick(cohort.latent, rows, murmur)
        hs, p = rows[pid], lat.loc[pid]
        fs = hs["fs_hz"]
        x = decode_heart_sound(hs)[hs["sites"].index("AV"), : int(SECONDS * fs)]
        t = np.arange(x.size) / fs
        axes[0, col].plot(t, x, color="black", lw=0.5)
        label = (f"aortic stenosis, peak jet {p['as_vmax']:.1f} m/s" if murmur else "no valve disease, no gallop")
        axes[0, col].set_title(f"{pid}: {label}\nHR {p['hr_bpm']:.0f} bpm, LVEF {p['lvef']:.0f} %, "
                               f"wall {p['wall_mm']:.0f} mm · aortic site (AV)", fontsize=9)
        axes[0, col].set_ylabel("amplitude (full scale)")
        f, tt, s = sps.spectrogram(x, fs, nperseg=128, noverlap=112, nfft=256)
        keep = f <= 500
        axes[1, col].pcolormesh(tt, f[keep], 10 * np.log10(s[keep] + 1e-12), shading="auto", cmap="magma",
                                vmin=-110, vmax=-40)
        axes[1, col].set_ylabel("frequency (Hz)")
        axes[1, col].set_xlabel("time (s)")
    fig.suptitle("Synthetic phonocardiograms (nextgen_ml.data.cohort.heart_sound): S1/S2 from the latent heart rate;"
                 " the murmur fills systole with 100-350 Hz energy", fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=130)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
