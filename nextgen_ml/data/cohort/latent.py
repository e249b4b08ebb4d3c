"""The latent cardiac state of each patient: the single source every modality and outcome is rendered from.

Structural equations (documented with their clinical sources in ``docs/cohort.md``): demographics and risk
factors → atherosclerotic burden → prior infarction / ischaemia → LV function and geometry → rhythm and
conduction; rare variants act on LDL (FH), wall thickness (HCM), EF (DCM) and QTc (long QT).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Infarct territories (coronary artery) in the order of ``latent.territory``.
TERRITORIES: tuple[str, ...] = ("anterior", "inferior", "lateral")
#: NYHA functional classes I–IV are stored as 1–4; chest pain as 0 none, 1 atypical, 2 typical angina.
CHEST_PAIN: tuple[str, ...] = ("none", "atypical", "typical")
SMOKING: tuple[str, ...] = ("never", "former", "current")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _bern(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    return rng.random(np.shape(p)) < p


def sample_latent(
    rng: np.random.Generator,
    age_shift: np.ndarray,
    risk_shift: np.ndarray,
    prs: np.ndarray,
    carrier: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Draw the latent state of ``N`` patients.

    Args:
        rng: random generator.
        age_shift: ``(N,)`` site shift of mean age, years.
        risk_shift: ``(N,)`` site shift of risk-factor prevalence and atherosclerotic burden (SD units).
        prs: ``(N,)`` standardised CAD polygenic score from the true dosages.
        carrier: rare-variant carrier flags ``fh``, ``hcm``, ``dcm``, ``lqt``, each ``(N,)`` bool.

    Returns:
        DataFrame with one row per patient (columns documented in ``docs/cohort.md``).
    """
    n = prs.shape[0]
    z = lambda: rng.standard_normal(n)  # noqa: E731
    age = np.clip(60 + age_shift + 9.5 * z(), 40, 80)
    male = rng.random(n) < 0.55
    bmi = np.clip(27 + 0.5 * male + 4.5 * z(), 17, 50)
    p_current = np.clip(0.17 + 0.05 * risk_shift, 0.02, 0.6)
    u = rng.random(n)
    smoking = np.where(u < p_current, 2, np.where(u < p_current + 0.30, 1, 0))
    diabetes = _bern(rng, _sigmoid(-2.3 + 0.13 * (bmi - 27) + 0.04 * (age - 60) + 0.4 * risk_shift))
    hba1c = np.where(diabetes, 7.4 + 1.0 * z(), 5.4 + 0.3 * z())
    hba1c = np.clip(hba1c, 4.2, 14)
    sbp = np.clip(130 + 0.45 * (age - 60) + 0.7 * (bmi - 27) + 4 * risk_shift + 14 * z(), 90, 220)
    ldl_untreated = np.clip(3.3 + 0.08 * prs + 0.85 * z() + 2.0 * carrier["fh"], 1.0, 11.0)

    athero = (0.045 * (age - 60) + 0.5 * male + 0.015 * (sbp - 130) + 0.45 * (ldl_untreated - 3.3)
              + 0.5 * (smoking == 2) + 0.2 * (smoking == 1) + 0.5 * diabetes + 0.55 * prs
              + 0.3 * risk_shift + 0.5 * z() - 0.45)
    prior_mi = _bern(rng, _sigmoid(-2.4 + 1.1 * athero))
    territory = rng.choice(len(TERRITORIES), size=n, p=[0.45, 0.40, 0.15])
    ischaemia = _bern(rng, _sigmoid(-2.7 + 0.9 * athero))

    hcm = carrier["hcm"] & (rng.random(n) < 0.7)  # penetrant phenotype
    dcm = carrier["dcm"] & (rng.random(n) < 0.6)
    lqt = carrier["lqt"] & (rng.random(n) < 0.65)
    lvh_hyp = _bern(rng, _sigmoid(-3.0 + 0.05 * (sbp - 130) + 0.4 * male))
    wall_mm = np.clip(8.3 + 0.7 * male + 0.03 * (sbp - 130) + 0.8 * z() + lvh_hyp * (3.5 + 0.8 * z())
                      + hcm * (9 + 2.5 * np.abs(z())), 5, 32)

    mi_loss = prior_mi * rng.uniform(6, 28, n)
    hf_other = _bern(rng, np.full(n, 0.025))
    lvef = np.clip(62 + 5 * z() - mi_loss - dcm * (27 + 5 * z()) - hf_other * (22 + 5 * z()) - 2 * ischaemia
                   + 2 * hcm, 12, 78)
    lvedd = np.clip(46.5 + 4.5 * male + 3.2 * z() + 0.35 * np.maximum(60 - lvef, 0) + 6 * dcm - 3 * hcm, 34, 82)
    scar_extent = np.where(prior_mi, np.clip(0.15 + mi_loss / 40, 0.15, 0.85), 0.0)

    af = _bern(rng, _sigmoid(-3.4 + 0.08 * (age - 60) + 0.12 * (lvedd - 50) + 0.8 * (lvef < 40) + 0.6 * hcm))
    conduction = _bern(rng, _sigmoid(-3.2 + 0.04 * (age - 60) + 1.3 * (lvef < 40) + 0.8 * dcm))
    av_block = _bern(rng, _sigmoid(-3.4 + 0.04 * (age - 60) + 0.8 * conduction))

    statin = _bern(rng, _sigmoid(-1.6 + 1.2 * (ldl_untreated > 4.1) + 2.5 * prior_mi + 1.0 * diabetes
                                 + 0.04 * (age - 60) + 1.5 * carrier["fh"] + 1.0 * ischaemia))
    ldl = np.clip(ldl_untreated * np.where(statin, 0.62, 1.0) + 0.15 * z(), 0.5, 12.0)
    reduced_ef = lvef < 40
    beta_blocker = _bern(rng, np.where(prior_mi | reduced_ef | af | ischaemia, 0.8, 0.07))
    ace_inhibitor = _bern(rng, np.where((sbp > 145) | reduced_ef | diabetes, 0.7, 0.08))
    anticoagulant = _bern(rng, np.where(af, 0.85, 0.02))

    hr = np.where(af, 108 + 18 * z(), 70 + 10 * z()) - 8 * beta_blocker + 5 * reduced_ef
    hr = np.clip(hr, 42, 170)
    pr_ms = np.clip(158 + 18 * z() + av_block * (75 + 20 * np.abs(z())), 100, 380)
    qrs_ms = np.clip(92 + 8 * z() + conduction * (45 + 10 * z()) + 8 * hcm, 70, 190)
    qtc_ms = np.clip(408 + 12 * (~male) + 15 * z() + lqt * (65 + 12 * z()) + 0.4 * (qrs_ms - 92), 350, 620)
    voltage = np.exp(0.15 * z()) * (1 - 0.012 * (bmi - 27)) * (1 - 0.35 * scar_extent) * (
        1 + 0.09 * np.maximum(wall_mm - 9.5, 0))

    symptom = (0.05 * np.maximum(55 - lvef, 0) + 0.7 * ischaemia + 0.5 * af + 0.25 * (age - 60) / 10 + 0.8 * z())
    nyha = 1 + (symptom > 0.7).astype(int) + (symptom > 1.5).astype(int) + (symptom > 2.3).astype(int)
    p_typical = _sigmoid(-3.0 + 2.8 * ischaemia + 0.4 * athero + 0.8 * prior_mi)
    u = rng.random(n)
    chest_pain = np.where(u < p_typical, 2, np.where(u < p_typical + 0.15, 1, 0))
    family_scd = _bern(rng, 0.05 + 0.35 * (carrier["hcm"] | carrier["lqt"]))
    syncope = _bern(rng, 0.03 + 0.3 * lqt + 0.2 * hcm)

    return pd.DataFrame({
        "age": age, "male": male, "bmi": bmi, "smoking": smoking, "diabetes": diabetes, "hba1c": hba1c,
        "sbp": sbp, "ldl_untreated": ldl_untreated, "ldl": ldl, "prs": prs,
        "fh_carrier": carrier["fh"], "hcm_carrier": carrier["hcm"], "dcm_carrier": carrier["dcm"],
        "lqt_carrier": carrier["lqt"], "hcm": hcm, "dcm": dcm, "lqt": lqt,
        "athero": athero, "prior_mi": prior_mi, "territory": territory, "ischaemia": ischaemia,
        "lvh_hypertensive": lvh_hyp, "wall_mm": wall_mm, "lvef": lvef, "lvedd_mm": lvedd, "scar_extent": scar_extent,
        "af": af, "conduction": conduction, "av_block": av_block, "hr_bpm": hr, "pr_ms": pr_ms, "qrs_ms": qrs_ms,
        "qtc_ms": qtc_ms, "voltage": voltage,
        "statin": statin, "beta_blocker": beta_blocker, "ace_inhibitor": ace_inhibitor, "anticoagulant": anticoagulant,
        "nyha": nyha, "chest_pain": chest_pain, "family_scd": family_scd, "syncope": syncope,
    })


