"""Rules of the third dev round (stop 10), end to end from note text with the rule-based verdict (no trained model).

The sentences are common provider phrasings that exposed general faults (an adult's stroke coded as perinatal, a
leukemia in remission coded as not in remission, a skin carcinoma of the cheek sent to an ill-defined site); none
is a test-split statement. Every case but the guards against over-reach (chronic lymphocytic leukemia, squamous
cell carcinoma of the lung, "CA 125", "artificial tears") failed on the recommender of the session start (d28afc3)."""

import pytest

pytestmark = pytest.mark.slow


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
    # an axis listed as alternatives; an "Other ..." sibling must not assert an undocumented acuity
    ("Acute otitis media.", "otitis", "H66.90"),
    # the index's own code for a documented site beats the Table of Neoplasms; site split of morphologies
    ("Uterine fibroids.", "fibroid", "D25.9"),
    ("Glioblastoma.", "glioblastoma", "C71.9"),
    ("Fibroadenoma of the right breast.", "fibroadenoma", "D24.1"),
    # a non-encounter 7th character (glaucoma stage)
    ("Primary open-angle glaucoma of the right eye, mild stage.", "glaucoma", "H40.1111"),
    # encounter words that say what the visit is for; fracture healing in the 7th character
    ("Subsequent encounter for left femoral shaft fracture with delayed healing.", "fracture", "S72.302G"),
    # negated conditions make no combination code; the index entry's words choose the child
    ("Chronic cholecystitis without cholelithiasis.", "cholecystitis", "K81.1"),
    ("Cellulitis with associated abscess, right foot.", "cellulitis", "L03.115"),
    # unnamed drugs, unknown binomials, viruses, newborn titles, stings
    ("Accidental overdose of an unknown medication, initial encounter.", "overdose", "T50.901A"),
    ("Acute bronchitis due to Moraxella catarrhalis.", "bronchitis", "J20.8"),
    ("Rhinovirus pneumonia.", "pneumonia", "J12.89"),
    ("Sepsis due to Citrobacter freundii.", "sepsis", "A41.89"),
    ("Wasp sting to the right wrist area.", "sting", "T63.461A"),
    ("Scorpion sting, initial encounter.", "sting", "T63.2X1A"),
    # a side found in a title by words alone does not beat the index's NOS code
    ("Cataract of the left eye.", "cataract", "H26.9"),
    ("Macular degeneration, right eye.", "degeneration", "H35.30"),
    # lexicon: eponyms, abbreviations, "of the"
    ("Graves disease.", "graves", "E05.00"),
    ("Juxtaductal coarctation of the aorta.", "coarctation", "Q25.1"),
    ("Basal Cell CA.", "ca", "C44.91"),
])
def test_round3_rules(rules_top, text, head, code):
    assert rules_top(text, head) == code


def test_tumour_marker_is_no_carcinoma(rules_score):
    # "CA" is a carcinoma, but "CA 125" is a laboratory marker
    assert not rules_score("Serum CA 125 level normal.")["mentions"]


def test_artificial_tears_is_no_condition(rules_score):
    # "tear" is a condition word; its plural in "artificial tears" is eye drops
    mentions = rules_score("Artificial tears four times daily.")["mentions"]
    assert not any("tear" in m["text"].lower() for m in mentions)
