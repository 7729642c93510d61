"""The scoring API end to end: pipeline -> specificity model -> recommender -> NoteResult (default model)."""

import json
from importlib.resources import files

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scorer():
    from nec_nlp.api import load

    return load(code_set="2026-04")


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(files("nec_nlp").joinpath("schemas/note_result.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def first(result, head: str):
    """The first mention whose text contains ``head`` (case-insensitive)."""
    for sm in result.mentions:
        if head in sm.mention.text.lower():
            return sm
    raise AssertionError(f"no mention containing {head!r}: {[m.mention.text for m in result.mentions]}")


def test_api_focal_epilepsy_is_localization_related(scorer):
    sm = first(scorer.score("Focal epilepsy with auditory hallucinations."), "epilepsy")
    top = sm.codes[0].code
    assert top.startswith(("G40.0", "G40.1", "G40.2")) or top == "G40.89"
    assert "G40.909" != top


def test_api_focal_epilepsy_is_specific(scorer):
    sm = first(scorer.score("Focal epilepsy with auditory hallucinations."), "epilepsy")
    assert sm.specificity.verdict == "specific"


def test_api_seizures_is_nos_r56_9(scorer):
    sm = first(scorer.score("Seizures."), "seizure")
    assert sm.specificity.verdict == "nos"
    assert sm.codes[0].code == "R56.9"


@pytest.mark.parametrize(("text", "code"), [
    ("Postoperative neuropathic pain in the external ear canal.", "G89.18"),
    ("Chronic postoperative neuropathic pain in the external ear canal.", "G89.28"),
])
def test_api_postoperative_neuropathic_pain_is_specific(scorer, text, code):
    sm = first(scorer.score(text), "pain")
    assert sm.specificity.verdict == "specific"
    assert sm.codes[0].code == code


def test_api_postoperative_pain_is_nos_with_query(scorer):
    sm = first(scorer.score("Postoperative pain."), "pain")
    assert sm.specificity.verdict == "nos"
    assert sm.codes[0].code == "G89.18"
    assert sm.query and {"type", "site"} & set(sm.missing)


def test_api_unknown_class_drug_and_urticaria(scorer):
    r = scorer.score("Adverse effect of a newly released investigational drug whose class is not known, "
                     "generalized urticaria, initial encounter.")
    sm = first(r, "adverse")
    assert sm.specificity.verdict == "specific"
    assert sm.codes[0].code == "T50.995A"
    assert all(c.code != "T50.99XA" for m in r.mentions for c in m.codes)
    assert any(c.startswith("L50.") for c in r.codes)
    assert "initial encounter" in sm.rationale


def test_api_bare_medication_reaction_is_nos_with_drug_query(scorer):
    sm = first(scorer.score("Adverse reaction to a medication, initial encounter."), "adverse")
    assert sm.specificity.verdict == "nos"
    assert sm.codes[0].code == "T50.905A"
    assert sm.query and "drug" in sm.query.lower()


def test_api_oseltamivir_and_nausea(scorer):
    r = scorer.score("Adverse effect of oseltamivir, nausea, initial encounter.")
    assert "T37.5X5A" in r.codes
    assert any(c.startswith("R11.") for c in r.codes)
    t = first(r, "adverse")
    assert any("Code first" in n for n in t.notes)  # nature of the adverse effect is sequenced first


def test_api_only_current_affirmed_mentions_are_coded(scorer):
    r = scorer.score("No pneumonia. History of appendicitis. Acute cystitis without hematuria.")
    coded = [sm for sm in r.mentions if sm.codes and sm.mention.assertion.current_affirmed]
    for sm in r.mentions:
        if not sm.mention.assertion.current_affirmed:
            # a past history lists only its history code (Z85-Z87) for the coder; a negation nothing
            assert sm.rationale.startswith("Not coded")
            assert all(c.code[:2] == "Z8" for c in sm.codes)
            assert sm.codes == () or sm.mention.assertion.historical
    assert [sm.codes[0].code[:2] for sm in r.mentions if not sm.mention.assertion.current_affirmed and sm.codes] \
        == ["Z8"]  # History of appendicitis: K37 -> "Personal history of other diseases of the digestive system"
    assert r.codes == list(dict.fromkeys(sm.codes[0].code for sm in coded))
    assert not any(c.startswith("Z8") for c in r.codes)


def test_api_score_text_matches_scorer_and_schema(scorer, validator):
    from nec_nlp import score_notes, score_text

    text = "Seizures. Postoperative pain."
    d = score_text(text, code_set="2026-04")
    validator.validate(d)
    assert d == scorer.score_dict(text)
    assert d["code_set"] == "2026-04"
    assert [d2 for d2 in score_notes([text, "Seizures."], code_set="2026-04")][0] == d


def test_api_score_many_equals_score(scorer):
    texts = ["Seizures.", "Focal epilepsy with auditory hallucinations.", ""]
    many = list(scorer.score_many(texts, batch_size=2))
    assert [m.to_dict() for m in many] == [scorer.score(t).to_dict() for t in texts]
    assert many[2].mentions == ()


def test_api_rejects_non_text(scorer):
    from nec_nlp.errors import InputError

    with pytest.raises(InputError):
        scorer.score(None)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        list(scorer.score_many(["ok", 3]))  # type: ignore[list-item]


def test_api_release_by_service_date():
    from nec_nlp.api import load

    older = load(model="rules", service_date="2025-06-01")
    assert older.code_set.release == "2025-04"
    assert older.score("Seizures.").code_set == "2025-04"


def test_api_history_code_is_listed_on_the_mention_but_not_in_the_note_codes(scorer):
    out = scorer.score("History of deep vein thrombosis. Pneumonia.").to_dict()
    dvt = next(m for m in out["mentions"] if "thrombosis" in m["text"])
    assert dvt["assertion"]["historical"] and [c["code"] for c in dvt["codes"]] == ["Z86.718"]
    assert "Z86.718" not in out["codes"] and out["codes"][0].startswith("J18")
