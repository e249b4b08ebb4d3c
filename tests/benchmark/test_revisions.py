"""Cells of a fusion whose training changed carry its revision in their key; every other cell keeps its key."""

from __future__ import annotations

from nextgen_ml.benchmark.config import REVISIONS, Setting, cell_key, component_revisions, load_config

FIVE = ["ecg", "genomics", "image", "tabular", "text"]


def test_subspace_cells_get_new_keys_and_others_keep_theirs() -> None:
    cfg = load_config(None, [])
    concat = cfg.cell_spec(Setting("concat", "concat", FIVE), 0, 0)
    assert "revisions" not in concat  # the spec (and key) of results from before revisions existed
    for fusion in ("subspace", {"name": "subspace", "beta": 1.0}, {"name": "film_encoders", "combine": "subspace"}):
        spec = cfg.cell_spec(Setting("s", fusion, FIVE), 0, 0)
        assert spec["revisions"] == {"subspace": REVISIONS["subspace"]}
        without = {k: v for k, v in spec.items() if k != "revisions"}
        assert cell_key(spec) != cell_key(without)  # a stale cell of before the change is not reused
    assert component_revisions({"name": "film_encoders", "combine": "concat"}) == {}
