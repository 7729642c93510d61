"""Audit a scored export: exact / NEC / NOS rates, provider-query opportunities, NEC codes to review.

Reads any output of :func:`nec_nlp.batch.score_file` (JSONL, CSV or Parquet), streaming, and summarises:

- rates of exact, NEC and NOS first codes over the coded mentions (current, affirmed mentions with a code),
  overall and by every kept column (the columns between the id and ``row``);
- the most frequent NOS codes with the details the documentation lacked (provider query opportunities);
- NEC codes chosen while the recommender also listed an exact code (flagged for review).

:func:`render_html` turns the summary into a self-contained HTML page with inline SVG charts.
"""

import csv
import html
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nec_nlp.batch import detect_format
from nec_nlp.errors import InputError

KINDS = ("exact", "nec", "nos")
_AFFIRMED_KEYS = ("negated", "historical", "hypothetical", "family", "uncertain")
MAX_GROUPS = 25


def _split(value: Any, sep: str = ";") -> list[str]:
    return [v.strip() for v in str(value).split(sep) if v.strip()] if value else []


class _NotScored(Exception):
    pass


def _notes_jsonl(path: Path) -> Iterator[tuple[dict[str, Any], list[str]]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                keys = list(obj)
                if not isinstance(obj, dict) or "row" not in obj or "mentions" not in obj:
                    raise _NotScored
                lead = keys[: keys.index("row")]
                yield obj, lead


def _notes_csv(path: Path) -> Iterator[tuple[dict[str, Any], list[str]]]:
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        if "row" not in fields or "mentions_json" not in fields:
            raise _NotScored
        lead = fields[: fields.index("row")]
        for r in reader:
            obj: dict[str, Any] = {k: (r[k] if r[k] != "" else None) for k in lead}
            obj["row"] = int(r["row"]) if r.get("row") else None
            obj["error"] = r.get("error") or None
            obj["mentions"] = json.loads(r["mentions_json"]) if r.get("mentions_json") else []
            yield obj, lead


def _notes_parquet(path: Path) -> Iterator[tuple[dict[str, Any], list[str]]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    if "row" not in names or "mention_index" not in names:
        raise _NotScored
    lead = names[: names.index("row")]
    current: dict[str, Any] | None = None
    for batch in pf.iter_batches(batch_size=8192):
        for r in batch.to_pylist():
            if current is None or r["row"] != current["row"]:
                if current is not None:
                    yield current, lead
                current = {k: r.get(k) for k in lead}
                current.update({"row": r["row"], "error": r.get("error"), "mentions": []})
            if r.get("mention_index") is None:
                continue
            codes = [{"code": c, "kind": k, "title": r["code_title"] if i == 0 else ""}
                     for i, (c, k) in enumerate(zip(_split(r.get("candidate_codes")),
                                                    _split(r.get("candidate_kinds"))))]
            current["mentions"].append({
                "assertion": {k: bool(r.get(k)) for k in _AFFIRMED_KEYS},
                "codes": codes,
                "missing": _split(r.get("missing")),
                "query": r.get("query"),
            })
    if current is not None:
        yield current, lead


def iter_notes(path: str | os.PathLike[str], fmt: str | None = None) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """Yield (note object, lead columns) from a scored export; lead = the id then the kept columns."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"scored export {str(path)!r} does not exist")
    fmt = detect_format(path, fmt)
    reader = {"jsonl": _notes_jsonl, "csv": _notes_csv, "parquet": _notes_parquet}[fmt]
    try:
        yield from reader(path)
    except (ValueError, KeyError, _NotScored):
        raise InputError(f"{path.name} is not a scored export of nec-nlp batch: score it first with "
                         "'nec-nlp batch'") from None


def _new_rates() -> dict[str, Any]:
    return {"notes": 0, "scored": 0, "mentions": 0, "coded": 0, "exact": 0, "nec": 0, "nos": 0}


def _finish(r: dict[str, Any]) -> dict[str, Any]:
    for k in KINDS:
        r[f"{k}_rate"] = round(r[k] / r["coded"], 4) if r["coded"] else 0.0
    return r


def audit(path: str | os.PathLike[str], *, by: Sequence[str] | None = None, fmt: str | None = None,
          top: int = 15, max_flags: int = 200) -> dict[str, Any]:
    """Summarise a scored export.

    Args:
        path: output of ``nec-nlp batch`` (JSONL, CSV or Parquet).
        by: columns to break the rates down by (default: every kept column).
        fmt: format of the export (default: from the extension).
        top: number of NOS codes and NEC/exact pairs listed.
        max_flags: NEC-with-exact mentions listed individually (all are counted).

    Returns:
        A JSON-serialisable dict: ``notes``, ``errors``, ``overall``, ``by`` (column -> value -> rates),
        ``nos_codes``, ``nec_with_exact`` (``count``, ``pairs``, ``flags``).

    Raises:
        InputError: the file is missing or is not a scored export.
    """
    overall = _new_rates()
    errors: Counter[str] = Counter()
    groups: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(_new_rates))
    nos: dict[str, dict[str, Any]] = {}
    pairs: Counter[tuple[str, str]] = Counter()
    flags: list[dict[str, Any]] = []
    n_flags = 0
    columns: list[str] | None = None
    id_col = None
    for obj, lead in iter_notes(path, fmt):
        if columns is None:
            id_col = lead[0] if lead else None
            columns = list(by) if by is not None else list(lead[1:])
        targets = [overall] + [groups[c][str(obj.get(c))] for c in columns]
        for t in targets:
            t["notes"] += 1
        if obj.get("error"):
            errors[obj["error"]] += 1
            continue
        for t in targets:
            t["scored"] += 1
        for m in obj.get("mentions") or []:
            for t in targets:
                t["mentions"] += 1
            a = m.get("assertion") or {}
            codes = m.get("codes") or []
            if any(a.get(k) for k in _AFFIRMED_KEYS) or not codes:
                continue
            kind = codes[0].get("kind")
            for t in targets:
                t["coded"] += 1
                if kind in KINDS:
                    t[kind] += 1
            first = codes[0].get("code", "")
            if kind == "nos":
                entry = nos.setdefault(first, {"code": first, "title": codes[0].get("title", ""), "count": 0,
                                               "missing": Counter(), "with_query": 0})
                entry["count"] += 1
                entry["title"] = entry["title"] or codes[0].get("title", "")
                entry["missing"].update(m.get("missing") or ["(none named)"])
                entry["with_query"] += 1 if m.get("query") else 0
            elif kind == "nec":
                exact = [c.get("code", "") for c in codes[1:] if c.get("kind") == "exact"]
                if exact:
                    n_flags += 1
                    pairs[(first, exact[0])] += 1
                    if len(flags) < max_flags:
                        flags.append({"id": obj.get(id_col) if id_col else None, "row": obj.get("row"),
                                      "nec_code": first, "exact_codes": exact})
    top_nos = sorted(nos.values(), key=lambda e: (-e["count"], e["code"]))[:top]
    by_out: dict[str, Any] = {}
    for col, values in groups.items():
        ordered = sorted(values.items(), key=lambda kv: (-kv[1]["notes"], kv[0]))
        shown = dict((k, _finish(v)) for k, v in ordered[:MAX_GROUPS])
        if len(ordered) > MAX_GROUPS:
            other = _new_rates()
            for _, v in ordered[MAX_GROUPS:]:
                for k in other:
                    other[k] += v[k]
            shown["(other values)"] = _finish(other)
        by_out[col] = shown
    return {
        "path": str(path),
        "id_col": id_col,
        "notes": overall["notes"],
        "scored": overall["scored"],
        "errors": dict(errors.most_common()),
        "overall": _finish(overall),
        "by": by_out,
        "nos_codes": [{**e, "missing": dict(e["missing"].most_common(5))} for e in top_nos],
        "nec_with_exact": {
            "count": n_flags,
            "pairs": [{"nec_code": a, "exact_code": b, "count": n} for (a, b), n in pairs.most_common(top)],
            "flags": flags,
        },
    }


# --------------------------------------------------------------------------------------------------- terminal
def render_terminal(report: dict[str, Any], console: Any = None) -> None:
    """Print the audit as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    o = report["overall"]
    t = Table(title=f"Audit of {Path(report['path']).name}")
    for c in ("notes", "scored", "errors", "coded mentions", "exact", "NEC", "NOS"):
        t.add_column(c, justify="right")
    t.add_row(f"{report['notes']:,}", f"{report['scored']:,}", f"{sum(report['errors'].values()):,}",
              f"{o['coded']:,}", _pct(o["exact_rate"]), _pct(o["nec_rate"]), _pct(o["nos_rate"]))
    console.print(t)
    if report["errors"]:
        t = Table(title="Rows not scored")
        t.add_column("reason")
        t.add_column("rows", justify="right")
        for k, v in report["errors"].items():
            t.add_row(k, f"{v:,}")
        console.print(t)
    for col, values in report["by"].items():
        t = Table(title=f"By {col}")
        for c in (col, "notes", "coded", "exact", "NEC", "NOS"):
            t.add_column(c, justify="left" if c == col else "right")
        for value, r in values.items():
            t.add_row(value, f"{r['notes']:,}", f"{r['coded']:,}", _pct(r["exact_rate"]), _pct(r["nec_rate"]),
                      _pct(r["nos_rate"]))
        console.print(t)
    if report["nos_codes"]:
        t = Table(title="Most frequent NOS codes: provider query opportunities")
        for c in ("code", "title", "mentions", "missing details", "queries drafted"):
            t.add_column(c, justify="right" if c in ("mentions", "queries drafted") else "left")
        for e in report["nos_codes"]:
            t.add_row(e["code"], e["title"], f"{e['count']:,}",
                      ", ".join(f"{k} ({v})" for k, v in e["missing"].items()), f"{e['with_query']:,}")
        console.print(t)
    nec = report["nec_with_exact"]
    t = Table(title=f"NEC codes chosen while an exact code was listed: {nec['count']:,} mentions to review")
    for c in ("NEC code", "exact candidate", "mentions"):
        t.add_column(c, justify="right" if c == "mentions" else "left")
    for p in nec["pairs"]:
        t.add_row(p["nec_code"], p["exact_code"], f"{p['count']:,}")
    console.print(t)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# --------------------------------------------------------------------------------------------------- HTML
_COLORS = {"exact": "#2e7d32", "nec": "#f9a825", "nos": "#c62828"}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:980px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{padding:.25rem .6rem;border-bottom:1px solid #eee}
th{text-align:left;background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.legend span{display:inline-block;margin-right:1rem}.sw{display:inline-block;width:.8rem;height:.8rem;
margin-right:.3rem;vertical-align:middle}.muted{color:#666;font-size:.85rem}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _stacked_bars(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """Horizontal 100% stacked bars of exact / NEC / NOS rates, one per row."""
    label_w, bar_w, h, gap = 220, 520, 22, 8
    height = len(rows) * (h + gap) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 70}" height="{height}" '
             f'role="img" font-family="system-ui, sans-serif" aria-label="exact, NEC and NOS rates">']
    for i, (label, r) in enumerate(rows):
        y = 5 + i * (h + gap)
        parts.append(f'<text x="{label_w - 8}" y="{y + h * 0.7:.1f}" text-anchor="end" font-size="12">'
                     f'{_e(label[:32])}</text>')
        x = float(label_w)
        for k in KINDS:
            w = bar_w * r[f"{k}_rate"]
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{h}" fill="{_COLORS[k]}">'
                             f'<title>{k}: {_pct(r[f"{k}_rate"])}</title></rect>')
                if w > 34:
                    parts.append(f'<text x="{x + w / 2:.1f}" y="{y + h * 0.7:.1f}" text-anchor="middle" '
                                 f'font-size="11" fill="#fff">{_pct(r[f"{k}_rate"])}</text>')
            x += w
        if r["coded"] == 0:
            parts.append(f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="{h}" fill="#eee"/>')
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + h * 0.7:.1f}" font-size="11" fill="#555">'
                     f'n={r["coded"]:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _count_bars(rows: list[tuple[str, int]], color: str) -> str:
    if not rows:
        return '<p class="muted">None.</p>'
    label_w, bar_w, h, gap = 120, 520, 18, 6
    peak = max(n for _, n in rows) or 1
    height = len(rows) * (h + gap) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 70}" height="{height}" '
             f'role="img" font-family="system-ui, sans-serif">']
    for i, (label, n) in enumerate(rows):
        y = 5 + i * (h + gap)
        w = bar_w * n / peak
        parts.append(f'<text x="{label_w - 8}" y="{y + h * 0.75:.1f}" text-anchor="end" font-size="12">'
                     f'{_e(label)}</text><rect x="{label_w}" y="{y}" width="{w:.1f}" height="{h}" '
                     f'fill="{color}"/><text x="{label_w + w + 6:.1f}" y="{y + h * 0.75:.1f}" font-size="11">'
                     f'{n:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any], path: str | os.PathLike[str] | None = None) -> str:
    """Render the audit as one self-contained HTML page (inline CSS and SVG, no external assets).

    Args:
        report: the dict returned by :func:`audit`.
        path: when given, the page is also written there (folders created).

    Returns:
        The HTML text.
    """
    o = report["overall"]
    legend = "".join(f'<span><i class="sw" style="background:{_COLORS[k]}"></i>{k.upper() if k != "exact" else k}'
                     f"</span>" for k in KINDS)
    out = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>nec-nlp audit: {_e(Path(report['path']).name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>nec-nlp audit: {_e(Path(report['path']).name)}</h1>",
        f'<p>{report["notes"]:,} notes, {report["scored"]:,} scored, {sum(report["errors"].values()):,} not scored; '
        f'{o["mentions"]:,} mentions, {o["coded"]:,} coded (current, affirmed, with a code).</p>',
        "<h2>Exact, NEC and NOS rates</h2>",
        f'<p class="legend">{legend}</p>',
        _stacked_bars([("all notes", o)]),
    ]
    for col, values in report["by"].items():
        out.append(f"<h2>By {_e(col)}</h2>")
        out.append(_stacked_bars(list(values.items())))
        out.append(f"<table><tr><th>{_e(col)}</th><th>notes</th><th>coded</th><th>exact</th><th>NEC</th>"
                   "<th>NOS</th></tr>")
        for value, r in values.items():
            out.append(f'<tr><td>{_e(value)}</td><td class="n">{r["notes"]:,}</td><td class="n">{r["coded"]:,}'
                       f'</td><td class="n">{_pct(r["exact_rate"])}</td><td class="n">{_pct(r["nec_rate"])}</td>'
                       f'<td class="n">{_pct(r["nos_rate"])}</td></tr>')
        out.append("</table>")
    out.append("<h2>Most frequent NOS codes: provider query opportunities</h2>")
    out.append(_count_bars([(e["code"], e["count"]) for e in report["nos_codes"]], _COLORS["nos"]))
    if report["nos_codes"]:
        out.append("<table><tr><th>code</th><th>title</th><th>mentions</th><th>missing details</th>"
                   "<th>queries drafted</th></tr>")
        for e in report["nos_codes"]:
            missing = ", ".join(f"{_e(k)} ({v})" for k, v in e["missing"].items())
            out.append(f'<tr><td>{_e(e["code"])}</td><td>{_e(e["title"])}</td><td class="n">{e["count"]:,}</td>'
                       f'<td>{missing}</td><td class="n">{e["with_query"]:,}</td></tr>')
        out.append("</table>")
    nec = report["nec_with_exact"]
    out.append(f"<h2>NEC codes chosen while an exact code was listed ({nec['count']:,} to review)</h2>")
    out.append(_count_bars([(f"{p['nec_code']} / {p['exact_code']}", p["count"]) for p in nec["pairs"]],
                           _COLORS["nec"]))
    if nec["flags"]:
        out.append("<table><tr><th>id</th><th>row</th><th>NEC code</th><th>exact candidates</th></tr>")
        for f in nec["flags"]:
            out.append(f'<tr><td>{_e(f["id"])}</td><td class="n">{_e(f["row"])}</td><td>{_e(f["nec_code"])}</td>'
                       f'<td>{_e(", ".join(f["exact_codes"]))}</td></tr>')
        out.append("</table>")
        if nec["count"] > len(nec["flags"]):
            out.append(f'<p class="muted">First {len(nec["flags"]):,} of {nec["count"]:,} listed.</p>')
    if report["errors"]:
        out.append("<h2>Rows not scored</h2>")
        out.append(_count_bars(list(report["errors"].items()), "#757575"))
    out.append("</body></html>")
    text = "\n".join(out)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
