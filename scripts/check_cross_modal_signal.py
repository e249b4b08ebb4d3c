"""Does the synthetic cohort carry cross-modal signal? ECG summary features → cine-MR summary features, held out.

Both modalities are rendered from one latent cardiac state (scar and territory, wall thickness, LVEF/LVEDD shape the
ECG and the image), so simple ECG features should predict simple image features of the *same* patient better than
those of another patient. Site effects (each site's ECG gain and MR gain/contrast) are removed first: every feature is
standardised within its site, and the null pairs a patient's image with the ECG of another patient *of the same site*
(a within-site shuffle), so a site-level correlation cannot pass for cardiac signal.

Reported: cross-validated R² of a ridge regression (5-fold, alpha by inner CV) per image feature, the mean R² over the
image features, and the held-out first canonical correlation (CCA on 8 principal components per side), each for
the true pairs and for ``--shuffles`` within-site shuffles (mean and maximum).

Usage: ``python scripts/check_cross_modal_signal.py [--n 1000] [--seed 0] [--shuffles 20]``; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

from nextgen_ml.data.codec import decode_ecg, decode_image
from nextgen_ml.data.cohort import CohortConfig, generate_cohort

#: image features (targets), see :func:`image_features`
IMAGE_FEATURES = ("bright_ed", "bright_es", "bright_es_over_ed", "dark_ed", "mean_ed", "mean_es", "std_ed")


def ecg_features(ecg: np.ndarray, fs: float) -> np.ndarray:
    """Summary features of one 12-lead ECG ``(12, T)`` µV: per lead the 1st/99th percentiles, SD, mean absolute
    slope and band powers (0.5–5, 5–15, 15–40 Hz). Returns ``(12 * 7,)``."""
    x = ecg - np.median(ecg, axis=1, keepdims=True)  # (12, T)
    q01, q99 = np.percentile(x, [1, 99], axis=1)
    spec = np.abs(np.fft.rfft(x, axis=1)) ** 2  # (12, F)
    freq = np.fft.rfftfreq(x.shape[1], 1 / fs)
    bands = [np.log1p(spec[:, (freq >= lo) & (freq < hi)].sum(axis=1)) for lo, hi in ((0.5, 5), (5, 15), (15, 40))]
    feats = [q01, q99, x.std(axis=1), np.abs(np.diff(x, axis=1)).mean(axis=1), *bands]
    return np.concatenate(feats).astype(np.float64)


def image_features(cine: np.ndarray) -> np.ndarray:
    """Summary features of one 2-frame cine ``(2, H, W)`` uint8 (ED, ES): bright (blood-pool-like, > 170) area
    per frame and its ES/ED ratio, dark (myocardium-like, < 90) area at ED, mean intensity per frame, SD at ED."""
    ed, es = cine[0].astype(np.float64), cine[-1].astype(np.float64)
    b_ed, b_es = (ed > 170).mean(), (es > 170).mean()
    return np.array([b_ed, b_es, b_es / max(b_ed, 1e-3), (ed < 90).mean(), ed.mean(), es.mean(), ed.std()])


def standardise_within(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each column z-scored within each group (site)."""
    out = np.empty_like(x)
    for g in np.unique(groups):
        rows = groups == g
        mu, sd = x[rows].mean(axis=0), x[rows].std(axis=0)
        out[rows] = (x[rows] - mu) / np.where(sd > 0, sd, 1.0)
    return out


