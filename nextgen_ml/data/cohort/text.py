"""Short clinical notes: presenting symptoms, history, family history and medications, with clinical
abbreviations, varied phrasing and typos. NYHA class, chest-pain character, syncope and a family history
of sudden cardiac death are recorded only here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nextgen_ml.data.cohort.latent import TERRITORIES

_CHEST_PAIN: dict[int, tuple[str, ...]] = {
    0: ("no chest pain", "denies CP", "no angina", "", ""),
    1: ("atypical chest pain", "sharp L-sided CP, not exertional", "intermittent chest discomfort at rest",
        "pleuritic-sounding chest pain"),
    2: ("typical angina on exertion", "exertional chest tightness relieved by rest",
        "central crushing CP on exertion, eases w/ GTN", "recurrent exertional angina, CCS class II-III"),
}
_NYHA: dict[int, tuple[str, ...]] = {
    1: ("no SOB", "no exertional dyspnoea", "NYHA I", "good exercise tolerance"),
    2: ("SOBOE after 2 flights of stairs", "mild exertional dyspnoea, NYHA II",
        "breathless on moderate exertion (NYHA class II)", "slight limitation of activity, NYHA 2"),
    3: ("SOB walking <100m on the flat, NYHA III", "marked limitation of activity, NYHA class III",
        "breathless on minimal exertion", "dyspnoea dressing/washing, NYHA 3"),
    4: ("SOB at rest, NYHA IV", "orthopnoea and breathless at rest (NYHA IV)", "dyspnoea at rest + PND",
        "unable to carry out any activity w/o SOB, NYHA class IV"),
}
_PALPITATIONS = ("palpitations", "c/o irregular heartbeat", "fluttering in chest, intermittent")
_SYNCOPE = ("episode of syncope", "2x blackouts in last yr", "collapse w/o prodrome", "exertional syncope")
_MI = ("h/o MI", "previous NSTEMI", "old {territory} MI", "prior {territory} STEMI, PCI")
_DIABETES = ("T2DM", "diabetic", "type 2 diabetes on metformin")
_HTN = ("HTN", "hypertension", "known hypertensive")
_SMOKING = {0: ("never smoked", "non-smoker", ""), 1: ("ex-smoker", "quit smoking", "ex smoker 20py"),
            2: ("current smoker", "smokes 20/day", "active smoker, 30 pack-yrs")}
_FAMILY_SCD = ("FHx of sudden cardiac death (father, 45)", "brother died suddenly aged 38",
               "family history of SCD", "FH: sudden unexplained death in mother <50")
_FAMILY_OTHER = ("no FHx of note", "FHx: IHD in father", "", "", "")
_MEDS = {
    "statin": ("atorvastatin 40mg", "simvastatin", "rosuvastatin 10mg od"),
    "beta_blocker": ("bisoprolol 2.5mg", "metoprolol", "bisoprolol"),
    "ace_inhibitor": ("ramipril 5mg", "lisinopril", "losartan 50mg"),
    "anticoagulant": ("apixaban 5mg bd", "rivaroxaban", "warfarin"),
}
_MED_HEADER = ("Meds:", "DHx:", "Medications -", "on")
_SEX = {True: ("M", "male", "man", "gentleman"), False: ("F", "female", "woman", "lady")}


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _typos(rng: np.random.Generator, text: str, rate: float) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 3 and rng.random() < rate:
            j = int(rng.integers(len(w) - 1))
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:] if rng.random() < 0.5 else w[:j] + w[j + 1:]
    return " ".join(words)


def _note(rng: np.random.Generator, p: pd.Series, typo_rate: float) -> str:
    age, sex = int(round(p["age"])), _pick(rng, _SEX[bool(p["male"])])
    short = "M" if p["male"] else "F"
    header = _pick(rng, (f"{age}yo {sex}", f"{age} y/o {sex}", f"{age}-year-old {sex}", f"Pt {age}{short}"))
    presenting = [_pick(rng, _CHEST_PAIN[int(p["chest_pain"])]), _pick(rng, _NYHA[int(p["nyha"])])]
    if p["af"] and rng.random() < 0.6:
        presenting.append(_pick(rng, _PALPITATIONS))
    if p["syncope"]:
        presenting.append(_pick(rng, _SYNCOPE))
    history = []
    if p["prior_mi"] and rng.random() < 0.6:
        history.append(_pick(rng, _MI).format(territory=TERRITORIES[int(p["territory"])]))
    if p["diabetes"] and rng.random() < 0.7:
        history.append(_pick(rng, _DIABETES))
    if p["sbp"] > 145 and rng.random() < 0.5:
        history.append(_pick(rng, _HTN))
    history.append(_pick(rng, _SMOKING[int(p["smoking"])]))
    family = _pick(rng, _FAMILY_SCD if p["family_scd"] else _FAMILY_OTHER)
    meds = [_pick(rng, options) for name, options in _MEDS.items() if p[name]]
    parts = [header + " " + _pick(rng, ("presents with", "seen in clinic.", "referred:", "c/o"))]
    parts.append(", ".join(s for s in presenting if s) or "asymptomatic")
    if any(history):
        parts.append(_pick(rng, ("PMH:", "Hx:", "Background:")) + " " + ", ".join(s for s in history if s))
    if family:
        parts.append(family)
    parts.append(_pick(rng, _MED_HEADER) + " " + (", ".join(meds) if meds else "nil regular"))
    note = _pick(rng, (". ", "; ", "\n")).join(parts) + "."
    if rng.random() < 0.2:
        note = note.lower()
    return _typos(rng, note, typo_rate)


def write_notes(rng: np.random.Generator, latent: pd.DataFrame, present: np.ndarray,
                typo_rate: float) -> list[str | None]:
    """One clinical note per patient (None where the note is missing).

    Args:
        rng: random generator.
        latent: latent state, N rows.
        present: ``(N,)`` bool, False where the patient has no note.
        typo_rate: probability that a word longer than 3 characters gets a typo.
    """
    return [_note(rng, row, typo_rate) if present[i] else None
            for i, (_, row) in enumerate(latent.iterrows())]