def sample_valves(rng: np.random.Generator, latent: pd.DataFrame) -> pd.DataFrame:
    """Add valve disease and extra heart sounds to a latent state drawn by :func:`sample_latent` (in place).

    Drawn from their own random stream after everything else, so every earlier latent variable, and so every
    modality rendered before heart sounds existed, is unchanged. Consistency with the imaging phenotype runs through
    the conditioning: calcific aortic stenosis is more likely with age, atherosclerotic risk and a thick LV wall
    (pressure-overload hypertrophy); functional mitral regurgitation with a dilated, poorly contracting LV.

    Args:
        rng: random generator (the cohort's ``valve`` stream).
        latent: the latent state; gains ``as_vmax`` (peak aortic jet velocity, m/s), ``aortic_stenosis``
            (vmax >= 2.5 m/s), ``mitral_regurgitation``, ``mr_grade`` (0-3), ``s3`` (ventricular gallop),
            ``s4`` (atrial gallop; never in AF) and ``innocent_murmur`` (flow murmur without disease).

    Returns:
        ``latent``.
    """
    n = len(latent)
    age, wall = latent["age"].to_numpy(), latent["wall_mm"].to_numpy()
    lvef, lvedd = latent["lvef"].to_numpy(), latent["lvedd_mm"].to_numpy()
    af, hcm = latent["af"].to_numpy(), latent["hcm"].to_numpy()
    p_as = _sigmoid(-3.3 + 0.08 * (age - 60) + 0.35 * np.maximum(wall - 10, 0) + 0.25 * latent["athero"].to_numpy()
                    - 1.5 * hcm)
    aortic_stenosis = _bern(rng, p_as)
    severity = np.clip(0.6 + 0.15 * np.maximum(wall - 10, 0) + 0.3 * rng.standard_normal(n), 0.0, 2.5)
    as_vmax = np.where(aortic_stenosis, 2.5 + severity, np.clip(1.3 + 0.2 * rng.standard_normal(n), 0.9, 2.2))
    p_mr = _sigmoid(-3.6 + 0.16 * (lvedd - 52) + 0.9 * (lvef < 40) + 0.6 * latent["prior_mi"].to_numpy())
    mitral = _bern(rng, p_mr)
    mr_grade = np.where(mitral, 1 + (lvedd > 60).astype(int) + (lvedd > 68).astype(int), 0)
    s3 = _bern(rng, np.where(lvef < 40, 0.75, np.where(lvedd > 60, 0.3, 0.03)))
    s4 = ~af & _bern(rng, np.where((wall >= 13) | aortic_stenosis, 0.6, 0.04))
    innocent = _bern(rng, np.full(n, 0.06))
    latent["as_vmax"], latent["aortic_stenosis"] = as_vmax, aortic_stenosis
    latent["mitral_regurgitation"], latent["mr_grade"] = mitral, mr_grade
    latent["s3"], latent["s4"], latent["innocent_murmur"] = s3, s4, innocent
    return latent
