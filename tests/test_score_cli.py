"""``nec-nlp score`` and ``nec-nlp evaluate-codes`` through typer's CliRunner."""

import json
from importlib.resources import files

import pytest
from typer.testing import CliRunner

from nec_nlp.cli import app
from nec_nlp.errors import InputError

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(files("nec_nlp").joinpath("schemas/note_result.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_score_cli_json_validates_against_schema(validator):
    text = ("Assessment: Focal epilepsy with auditory hallucinations. No pneumonia. "
            "Adverse effect of oseltamivir, nausea, initial encounter.")
    result = runner.invoke(app, ["score", text, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    validator.validate(data)
    assert data["codes"] and data["mentions"]
    assert "T37.5X5A" in data["codes"]


def test_score_cli_json_equals_api(validator):
    from nec_nlp import score_text

    result = runner.invoke(app, ["score", "Seizures.", "--json"])
    assert json.loads(result.stdout) == score_text("Seizures.")


def test_score_cli_file_and_stdin_agree(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Postoperative pain.\n", encoding="utf-8")
    from_file = runner.invoke(app, ["score", "--file", str(note), "--json"])
    from_stdin = runner.invoke(app, ["score", "--json"], input="Postoperative pain.\n")
    assert from_file.exit_code == 0 and from_stdin.exit_code == 0, from_file.output + from_stdin.output
    assert json.loads(from_file.stdout)["codes"] == json.loads(from_stdin.stdout)["codes"] == ["G89.18"]


def test_score_cli_rich_output_shows_codes_kind_and_rationale():
    result = runner.invoke(app, ["score", "Seizures."])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "R56.9" in out and "nos" in out and "rationale" in out and "query" in out


def test_score_cli_code_set_and_service_date_select_the_release():
    r1 = runner.invoke(app, ["score", "Seizures.", "--json", "--code-set", "2025-04"])
    r2 = runner.invoke(app, ["score", "Seizures.", "--json", "--service-date", "2026-05-01"])
    assert json.loads(r1.stdout)["code_set"] == "2025-04"
    assert json.loads(r2.stdout)["code_set"] == "2026-04"


def test_score_cli_text_and_file_together_is_a_user_error(tmp_path):
    note = tmp_path / "n.txt"
    note.write_text("Seizures.", encoding="utf-8")
    result = runner.invoke(app, ["score", "Seizures.", "--file", str(note)])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)


def test_score_cli_evaluate_codes_on_a_small_statement_file(tmp_path):
    rows = [
        {"id": "t1", "text": "Seizures.", "target": "Seizures", "accepted": ["R56.9"], "kind": "nos",
         "chapter": "18", "source": "written", "split": "test"},
        {"id": "t2", "text": "Acute cystitis without hematuria.", "target": "cystitis", "accepted": ["N30.00"],
         "kind": "exact", "chapter": "14", "source": "written", "split": "test"},
        {"id": "t3", "text": "Seizures.", "target": "Seizures", "accepted": ["G40.909"], "kind": "nos",
         "chapter": "6", "source": "written", "split": "test"},
        {"id": "d1", "text": "Seizures.", "target": "Seizures", "accepted": ["R56.9"], "kind": "nos",
         "chapter": "18", "source": "written", "split": "dev"},
    ]
    path = tmp_path / "statements.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate-codes", str(path), "--split", "test", "--json", "--model", "rules"])
    assert result.exit_code == 0, result.output
    res = json.loads(result.stdout)
    assert res["n"] == 3
    assert res["code@1"] == pytest.approx(2 / 3)  # t3's accepted code is deliberately not the recommendation
    assert res["code@5"] >= res["code@1"]
    assert res["per_kind"]["exact"]["code@1"] == 1.0
    assert res["per_kind"]["nos"]["n"] == 2
    table = runner.invoke(app, ["evaluate-codes", str(path), "--split", "test", "--model", "rules"])
    assert "code@1" in table.stdout and "overall" in table.stdout
