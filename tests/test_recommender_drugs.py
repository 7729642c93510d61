"""Drug effects through the Table of Drugs: named drugs, class fallback, unknown drugs, bare "medication"."""

import pytest

from nec_nlp.recommender import annotate_note, recommend
from nec_nlp.types import Details, Mention, Specificity

SPECIFIC = Specificity("specific", 0.9)
NOS = Specificity("nos", 0.1)


@pytest.fixture(scope="module")
def cs():
    icd10cm = pytest.importorskip("nec_nlp.icd10cm")
    code_set = icd10cm.load_code_set("2026-04")
    try:
        code_set.drugs  # noqa: B018 - the Table of Drugs may not be built yet
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Table of Drugs unavailable: {type(exc).__name__}")
    return code_set


def effect(text: str, drug: list[str], encounter: str | None = "initial", sentence: str = "") -> Mention:
    return Mention(text, 0, len(text), details=Details(drug=tuple(drug), encounter=encounter), sentence=sentence)


def test_recommender_drug_unknown_class_is_t50_995a_never_placeholder(cs):
    sm = recommend(effect("adverse effect", ["investigational drug"]), SPECIFIC, cs)
    assert sm.codes[0].code == "T50.995A"
    assert "T50.99XA" not in [c.code for c in sm.codes]
    assert sm.codes[0].kind == "nec"
    assert "initial encounter" in sm.rationale


def test_recommender_bare_medication_is_t50_905a_with_drug_query(cs):
    sm = recommend(effect("adverse reaction", ["medication"]), NOS, cs)
    assert sm.codes[0].code == "T50.905A"
    assert sm.codes[0].kind == "nos"
    assert "drug" in sm.missing
    assert sm.query and "drug" in sm.query.lower()


def test_recommender_named_drug_uses_table_or_class(cs):
    sm = recommend(effect("adverse effect", ["oseltamivir"]), SPECIFIC, cs)
    assert sm.codes[0].code == "T37.5X5A"
    sm = recommend(effect("adverse effect", ["warfarin"]), SPECIFIC, cs)
    assert sm.codes[0].code == "T45.515A"


@pytest.mark.parametrize(("encounter", "char"), [(None, "A"), ("subsequent", "D"), ("sequela", "S")])
def test_recommender_seventh_character_follows_encounter(cs, encounter, char):
    sm = recommend(effect("adverse effect", ["warfarin"], encounter=encounter), SPECIFIC, cs)
    assert sm.codes[0].code == "T45.515" + char
    if encounter is None:
        assert "no encounter documented" in sm.rationale


def test_recommender_adverse_effect_code_first_nature_in_same_sentence(cs):
    sentence = "Adverse effect of oseltamivir, nausea, initial encounter."
    t = recommend(effect("adverse effect", ["oseltamivir"], sentence=sentence), SPECIFIC, cs)
    nausea = Mention("nausea", 0, 6, sentence=sentence)
    n = recommend(nausea, NOS, cs)
    out = annotate_note([t, n], cs)
    assert any("Code first" in note and n.codes[0].code in note for note in out[0].notes)
