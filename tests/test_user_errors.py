"""User mistakes in configs and command lines: one clear message naming the key, a non-zero exit, no traceback.

Each mistake runs through the same code as the entry points (:func:`nextgen_ml.errors.reporting` around Hydra's
composition and ``train(cfg)``, or ``nextgen_ml.cli.main``); a few run the real ``python train.py`` /
``python eval.py`` / ``nextgen-ml`` in a subprocess (slow). Real bugs must keep their traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import open_dict

from nextgen_ml.cli import main as cli_main
from nextgen_ml.errors import EXIT_USER_ERROR, is_user_error, reporting
from nextgen_ml.training.config_check import check_run_config

from .training.conftest import TINY, compose_cfg

ROOT = Path(__file__).resolve().parents[1]

#: (overrides, text the message must contain: the key or the bad name). Run as ``python train.py OVERRIDES``.
TRAIN_MISTAKES: list[tuple[list[str], str]] = [
    (["+experiment=nope"], "experiment/nope"),  # unknown experiment
    (["model/fusion=nope"], "model/fusion/nope"),  # unknown fusion config
    (["model/encoder/ecg=nope"], "model/encoder/ecg/nope"),  # unknown encoder config
    (["privacy=nope"], "privacy/nope"),
    (["foo=1"], "foo"),  # a key that does not exist
    (["data.batch_size=["], "data.batch_size"),  # override syntax
    (["model.fusion.name=nope"], "fusion 'nope'"),  # unknown registered fusion
    (["data.modalities=[ecg,nope]"], "modalities"),  # bad modality
    (["task.target=nope"], "label 'nope'"),  # bad task target
    (["trainer.max_epochs=ten"], "trainer.max_epochs"),  # wrong type
    (["data.batch_size=-3"], "data.batch_size"),
    (["seed=abc"], "seed"),
    (["model.finetune=partial"], "model.finetune"),
    (["model.prior_bias=maybe"], "model.prior_bias"),
    (["data.val_frac=1.5"], "data.val_frac"),
    (["data.purpose=health"], "data.purpose"),  # data.purpose malformed
    (["data.purpose.for_profit=maybe"], "data.purpose.for_profit"),
    (["+data.purpose.sponsor=acme"], "data.purpose.sponsor"),
    (["data.split=random"], "split"),
    (["data.split=site", "data.test_sites=[site_9]"], "test_sites"),
    (["model.init_from=/nonexistent/encoders.pt"], "model.init_from"),
    (["data=store", "data.data_dir=/nonexistent/store"], "data_dir"),  # missing store path
    (["+experiment=federated_5sites", "federated.rounds=abc"], "federated.rounds"),
    (["+experiment=federated_5sites", "federated.strategy=fedsgd"], "federated.strategy"),
]


def _train_mistake(overrides: list[str], tiny_store: Path, tmp_path: Path) -> None:
    """What ``python train.py OVERRIDES`` runs: compose, check the config, train (up to the mistake)."""
    from nextgen_ml.training.train import train

    cfg = compose_cfg([*TINY, *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir, cfg.paths.log_dir = str(tmp_path / "run"), str(tmp_path / "logs")
        if "data.data_dir=" not in " ".join(overrides):
            cfg.data.data_dir, cfg.data.cohort = str(tiny_store), None
    check_run_config(cfg)
    train(cfg)


@pytest.mark.parametrize(("overrides", "names"), TRAIN_MISTAKES, ids=[" ".join(o) for o, _ in TRAIN_MISTAKES])
def test_train_config_mistake_is_one_message(overrides, names, tiny_store, tmp_path, capsys, monkeypatch):
    for env in ("NEXTGEN_ML_DEBUG", "HYDRA_FULL_ERROR"):
        monkeypatch.delenv(env, raising=False)
    with pytest.raises(SystemExit) as exit_info, reporting("train.py"):
        _train_mistake(overrides, tiny_store, tmp_path)
    err = capsys.readouterr().err
    assert exit_info.value.code == EXIT_USER_ERROR
    assert "Traceback" not in err
    message = [line for line in err.splitlines() if line.startswith("train.py: error: ")]
    assert len(message) == 1 and names in err, err


def _cli_cases(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "bad.yaml").write_text("not: [yaml\n")
    (tmp / "manifest.yaml").write_text("site: s\npatients: [{id: A, files: 5}]\n")
    return [
        (["benchmark", "--config", str(tmp / "missing.yaml")], "missing.yaml"),
        (["benchmark", "--config", str(tmp / "bad.yaml")], "bad.yaml"),
        (["benchmark", "nope.key=1"], "nope"),
        (["benchmark", "train.max_epochs=two"], "train.max_epochs"),  # a wrong type, before any cell is fitted
        (["benchmark", "train.epochs=3"], "['epochs']"),
        (["discover", "--stores", str(tmp / "nostore")], "--requester"),
        (["audit", "verify", str(tmp / "none.jsonl")], "none.jsonl"),
        (["catalogue", "export", str(tmp / "nostore"), "--out", str(tmp / "o.ttl")], "nostore"),
        (["catalogue", "validate", str(tmp / "bad.yaml")], "Bad syntax"),
        (["export", str(tmp / "none.ckpt"), "--out", str(tmp / "bundle")], "ckpt_path"),
        (["cohort", "--n", "0", "--out", str(tmp / "cohort")], "n must be >= 1"),
        (["federated", "--experiment", "nope", "--plan-only", "--out-dir", str(tmp / "f")], "experiment/nope"),
        (["federated", "federated.rounds=abc", "--plan-only", "--out-dir", str(tmp / "f2")], "federated.rounds"),
        (["ingest", str(tmp / "manifest.yaml"), "--out", str(tmp / "store")], "patients[0].files"),
    ]


def test_cli_mistakes_are_one_message(tmp_path, capsys, monkeypatch):
    for env in ("NEXTGEN_ML_DEBUG", "HYDRA_FULL_ERROR"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("NEXTGEN_ML_INGEST_KEY", "a-test-key-for-the-error-tests")
    for argv, names in _cli_cases(tmp_path):
        try:
            code = cli_main(argv)
        except SystemExit as exit_info:
            code = exit_info.code
        err = capsys.readouterr().err + (code if isinstance(code, str) else "")  # SystemExit("message")
        assert code not in (0, None), argv
        assert "Traceback" not in err and names in err, (argv, err)
        assert len([line for line in err.splitlines() if "error" in line.lower()]) <= 2, (argv, err)


def test_bugs_keep_their_traceback_and_debug_shows_mistakes(monkeypatch):
    for env in ("NEXTGEN_ML_DEBUG", "HYDRA_FULL_ERROR"):
        monkeypatch.delenv(env, raising=False)
    with pytest.raises(ZeroDivisionError), reporting("x"):  # a bug: not a user mistake
        _ = 1 / 0
    with pytest.raises(ValueError), reporting("x"):  # a ValueError raised outside the package is a bug
        int("not a number")
    assert not is_user_error(TypeError("unsupported operand"))
    from nextgen_ml.ingest.report import FileOutcome, IngestReport

    report = IngestReport(files=[FileOutcome("p", "f.dcm", "dicom", "weird")])
    with pytest.raises(KeyError), reporting("x"):  # a failed lookup inside the package: a bug, not a message
        report.by_format()
    monkeypatch.setenv("NEXTGEN_ML_DEBUG", "1")
    with pytest.raises(FileNotFoundError), reporting("x"):  # asked for: the traceback of a mistake
        raise FileNotFoundError("data_dir: no record store at /nowhere")


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("NEXTGEN_ML_DEBUG", "HYDRA_FULL_ERROR")}
    environ.update({"PYTHONPATH": str(ROOT), "NEXTGEN_ML_ROOT": str(tmp_path), "HF_HUB_OFFLINE": "1", **env})
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["train.py", "+experiment=nope"], "experiment/nope"),
        (["eval.py", "ckpt_path=/nonexistent/best.ckpt"], "ckpt_path"),
    ],
)
def test_entry_points_in_a_subprocess(args, names, tmp_path):
    hydra_dir = [f"hydra.run.dir={tmp_path / 'h'}"] if args[0].endswith(".py") else []
    result = _run([*args, *hydra_dir], tmp_path)
    assert result.returncode == EXIT_USER_ERROR, result.stderr
    assert "Traceback" not in result.stderr and names in result.stderr, result.stderr


@pytest.mark.slow
def test_debug_env_shows_the_traceback_in_a_subprocess(tmp_path):
    args = ["train.py", "data.batch_size=abc", f"hydra.run.dir={tmp_path / 'h'}"]
    result = _run(args, tmp_path, NEXTGEN_ML_DEBUG="1")
    assert result.returncode != 0 and "Traceback" in result.stderr and "data.batch_size" in result.stderr
