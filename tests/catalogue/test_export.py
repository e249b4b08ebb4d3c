"""The export of the synthetic and of an ingested store validates; the steward's YAML merges in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF

from nextgen_ml.catalogue.export import byte_size_bucket, export_graph
from nextgen_ml.catalogue.namespaces import CSVW, CV, DCAT, DCATAP, DCT, HEALTH, QUDT, SKOS, VCARD
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
    # one distribution per site partition, with media type and a power-of-ten upper bound of its byte size
    dists = sorted(str(d) for d in graph.objects(DATASET, DCAT.distribution))
    assert [d.rsplit("/", 1)[-1] for d in dists] == ["site_a", "site_b", "site_c"]
    size = int(graph.value(URIRef(dists[0]), DCAT.byteSize))
    exact = sum(f.stat().st_size for f in (store / "site=site_a").iterdir())
    assert size != exact and exact <= size < 10 * exact and str(size).rstrip("0") == "1"
    assert graph.value(URIRef(dists[0]), DCATAP.applicableLegislation) is not None
    # the data dictionary: codes (literals, R8), units, coding systems (HealthDCAT-AP vocabulary), CSVW variables
    assert Literal("LOINC:8480-6") in set(graph.objects(DATASET, HEALTH.hasCodeValues))
    assert "mm[Hg]" in {str(u) for u in graph.objects(None, QUDT.ucumCode)}
    group = graph.value(DATASET, HEALTH.hasVariables)
    assert graph.value(DATASET, HEALTH.hasStructuredData) == Literal(True)
    tables = list(graph.objects(group, CSVW.table))
    columns = {str(graph.value(c, CSVW.name)): c for t in tables for c in graph.objects(t, CSVW.column)}
    assert set(columns) >= {"tabular.sbp", "tabular.sex", "labels.lvef", "labels.mace"}
    assert graph.value(columns["labels.lvef"], CSVW.datatype) == Literal("decimal")
    assert {str(v) for v in graph.objects(columns["tabular.sex"], SKOS.notation)} == {"female", "male"}
    assert graph.value(columns["tabular.sbp"], DCT.subject) == URIRef("https://loinc.org/8480-6/")
    systems = {str(s).rsplit("/", 1)[-1] for s in graph.objects(DATASET, HEALTH.hasCodingSystem)}
    assert systems == {"LOINC", "SNOMED-CT", "UCUM"}
    # HealthDCAT-AP: type, health categories from the released modalities, individuals, HDAB, retention, catalogue
    assert str(graph.value(DATASET, DCT.type)).endswith("dataset-type/SYNTHETIC_DATA")  # the generator says so
    categories = {str(c).rsplit("/", 1)[-1] for c in graph.objects(DATASET, HEALTH.healthCategory)}
    assert categories == {"EHRS", "EMRD", "HGPD", "PGEH"}
    assert graph.value(DATASET, HEALTH.numberOfUniqueIndividuals) == graph.value(DATASET, HEALTH.numberOfRecords)
    hdab = graph.value(DATASET, HEALTH.hdab)
    assert str(graph.value(graph.value(hdab, CV.contactPoint), CV.email)) == "hdab@example.eu"
    retention = graph.value(DATASET, HEALTH.retentionPeriod)
    assert str(graph.value(retention, DCAT.endDate)) == "2035-12-31"
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    assert (catalog, DCAT.dataset, DATASET) in graph
    assert (catalog, DCAT.service, URIRef(f"{DATASET}/discovery")) in graph
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
    def key(findings):  # blank-node labels differ between the two parses
        return sorted((f.severity, f.path, f.source) for f in findings)

    assert key(validate_file(jsonld)) == key(validate_file(ttl))


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
    assert str(graph.value(DATASET, DCT.type)).endswith("dataset-type/TEST_DATA")  # the steward's, not synthetic
    # the manifest's own variable with its LOINC code, and the ingest provenance
    assert Literal("LOINC:8867-4") in set(graph.objects(DATASET, HEALTH.hasCodeValues))
    provenance = " ".join(str(o) for o in graph.objects(graph.value(DATASET, DCT.provenance), None))
    assert "nextgen-ml ingest" in provenance and "sha256" in provenance


def test_without_steward_the_missing_facts_are_violations_with_a_fix(store: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bare.ttl"
    assert cli_main(["catalogue", "export", str(store), "--out", str(out)]) == 0
    assert cli_main(["catalogue", "validate", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "Violation: dct:publisher" in printed and "publisher:" in printed
    assert "Violation: dcat:contactPoint" in printed and "contact:" in printed
    assert "Violation: healthdcatap:hdab" in printed and "hdab:" in printed


def test_byte_size_bucket_is_a_power_of_ten_upper_bound() -> None:
    assert [byte_size_bucket(n) for n in (0, 1, 9, 10, 11, 999_999, 1_000_001)] == [0, 1, 10, 10, 100, 10**6, 10**7]


def test_steward_yaml_refuses_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("titel: typo\n")
    with pytest.raises(ValueError, match="titel"):
        load_steward(path)
    with pytest.raises(ValueError, match="temporal.start"):
        Steward.from_dict({"temporal": {"start": "last year"}})


def test_steward_health_categories_are_checked_and_override(store: Path, steward_file: Path) -> None:
    with pytest.raises(ValueError, match="health_categories.*'CARDIO'"):
        Steward.from_dict({"health_categories": ["EHRS", "CARDIO"]})
    steward = Steward.from_dict({**yaml.safe_load(steward_file.read_text()), "health_categories": ["RQSH"]})
    graph = export_graph(store, steward)
    categories = {str(c).rsplit("/", 1)[-1] for c in graph.objects(DATASET, HEALTH.healthCategory)}
    assert categories == {"RQSH"}


def test_other_access_rights_skip_the_non_public_profile_and_say_so(store: Path, steward_file: Path) -> None:
    steward = Steward.from_dict({**yaml.safe_load(steward_file.read_text()), "access_rights": "RESTRICTED"})
    findings = validate_graph(export_graph(store, steward))
    assert not [f for f in findings if f.severity == "Violation"]  # NON_PUBLIC's hasValue rule is not applied
    assert any(f.path == "dct:accessRights" and "RESTRICTED" in f.message for f in findings)
