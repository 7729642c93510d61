"""Rules of the third dev round (stop 10), end to end from note text with the rule-based verdict (no trained model).

The sentences are common provider phrasings that exposed general faults (an adult's stroke coded as perinatal, a
leukemia in remission coded as not in remission, a skin carcinoma of the cheek sent to an ill-defined site); none
is a test-split statement. Each case fails on the recommender of the previous commit."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def score():
    from nec_nlp.api import load

    scorer = load(model="rules", code_set="2026-04")
    return lambda text: scorer.score(text).to_dict()


def top(out: dict, head: str) -> str:
    m = next(m for m in out["mentions"] if head.lower() in m["text"].lower())
    return m["codes"][0]["code"] if m["codes"] else ""


@pytest.mark.parametrize("text,head,code", [
    # population subterms need documentation: "Stroke, ischemic, perinatal arterial" is no adult's stroke
    ("Acute ischemic stroke.", "stroke", "I63.9"),
    # the species of E. coli belongs to its genus in index subterms
    ("Sepsis due to Escherichia coli.", "sepsis", "A41.51"),
    # a child title denying a documented word loses
    ("Acute lymphoblastic leukemia in remission.", "leukemia", "C91.01"),
    ("Chronic lymphocytic leukemia.", "leukemia", "C91.10"),
    # behaviour written after the mention
    ("Carcinoma in situ of the cervix.", "carcinoma", "D06.9"),
    # skin morphologies: the see-also inside the modifiers, and an ill-defined Table site read on the skin
    ("Basal cell carcinoma of the left cheek.", "carcinoma", "C44.319"),
    ("Squamous cell carcinoma of the left cheek.", "carcinoma", "C44.329"),
    ("Squamous cell carcinoma of the left lung.", "carcinoma", "C34.92"),
    # a main term printed twice keeps its Table twin ("Cancer(o)phobia" is read as "Cancer" F45.29)
    ("Sigmoid colon cancer.", "cancer", "C18.7"),
    # the index's region words for documented anatomy
    ("Diverticulitis of the sigmoid colon.", "diverticulitis", "K57.32"),
    ("Fracture of the left fifth metatarsal.", "fracture", "S92.352A"),
    ("Lumbar strain.", "strain", "S39.012A"),
    # conditions the lexicon now extracts
    ("Sinus arrest with 4-second pauses on Holter.", "arrest", "I45.5"),
    ("Sickle cell disease without crisis.", "sickle", "D57.1"),
    ("Nephrolithiasis.", "nephrolithiasis", "N20.0"),
    ("Complete tear of the right rotator cuff.", "tear", "M75.121"),
])
def test_round3_rules(score, text, head, code):
    assert top(score(text), head) == code


def test_artificial_tears_is_no_condition(score):
    # "tear" is a condition word; its plural in "artificial tears" is eye drops
    assert not any("tear" in m["text"].lower() for m in score("Artificial tears four times daily.")["mentions"])
