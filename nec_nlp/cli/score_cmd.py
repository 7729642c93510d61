"""``nec-nlp score`` (one note -> mentions, verdicts, ranked codes) and ``nec-nlp evaluate-codes``."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from nec_nlp.errors import InputError

DEFAULT_STATEMENTS = Path("corpora/statements/statements.jsonl")

_KIND_STYLE = {"exact": "bold green", "nec": "bold yellow", "nos": "bold red"}


def _read_text(text: Optional[str], file: Optional[Path]) -> str:
    if text is not None and file is not None:
        raise InputError("give either TEXT or --file, not both")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{file.name} is not UTF-8 text") from None
    if text is not None and text != "-":
        return text
    if sys.stdin is None or (text is None and sys.stdin.isatty()):
        raise InputError("no note given: pass TEXT, --file PATH, or pipe the note on stdin")
    data = sys.stdin.read()
    if not data.strip():
        raise InputError("the note on stdin is empty")
    return data


def render(result: dict[str, Any], text: str) -> None:
    """Readable rich output: the note with CONDITION mentions highlighted, then one panel per mention."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = Console()
    shown = Text(text)
    for m in result["mentions"]:
        style = "bold underline" if not m["codes"] else _KIND_STYLE.get(m["codes"][0]["kind"], "bold")
        shown.stylize(style, m["start"], m["end"])
    console.print(Panel(shown, title=f"note (code set {result['code_set']}, model {result['model'].get('name')})"))
    if not result["mentions"]:
        console.print("No CONDITION mentions found.")
    for m in result["mentions"]:
        spec = m["specificity"]
        details = ", ".join(f"{k}: {'; '.join(v) if isinstance(v, list) else v}" for k, v in m["details"].items()
                            if v)
        head = Text.assemble((m["text"], "bold"), f"  [{m['start']}:{m['end']}]  ",
                             (f"{spec['verdict']} ({spec['probability']:.2f})", "cyan"))
        body = Table.grid(padding=(0, 1))
        body.add_column(style="dim")
        body.add_column()
        if details:
            body.add_row("details", details)
        flags = [k for k, v in m["assertion"].items() if v]
        if flags:
            body.add_row("assertion", ", ".join(flags))
        if m["codes"]:
            codes = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
            for col in ("code", "kind", "score", "title"):
                codes.add_column(col)
            for c in m["codes"]:
                codes.add_row(c["code"], Text(c["kind"], style=_KIND_STYLE.get(c["kind"], "")), f"{c['score']:.2f}",
                              c["title"])
            body.add_row("codes", codes)
        body.add_row("rationale", m["rationale"])
        if m["missing"]:
            body.add_row("missing", ", ".join(m["missing"]))
        if m["query"]:
            body.add_row("query", m["query"])
        for n in m["notes"]:
            body.add_row("note", n)
        console.print(Panel(body, title=head, title_align="left"))
    console.print(Text.assemble(("codes: ", "bold"), ", ".join(result["codes"]) or "(none)"))


def _evaluation_table(res: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"code recommendation, split {res['split'] or 'all'}")
    for col in ("kind", "n", "code@1", "code@5", "kind acc."):
        table.add_column(col, justify="right" if col != "kind" else "left")
    rows = [("overall", res), *sorted(res["per_kind"].items())]
    for name, r in rows:
        table.add_row(name, str(r["n"]), f"{r['code@1']:.3f}", f"{r['code@5']:.3f}", f"{r['kind_accuracy']:.3f}")
    console = Console()
    console.print(table)
    if "mention_found" in res:
        console.print(f"target mention found by extraction: {res['mention_found']:.3f}; "
                      f"code@1 where found: {res['code@1_when_found']:.3f}")


def register(app: typer.Typer) -> None:
    """Add ``score`` and ``evaluate-codes`` to the app."""

    @app.command("score")
    def score(
        text: Annotated[Optional[str], typer.Argument(help="Note text ('-' or omitted: read stdin).")] = None,
        file: Annotated[Optional[Path], typer.Option("--file", "-f", exists=True, dir_okay=False, readable=True,
                                                     help="Read the note from a UTF-8 file.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print NoteResult.to_dict() as JSON.")] = False,
        code_set: Annotated[Optional[str], typer.Option("--code-set", help="Release id, e.g. 2026-04.")] = None,
        service_date: Annotated[Optional[str], typer.Option("--service-date",
                                                            help="Date of service YYYY-MM-DD.")] = None,
        model: Annotated[Optional[str], typer.Option("--model", help="Model folder or 'rules'.")] = None,
    ) -> None:
        """Score one note: every diagnosis with its specificity verdict and ranked ICD-10-CM codes."""
        from nec_nlp.api import score_text

        note = _read_text(text, file)
        result = score_text(note, code_set=code_set, service_date=service_date, model=model)
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            render(result, note)

    @app.command("evaluate-codes")
    def evaluate_codes_cmd(
        statements: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                                   help="Statements JSONL.")] = DEFAULT_STATEMENTS,
        split: Annotated[str, typer.Option("--split", help="dev, test or all.")] = "dev",
        code_set: Annotated[Optional[str], typer.Option("--code-set", help="Release id, e.g. 2026-04.")] = None,
        model: Annotated[Optional[str], typer.Option("--model", help="Model folder or 'rules'.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
        show_errors: Annotated[bool, typer.Option("--errors", help="List the statements missed.")] = False,
    ) -> None:
        """Code@1, code@5 and kind accuracy on the diagnosis statements (overall and per kind)."""
        from nec_nlp.api import load
        from nec_nlp.recommender import evaluate_codes

        if split not in ("dev", "test", "all"):
            raise InputError(f"--split must be dev, test or all, not {split!r}")
        res = evaluate_codes(load(model=model, code_set=code_set), statements, None if split == "all" else split)
        if as_json:
            typer.echo(json.dumps(res if show_errors else {k: v for k, v in res.items() if k != "errors"}))
            return
        _evaluation_table(res)
        if show_errors:
            for e in res["errors"]:
                typer.echo(f"{e['id']}: accepted {e['accepted']} ({e['kind']}) got {e['got']} ({e['got_kind']})")
