"""``nec-nlp evaluate``: score a model on a corpus split and the hand-labelled statements, beside baselines."""

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from nec_nlp.errors import InputError

DEFAULT_CORPUS = Path("corpora/specificity")
DEFAULT_STATEMENTS = Path("corpora/statements/statements.jsonl")


def evaluate_model(model_path: Path | None, corpus: Path | None, *, split: str = "test",
                   statements: Path | None = None, plots_dir: Path | None = None, sample: int | None = None,
                   use_pipeline: bool = True) -> dict[str, Any]:
    """Metrics of a saved model (None: the shipped default) on ``corpus``'s split and on the statements."""
    from nec_nlp.classifier import default_nlp, evaluate, load_corpus, sample_records
    from nec_nlp.persistence import load_model

    model = load_model(model_path)
    nlp = (default_nlp() if use_pipeline else None) or False
    out: dict[str, Any] = {}
    if corpus is not None:
        records = sample_records(load_corpus(corpus, split), sample, 0)
        out[split] = evaluate(model, records, split=split, nlp=nlp, plots_dir=plots_dir)
    if statements is not None and statements.is_file():
        from nec_nlp.cli.train_cmd import evaluate_statements

        out.update(evaluate_statements(model, statements, nlp=nlp))
    if not out:
        raise InputError("nothing to evaluate: give a corpus folder or a statements file.")
    return out


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_command(
        model: Annotated[Optional[Path], typer.Argument(help="Model folder (default: the shipped model).")] = None,
        corpus: Annotated[Path, typer.Option(help="Corpus folder with train/dev/test.jsonl.gz.")] = DEFAULT_CORPUS,
        split: Annotated[str, typer.Option(help="Corpus split to score.")] = "test",
        statements: Annotated[Path, typer.Option(help="Hand-labelled statements (dev and test splits).")
                              ] = DEFAULT_STATEMENTS,
        plots: Annotated[Optional[Path], typer.Option(help="Write plots (confusion, calibration, PR, chapters).")
                         ] = None,
        sample: Annotated[Optional[int], typer.Option(help="Score this many corpus records.")] = None,
        no_pipeline: Annotated[bool, typer.Option("--no-pipeline", help="Use corpus spans as mentions.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    ) -> None:
        """Evaluate a specificity model (macro-F1, accuracy, ECE, Brier) beside majority and keyword baselines."""
        from nec_nlp.cli.train_cmd import render_metrics

        if split not in ("train", "dev", "test"):
            raise InputError("--split must be train, dev or test.")
        metrics = evaluate_model(model, corpus if corpus.is_dir() else None, split=split, statements=statements,
                                 plots_dir=plots, sample=sample, use_pipeline=not no_pipeline)
        if as_json:
            typer.echo(json.dumps(metrics, indent=2))
        else:
            render_metrics(metrics)
