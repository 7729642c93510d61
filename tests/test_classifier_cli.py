"""``nec-nlp train`` and ``nec-nlp evaluate`` through typer's CliRunner."""

import json

import pytest
from typer.testing import CliRunner

from nec_nlp.cli import app
from nec_nlp.errors import InputError

runner = CliRunner()


@pytest.mark.slow
def test_classifier_cli_train_then_evaluate(specificity_corpus, project_root, tmp_path):
    out = tmp_path / "specificity-cli"
    result = runner.invoke(app, ["train", str(specificity_corpus), "--out", str(out), "--sample", "300", "--no-pipeline",
                                 "--statements", str(project_root / "corpora/statements/statements.jsonl")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"model.joblib", "model_card.json", "MODEL_CARD.md"}
    card = json.loads((out / "model_card.json").read_text())
    assert card["version"] == "specificity-cli" and card["corpus"]["n_train"] == 300
    # stacked on the recommender, the dev statements go to the stacked model, never into the text model's data
    st = card["corpus"]["statements"]
    assert st["n_train"] >= 150 and st["used_in"] == ("stacked model" if card["uses_recommender"] else "text model")
    assert {"dev", "test"} <= set(card["metrics"])
    assert "statements_test" in result.output or "test" in result.output

    again = runner.invoke(app, ["train", str(specificity_corpus), "--out", str(out), "--sample", "300", "--no-pipeline"])
    assert isinstance(again.exception, InputError)  # refuses to overwrite without --overwrite

    result = runner.invoke(app, ["evaluate", str(out), "--corpus", str(specificity_corpus), "--sample", "150", "--no-pipeline",
                                 "--statements", str(tmp_path / "none.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["test"]["n"] == 150
    assert set(metrics["test"]["baselines"]) == {"majority", "keyword"}


def test_classifier_cli_train_needs_a_corpus(tmp_path):
    result = runner.invoke(app, ["train", str(tmp_path / "missing"), "--out", str(tmp_path / "m")])
    assert isinstance(result.exception, InputError)
    assert not (tmp_path / "m").exists()


def test_classifier_cli_next_version_name(tmp_path):
    from nec_nlp.cli.train_cmd import next_version_name

    assert next_version_name(tmp_path) == "specificity-v1"
    (tmp_path / "specificity-v1").mkdir()
    (tmp_path / "specificity-v7").mkdir()
    assert next_version_name(tmp_path) == "specificity-v8"
