"""The shipped data is what the conversion produces from the official files (no hand edits)."""

import gzip
import importlib.util
import json
from importlib import resources
from pathlib import Path

import pytest

from nec_nlp.icd10cm import load_code_set
from nec_nlp.icd10cm.convert import build_drug_table, build_index, build_neoplasm_table
from nec_nlp.icd10cm.tabular_xml import guess_release, parse_tabular, read_code_list


def _shipped(name: str):
    return json.loads(gzip.decompress(resources.files("nec_nlp.icd10cm").joinpath("data", name).read_bytes()))


def _roundtrip(obj):
    return json.loads(json.dumps(obj, ensure_ascii=False))


@pytest.fixture(scope="module")
def fy2025(shared_dir: Path) -> Path:
    return shared_dir / "data" / "icd10cm" / "fy2025"


def test_icd10cm_build_index_reproduces_shipped(fy2025):
    assert _roundtrip(build_index(fy2025 / "ICD10CM_2025_Index.csv")) == _shipped("index-2025.json.gz")


def test_icd10cm_build_neoplasms_reproduces_shipped(fy2025):
    built = _roundtrip(build_neoplasm_table(fy2025 / "icd-10-cm-neoplasm-2025.xml"))
    assert built == _shipped("neoplasms-2025.json.gz")
    assert built["headings"][1:] == ["Malignant Primary", "Malignant Secondary", "Ca in situ", "Benign",
                                     "Uncertain Behavior", "Unspecified Behavior"]


def test_icd10cm_build_drugs_and_classes_reproduce_shipped(fy2025):
    pytest.importorskip("drug_named_entity_recognition")
    table, classes, sources = build_drug_table(fy2025 / "icd-10-cm-drug-2025.xml")
    assert _roundtrip(table) == _shipped("drugs-2025.json.gz")
    assert _roundtrip(classes) == _shipped("drug-classes.json.gz")
    assert sources["package"].startswith("drug-named-entity-recognition==")
    # the class map is derived: antiviral MeSH class matched by words, oseltamivir by its name ending
    assert classes["mesh_to_entry"]["antiviral agents"] == "Antiviral drug NEC"
    assert classes["drugs"]["oseltamivir"][0] == "Antiviral drug NEC"
    assert classes["entries"]["Antiviral drug NEC"] == "T37.5X"


def test_icd10cm_build_tabular_2026_matches_installed_package_and_code_list():
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or spec.origin is None:
        pytest.skip("simple-icd-10-cm (build extra) is not installed")
    data = Path(spec.origin).parent / "data"
    xml = next(p for p in data.glob("*.xml") if "tabular" in p.name)
    code_list = read_code_list(next(data.glob("code-list*.txt")))
    rid = guess_release(xml)
    if rid != "2026-04":
        pytest.skip(f"the installed simple-icd-10-cm ships release {rid}, not the shipped 2026-04")
    compact = _roundtrip(parse_tabular(xml, rid, code_list))
    assert compact == _shipped("tabular-2026-04.json.gz")
    # every code we serve (7th-character codes included) is in the official list, and vice versa
    cs = load_code_set(rid)
    ours = {c.replace(".", "") for c in cs.code_strings()}
    official = {c for c in code_list if c[:1].isalpha() and "-" not in c}
    assert ours == official


@pytest.mark.parametrize("name,expected", [
    ("icd10c-tabular-April-1-2026.xml", "2026-04"),
    ("icd10cm-tabular-April-2025.xml", "2025-04"),
    ("icd10cm_tabular_2025.xml", "2024-10"),
])
def test_icd10cm_guess_release(name, expected):
    assert guess_release(name) == expected