def heldout_scores(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """Out-of-fold R² per column of ``y`` from a ridge on ``x``, and the mean held-out first canonical correlation."""
    pred = np.zeros_like(y)
    cc = []
    for train, test in KFold(5, shuffle=True, random_state=seed).split(x):
        ridge = RidgeCV(alphas=np.logspace(-1, 4, 12)).fit(x[train], y[train])
        pred[test] = ridge.predict(x[test])
        px, py = PCA(8).fit(x[train]), PCA(min(8, y.shape[1])).fit(y[train])
        cca = CCA(n_components=1, max_iter=1000).fit(px.transform(x[train]), py.transform(y[train]))
        u, v = cca.transform(px.transform(x[test]), py.transform(y[test]))
        cc.append(float(np.corrcoef(u[:, 0], v[:, 0])[0, 1]))
    r2 = 1 - ((y - pred) ** 2).sum(axis=0) / ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return r2, float(np.mean(cc))


def within_site_shuffle(sites: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation that moves every row to another row of the same site."""
    perm = np.arange(sites.size)
    for s in np.unique(sites):
        rows = np.flatnonzero(sites == s)
        perm[rows] = rng.permutation(rows)
    return perm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shuffles", type=int, default=20)
    parser.add_argument("--fs", type=float, default=100.0)
    parser.add_argument("--image-size", type=int, default=32)
    args = parser.parse_args()
    start = time.perf_counter()
    cohort = generate_cohort(args.n, sites=args.sites, seed=args.seed,
                             config=CohortConfig(ecg_fs_hz=args.fs, image_size=args.image_size, image_frames=2))
    t = cohort.table
    ecg, image, site = t.column("ecg").to_pylist(), t.column("image").to_pylist(), np.asarray(t.column("site"))
    both = np.array([e is not None and i is not None for e, i in zip(ecg, image, strict=True)])
    rows = np.flatnonzero(both)
    x = np.stack([ecg_features(decode_ecg(ecg[i]), args.fs) for i in rows])
    y = np.stack([image_features(decode_image(image[i])) for i in rows])
    sites = site[rows]
    x, y = standardise_within(x, sites), standardise_within(y, sites)

    r2, cc = heldout_scores(x, y, args.seed)
    rng = np.random.default_rng(args.seed)
    null_r2, null_cc = [], []
    for _ in range(args.shuffles):
        nr2, ncc = heldout_scores(x[within_site_shuffle(sites, rng)], y, args.seed)
        null_r2.append(nr2)
        null_cc.append(ncc)
    null_r2_arr = np.stack(null_r2)  # (S, F)

    print(f"cohort n={args.n} (ECG and image both present: {rows.size}), {args.sites} sites, seed {args.seed}; "
          f"ECG {args.fs:g} Hz → {x.shape[1]} features; image {args.image_size}px × 2 frames → {y.shape[1]} features")
    print(f"{'image feature':<20} {'R² true pairs':>14} {'R² shuffled mean':>17} {'max':>7}")
    for j, name in enumerate(IMAGE_FEATURES):
        print(f"{name:<20} {r2[j]:>14.3f} {null_r2_arr[:, j].mean():>17.3f} {null_r2_arr[:, j].max():>7.3f}")
    mean_null = null_r2_arr.mean(axis=1)
    print(f"{'mean R²':<20} {r2.mean():>14.3f} {mean_null.mean():>17.3f} {mean_null.max():>7.3f}")
    print(f"{'CCA 1st corr':<20} {cc:>14.3f} {np.mean(null_cc):>17.3f} {np.max(null_cc):>7.3f}")
    # one-sided permutation p-value of the mean R² ((count + 1) / (S + 1): never 0)
    p = (int((mean_null >= r2.mean()).sum()) + 1) / (args.shuffles + 1)
    print(f"permutation p (mean R², {args.shuffles} within-site shuffles): {p:.3f}")
    print(json.dumps({
        "n": args.n, "n_pairs": int(rows.size), "sites": args.sites, "seed": args.seed, "ecg_fs_hz": args.fs,
        "image_size": args.image_size, "r2": dict(zip(IMAGE_FEATURES, np.round(r2, 4).tolist(), strict=True)),
        "mean_r2": round(float(r2.mean()), 4), "null_mean_r2": round(float(mean_null.mean()), 4),
        "null_max_mean_r2": round(float(mean_null.max()), 4), "cca_corr": round(cc, 4),
        "null_cca_corr": round(float(np.mean(null_cc)), 4), "null_max_cca_corr": round(float(np.max(null_cc)), 4),
        "shuffles": args.shuffles, "p_value": round(p, 4), "seconds": round(time.perf_counter() - start, 1),
    }))


if __name__ == "__main__":
    main()
