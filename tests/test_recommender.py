"""Recommender behaviour on hand-built mentions against the real April 2026 code set (no pipeline, no model).

Mentions are built as the extraction pipeline's contract describes them (CONDITION head + site/type/cause/drug
details), so these tests isolate the index/tabular/table logic and the exact > NEC > NOS conventions.
"""

import pytest

from nec_nlp.recommender import annotate_note, recommend, rule_specificity
from nec_nlp.types import Assertion, Details, Mention, Specificity

SPECIFIC = Specificity("specific", 0.9)
NOS = Specificity("nos", 0.1)




def mention(text: str, sentence: str = "", assertion: Assertion | None = None, **details) -> Mention:
    lat = details.pop("laterality", None)
    enc = details.pop("encounter", None)
    d = Details(**{k: tuple(v) for k, v in details.items()}, laterality=lat, encounter=enc)
    return Mention(text, 0, len(text), assertion=assertion or Assertion(), details=d, sentence=sentence)


def codes(sm) -> list[str]:
    return [c.code for c in sm.codes]


def test_recommender_every_code_is_valid_and_billable(cs):
    for m in (mention("epilepsy", type=["focal"]), mention("seizures"), mention("pain", cause=["postoperative"]),
              mention("pneumonia", site=["lower lobe"], laterality="left"), mention("atrial fibrillation")):
        sm = recommend(m, rule_specificity(m), cs)
        assert sm.codes, m.text
        for c in sm.codes:
            v = cs.validate(c.code)
            assert v.valid and v.billable, c.code
            assert c.title == cs.get(c.code).title
            assert 0.0 <= c.score <= 1.0
        assert sm.codes[0].score == 1.0


def test_recommender_focal_epilepsy_is_localization_related_not_unspecified(cs):
    m = mention("epilepsy", type=["focal", "with auditory hallucinations"])
    sm = recommend(m, SPECIFIC, cs)
    top = sm.codes[0].code
    assert top.startswith(("G40.0", "G40.1", "G40.2")) or top == "G40.89"
    assert "G40.909" not in codes(sm)[:1]
    assert "focal" in sm.rationale


def test_recommender_bare_seizures_is_r56_9_nos_with_query(cs):
    m = mention("seizures")
    sm = recommend(m, NOS, cs)
    assert sm.codes[0].code == "R56.9"
    assert sm.codes[0].kind == "nos"
    assert sm.query and "seizures" in sm.query
    assert "R56.9" not in sm.query  # non-leading: a query never proposes codes


@pytest.mark.parametrize(("chronic", "expected"), [(False, "G89.18"), (True, "G89.28")])
def test_recommender_postoperative_neuropathic_ear_canal_pain_is_nec(cs, chronic, expected):
    types = ["chronic", "neuropathic"] if chronic else ["neuropathic"]
    m = mention("pain", type=types, cause=["postoperative"], site=["external ear canal"])
    sm = recommend(m, SPECIFIC, cs)
    assert sm.codes[0].code == expected
    assert sm.codes[0].kind == "nec"  # documented specifics with no code of their own
    assert "neuropathic" in sm.rationale  # the leftover detail is named


def test_recommender_bare_postoperative_pain_is_g89_18_as_nos_with_query(cs):
    m = mention("pain", cause=["postoperative"])
    sm = recommend(m, NOS, cs)
    assert sm.codes[0].code == "G89.18"
    assert sm.codes[0].kind == "nos"  # the index default for the bare term ("Pain, postoperative NOS")
    assert sm.query is not None
    assert {"type", "site"} & set(sm.missing)
    assert "postoperative pain" in sm.query


def test_recommender_without_is_not_with(cs):
    m = mention("cystitis", type=["acute", "without hematuria"])
    sm = recommend(m, SPECIFIC, cs)
    assert sm.codes[0].code == "N30.00"
    assert sm.codes[0].kind == "exact"
    assert sm.query is None and sm.missing == ()
    m2 = mention("cystitis", type=["acute", "with hematuria"])
    assert recommend(m2, SPECIFIC, cs).codes[0].code == "N30.01"


def test_recommender_exact_code_beats_nec(cs):
    """Never NEC where an exact code exists: type 2 diabetes without more is E11.9, not an 'other' code."""
    sm = recommend(mention("diabetes mellitus", type=["type 2"]), SPECIFIC, cs)
    assert sm.codes[0].code == "E11.9"
    assert sm.codes[0].kind == "exact"


