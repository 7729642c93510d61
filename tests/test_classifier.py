"""Training, prediction and evaluation of the specificity classifier on small samples of the real corpora."""

import numpy as np
import pytest

from nec_nlp.classifier import (SpecificityModel, evaluate, expected_calibration_error, keyword_baseline,
                                load_corpus, normalize_record, train)
from nec_nlp.errors import InputError, ModelError
from nec_nlp.types import Mention, Specificity


@pytest.fixture(scope="module")
def small_model(specificity_corpus):
    return train(specificity_corpus, seed=3, sample=400, nlp=False)


def test_classifier_train_is_reproducible(specificity_corpus, small_model):
    again = train(specificity_corpus, seed=3, sample=400, nlp=False)
    mentions = [Mention(text=r["text"][r["start"]:r["end"]], start=r["start"], end=r["end"])
                for r in load_corpus(specificity_corpus, "test")[:150]]
    assert np.array_equal(small_model.predict_proba(mentions), again.predict_proba(mentions))
    assert small_model.card["corpus"]["sha256_used"] == again.card["corpus"]["sha256_used"]
    other = train(specificity_corpus, seed=4, sample=400, nlp=False)
    assert other.card["corpus"]["sha256_used"] != small_model.card["corpus"]["sha256_used"]


def test_classifier_predict_returns_calibrated_verdicts(small_model):
    mentions = [Mention(text=t, start=0, end=len(t)) for t in ("Pneumonia", "Crushing injury of left great toe")]
    out = small_model.predict(mentions)
    assert all(isinstance(s, Specificity) for s in out)
    for s in out:
        assert 0.0 <= s.probability <= 1.0
        assert s.verdict == ("specific" if s.probability >= small_model.threshold else "nos")
    assert small_model.predict([]) == []
    assert small_model.predict_proba([]).shape == (0,)


def test_classifier_card_records_training(small_model):
    card = small_model.card
    assert card["label_definition"].startswith("specific =")
    assert card["corpus"]["n_train"] == 400 and len(card["corpus"]["sha256"]) == 64
    assert set(card["versions"]) >= {"python", "nec_nlp", "scikit_learn", "spacy"}
    assert 0.0 < card["training"]["threshold"] < 1.0


def test_classifier_evaluate_reports_metrics_baselines_and_plots(specificity_corpus, small_model, tmp_path):
    records = load_corpus(specificity_corpus, "test")[:300]
    out = evaluate(small_model, records, nlp=False, plots_dir=tmp_path, return_predictions=True)
    assert out["n"] == 300
    for key in ("macro_f1", "accuracy", "ece", "brier"):
        assert 0.0 <= out[key] <= 1.0
    assert set(out["baselines"]) == {"majority", "keyword"}
    assert out["baselines"]["majority"]["predicts"] in ("specific", "nos")
    assert sum(map(sum, out["confusion_matrix"]["matrix"])) == 300
    assert sum(c["n"] for c in out["by_chapter"].values()) == 300
    assert {p.name for p in tmp_path.iterdir()} == {"confusion_matrix.png", "calibration.png",
                                                     "precision_recall.png", "errors_by_chapter.png"}
    assert len(out["predictions"]) == 300
    assert out["macro_f1"] > out["baselines"]["majority"]["macro_f1"]


def test_classifier_ece_is_zero_when_calibrated_and_positive_when_not():
    y = np.array([0, 1] * 50)
    assert expected_calibration_error(y, np.full(100, 0.5)) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(100, 0.7)) == pytest.approx(0.2)
    assert expected_calibration_error(y, np.where(y == 1, 0.55, 0.45)) == pytest.approx(0.45)  # one bin each
    assert expected_calibration_error(y, np.full(100, 0.95)) == pytest.approx(0.45)


def test_classifier_keyword_baseline_reads_nos_words():
    assert keyword_baseline(["Pneumonia, unspecified organism", "Acute cystitis", "Anemia NOS"]).tolist() == [0, 1, 0]


@pytest.mark.parametrize("kind,label", [("exact", "specific"), ("nec", "specific"), ("nos", "nos")])
def test_classifier_statement_records_take_label_from_kind(kind, label):
    rec = normalize_record({"id": "st-x", "text": "MRSA sepsis.", "target": "sepsis", "kind": kind,
                            "accepted": ["A41.02"], "chapter": "1", "split": "dev"})
    assert rec["label"] == label
    assert rec["text"][rec["start"]:rec["end"]] == "sepsis"
    assert rec["category"] == "A41"


def test_classifier_rejects_bad_input(specificity_corpus, small_model, tmp_path):
    with pytest.raises(InputError):
        normalize_record({"id": "x", "text": "Pneumonia."})
    with pytest.raises(InputError):
        load_corpus(specificity_corpus)  # a folder needs a split
    with pytest.raises(InputError):
        load_corpus(tmp_path / "missing.jsonl")
    one_label = [{"id": str(i), "text": "Pneumonia.", "start": 0, "end": 9, "label": "nos"} for i in range(10)]
    with pytest.raises(InputError):
        train(one_label, nlp=False)
    with pytest.raises(ModelError):
        evaluate(object(), one_label, nlp=False)  # type: ignore[arg-type]


def test_classifier_model_threshold_drives_verdict(small_model):
    m = SpecificityModel(small_model.pipeline, threshold=1.01, card={})
    assert {s.verdict for s in m.predict([Mention(text="Pneumonia", start=0, end=9)])} == {"nos"}


@pytest.mark.slow
def test_classifier_stacked_on_the_recommender_is_reproducible(specificity_corpus):
    """With a code set the model stacks on the code recommender (fitted on the dev split); same data + seed, same
    predictions."""
    from nec_nlp.icd10cm import load_code_set
    from nec_nlp.features import RECOMMENDER_COLUMNS

    cs = load_code_set("2026-04")
    a = train(specificity_corpus, code_set=cs, seed=3, sample=250, nlp=False)
    b = train(specificity_corpus, code_set=cs, seed=3, sample=250, nlp=False)
    assert a.uses_recommender and a.card["uses_recommender"]
    assert a.card["features"][-len(RECOMMENDER_COLUMNS):] == list(RECOMMENDER_COLUMNS)
    records = load_corpus(specificity_corpus, "test")[:60]
    from nec_nlp.classifier import record_mentions

    ms, _ = record_mentions(records, None)
    assert np.array_equal(a.predict_proba(ms, cs), b.predict_proba(ms, cs))
    plain = train(specificity_corpus, code_set=cs, seed=3, sample=250, nlp=False, recommender=False)
    assert not plain.uses_recommender
