"""`nextgen-ml discover` end to end on two tiny site stores: the protection is the site's, not the querier's."""

from __future__ import annotations

import pytest

from nextgen_ml.cli import main
from nextgen_ml.governance import discovery
from nextgen_ml.governance.audit import AuditLog
from nextgen_ml.governance.keys import KeyStore
from nextgen_ml.governance.policy import SitePolicy, load_policy, policy_path, write_policy
from tests.governance.govstores import make_record


def test_discover_prints_suppressed_table_and_audits(store_factory, capsys, monkeypatch) -> None:
    monkeypatch.setattr(discovery, "noisy_count", lambda n, epsilon: n)  # exact, to check the table
    big = store_factory([make_record(f"a{i}", site="A", age=70, ecg=True, text="x") for i in range(11)])
    small = store_factory([make_record(f"b{i}", site="B", age=70, ecg=True, text="x") for i in range(2)])
    for store in (big, small):
        write_policy(store, SitePolicy(k=5, round_to=5))
    argv = ["discover", "--stores", str(big), str(small), "--age-min", "50", "--modalities", "ecg", "text"]
    assert main([*argv, "--requester", "alice"]) == 0
    out = capsys.readouterr().out
    assert "A" in out and "10" in out and "<5" in out and " 2 " not in out
    assert "sites suppressed: 1 of 2" in out and "0.5" in out
    for store in (big, small):
        log = AuditLog(store / "_governance" / "audit.jsonl")
        assert log.verify() == 1 and next(log.entries())["requester"] == "alice"


@pytest.mark.parametrize("flag", [["--k", "1"], ["--round-to", "1"], ["--max-queries", "1000"]])
def test_the_querier_cannot_choose_the_protection(store_factory, flag) -> None:
    store = store_factory([make_record("a0")])
    with pytest.raises(SystemExit) as err:
        main(["discover", "--stores", str(store), "--requester", "eve", *flag])
    assert err.value.code == 2  # argparse: unrecognized arguments


def test_discover_reports_budget_exhaustion_and_bad_identities(store_factory, capsys) -> None:
    store = store_factory([make_record("a0")])
    write_policy(store, SitePolicy(epsilon_per_query=1.0, epsilon_budget=1.0))
    assert main(["discover", "--stores", str(store), "--requester", "bob"]) == 0
    assert main(["discover", "--stores", str(store), "--requester", "bob", "--sex", "male"]) == 3
    assert "spent 1 of its ε budget 1" in capsys.readouterr().out
    assert main(["discover", "--stores", str(store), "--requester", "Bob "]) == 2
    assert "not a plain id" in capsys.readouterr().out


def test_steward_tasks_issue_keys_and_write_the_policy(store_factory, capsys) -> None:
    store = store_factory([make_record("a0")])
    assert main(["discover", "--stores", str(store), "--init-policy"]) == 0
    assert policy_path(store).exists() and load_policy(store) == SitePolicy()
    assert main(["discover", "--stores", str(store), "--issue-key", "carol"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert KeyStore.for_store(store).authenticate(token) == "carol"
    assert main(["discover", "--stores", str(store), "--revoke-key", "carol"]) == 0
    assert "revoked 1 key(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as err:  # a user mistake: one message, exit 2 (nextgen_ml.errors)
        main(["discover", "--stores", str(store), "--issue-key", "Carol"])
    assert err.value.code == 2 and "not a plain id" in capsys.readouterr().err
