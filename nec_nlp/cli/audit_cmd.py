"""``nec-nlp audit OUTPUT``: exact / NEC / NOS rates, query opportunities and NEC codes to review."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer


def audit(
    output: Annotated[Path, typer.Argument(help="A scored export of nec-nlp batch (.jsonl, .csv or .parquet).",
                                           exists=True, dir_okay=False, readable=True)],
    html: Annotated[Optional[Path], typer.Option(
        "--html", dir_okay=False, help="HTML report path (default: OUTPUT's name + .audit.html).")] = None,
    no_html: Annotated[bool, typer.Option("--no-html", help="Do not write the HTML report.")] = False,
    by: Annotated[str, typer.Option("--by", help="Columns to break down by, comma-separated "
                                                 "(default: every kept column).")] = "",
    format: Annotated[Optional[str], typer.Option("--format", help="Export format (default: from extension).")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="NOS codes and NEC/exact pairs listed.")] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")] = False,
) -> None:
    """Summarise a scored export as terminal tables and a self-contained HTML report."""
    from nec_nlp.audit import audit as run_audit
    from nec_nlp.audit import render_html, render_terminal

    columns = [c.strip() for c in by.split(",") if c.strip()] or None
    report = run_audit(output, by=columns, fmt=format, top=top)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        render_terminal(report)
    if not no_html:
        target = html or output.with_name(output.name + ".audit.html")
        render_html(report, target)
        typer.echo(f"HTML report: {target}", err=as_json)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
