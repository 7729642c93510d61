"""``nec-nlp extract``: show the mentions the extraction pipeline finds, or evaluate it on the gold set.

    nec-nlp extract "Assessment: acute cystitis without hematuria."
    nec-nlp extract --file note.txt --json
    nec-nlp extract --evaluate [corpora/gold/extraction_gold.jsonl]
"""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from nec_nlp.errors import InputError


def render_mentions(mentions: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(mentions)} CONDITION mention(s)")
    for col in ("condition", "section", "assertion", "site", "type", "cause", "drug", "laterality", "encounter"):
        table.add_column(col)
    for m in mentions:
        flags = [k for k, v in asdict(m.assertion).items() if v] or ["current"]
        d = m.details
        table.add_row(m.text, m.section or "", ",".join(flags), "; ".join(d.site), "; ".join(d.type),
                      "; ".join(d.cause), "; ".join(d.drug), d.laterality or "", d.encounter or "")
    Console(soft_wrap=True).print(table)


def render_evaluation(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from nec_nlp.pipeline.evaluate import format_report

    console = Console(soft_wrap=True)
    table = Table(title=f"Extraction vs gold ({result['notes']} notes): lenient = overlap + same label (primary)")
    for col in ("label", "P lenient", "R lenient", "F1 lenient", "P strict", "R strict", "F1 strict", "gold",
                "pred"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for row in format_report(result):
        table.add_row(*row)
    mi = result["micro"]
    table.add_row("micro", *(f"{mi[k][m]:.3f}" for k in ("lenient", "strict") for m in ("precision", "recall", "f1")),
                  str(mi["lenient"]["n_gold"]), str(mi["lenient"]["n_pred"]))
    console.print(table)
    at = Table(title="Assertions on matched CONDITIONs")
    for col in ("assertion", "accuracy", "n", "gold true", "pred true", "both true"):
        at.add_column(col, justify="left" if col == "assertion" else "right")
    for name, a in result["assertions"].items():
        at.add_row(name, f"{a['accuracy']:.3f}", str(a["n"]), str(a["gold_true"]), str(a["pred_true"]),
                   str(a["both_true"]))
    for name, a in result["attributes"].items():
        at.add_row(name, f"{a['accuracy']:.3f}", str(a["n"]), "", "", "")
    console.print(at)


def extract(
    text: Annotated[Optional[str], typer.Argument(help="Note text (or, with --evaluate, the gold JSONL path).")]
    = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="Read the note from a file.", exists=True,
                                                 dir_okay=False, readable=True)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print mentions as JSON.")] = False,
    evaluate: Annotated[bool, typer.Option("--evaluate", help="Evaluate on the gold set (default "
                                           "corpora/gold/extraction_gold.jsonl) instead.")] = False,
    errors: Annotated[Optional[Path], typer.Option("--errors", help="With --evaluate: write missed/spurious "
                                                   "spans per note to this JSONL file.", dir_okay=False)] = None,
    annotator: Annotated[Optional[str], typer.Option("--annotator", help="With --evaluate: only the gold notes "
                                                     "of this annotator part (a or b).")] = None,
    pipeline: Annotated[Optional[Path], typer.Option("--pipeline", help="A saved pipeline folder "
                                                     "(default: build from the package rules).")] = None,
) -> None:
    """Print the CONDITION mentions of a note with their details and assertions (or evaluate on gold)."""
    from nec_nlp.pipeline import doc_mentions, load_nlp

    if evaluate:
        from nec_nlp.pipeline.evaluate import DEFAULT_GOLD, evaluate_extraction

        gold = Path(text) if text else DEFAULT_GOLD
        if not gold.is_file():
            raise InputError(f"gold file {gold} not found; build it with `python scripts/build_gold.py`")
        nlp = load_nlp(pipeline)
        result = evaluate_extraction(nlp, gold, collect_errors=errors is not None,
                                     annotator=annotator)
        if errors is not None:
            errors.parent.mkdir(parents=True, exist_ok=True)
            with open(errors, "w", encoding="utf-8") as fh:
                for e in result.pop("errors"):
                    fh.write(json.dumps(e, ensure_ascii=False) + "\n")
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            render_evaluation(result)
        return
    if file is not None:
        note = file.read_text(encoding="utf-8")
    elif text is not None:
        note = text
    else:
        raise InputError("give a note text, --file PATH, or --evaluate")
    nlp = load_nlp(pipeline)
    mentions = doc_mentions(nlp(note))
    if as_json:
        typer.echo(json.dumps([asdict(m) for m in mentions], indent=2, ensure_ascii=False))
    else:
        render_mentions(mentions)


def register(app: typer.Typer) -> None:
    app.command("extract")(extract)
