"""Alphabetic Index, Table of Drugs and Chemicals, Table of Neoplasms and the shipped data manifest."""

import gzip
import hashlib
import json
from importlib import resources

import pytest

from nec_nlp.errors import InputError
from nec_nlp.icd10cm import CodeSet, load_code_set
from nec_nlp.icd10cm.index import IndexHit, reconcile


pytestmark = pytest.mark.usefixtures("isolated_code_set_cache")


@pytest.fixture(scope="module")
def cs() -> CodeSet:
    return load_code_set("2026-04")


@pytest.fixture(scope="module")
def cs2025() -> CodeSet:
    return load_code_set("2025-04")


# -- shipped data ----------------------------------------------------------------------------------------------
def _data():
    return resources.files("nec_nlp.icd10cm").joinpath("data")


def test_icd10cm_manifest_checksums_match_shipped_files():
    manifest = json.loads(_data().joinpath("manifest.json").read_text("utf-8"))
    entries = list(manifest["releases"].values()) + [manifest[k] for k in ("index", "drugs", "drug_classes",
                                                                          "neoplasms")]
    for e in entries:
        blob = _data().joinpath(e["file"]).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == e["sha256"]
        assert len(blob) < 5_000_000, f"{e['file']} should stay a few MB at most"
        assert e["source"]
    assert manifest["index"]["source"]["file"] == "ICD10CM_2025_Index.csv"
    assert manifest["releases"]["2025-04"]["source"]["package"].startswith("simple-icd-10-cm==1.3")


def test_icd10cm_shipped_index_matches_source_csv(shared_dir):
    src = shared_dir / "data" / "icd10cm" / "fy2025" / "ICD10CM_2025_Index.csv"
    manifest = json.loads(_data().joinpath("manifest.json").read_text("utf-8"))
    assert hashlib.sha256(src.read_bytes()).hexdigest() == manifest["index"]["source"]["sha256"]
    rows = json.loads(gzip.decompress(_data().joinpath("index-2025.json.gz").read_bytes()))["rows"]
    assert len(rows) == sum(1 for _ in src.open(encoding="utf-8")) - 1


# -- Alphabetic Index --------------------------------------------------------------------------------------------
def test_icd10cm_index_pain_postoperative_nos_is_g89_18(cs):
    hit = cs.index.lookup(["Pain", "postoperative NOS"])
    assert isinstance(hit, IndexHit)
    assert hit.code == "G89.18" and hit.resolved == "G89.18" and hit.release == "2026-04"
    assert not hit.nec
    assert cs.index.lookup(["pain", "Postoperative"]).resolved == "G89.18"  # NOS optional, any case
    assert cs.index.search("postoperative pain", limit=3)[0].resolved == "G89.18"


def test_icd10cm_index_nec_entries_flagged(cs):
    hit = cs.index.lookup(["Pain", "chronic", "postoperative NEC"])
    assert hit is not None and hit.nec and hit.resolved == "G89.28"


def test_icd10cm_index_see_reference_followed(cs):
    hit = cs.index.lookup(["Abdominalgia"])
    assert hit.code is None and hit.see == "Pain, abdominal"
    assert hit.resolved == cs.index.lookup(["Pain", "abdominal"]).resolved
    assert "see Pain, abdominal" in hit.note


def test_icd10cm_index_expanded_code_descends_to_unspecified_child(cs, cs2025):
    new = cs.index.lookup(["Pain", "pelvic"])
    old = cs2025.index.lookup(["Pain", "pelvic"])
    assert new.code == old.code == "R10.2"
    assert old.resolved == "R10.2" and old.note is None
    assert new.resolved == "R10.20" and cs.get("R10.20").kind == "nos"
    assert "R10.2" in new.note and "unspecified" in new.note


@pytest.mark.parametrize("printed,resolved", [("G40.-", "G40.909"), ("C34.1-", "C34.10"), ("I10", "I10")])
def test_icd10cm_reconcile_dash_codes(cs, printed, resolved):
    code, note = reconcile(cs, printed)
    assert code == resolved and cs.get(code).billable
    assert (note is None) == (printed == resolved)


def test_icd10cm_index_seventh_character_codes_get_initial_encounter(cs):
    code, note = reconcile(cs, "S72.00-")
    assert code == "S72.009A" and cs.get(code).billable and "unspecified" in note
    code, note = reconcile(cs, "S72.009")
    assert code == "S72.009A" and "7th character" in note


def test_icd10cm_index_every_resolved_code_is_billable(cs):
    ix = cs.index
    resolved = {h for h in ix._resolved if h}
    assert len(resolved) > 10_000
    assert all(cs.is_billable(c) for c in resolved)


def test_icd10cm_index_subterms_walk(cs):
    subs = cs.index.subterms(["Pain"])
    terms = [h.path[-1] for h in subs]
    assert "postoperative NOS" in terms and "abdominal" in terms
    assert all(h.path[0] == "Pain" and len(h.path) == 2 for h in subs)
    deeper = cs.index.subterms(["Pain", "abdominal"])
    assert deeper and all(h.path[:2] == ("Pain", "abdominal") for h in deeper)
    assert cs.index.subterms(["No such term"]) == []


@pytest.mark.parametrize("query,path_head,code_prefix", [
    ("epilepsy", "Epilepsy, epileptic, epilepsia", "G40"),
    ("heart failure", "Failure, failed", "I50"),
    ("pneumonia pneumococcal", "Pneumonia", "J13"),
])
def test_icd10cm_index_search(cs, query, path_head, code_prefix):
    hits = cs.index.search(query, limit=5)
    assert hits[0].path[0] == path_head and hits[0].resolved.startswith(code_prefix)
    assert hits == sorted(hits, key=lambda h: -h.score)


