"""Broken manifests through ``nextgen-ml ingest``: one clear line naming the key path, no traceback, no store."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nextgen_ml.cli import main

_OK_PATIENT = "patients: [{id: MRN-1, files: [ecg/p1.hea]}]\n"
_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)

#: (name, manifest text, regular expression the one error line must match)
BROKEN: tuple[tuple[str, str, str], ...] = (
    ("not_yaml", "site: [a\n", r"not valid YAML \(line \d+, column \d+"),
    ("empty", "", r"expected a YAML mapping .* got NoneType"),
    ("top_level_list", "- site: a\n", r"expected a YAML mapping"),
    ("top_level_string", "just some words\n", r"expected a YAML mapping .* got str"),
    ("no_site", _OK_PATIENT, r"manifest site: required key is missing"),
    ("misspelt_key", "site: a\npatient: []\n", r"manifest patient: unknown key"),
    ("patient_string", "site: a\npatients: [MRN-1]\n", r"manifest patients\[0\]: .*dictionary"),
    ("files_int", "site: a\npatients: [{id: 1, files: 5}]\n", r"manifest patients\[0\]\.files: .*valid list"),
    (
        "file_unknown_key",
        "site: a\npatients: [{id: 1, files: [{path: ecg/p1.hea, colour: red}]}]\n",
        r"manifest patients\[0\]\.files\[0\]\.colour: unknown key",
    ),
    (
        "file_no_path",
        "site: a\npatients: [{id: 1, files: [{view: A4C}]}]\n",
        r"patients\[0\]\.files\[0\]\.path: required",
    ),
    ("unknown_format", "site: a\npatients: [{id: 1, files: [scan.xyz]}]\n", r"patients\[0\]\.files\[0\]\.format"),
    ("id_null", "site: a\npatients: [{id: null}]\n", r"patients\[0\]\.id"),
    ("labels_string", "site: a\npatients: [{id: 1, labels: yes}]\n", r"patients\[0\]\.labels: .*dictionary"),
    ("duplicate_ids", "site: a\npatients: [{id: x}, {id: x}]\n", r"duplicate patient ids"),
    ("consent_string", "site: a\nconsent: DUO:0000042\n" + _OK_PATIENT, r"manifest consent: .*dictionary"),
    ("consent_list", "site: a\nconsent: [DUO:0000042]\n" + _OK_PATIENT, r"manifest consent: .*dictionary"),
    ("codes_string", "site: a\nconsent: {codes: DUO:0000042}\n" + _OK_PATIENT, r"consent\.codes: .*valid list"),
    ("codes_unknown", "site: a\nconsent: {codes: [DUO:9999999]}\n" + _OK_PATIENT, r"consent\.codes: 'DUO:9999999'"),
    ("codes_shorthand", "site: a\nconsent: {codes: [GRU]}\n" + _OK_PATIENT, r"consent\.codes: 'GRU' is a shorthand"),
    ("codes_empty", "site: a\nconsent: {codes: []}\n" + _OK_PATIENT, r"consent\.codes: at least one"),
    (
        "diseases_not_mondo",
        "site: a\nconsent: {codes: [DUO:0000007], diseases: [heart]}\n" + _OK_PATIENT,
        r"consent\.diseases: 'heart' is not a MONDO",
    ),
    ("patient_consent_list", "site: a\npatients: [{id: 1, consent: [DUO:0000042]}]\n", r"patients\[0\]\.consent"),
    (
        "chunk_size_ten",
        "site: a\noptions: {chunk_size: ten}\n" + _OK_PATIENT,
        r"manifest options\.chunk_size: .*integer",
    ),
    ("options_list", "site: a\noptions: [1, 2]\n" + _OK_PATIENT, r"manifest options"),
    ("unknown_option", "site: a\noptions: {ecg_fs: 500}\n" + _OK_PATIENT, r"manifest options\.ecg_fs: unknown option"),
    ("negative_rate", "site: a\noptions: {ecg_fs_hz: -5}\n" + _OK_PATIENT, r"options\.ecg_fs_hz: must be positive"),
    ("genotypes_string", "site: a\ngenotypes: cohort.vcf\n" + _OK_PATIENT, r"manifest genotypes: .*valid list"),
    (
        "path_parent",
        "site: a\npatients: [{id: 1, files: [../secret.hea]}]\n",
        r"patients\[0\]\.files\[0\]\.path: \.\./secret\.hea is outside the manifest folder",
    ),
    (
        "path_absolute",
        "site: a\npatients: [{id: 1, files: [/etc/passwd.hea]}]\n",
        r"patients\[0\]\.files\[0\]\.path: <outside>/passwd\.hea is outside",
    ),
    (
        "path_symlink",
        "site: a\npatients: [{id: 1, files: [link.hea]}]\n",
        r"patients\[0\]\.files\[0\]\.path: link\.hea \(a symbolic link\) is outside",
    ),
    ("deep_yaml", "site: " + "[" * 20000 + "]" * 20000 + "\n", r"not valid YAML|site"),
    ("alias_bomb", "site: a\n" + _BOMB + _OK_PATIENT, r"manifest a: unknown key"),
)


def _export(tmp_path: Path, text: str) -> Path:
    export = tmp_path / "export"
    (export / "ecg").mkdir(parents=True)
    (export / "ecg" / "p1.hea").write_text("p1 1 500 10\n")
    secret = tmp_path / "secret.hea"
    secret.write_text("secret 1 500 10\n")
    os.symlink(secret, export / "link.hea")
    (export / "manifest.yaml").write_text(text)
    return export / "manifest.yaml"


def test_at_least_twenty_broken_manifests():
    assert len(BROKEN) >= 20 and len({name for name, _, _ in BROKEN}) == len(BROKEN)


@pytest.mark.parametrize(("name", "text", "pattern"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_manifest_prints_one_line_naming_the_key(tmp_path, capsys, name, text, pattern):
    manifest = _export(tmp_path, text)
    out = tmp_path / "store"
    assert main(["ingest", str(manifest), "--out", str(out), "--no-progress"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("nextgen-ml ingest: ") and "Traceback" not in captured.err
    assert re.search(pattern, lines[0]), lines[0]
    assert str(tmp_path) not in lines[0]
    assert not out.exists()


def test_traceback_flag_shows_the_exception(tmp_path):
    manifest = _export(tmp_path, "site: a\npatients: [{id: 1, files: 5}]\n")
    with pytest.raises(ValueError, match=r"patients\[0\]\.files"):
        main(["ingest", str(manifest), "--out", str(tmp_path / "s"), "--traceback"])


def test_binary_and_missing_manifests_are_one_line(tmp_path, capsys):
    binary = tmp_path / "manifest.yaml"
    binary.write_bytes(b"site: a\n\xff\xfe\x00garbage")
    assert main(["ingest", str(binary), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert main(["ingest", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_outside_paths_are_read_when_the_manifest_allows_them(tmp_path):
    from nextgen_ml.ingest.manifest import parse_manifest

    text = "site: a\noptions: {allow_outside_paths: true}\npatients: [{id: 1, files: [../secret.hea]}]\n"
    manifest = parse_manifest(text, tmp_path / "export")
    assert manifest.patients[0].files[0].path == tmp_path / "export" / ".." / "secret.hea"
    assert manifest.patients[0].files[0].raw_path == "../secret.hea"


def test_absolute_paths_allowed_are_reported_without_their_folder(tmp_path):
    from nextgen_ml.ingest.manifest import parse_manifest

    text = f"site: a\noptions: {{allow_outside_paths: true}}\npatients: [{{id: 1, files: [{tmp_path}/x.hea]}}]\n"
    manifest = parse_manifest(text, tmp_path / "export")
    assert manifest.patients[0].files[0].raw_path == "<outside>/x.hea"
