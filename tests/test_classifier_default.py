"""The shipped default model: built from the committed corpora, meets the acceptance figures, and gets the
reference statements right with the extraction pipeline (a sanity check; these statements are not training data)."""

import pytest

from nec_nlp.classifier import corpus_checksum, evaluate, load_corpus, sample_records

REFERENCE = [
    ("Focal epilepsy with auditory hallucinations.", "epilepsy", "specific"),
    ("Seizures.", "Seizures", "nos"),
    ("Postoperative neuropathic pain in the external ear canal.", "pain", "specific"),
    ("Postoperative pain.", "pain", "nos"),
    ("Adverse effect of a newly released investigational drug whose class is not known, generalized urticaria, "
     "initial encounter.", "Adverse effect", "specific"),
    ("Adverse reaction to a medication, initial encounter.", "Adverse reaction", "nos"),
    ("Pneumonia.", "Pneumonia", "nos"),
    ("Atrial fibrillation.", "Atrial fibrillation", "nos"),
]


@pytest.fixture(scope="module")
def model():
    from nec_nlp.persistence import load_model

    return load_model()


@pytest.fixture(scope="module")
def nlp():
    from nec_nlp.pipeline import build_nlp

    return build_nlp()


@pytest.mark.slow
@pytest.mark.parametrize("text,anchor,expected", REFERENCE)
def test_classifier_default_reference_statements(model, nlp, text, anchor, expected):
    from nec_nlp.classifier import _overlapping, span_mention
    from nec_nlp.pipeline import doc_mentions

    start = text.index(anchor)
    mention = _overlapping(doc_mentions(nlp(text)), start, start + len(anchor))
    if mention is None:  # the pipeline found nothing there: score the anchor as a bare span
        mention = span_mention({"text": text, "start": start, "end": start + len(anchor)})
    verdict = model.predict([mention])[0]
    assert verdict.verdict == expected, f"P(specific)={verdict.probability:.3f}"


def test_classifier_default_card_meets_acceptance(model):
    metrics = model.card["metrics"]
    assert metrics["test"]["macro_f1"] >= 0.90
    assert metrics["test"]["ece"] <= 0.05
    for name in ("majority", "keyword"):
        assert metrics["test"]["macro_f1"] > metrics["test"]["baselines"][name]["macro_f1"]
    assert model.card["code_set"] == "2026-04"


def test_classifier_default_was_trained_on_the_committed_corpora(model, project_root):
    corpus = project_root / "corpora" / "specificity"
    assert model.card["corpus"]["sha256"] == corpus_checksum(load_corpus(corpus, "train"))


@pytest.mark.slow
def test_classifier_default_scores_unseen_categories(model, nlp, project_root):
    records = sample_records(load_corpus(project_root / "corpora" / "specificity", "test"), 600, seed=5)
    out = evaluate(model, records, nlp=nlp)
    assert out["macro_f1"] >= 0.90
    assert out["macro_f1"] > out["baselines"]["keyword"]["macro_f1"] + 0.3
