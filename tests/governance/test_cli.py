"""`nextgen-ml discover` end to end on two tiny site stores."""

from __future__ import annotations

from nextgen_ml.cli import main
from nextgen_ml.governance.audit import AuditLog
from tests.governance.govstores import make_record


def test_discover_prints_suppressed_table_and_audits(store_factory, capsys) -> None:
    big = store_factory([make_record(f"a{i}", site="A", age=70, ecg=True, text="x") for i in range(11)])
    small = store_factory([make_record(f"b{i}", site="B", age=70, ecg=True, text="x") for i in range(2)])
    argv = ["discover", "--stores", str(big), str(small), "--age-min", "50", "--modalities", "ecg", "text",
            "--requester", "alice", "--k", "5"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "A" in out and "10" in out and "<5" in out and " 2 " not in out
    assert "sites suppressed: 1 of 2" in out
    for store in (big, small):
        log = AuditLog(store / "_governance" / "audit.jsonl")
        assert log.verify() == 1 and next(log.entries())["requester"] == "alice"


def test_discover_reports_budget_exhaustion(store_factory, capsys) -> None:
    store = store_factory([make_record("a0")])
    argv = ["discover", "--stores", str(store), "--requester", "bob", "--max-queries", "1"]
    assert main(argv) == 0
    assert main(argv) == 3
    assert "has used all 1 queries" in capsys.readouterr().out
