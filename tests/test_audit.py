"""Audit of scored exports: rates, NOS query opportunities, NEC-with-exact flags, terminal and HTML output."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from nec_nlp.audit import audit, render_html


def mention(code, kind, *, exact=None, missing=(), query=None, negated=False, title="t"):
    codes = [{"code": code, "title": title, "kind": kind, "score": 0.9}]
    if exact:
        codes.append({"code": exact, "title": "exact one", "kind": "exact", "score": 0.5})
    return {"text": "x", "start": 0, "end": 1, "section": None,
            "assertion": {"negated": negated, "historical": False, "hypothetical": False, "family": False,
                          "uncertain": False},
            "details": {"site": [], "type": [], "cause": [], "drug": [], "laterality": None, "encounter": None},
            "specificity": {"verdict": "nos" if kind == "nos" else "specific", "probability": 0.5},
            "codes": codes, "rationale": "", "missing": list(missing), "query": query, "notes": []}


def note(i, specialty, mentions, error=None):
    return {"note_id": f"n{i}", "specialty": specialty, "row": i, "error": error,
            "error_message": f"row {i}: {error}" if error else None, "code_set": None if error else "cs",
            "model": None, "mentions": [] if error else mentions, "codes": []}


@pytest.fixture
def export(tmp_path):
    notes = [
        note(1, "Cardio", [mention("I50.9", "nos", missing=["type"], query="Which type?"),
                           mention("I10", "exact")]),
        note(2, "Cardio", [mention("I50.9", "nos", missing=["type", "acuity"]),
                           mention("I50.9", "nos", negated=True)]),
        note(3, "Ortho", [mention("M25.569", "nos", missing=["laterality"]),
                          mention("M89.8X9", "nec", exact="M89.761")]),
        note(4, "Ortho", [mention("S82.899A", "nec")]),
        note(5, "Ortho", [], error="empty_text"),
    ]
    path = tmp_path / "scored.jsonl"
    path.write_text("".join(json.dumps(n) + "\n" for n in notes), encoding="utf-8")
    return path


def test_audit_rates_and_breakdowns(export):
    r = audit(export)
    assert (r["notes"], r["scored"], r["errors"]) == (5, 4, {"empty_text": 1})
    o = r["overall"]
    assert (o["coded"], o["exact"], o["nec"], o["nos"]) == (6, 1, 2, 3)  # the negated mention is not coded
    assert o["nos_rate"] == pytest.approx(0.5)
    assert set(r["by"]) == {"specialty"}
    cardio, ortho = r["by"]["specialty"]["Cardio"], r["by"]["specialty"]["Ortho"]
    assert (cardio["coded"], cardio["nos_rate"]) == (3, pytest.approx(2 / 3, abs=1e-4))
    assert (ortho["notes"], ortho["coded"], ortho["nec_rate"]) == (3, 3, pytest.approx(2 / 3, abs=1e-4))


def test_audit_nos_queries_and_nec_flags(export):
    r = audit(export)
    first = r["nos_codes"][0]
    assert (first["code"], first["count"], first["with_query"]) == ("I50.9", 2, 1)
    assert first["missing"] == {"type": 2, "acuity": 1}
    nec = r["nec_with_exact"]
    assert nec["count"] == 1
    assert nec["flags"] == [{"id": "n3", "row": 3, "nec_code": "M89.8X9", "exact_codes": ["M89.761"]}]


def test_audit_same_from_csv_and_parquet(tmp_path):
    from nec_nlp.batch import score_file

    from test_batch import bad_export, fake_factory

    src = tmp_path / "in.csv"
    bad_export(src)
    reports = []
    for ext in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"o.{ext}"
        score_file(src, out, keep=("specialty",), workers=1, max_chars=1000, progress=False,
                   scorer_factory=fake_factory)
        rep = audit(out)
        rep.pop("path")
        reports.append(rep)
    assert reports[0]["overall"]["coded"] > 0
    assert reports[0] == reports[1] == reports[2]


def test_audit_html_is_self_contained(export, tmp_path):
    page = render_html(audit(export), tmp_path / "r" / "audit.html")
    assert (tmp_path / "r" / "audit.html").read_text(encoding="utf-8") == page
    assert page.count("<svg") >= 3
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script" not in page and "<link" not in page
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        ET.fromstring(svg)  # well-formed inline SVG
    assert "I50.9" in page and "M89.8X9" in page and "Cardio" in page


def test_audit_cli_tables_and_html(export, tmp_path):
    from nec_nlp.cli import app

    result = CliRunner().invoke(app, ["audit", str(export), "--html", str(tmp_path / "a.html")])
    assert result.exit_code == 0, result.output
    assert "NOS" in result.output and "I50.9" in result.output and "specialty" in result.output
    assert (tmp_path / "a.html").exists()
    result = CliRunner().invoke(app, ["audit", str(export), "--json", "--no-html"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["nec_with_exact"]["count"] == 1


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_audit_refuses_an_unscored_export(tmp_path, ext):
    from nec_nlp.errors import InputError

    path = tmp_path / f"raw.{ext}"
    path.write_text("note_id,specialty,text\na,S,Asthma.\n" if ext == "csv" else
                    '{"note_id": "a", "text": "Asthma."}\n', encoding="utf-8")
    with pytest.raises(InputError, match="not a scored export"):
        audit(path)
