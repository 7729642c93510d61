"""Recommender: how documented words reach index words (synonyms, closed compounds, abbreviations, gestational
age, morphology, laterality) and the recommendation memo. Real April 2026 code set, hand-built mentions."""

import pytest

from nec_nlp import recommender
from nec_nlp.recommender import recommend
from nec_nlp.types import Assertion, Details, Mention, Specificity

SPECIFIC = Specificity("specific", 0.9)
NOS = Specificity("nos", 0.1)




def mention(text: str, sentence: str = "", start: int = 0, **details) -> Mention:
    lat = details.pop("laterality", None)
    enc = details.pop("encounter", None)
    d = Details(**{k: tuple(v) for k, v in details.items()}, laterality=lat, encounter=enc)
    return Mention(text, start, start + len(text), assertion=Assertion(), details=d, sentence=sentence or text)


def top(sm) -> str:
    return sm.codes[0].code if sm.codes else ""


def test_distal_is_the_index_lower_end(cs):
    m = mention("fracture", "Left distal radius fracture", site=["distal radius"], laterality="left")
    assert top(recommend(m, SPECIFIC, cs)) == "S52.502A"


def test_partial_tear_is_incomplete(cs):
    m = mention("rotator cuff tear", "Partial rotator cuff tear", type=["Partial"])
    assert top(recommend(m, SPECIFIC, cs)).startswith("M75.11")


def test_closed_compound_and_weeks_of_gestation(cs):
    m = mention("Preeclampsia", "Preeclampsia at 34 weeks.")
    assert top(recommend(m, NOS, cs)) == "O14.93"  # Pre-eclampsia, third trimester (28 weeks and over)


def test_condition_abbreviation_is_read_in_full(cs):
    m = mention("DVT", "Right lower extremity DVT.", site=["lower extremity"], laterality="right")
    sm = recommend(m, SPECIFIC, cs)
    assert top(sm).startswith("I82.4") and top(sm)[-1] == "1"
    assert sm.mention.text == "DVT" and "read as" in sm.rationale


@pytest.mark.parametrize("abbr,sentence,prefix", [
    ("NSTEMI", "NSTEMI.", "I21.4"), ("HIT", "HIT.", "D75.82"), ("PAD", "PAD.", "I73.9"),
])
def test_more_condition_abbreviations_are_read_in_full(cs, abbr, sentence, prefix):
    assert top(recommend(mention(abbr, sentence), SPECIFIC, cs)).startswith(prefix)


def test_skin_morphology_from_the_table_of_neoplasms(cs):
    m = mention("carcinoma", "Basal cell carcinoma of the left temple.", site=["temple"], type=["basal cell"],
                laterality="left")
    assert top(recommend(m, SPECIFIC, cs)) == "C44.319"


def test_side_refinement_never_moves_to_another_site(cs):
    m = mention("carcinoma", "Basal cell carcinoma, right.", type=["basal cell"], laterality="right")
    for c in recommend(m, SPECIFIC, cs).codes[:1]:
        assert "limb" not in c.title.lower()


def test_memo_returns_the_same_recommendation_bound_to_each_mention(cs):
    recommender.clear_memo()
    a = mention("seizures", "Seizures.", start=0)
    b = mention("seizures", "Seizures.", start=40)
    first = recommend(a, NOS, cs)
    second = recommend(b, Specificity("nos", 0.3), cs)
    assert recommender.memo_info()["hits"] >= 1
    assert second.mention is b and second.specificity.probability == 0.3
    assert second.codes == first.codes and second.rationale.startswith("Specificity nos (p=0.30).")
    recommender.set_memo_size(0)
    try:
        assert recommend(b, NOS, cs).codes == first.codes
        assert recommender.memo_info()["size"] == 0
    finally:
        recommender.set_memo_size(20_000)
