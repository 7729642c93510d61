"""``nec-nlp batch INPUT OUTPUT``: score a whole note export (CSV, JSONL or Parquet)."""

from importlib import import_module
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from nec_nlp.errors import InputError


def _factory(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    if not module or not name:
        raise InputError(f"--scorer-factory must look like 'package.module:function', not {spec!r}")
    try:
        return getattr(import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot import the scorer factory {spec!r}: {exc}") from None


def render_summary(summary: Any) -> None:
    """Print a batch summary as a small table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="nec-nlp batch summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("input", summary.input)
    table.add_row("output", summary.output)
    table.add_row("rows in", f"{summary.rows_in:,}")
    table.add_row("scored", f"{summary.scored:,}")
    table.add_row("errors", f"{summary.n_errors:,}")
    for reason, n in sorted(summary.errors.items()):
        table.add_row(f"  {reason}", f"{n:,}")
    if summary.resumed:
        table.add_row("resumed (already done)", f"{summary.resumed:,}")
    table.add_row("workers", str(summary.workers))
    table.add_row("time", f"{summary.seconds:.1f} s ({summary.notes_per_s:.1f} notes/s)")
    Console(soft_wrap=True).print(table)


def batch(
    input: Annotated[Path, typer.Argument(help="Note export: .csv, .jsonl or .parquet.", exists=True,
                                          dir_okay=False, readable=True)],
    output: Annotated[Path, typer.Argument(help="Scored output: .jsonl, .csv or .parquet (folder is created).",
                                           dir_okay=False)],
    format: Annotated[Optional[str], typer.Option("--format", help="Input format (default: from extension).")] = None,
    out_format: Annotated[Optional[str], typer.Option("--out-format",
                                                      help="Output format (default: from extension).")] = None,
    id_col: Annotated[str, typer.Option("--id-col", help="Id column.")] = "note_id",
    text_col: Annotated[str, typer.Option("--text-col", help="Note text column.")] = "text",
    keep: Annotated[str, typer.Option("--keep", help="Pass-through columns, comma-separated.")] = "",
    workers: Annotated[Optional[int], typer.Option("--workers", min=1,
                                                   help="Scoring processes (default: all cores).")] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", min=1, help="Notes per worker task.")] = 16,
    max_chars: Annotated[int, typer.Option("--max-chars", min=1,
                                           help="Longer notes are reported, not scored.")] = 1_000_000,
    cache_size: Annotated[int, typer.Option("--cache-size", min=0, help="Results of repeated identical note texts "
                                            "kept per worker (0 = off; same output either way).")] = 256,
    recycle_after: Annotated[int, typer.Option("--recycle-after", min=0, help="Replace the worker processes after "
                                               "about this many notes each, so memory stays level (0 = off).")] = 1000,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run.")] = False,
    code_set: Annotated[Optional[str], typer.Option("--code-set", help="ICD-10-CM release.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Model name or path.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    scorer_factory: Annotated[Optional[str], typer.Option("--scorer-factory", hidden=True,
                                                          help="module:function building the scorer.")] = None,
) -> None:
    """Score every note of an export; every input row yields one output record (scored or with an error)."""
    from nec_nlp.batch import score_file

    summary = score_file(
        input, output, fmt=format, out_fmt=out_format, id_col=id_col, text_col=text_col,
        keep=tuple(k.strip() for k in keep.split(",") if k.strip()), workers=workers, chunk_size=chunk_size,
        max_chars=max_chars, resume=resume, cache_size=cache_size, recycle_after=recycle_after, code_set=code_set,
        model=model, progress=not quiet,
        scorer_factory=_factory(scorer_factory) if scorer_factory else None,
    )
    render_summary(summary)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
