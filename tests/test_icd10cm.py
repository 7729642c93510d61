"""Tabular releases, code kinds, validation and 7th characters of :mod:`nec_nlp.icd10cm`, on real codes."""

import datetime as dt
import warnings

import pytest

from nec_nlp.errors import CodeSetError, NecNlpWarning
from nec_nlp.icd10cm import (
    Code,
    CodeSet,
    Validation,
    available_releases,
    forget_loaded,
    load_code_set,
    normalize_code,
    release_for_date,
)
from nec_nlp.icd10cm.kinds import classify, other_position, unspecified_position
from nec_nlp.icd10cm.releases import cache_dir


pytestmark = pytest.mark.usefixtures("isolated_code_set_cache")


@pytest.fixture(scope="module")
def cs() -> CodeSet:
    return load_code_set()


@pytest.fixture(scope="module")
def cs2025() -> CodeSet:
    return load_code_set("2025-04")


# -- releases ------------------------------------------------------------------------------------------------
def test_icd10cm_releases_shipped():
    ids = [r.id for r in available_releases()]
    assert "2025-04" in ids and "2026-04" in ids
    for r in available_releases():
        assert r.effective_from < r.effective_to
        assert len(r.sha256) == 64 and r.source["sha256"]


def test_icd10cm_default_release_is_newest(cs):
    assert cs.release == "2026-04"
    assert cs.get("J13").release == "2026-04"


@pytest.mark.parametrize("code", ["E88.14"])
def test_icd10cm_code_new_in_2026_is_invalid_in_2025(cs, cs2025, code):
    assert cs.validate(code).valid and cs.validate(code).billable
    old = cs2025.validate(code)
    assert not old.valid and old.release == "2025-04" and old.reason == "unknown"
    assert old.suggestions and all(s in cs2025 for s in old.suggestions)


def test_icd10cm_r10_2_subdivided_in_2026(cs, cs2025):
    v = cs.validate("R10.2")
    assert v.valid and not v.billable and v.reason == "not a leaf"
    assert {"R10.20", "R10.21", "R10.22", "R10.23", "R10.24"} <= set(v.children)
    assert all(cs.get(c).billable for c in v.suggestions)
    assert cs2025.validate("R10.2").billable


@pytest.mark.parametrize("day,expected,approx", [
    ("2025-06-01", "2025-04", False),
    ("2026-05-15", "2026-04", False),
    ("2025-12-01", "2026-04", True),  # the October 2025 release is not shipped: same fiscal year's April update
    ("2024-01-01", "2025-04", True),
    ("2027-01-01", "2026-04", True),
])
def test_icd10cm_release_for_service_date(day, expected, approx):
    rel, warn = release_for_date(day)
    assert rel.id == expected
    assert (warn is not None) == approx


def test_icd10cm_service_date_warns_when_approximate():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cs = load_code_set(service_date=dt.date(2025, 12, 1))
    assert cs.release == "2026-04" and cs.warnings
    assert any(issubclass(w.category, NecNlpWarning) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_code_set(service_date="2025-06-01").release == "2025-04"


def test_icd10cm_unknown_release_is_user_error():
    with pytest.raises(CodeSetError, match="2025-04"):
        load_code_set("1999-01")
    with pytest.raises(CodeSetError):
        load_code_set(service_date="not a date")


def test_icd10cm_warm_cache_written_and_corrupt_cache_rebuilt():
    forget_loaded()
    first = load_code_set("2025-04")
    files = sorted(cache_dir().glob("tabular-2025-04-*.marshal"))
    assert files
    files[0].write_bytes(b"not a marshal file")
    forget_loaded()
    again = load_code_set("2025-04")
    assert again is not first and len(again) == len(first)
    assert again.get("G40.89").title == first.get("G40.89").title


def test_icd10cm_load_any_tabular_xml_by_path(tmp_path):
    xml = tmp_path / "icd10cm-tabular-April-2031.xml"
    xml.write_text("""<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular><version>2031</version>
<chapter><name>19</name><desc>Injury</desc>
<section id="T36-T50"><desc>Poisoning</desc>
<diag><name>T50</name><desc>Poisoning by other and unspecified drugs</desc>
 <sevenChrDef><extension char="A">initial encounter</extension><extension char="D">subsequent encounter</extension>
 <extension char="S">sequela</extension></sevenChrDef>
 <diag><name>T50.9</name><desc>Other drugs</desc>
  <diag placeholder="true"><name>T50.9X</name><desc>Other drugs</desc>
   <diag><name>T50.9X5</name><desc>Adverse effect of other drugs</desc>
    <inclusionTerm><note>Adverse drug reaction NOS</note></inclusionTerm></diag>
  </diag></diag></diag>
</section></chapter></ICD10CM.tabular>""", encoding="utf-8")
    cs = load_code_set(path=xml)
    assert cs.release == "2031-04"
    assert cs.validate("T50.9X5A").billable
    assert cs.get("T50.9X5").nos_terms == ("Adverse drug reaction NOS",)
    assert cs.validate("T50.95A").reason == "missing placeholder X"
    bad = tmp_path / "broken.xml"
    bad.write_text("<nope", encoding="utf-8")
    with pytest.raises(CodeSetError):
        load_code_set(path=bad)


# -- codes and kinds -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("code,kind", [
    ("G40.89", "nec"), ("G40.909", "nos"), ("G89.18", "nec"), ("J18.9", "nos"), ("J13", "exact"),
    ("T50.995A", "nec"), ("T45.515A", "exact"),
    # kind rule v3: the NOS term's stem plus defaults only -> exact; other axes left open -> still nos
    ("G40.109", "exact"), ("G43.109", "exact"), ("B02.9", "exact"), ("K21.9", "nos"), ("I25.10", "nos"),
])
def test_icd10cm_kind_of_real_codes(cs, code, kind):
    assert cs.kind(code) == kind
    assert cs.get(code).kind == kind


