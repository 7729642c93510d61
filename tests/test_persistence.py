"""Model folders: save/load round trip, the checksum check that refuses tampered files, the shipped default."""

import json

import numpy as np
import pytest

from nec_nlp.classifier import SpecificityModel, train
from nec_nlp.errors import ModelError
from nec_nlp.persistence import CARD_FILE, CARD_MD, MODEL_FILE, load_model, render_card, save_model
from nec_nlp.types import Mention

MENTIONS = [Mention(text=t, start=0, end=len(t)) for t in ("Pneumonia", "Acute cystitis with hematuria",
                                                           "Crushing injury of left great toe, initial encounter")]


@pytest.fixture(scope="module")
def saved(project_root, tmp_path_factory):
    corpus = project_root / "corpora" / "specificity"
    if not (corpus / "train.jsonl.gz").is_file():
        pytest.skip("corpora/specificity not built")
    model = train(corpus, seed=1, sample=300, nlp=False)
    model.card["metrics"] = {"test": {"n": 3, "macro_f1": 0.5, "accuracy": 0.5, "ece": 0.1, "brier": 0.2,
                                      "baselines": {"majority": {"macro_f1": 0.3, "accuracy": 0.6},
                                                    "keyword": {"macro_f1": 0.3, "accuracy": 0.6}}}}
    folder = save_model(model, tmp_path_factory.mktemp("models") / "specificity-test")
    return model, folder


def test_persistence_round_trip_keeps_predictions_and_card(saved):
    model, folder = saved
    assert {p.name for p in folder.iterdir()} == {MODEL_FILE, CARD_FILE, CARD_MD}
    loaded = load_model(folder)
    assert isinstance(loaded, SpecificityModel)
    assert np.array_equal(loaded.predict_proba(MENTIONS), model.predict_proba(MENTIONS))
    assert loaded.threshold == model.threshold
    card = json.loads((folder / CARD_FILE).read_text())
    assert card["version"] == "specificity-test" and len(card["artifact"]["sha256"]) == 64
    assert loaded.card == card
    assert np.array_equal(load_model(folder / MODEL_FILE).predict_proba(MENTIONS), model.predict_proba(MENTIONS))


def test_persistence_refuses_a_tampered_artifact(saved, tmp_path):
    _, folder = saved
    copy = tmp_path / "tampered"
    copy.mkdir()
    for name in (MODEL_FILE, CARD_FILE, CARD_MD):
        (copy / name).write_bytes((folder / name).read_bytes())
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its model card"):
        load_model(copy)


def test_persistence_refuses_a_card_of_another_model(saved, tmp_path):
    _, folder = saved
    copy = tmp_path / "mismatch"
    copy.mkdir()
    (copy / MODEL_FILE).write_bytes((folder / MODEL_FILE).read_bytes())
    card = json.loads((folder / CARD_FILE).read_text())
    card["artifact"]["sha256"] = "0" * 64
    (copy / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="Refusing"):
        load_model(copy)


def test_persistence_needs_the_card_and_the_folder(saved, tmp_path):
    _, folder = saved
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / MODEL_FILE).write_bytes((folder / MODEL_FILE).read_bytes())
    with pytest.raises(ModelError, match="card"):
        load_model(lonely)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nowhere" / "model")


def test_persistence_markdown_card_shows_versions_and_metrics(saved):
    model, folder = saved
    md = (folder / CARD_MD).read_text()
    assert md == render_card(json.loads((folder / CARD_FILE).read_text()))
    for needle in ("scikit_learn", "spacy", "python", "nec_nlp", "ICD-10-CM code set", "macro-F1", "keyword",
                   "Label definition", model.card["corpus"]["sha256"]):
        assert needle in md


def test_persistence_save_rejects_other_objects(tmp_path):
    with pytest.raises(ModelError):
        save_model(object(), tmp_path / "x")


def test_persistence_loads_the_shipped_default():
    from nec_nlp.persistence import default_model_name

    try:
        model = load_model()
    except ModelError as exc:
        pytest.fail(f"shipped default model does not load: {exc}")
    assert model.card["version"] == default_model_name()
    assert model.card["uses_code_set"] is True
    assert load_model(default_model_name()).card["artifact"] == model.card["artifact"]