def test_recommender_laterality_chooses_the_side(cs):
    right = recommend(mention("pain", site=["shoulder"], laterality="right"), SPECIFIC, cs).codes[0]
    left = recommend(mention("pain", site=["shoulder"], laterality="left"), SPECIFIC, cs).codes[0]
    assert right.code.startswith("M25.51") and left.code.startswith("M25.51")
    assert "right" in right.title.lower() and "left" in left.title.lower()


def test_recommender_multiword_condition_finds_its_main_term(cs):
    sm = recommend(mention("atrial fibrillation"), NOS, cs)
    assert sm.codes[0].code == "I48.91"
    assert sm.codes[0].kind == "nos"
    assert "Fibrillation" in sm.rationale


@pytest.mark.parametrize("flag", ["negated", "historical", "hypothetical", "family", "uncertain"])
def test_recommender_only_current_affirmed_mentions_get_codes(cs, flag):
    m = mention("pneumonia", assertion=Assertion(**{flag: True}))
    sm = recommend(m, NOS, cs)
    if flag in ("historical", "family"):
        # only the history code a coder adds (Z87.01 "Personal history of pneumonia (recurrent)", Z8x for family)
        assert all(c.code.startswith("Z") for c in sm.codes)
        assert sm.codes or flag == "family"  # no "History, family, pneumonia" entry
    else:
        assert sm.codes == ()
    assert "Not coded" in sm.rationale and flag.split("_")[0][:6] in sm.rationale


def test_history_mentions_get_their_history_code_only(cs):
    dvt = mention("deep vein thrombosis", "Personal history of deep vein thrombosis of the left leg.",
                  assertion=Assertion(historical=True))
    assert [c.code for c in recommend(dvt, NOS, cs).codes] == ["Z86.718"]
    stroke = mention("stroke", "History of stroke.", assertion=Assertion(historical=True))
    assert recommend(stroke, NOS, cs).codes[0].code == "Z86.73"
    breast = mention("cancer", "Family history of breast cancer.", site=["breast"], assertion=Assertion(family=True))
    assert recommend(breast, NOS, cs).codes[0].code == "Z80.3"
    rash = mention("rash", "History of rash.", assertion=Assertion(historical=True))
    assert recommend(rash, NOS, cs).codes == ()  # no history entry names it: nothing invented


def test_recommender_note_level_excludes1_between_codes(cs):
    a = recommend(mention("seizures"), NOS, cs)
    b = recommend(mention("epilepsy", type=["focal"]), SPECIFIC, cs)
    out = annotate_note([a, b], cs)
    assert any("Excludes1" in n and b.codes[0].code in n for n in out[0].notes)
    alone = annotate_note([a], cs)
    assert not any("Excludes1" in n for n in alone[0].notes)


def test_rule_specificity_is_transparent():
    assert rule_specificity(mention("seizures")).verdict == "nos"
    assert rule_specificity(mention("epilepsy", type=["focal"])).verdict == "specific"
    assert rule_specificity(mention("adverse reaction", drug=["medication"])).verdict == "nos"
    assert rule_specificity(mention("adverse effect", drug=["oseltamivir"])).verdict == "specific"


@pytest.mark.parametrize(("sentence", "code", "kind"), [
    ("Other specified hypothyroidism.", "E03.8", "nec"),
    ("Other seizures.", "G40.89", "nec"),
    ("Hypothyroidism.", "E03.9", "nos"),
])
def test_recommender_other_specified_takes_the_index_nec_entry(cs, sentence, code, kind):
    head = sentence.rstrip(".").split()[-1]
    start = sentence.find(head)
    m = Mention(head, start, start + len(head), sentence=sentence)
    sm = recommend(m, rule_specificity(m, cs), cs)
    assert (sm.codes[0].code, sm.codes[0].kind) == (code, kind)


def test_recommender_open_fracture_takes_the_open_seventh_character(cs):
    sentence = "Open calcaneus fracture on the right"
    m = Mention("fracture", 15, 23, details=Details(site=("calcaneus",), laterality="right"), sentence=sentence)
    top = recommend(m, SPECIFIC, cs).codes[0]
    assert top.code.startswith("S92.0") and top.code.endswith("B")
    assert "right" in top.title.lower() and "open fracture" in top.title.lower()


def test_rule_specificity_with_code_set_uses_the_index_nos_default(cs):
    assert rule_specificity(mention("pain", cause=["postoperative"]), cs).verdict == "nos"
    assert rule_specificity(mention("pain", cause=["postoperative"], type=["neuropathic"]), cs).verdict == "specific"
    assert rule_specificity(mention("epilepsy", type=["focal"]), cs).verdict == "specific"