def test_icd10cm_g89_18_is_nec_but_carries_nos_terms(cs):
    c = cs.get("G89.18")
    assert c.kind == "nec"
    assert "Postoperative pain NOS" in c.nos_terms
    assert set(c.nos_terms) <= set(c.inclusion)


def test_icd10cm_titles_on_both_axes_have_secondary_kind(cs):
    both = [c for c in cs.codes() if c.secondary_kind]
    assert both, "the tabular has titles that are both 'other' and 'unspecified'"
    for c in both[:500]:
        o, u = other_position(c.title), unspecified_position(c.title)
        assert o is not None and u is not None
        assert c.kind == ("nec" if o < u else "nos") and c.secondary_kind != c.kind
    assert cs.get("C84.40").kind == "nec" and cs.get("C84.40").secondary_kind == "nos"
    assert classify("Other pneumonia, unspecified organism") == ("nec", "nos")
    assert classify("Unspecified fracture of other part of femur")[0] == "nos"


@pytest.mark.parametrize("title,inclusion,kind", [
    ("Acute pain, not elsewhere classified", (), "nec"),
    ("Poisoning by drug NEC", (), "nec"),
    ("Urinary tract infection, site not specified", (), "nos"),
    ("Gastro-esophageal reflux disease without esophagitis", ("Esophageal reflux NOS",), "nos"),
    ("Collision of motor vehicle other than car", (), "exact"),
    ("Striking against each other", (), "exact"),
    ("Anemia in other chronic diseases classified elsewhere", (), "exact"),
    ("Other streptococcus as the cause of diseases classified elsewhere", (), "nec"),
    ("Pneumonia due to Streptococcus pneumoniae", ("Bronchopneumonia due to S. pneumoniae",), "exact"),
    ("Migraine with aura, not intractable, without status migrainosus", ("Migraine with aura NOS",), "exact"),
    ("Zoster without complications", ("Zoster NOS",), "exact"),
    ("Acute appendicitis with perforation, localized peritonitis, and gangrene, without abscess",
     ("(Acute) appendicitis with perforation NOS",), "nos"),
])
def test_icd10cm_kind_rule(title, inclusion, kind):
    assert classify(title, inclusion)[0] == kind


def test_icd10cm_code_record_fields(cs):
    c = cs.get("g40.89")
    assert isinstance(c, Code) and c.code == "G40.89" and c.billable and c.title == "Other seizures"
    assert c.parent == "G40.8" and [a.code for a in cs.ancestors(c.code)][-1] == "G40"
    assert c.chapter == "6" and cs.chapter_title(c.chapter).startswith("Diseases of the nervous system")
    assert "G40.89" in cs and "g4089" in cs and "G40.8999" not in cs
    t50 = cs.get("T50.995A")
    assert t50.seventh_char == "A" and t50.parent == "T50.995"
    assert t50.seventh == {"A": "initial encounter", "D": "subsequent encounter", "S": "sequela"}
    assert cs.get("T50.995").seventh and not cs.get("T50.995").billable
    assert cs.get("G40.89").seventh == {}


def test_icd10cm_instructional_notes(cs):
    e11 = cs.get("E11")
    assert e11.use_additional and any("insulin" in n.lower() for n in e11.use_additional)
    assert cs.get("G89.2").excludes1
    inst = cs.instructions("E11.9")
    assert any(src == "E11" for src, _ in inst["use_additional"])
    assert any(cs.get(code).excludes2 for code in ("J18", "J18.9")) or inst["excludes1"] or inst["excludes2"]
    assert any(c.code_first for c in cs.codes() if c.code.startswith("G63"))


