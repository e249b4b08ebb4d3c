"""The export of the synthetic and of an ingested store validates; the steward's YAML merges in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, XSD

from nextgen_ml.catalogue.export import export_graph
from nextgen_ml.catalogue.namespaces import CSVW, DCAT, DCT, HEALTH, QUDT, SKOS, VCARD
from nextgen_ml.catalogue.steward import Steward, load_steward
from nextgen_ml.catalogue.validate import validate_file, validate_graph
from nextgen_ml.cli import main as cli_main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from open_record_data import write_table  # noqa: E402

DATASET = URIRef("https://catalogue.example-hospital.eu/datasets/synthetic-cardio")


def test_tiny_store_export_validates_and_carries_the_store(store: Path, steward_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.ttl"
    assert cli_main(["catalogue", "export", str(store), "--steward", str(steward_file), "--out", str(out)]) == 0
    assert [f for f in validate_file(out) if f.severity == "Violation"] == []
    assert cli_main(["catalogue", "validate", str(out)]) == 0
    graph = Graph().parse(out)
    assert (DATASET, RDF.type, DCAT.Dataset) in graph
    # one distribution per site partition, with media type and the partition's byte size
    dists = sorted(str(d) for d in graph.objects(DATASET, DCAT.distribution))
    assert [d.rsplit("/", 1)[-1] for d in dists] == ["site_a", "site_b", "site_c"]
    size = int(graph.value(URIRef(dists[0]), DCAT.byteSize))
    assert size == sum(f.stat().st_size for f in (store / "site=site_a").iterdir())
    # the data dictionary: codes, units, coding systems
    assert URIRef("https://loinc.org/8480-6/") in set(graph.objects(DATASET, HEALTH.hasCodeValues))
    assert "mm[Hg]" in {str(u) for u in graph.objects(None, QUDT.ucumCode)}
    columns = {str(graph.value(c, CSVW.name)): c for c in graph.objects(None, CSVW.column)}
    assert set(columns) >= {"tabular.sbp", "tabular.sex", "labels.lvef", "labels.mace"}
    assert graph.value(columns["labels.lvef"], CSVW.datatype) == XSD.decimal
    assert {str(v) for v in graph.objects(columns["tabular.sex"], SKOS.notation)} == {"female", "male"}
    assert URIRef("http://www.wikidata.org/entity/P4338") in set(graph.objects(DATASET, HEALTH.hasCodingSystem))
    # the steward's facts
    contact = graph.value(DATASET, DCAT.contactPoint)
    assert str(graph.value(contact, VCARD.hasEmail)) == "mailto:data@example-hospital.eu"
    assert graph.value(DATASET, DCT.spatial) == URIRef("http://publications.europa.eu/resource/authority/country/FRA")
    service = URIRef(f"{DATASET}/discovery")
    assert (service, DCAT.servesDataset, DATASET) in graph
    assert str(graph.value(service, DCAT.endpointURL)) == "https://discovery.example-hospital.eu/"
    provenance = " ".join(str(o) for o in graph.objects(graph.value(DATASET, DCT.provenance), None))
    assert "Synthetic" in provenance and "seed 0" in provenance


def test_jsonld_export_is_the_same_graph(store: Path, steward_file: Path, tmp_path: Path) -> None:
    ttl, jsonld = tmp_path / "d.ttl", tmp_path / "d.jsonld"
    args = ["catalogue", "export", str(store), "--steward", str(steward_file)]
    assert cli_main([*args, "--out", str(ttl)]) == 0
    assert cli_main([*args, "--format", "jsonld", "--out", str(jsonld)]) == 0  # counts repeat from the cache
    a, b = Graph().parse(ttl), Graph().parse(jsonld, format="json-ld")
    assert len(a) == len(b)
    assert a.value(DATASET, HEALTH.numberOfRecords) == b.value(DATASET, HEALTH.numberOfRecords) is not None
    assert validate_file(jsonld) == validate_file(ttl)


def test_ingested_store_export_validates(tmp_path: Path, steward_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = write_table(tmp_path / "src")
    monkeypatch.setenv("NEXTGEN_ML_INGEST_KEY", "0123456789abcdef-test-key")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "ingested"
    assert cli_main(["ingest", str(manifest), "--out", str(out), "--no-progress"]) == 0
    graph = export_graph(out, load_steward(steward_file))
    assert [f for f in validate_graph(graph) if f.severity == "Violation"] == []
    dists = [str(d).rsplit("/", 1)[-1] for d in graph.objects(DATASET, DCAT.distribution)]
    assert dists == ["cleveland"]
    # the manifest's own variable with its LOINC code, and the ingest provenance
    assert URIRef("https://loinc.org/8867-4/") in set(graph.objects(DATASET, HEALTH.hasCodeValues))
    provenance = " ".join(str(o) for o in graph.objects(graph.value(DATASET, DCT.provenance), None))
    assert "nextgen-ml ingest" in provenance and "sha256" in provenance


def test_without_steward_the_missing_facts_are_violations_with_a_fix(store: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bare.ttl"
    assert cli_main(["catalogue", "export", str(store), "--out", str(out)]) == 0
    assert cli_main(["catalogue", "validate", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "Violation: dct:publisher" in printed and "publisher:" in printed
    assert "Violation: dcat:contactPoint" in printed and "contact:" in printed


def test_steward_yaml_refuses_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("titel: typo\n")
    with pytest.raises(ValueError, match="titel"):
        load_steward(path)
    with pytest.raises(ValueError, match="temporal.start"):
        Steward.from_dict({"temporal": {"start": "last year"}})