# -- Table of Drugs ----------------------------------------------------------------------------------------------
def test_icd10cm_drug_warfarin_adverse_effect_initial(cs):
    d = cs.drugs.lookup("warfarin", use="adverse_effect", encounter="initial")
    assert d.code == "T45.515A" and d.fallback is None and d.matched_entry == "Warfarin"
    assert d.release == "2026-04"


@pytest.mark.parametrize("use,sixth", [("poisoning_accidental", "1"), ("poisoning_intentional", "2"),
                                       ("poisoning_assault", "3"), ("poisoning_undetermined", "4"),
                                       ("underdosing", "6")])
def test_icd10cm_drug_uses_and_encounters(cs, use, sixth):
    for encounter, char in (("initial", "A"), ("subsequent", "D"), ("sequela", "S")):
        d = cs.drugs.lookup("Warfarin", use=use, encounter=encounter)
        assert d.code == f"T45.51{sixth}{char}" and cs.is_billable(d.code)


def test_icd10cm_drug_oseltamivir_via_class_fallback(cs):
    d = cs.drugs.lookup("oseltamivir", use="adverse_effect", encounter="initial")
    assert d.code == "T37.5X5A"
    assert d.fallback in (None, "class")
    if d.fallback == "class":
        assert d.drug_class and "antiviral" in d.drug_class.lower()


def test_icd10cm_drug_brand_name_resolves_to_table_entry(cs):
    d = cs.drugs.lookup("Tylenol", use="adverse_effect")
    assert d.matched_entry == "Acetaminophen" and d.fallback is None and cs.is_billable(d.code)


def test_icd10cm_drug_see_reference(cs):
    d = cs.drugs.lookup("Aleve", use="adverse_effect")
    assert d.matched_entry == "Naproxen" and cs.is_billable(d.code)


def test_icd10cm_drug_unknown_falls_back_to_t50_99(cs):
    d = cs.drugs.lookup("Zzqxvatrol", use="adverse_effect", encounter="initial")
    assert d.code == "T50.995A" and d.fallback == "T50.99" and d.drug_class is None
    assert cs.drugs.lookup("Zzqxvatrol", use="underdosing", encounter="subsequent").code == "T50.996D"
    assert cs.validate("T50.99XA").valid is False  # never built


def test_icd10cm_drug_every_table_code_is_valid(cs):
    # every stem the Table prints gets a billable 7th-character code (placeholder X only where needed)
    table = cs.drugs.table
    stems = {table.cell(i, use) for i in range(len(table.rows)) for use in table.columns} - {None}
    assert len(stems) > 1000
    for stem in stems:
        code = cs.with_seventh(stem.rstrip("-"), "initial")
        assert code is not None and cs.is_billable(code) and code.endswith("A"), stem
        assert code.replace(".", "")[:6].rstrip("X") == stem.replace(".", "").rstrip("-").rstrip("X")


def test_icd10cm_drug_substance_without_adverse_effect(cs):
    d = cs.drugs.lookup("1-propanol", use="adverse_effect")
    assert d.code is None and "no adverse effect" in d.note
    assert cs.is_billable(cs.drugs.lookup("1-propanol", use="poisoning_accidental").code)


def test_icd10cm_drug_bad_use_is_input_error(cs):
    with pytest.raises(InputError):
        cs.drugs.lookup("warfarin", use="overdose")


# -- Table of Neoplasms --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("site,behaviour,code", [
    ("lung", "malignant_primary", "C34.90"),
    ("lung", "malignant_secondary", "C78.00"),
    ("lung, upper lobe", "malignant_primary", "C34.10"),
    ("prostate", "malignant_primary", "C61"),
    ("liver", "malignant_secondary", "C78.7"),
    ("brain", "uncertain", "D43.2"),
])
def test_icd10cm_neoplasm_lookup(cs, site, behaviour, code):
    n = cs.neoplasms.lookup(site, behaviour)
    assert n.code == code and n.release == "2026-04" and cs.is_billable(n.code)


def test_icd10cm_neoplasm_site_by_words_and_see_also(cs):
    n = cs.neoplasms.lookup("upper lobe of lung", "malignant")
    assert n.code == "C34.10" and not n.exact_site and n.matched_entry.endswith("lung, upper lobe")
    colon = cs.neoplasms.lookup("colon", "benign")
    assert colon.code and colon.code.startswith("D12") and "see also" in colon.note
    assert cs.neoplasms.lookup("qqqzzz", "benign") is None
    with pytest.raises(InputError):
        cs.neoplasms.lookup("lung", "wild")


@pytest.mark.parametrize("substance,entry", [
    ("opioid", "Opioid NEC"),                          # NEC optional
    ("sodium chloride", "Sodium, chloride"),           # first word as main term, the rest as its subterm
    ("insulin glargine", "Insulin"),                   # first word of a longer name
    ("amoxicillin-clavulanate", "Amoxicillin"),        # first part of a combination
])
def test_icd10cm_drug_name_forms(cs, substance, entry):
    d = cs.drugs.lookup(substance, use="adverse_effect")
    assert d.matched_entry == entry and d.fallback is None and cs.is_billable(d.code)


def test_icd10cm_drug_inverted_main_term_not_preferred(cs):
    # "Iopodate, sodium" has the comma variant "sodium"; the main term Sodium wins for "sodium"
    assert cs.drugs.lookup("sodium", use="poisoning_accidental").matched_entry == "Sodium"
