"""Recommender: how the index walk generalises (see references, headings, combination codes, chapter 15,
negation, the Table of Neoplasms, tabular wording). Real April 2026 code set, hand-built mentions; none of these
sentences is in the statements set."""

import pytest

from nec_nlp.recommender import recommend
from nec_nlp.types import Assertion, Details, Mention, Specificity

SPECIFIC = Specificity("specific", 0.9)
NOS = Specificity("nos", 0.1)


def mention(text: str, sentence: str = "", **details) -> Mention:
    lat = details.pop("laterality", None)
    enc = details.pop("encounter", None)
    d = Details(**{k: tuple(v) for k, v in details.items()}, laterality=lat, encounter=enc)
    return Mention(text, 0, len(text), assertion=Assertion(), details=d, sentence=sentence or text)


def top(sm) -> str:
    return sm.codes[0].code if sm.codes else ""


@pytest.mark.parametrize(
    "m, expected",
    [
        # "Syndrome" and 82 other main terms: the entry printed exactly so, not an earlier "X, syndrome"
        (mention("pain syndrome", "Post cervical laminectomy pain syndrome"), "M96.1"),
        # "Fracture, traumatic > hip: see Fracture, femur, neck" (a chain inside the same main term)
        (mention("Fracture", "Fracture of the right hip, initial encounter.", site=["hip"], laterality="right",
                 encounter="initial"), "S72.001A"),
        # "see also" followed when the main term's own code leaves a detail unused
        (mention("STEMI", "Inferior STEMI.", type=["Inferior"]), "I21.19"),
        # a body-site subterm between the term and the documented site
        (mention("Melanoma", "Melanoma of the left arm.", site=["arm"], laterality="left"), "C43.62"),
        # the default branch of a heading without a code
        (mention("colitis", "Clostridium difficile colitis.", cause=["Clostridium difficile"]), "A04.72"),
        # an anatomical adjective read as the Table of Neoplasms' noun
        (mention("adenocarcinoma", "Pancreatic adenocarcinoma."), "C25.9"),
    ],
)
def test_walk_reaches_the_index_code(cs, m, expected):
    assert top(recommend(m, SPECIFIC, cs)) == expected


def test_combination_code_for_the_condition_named_after_with(cs):
    m = mention("cholecystitis", "Acute cholecystitis with cholelithiasis.", type=["Acute"])
    assert top(recommend(m, SPECIFIC, cs)) == "K80.00"  # guideline I.B.9


def test_condition_in_pregnancy_is_coded_to_chapter_15_first(cs):
    sm = recommend(mention("Sciatica", "Sciatica complicating pregnancy, 24 weeks."), SPECIFIC, cs)
    assert top(sm) == "O99.891" and "I.C.15.a.1" in sm.rationale


def test_no_nec_where_the_leftover_detail_has_its_own_subterm(cs):
    m = mention("chest pain", "Pleuritic chest pain.", type=["pleuritic"])
    assert top(recommend(m, SPECIFIC, cs)) == "R07.81"


def test_detail_negated_in_the_sentence(cs):
    m = mention("headache", "Chronic tension-type headache, not intractable.", type=["Chronic", "intractable"])
    assert top(recommend(m, SPECIFIC, cs)) == "G44.229"


def test_other_code_is_nos_only_with_an_nos_inclusion_term(cs):
    sm = recommend(mention("Pancytopenia", "Pancytopenia"), NOS, cs)
    assert top(sm) == "D61.818" and sm.codes[0].kind == "nec"  # "Other pancytopenia" lists no "... NOS"


def test_tabular_wording_checks_the_code(cs):
    m = mention("Folliculitis", "Folliculitis of buttock.", site=["buttock"])
    assert top(recommend(m, SPECIFIC, cs)) == "L02.32"


def test_undocumented_axis_takes_the_child_listed_as_nos(cs):
    assert top(recommend(mention("Leukemia", "Leukemia."), NOS, cs)) == "C95.90"
