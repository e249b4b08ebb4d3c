"""Generate a cohort in fixed-size patient blocks, in memory or streamed to a record store.

Every block of :data:`BLOCK_SIZE` patients draws from its own ``SeedSequence([seed, block])`` (one child stream
per stage), so a cohort is identical for a given ``(n, sites, seed, config)`` however it is chunked on write.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from nextgen_ml import __version__
from nextgen_ml.data.codec import encode_ecg, encode_heart_sound, encode_image
from nextgen_ml.data.cohort.config import Cohort, CohortConfig
from nextgen_ml.data.cohort.consent import consent_structs
from nextgen_ml.data.cohort.ecg import synthesize_ecg
from nextgen_ml.data.cohort.genotype import build_panel, carriers, genotype_structs, polygenic_score, sample_dosages
from nextgen_ml.data.cohort.heart_sound import synthesize_heart_sounds
from nextgen_ml.data.cohort.image import frame_schedule, synthesize_cine
from nextgen_ml.data.cohort.latent import sample_latent, sample_valves
from nextgen_ml.data.cohort.outcomes import diagnosis, findings, log_hazard, sample_survival
from nextgen_ml.data.cohort.sensor_sites import HEART_SOUND_MISSING, HEART_SOUND_NOISE, WEARABLE_MISSING, site_values
from nextgen_ml.data.cohort.sensor_sites import missing_rates as sensor_missing_rates
from nextgen_ml.data.cohort.sites import SiteProfile, missing_rates, profile_array, site_profiles
from nextgen_ml.data.cohort.tabular import tabular_structs
from nextgen_ml.data.cohort.text import write_notes
from nextgen_ml.data.cohort.wearable import synthesize_wearables
from nextgen_ml.data.panel import VariantPanel
from nextgen_ml.data.schema import RECORD_SCHEMA, SYNTHETIC_DICTIONARY
from nextgen_ml.data.store import StoreWriter

BLOCK_SIZE = 100
GENERATOR = "nextgen_ml.data.cohort"
#: Independent random streams of a block, one per stage (new stages are appended: earlier streams stay the same).
STAGES: tuple[str, ...] = ("sites", "genotype", "latent", "outcomes", "missing", "consent", "tabular", "ecg",
                           "image", "text", "valve", "heart_sound", "wearable", "sensor_missing")


def _rngs(seed: int, block: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence([seed, block]).spawn(len(STAGES))
    return {name: np.random.default_rng(child) for name, child in zip(STAGES, children)}


class _Timer:
    """Accumulates seconds per stage (for ``scripts/bench_cohort.py``)."""

    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink, self.t = sink, time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self.sink is not None:
            self.sink[stage] = self.sink.get(stage, 0.0) + now - self.t
        self.t = now


def _provenance(modality: str, seed: int, block: int, payload: bytes | None = None) -> dict[str, Any]:
    meta = {"generator": GENERATOR, "version": __version__, "seed": seed, "block": block}
    return {"modality": modality, "format": "synthetic", "uri": None,
            "sha256": None if payload is None else hashlib.sha256(payload).hexdigest(), "metadata": json.dumps(meta)}


def generate_block(
    block: int,
    size: int,
    seed: int,
    profiles: tuple[SiteProfile, ...],
    config: CohortConfig,
    panel: VariantPanel,
    timings: dict[str, float] | None = None,
) -> tuple[pa.Table, pd.DataFrame]:
    """Generate patients ``block * BLOCK_SIZE ... + size - 1``.

    Args:
        block: block index (patient ids start at ``block * BLOCK_SIZE``).
        size: patients in this block, ``1 <= size <= BLOCK_SIZE``.
        seed: cohort seed.
        profiles: the recruiting sites.
        config: rendering configuration.
        panel: variant panel.
        timings: optional dict that accumulates seconds per stage.

    Returns:
        ``(table, latent)``: records with ``RECORD_SCHEMA`` and the latent state (one row per record).
    """
    if not 1 <= size <= BLOCK_SIZE:
        raise ValueError(f"size must be in [1, {BLOCK_SIZE}], got {size}")
    rng, timer = _rngs(seed, block), _Timer(timings)
    weights = np.array([p.weight for p in profiles])
    site = rng["sites"].choice(len(profiles), size=size, p=weights / weights.sum())
    dosages = sample_dosages(rng["genotype"], panel, size)
    latent = sample_latent(rng["latent"], profile_array(profiles, "age_shift", site),
                           profile_array(profiles, "risk_shift", site), polygenic_score(dosages, panel),
                           carriers(dosages, panel))
    lp = log_hazard(latent)
    event_time, event = sample_survival(rng["outcomes"], lp)
    ids = [f"SYN{seed:04d}-{block * BLOCK_SIZE + i:07d}" for i in range(size)]
    latent.insert(0, "patient_id", ids)
    latent.insert(1, "site", [profiles[s].name for s in site])
    latent["log_hazard"], latent["event_time"], latent["event"] = lp, event_time, event
    present = {m: rng["missing"].random(size) >= missing_rates(profiles, m, site, config.missing)
               for m in ("tabular", "ecg", "image", "genotype", "text")}
    for m, table in (("heart_sound", HEART_SOUND_MISSING), ("wearable", WEARABLE_MISSING)):
        present[m] = rng["sensor_missing"].random(size) >= sensor_missing_rates(profiles, site, table, m,
                                                                                config.missing)
    for m, flag in present.items():
        latent[f"has_{m}"] = flag
    sample_valves(rng["valve"], latent)
    timer.lap("latent")

    consent = consent_structs(rng["consent"], size)
    tabular = tabular_structs(rng["tabular"], latent, present["tabular"], config.tabular_missing_scale)
    timer.lap("tabular")
    genotype = genotype_structs(rng["genotype"], dosages, panel, present["genotype"], config.genotype_call_missing)
    timer.lap("genotype")
    ecg_uv = synthesize_ecg(rng["ecg"], latent, config, profile_array(profiles, "ecg_gain", site),
                            profile_array(profiles, "ecg_noise_uv", site))
    ecg = [encode_ecg(ecg_uv[i], config.ecg_fs_hz) if present["ecg"][i] else None for i in range(size)]
    timer.lap("ecg")
    pixels = synthesize_cine(rng["image"], latent, config, profile_array(profiles, "image_gain", site),
                             profile_array(profiles, "image_gamma", site), profile_array(profiles, "image_noise", site))
    _, labels = frame_schedule(config.image_frames)
    spacing = ([config.slice_thickness_mm] if config.image_3d else []) + [config.pixel_spacing_mm] * 2
    frame_ms = 60000.0 / latent["hr_bpm"].to_numpy() / (config.image_frames if config.image_frames > 2 else 1)
    if config.image_frames == 2:
        frame_ms = frame_ms * 0.35  # ED → ES
    image = [encode_image(pixels[i], spacing, "MR", "SAX", float(frame_ms[i]), labels) if present["image"][i]
             else None for i in range(size)]
    timer.lap("image")
    notes = write_notes(rng["text"], latent, present["text"], config.typo_rate)
    timer.lap("text")
    sounds = synthesize_heart_sounds(rng["heart_sound"], latent, present["heart_sound"], config.heart_sound_fs_hz,
                                     config.heart_sound_seconds, site_values(profiles, site, HEART_SOUND_NOISE,
                                                                             0.03, 0.10))
    heart_sound = [None if s is None else encode_heart_sound(s[0], config.heart_sound_fs_hz, s[1]) for s in sounds]
    timer.lap("heart_sound")
    wearable = synthesize_wearables(rng["wearable"], latent, present["wearable"], config.wearable_hours,
                                    config.wearable_ppg_snippets, config.wearable_ppg_seconds,
                                    config.wearable_ppg_fs_hz)
    timer.lap("wearable")

    dx, fx = diagnosis(latent), findings(latent)
    lvef = latent["lvef"].to_numpy()
    records = []
    for i in range(size):
        prov = [_provenance("tabular", seed, block)] if tabular[i] is not None else []
        if ecg[i] is not None:
            prov.append(_provenance("ecg", seed, block, ecg[i]["signal"]))
        if image[i] is not None:
            prov.append(_provenance("image", seed, block, image[i]["pixels"]))
        if genotype[i] is not None:
            prov.append(_provenance("genomics", seed, block))
        if notes[i] is not None:
            prov.append(_provenance("text", seed, block))
        if heart_sound[i] is not None:
            prov.append(_provenance("heart_sound", seed, block, heart_sound[i]["signal"]))
        if wearable[i] is not None:
            prov.append(_provenance("wearable", seed, block))
        records.append({
            "patient_id": ids[i], "site": profiles[site[i]].name, "consent": consent[i], "split": None,
            "tabular": tabular[i], "ecg": ecg[i], "image": image[i], "genotype": genotype[i], "text": notes[i],
            "heart_sound": heart_sound[i], "wearable": wearable[i],
            "labels": {"mace": int(event[i]), "diagnosis": str(dx[i]), "findings": fx[i],
                       "lvef": float(np.round(lvef[i], 1)),
                       "time_to_mace": {"time": float(event_time[i]), "event": int(event[i])}},
            "provenance": prov,
        })
    table = pa.Table.from_pylist(records, schema=RECORD_SCHEMA)
    latent["mace"], latent["diagnosis"] = event.astype(int), dx
    timer.lap("assemble")
    return table, latent


def _blocks(n: int) -> Iterator[tuple[int, int]]:
    for block in range(-(-n // BLOCK_SIZE)):
        yield block, min(BLOCK_SIZE, n - block * BLOCK_SIZE)


def _check(n: int, sites: int) -> None:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if sites < 1:
        raise ValueError(f"sites must be >= 1, got {sites}")


def generate_cohort(
    n: int,
    sites: int = 5,
    seed: int = 0,
    config: CohortConfig | None = None,
    timings: dict[str, float] | None = None,
) -> Cohort:
    """Generate ``n`` synthetic patients in memory.

    Args:
        n: number of patients.
        sites: number of recruiting sites (see :func:`~nextgen_ml.data.cohort.sites.site_profiles`).
        seed: random seed; the same ``(n, sites, seed, config)`` gives an identical cohort.
        config: rendering configuration (default :class:`CohortConfig`).
        timings: optional dict that accumulates seconds per generation stage.
    """
    _check(n, sites)
    config, profiles, panel = config or CohortConfig(), site_profiles(sites), build_panel()
    parts = [generate_block(b, size, seed, profiles, config, panel, timings) for b, size in _blocks(n)]
    table = pa.concat_tables([p[0] for p in parts]).combine_chunks()
    latent = pd.concat([p[1] for p in parts], ignore_index=True)
    return Cohort(table=table, panel=panel, latent=latent)


def write_cohort(
    out: str | os.PathLike,
    n: int,
    sites: int = 5,
    seed: int = 0,
    config: CohortConfig | None = None,
    chunk_size: int = 500,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate ``n`` patients and write them to a site-partitioned record store, a chunk at a time.

    Memory stays bounded by ``chunk_size`` patients; the records do not depend on ``chunk_size``.

    Args:
        out: store directory.
        n: number of patients.
        sites: number of recruiting sites.
        seed: random seed.
        config: rendering configuration.
        chunk_size: patients generated and written per part file (rounded up to whole blocks of 100).
        overwrite: replace an existing store at ``out``.
        progress: show a tqdm progress bar.

    Returns:
        The store directory; the variant panel is in its ``_metadata.json``.
    """
    _check(n, sites)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    config, profiles, panel = config or CohortConfig(), site_profiles(sites), build_panel()
    blocks_per_chunk = -(-chunk_size // BLOCK_SIZE)
    meta = {"generator": {"name": GENERATOR, "version": __version__, "seed": seed, "n": n, "sites": sites,
                          "config": dict(vars(config))}}
    blocks = list(_blocks(n))
    with StoreWriter(out, panel=panel, overwrite=overwrite, extra_metadata=meta,
                     dictionary=SYNTHETIC_DICTIONARY) as writer, \
            tqdm(total=n, disable=not progress, unit="patient", desc="cohort") as bar:
        for start in range(0, len(blocks), blocks_per_chunk):
            tables = [generate_block(b, size, seed, profiles, config, panel)[0]
                      for b, size in blocks[start:start + blocks_per_chunk]]
            bar.update(writer.write(pa.concat_tables(tables)))
    return Path(out)