def test_icd10cm_billable_descendants(cs):
    kids = cs.billable_descendants("T50.99")
    assert [k.code for k in kids[:3]] == ["T50.991A", "T50.991D", "T50.991S"]
    assert all(k.billable for k in kids) and len(kids) == 18
    assert [k.code for k in cs.billable_descendants("J13")] == ["J13"]


# -- validation ----------------------------------------------------------------------------------------------
def test_icd10cm_validate_t50_99xa(cs):
    v = cs.validate("T50.99XA")
    assert isinstance(v, Validation) and v.release == "2026-04"
    assert not v.valid and not v.billable
    assert v.reason == "placeholder X where the tabular has a character"
    assert v.suggestions[0] == "T50.995A"
    assert all(s.endswith("A") and cs.get(s).billable for s in v.suggestions)


@pytest.mark.parametrize("typed,code", [("g40.89", "G40.89"), (" G40 89 ", "G40.89"), ("G4089", "G40.89"),
                                        ("t45.515a", "T45.515A")])
def test_icd10cm_validate_normalises(cs, typed, code):
    v = cs.validate(typed)
    assert v.code == code and v.valid and v.billable and v.reason is None and v.input == typed


@pytest.mark.parametrize("typed,reason,first", [
    ("T50.995", "missing 7th character", "T50.995A"),
    ("S00.00A", "missing placeholder X", "S00.00XA"),
    ("T37.5X5B", "invalid 7th character", "T37.5X5A"),
    ("G40.8", "not a leaf", None),
    ("J18.99", "unknown", None),
    ("12345", "malformed", None),
])
def test_icd10cm_validate_reasons(cs, typed, reason, first):
    v = cs.validate(typed)
    assert v.reason == reason and not v.billable
    if first:
        assert v.suggestions[0] == first
    for s in v.suggestions:
        assert cs.get(s).billable


def test_icd10cm_validate_unknown_suggests_nearest(cs):
    v = cs.validate("J18.99")
    assert v.suggestions and all(s.startswith("J18") for s in v.suggestions)


def test_icd10cm_normalize_code():
    assert normalize_code(" t50.99xa ") == "T50.99XA"
    assert normalize_code("T37.5X5-") == "T37.5X5"
    assert normalize_code("r52") == "R52"


# -- 7th characters --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stem,encounter,expected", [
    ("T45.515", "initial", "T45.515A"),
    ("T37.5X5", "initial", "T37.5X5A"),
    ("T50.995", "subsequent", "T50.995D"),
    ("T50.995", "sequela", "T50.995S"),
    ("T50.99", "initial", None),           # not a leaf: no T50.99XA
    ("S72.001", "initial", "S72.001A"),
    ("G89.18", "initial", "G89.18"),       # takes no 7th character
])
def test_icd10cm_with_seventh(cs, stem, encounter, expected):
    assert cs.with_seventh(stem, encounter) == expected
    if expected:
        assert cs.validate(expected).billable


def test_icd10cm_with_seventh_rejects_unknown_encounter(cs):
    with pytest.raises(CodeSetError):
        cs.with_seventh("T45.515", "later")


def test_icd10cm_seventh_codes_match_official_code_list(cs):
    # every 7th-character code we generate is billable and its 6-character stem is a leaf with a 7th-char rule
    n = 0
    for code in cs.code_strings():
        c = cs.get(code)
        if c.seventh_char:
            n += 1
            parent = cs.get(c.parent)
            assert parent.seventh and c.seventh_char in parent.seventh
    assert n > 50_000


def test_icd10cm_search_titles(cs):
    hits = cs.search_titles("postoperative pain", limit=5)
    assert hits[0][0] == "G89.18"
    assert all(0 < s <= 1.0001 for _, s in hits)


def test_icd10cm_title_search_cache_roundtrip(cs):
    from nec_nlp.icd10cm.search import TitleSearcher

    fitted = TitleSearcher.load(cs)  # fits, then writes the .npz cache
    files = sorted(cache_dir().glob(f"titles-{cs.release}-*.npz"))
    assert files
    cached = TitleSearcher.load(cs)
    for q in ("acute kidney injury", "pneumonia due to streptococcus", "fracture of neck of femur"):
        assert cached.search(q, limit=5) == fitted.search(q, limit=5)
    files[0].write_bytes(b"corrupt")
    again = TitleSearcher.load(cs)
    assert again.search("epilepsy", limit=3) == fitted.search("epilepsy", limit=3)


def test_icd10cm_validate_too_long(cs):
    v = cs.validate("T50.995AA")
    assert not v.valid and v.reason == "unknown" and v.suggestions[0] == "T50.995A"


def test_icd10cm_seventh_note_in_instructions(cs):
    notes = cs.instructions("T50.995A")["seventh_note"]
    assert notes and notes[0][0] == "T50" and "7th character" in notes[0][1]
