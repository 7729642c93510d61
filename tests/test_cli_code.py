"""``nec-nlp code`` and ``nec-nlp lookup`` through typer's CliRunner."""

import json

import pytest
import typer
from typer.testing import CliRunner

from nec_nlp.cli import code_cmd, lookup_cmd


pytestmark = pytest.mark.usefixtures("isolated_code_set_cache")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    code_cmd.register(app)
    lookup_cmd.register(app)
    return app


runner = CliRunner()


def test_cli_code_registered_on_main_app():
    from nec_nlp.cli import app as main_app

    names = {c.name for c in main_app.registered_commands}
    assert {"code", "lookup"} <= names


def test_cli_code_json_invalid_with_suggestion(app):
    res = runner.invoke(app, ["code", "t50.99xa", "--json"])
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["validation"]["valid"] is False and out["validation"]["code"] == "T50.99XA"
    assert out["suggestions"][0]["code"] == "T50.995A" and out["suggestions"][0]["kind"] == "nec"


def test_cli_code_json_billable_record(app):
    res = runner.invoke(app, ["code", "G89.18", "--json"])
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert out["code"]["kind"] == "nec" and "Postoperative pain NOS" in out["code"]["nos_terms"]
    assert [a["code"] for a in out["ancestors"]] == ["G89.1", "G89"]
    assert out["validation"]["release"] == "2026-04"


def test_cli_code_rich_output(app):
    res = runner.invoke(app, ["code", "R10.2"])
    assert res.exit_code == 0
    assert "not billable" in res.stdout and "R10.20" in res.stdout and "not a leaf" in res.stdout


def test_cli_code_release_selection(app):
    old = runner.invoke(app, ["code", "E88.14", "--code-set", "2025-04", "--json"])
    assert old.exit_code == 1 and json.loads(old.stdout)["validation"]["release"] == "2025-04"
    new = runner.invoke(app, ["code", "E88.14", "--service-date", "2026-05-01", "--json"])
    assert new.exit_code == 0 and json.loads(new.stdout)["validation"]["billable"] is True


def test_cli_code_unknown_release_is_user_error(app):
    res = runner.invoke(app, ["code", "J13", "--code-set", "1999-01"])
    assert res.exit_code != 0
    assert "unknown ICD-10-CM release" in str(res.exception)


def test_cli_lookup_index_json(app):
    res = runner.invoke(app, ["lookup", "postoperative pain", "--json", "--limit", "3"])
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert out["index"][0]["resolved"] == "G89.18" and out["index"][0]["path"] == ["Pain", "postoperative NOS"]
    assert out["titles"][0]["code"] == "G89.18"


def test_cli_lookup_rich_output(app):
    res = runner.invoke(app, ["lookup", "pelvic pain", "--limit", "3"])
    assert res.exit_code == 0 and "R10.20" in res.stdout and "Alphabetic Index" in res.stdout


def test_cli_lookup_drug(app):
    res = runner.invoke(app, ["lookup", "warfarin", "--drug", "adverse_effect", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["drug"]["code"] == "T45.515A"
    res = runner.invoke(app, ["lookup", "oseltamivir", "--drug", "adverse_effect"])
    assert res.exit_code == 0 and "T37.5X5A" in res.stdout


def test_cli_lookup_neoplasm(app):
    res = runner.invoke(app, ["lookup", "lung", "--neoplasm", "malignant_primary", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["neoplasm"]["code"] == "C34.90"
