"""``nec-nlp train``: train a specificity model from the corpora and write a new versioned model folder."""

import re
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from nec_nlp.errors import InputError

DEFAULT_CORPUS = Path("corpora/specificity")
DEFAULT_STATEMENTS = Path("corpora/statements/statements.jsonl")


def next_version_name(models: Path, prefix: str = "specificity") -> str:
    """The first free ``<prefix>-vN`` folder name under ``models``."""
    taken = [int(m.group(1)) for p in models.glob(f"{prefix}-v*") if (m := re.fullmatch(rf"{prefix}-v(\d+)", p.name))]
    return f"{prefix}-v{max(taken, default=0) + 1}"


def train_and_save(corpus: Path, out: Path, *, statements: Path | None = None, seed: int = 0,
                   sample: int | None = None, code_set_release: str = "2026-04", use_pipeline: bool = True,
                   plots: bool = False, recommender: bool = True) -> tuple[Any, dict[str, Any]]:
    """Train on ``corpus`` (+ the statements' dev split), evaluate (dev, test, statements, with baselines), save.

    Returns:
        ``(model, metrics)``; the metrics are also in the model card.
    """
    from nec_nlp.classifier import default_nlp, evaluate, train
    from nec_nlp.icd10cm import load_code_set
    from nec_nlp.persistence import save_model

    code_set = load_code_set(code_set_release)
    nlp = default_nlp() if use_pipeline else None
    nlp_arg: Any = nlp if nlp is not None else False
    use_statements = statements if statements is not None and statements.is_file() else None
    model = train(corpus, code_set=code_set, seed=seed, sample=sample, nlp=nlp_arg, statements=use_statements,
                  recommender=recommender)
    metrics: dict[str, Any] = {}
    for split in ("dev", "test"):
        records: Any = corpus
        if sample is not None:
            from nec_nlp.classifier import load_corpus, sample_records

            records = sample_records(load_corpus(corpus, split), sample, seed)
        metrics[split] = evaluate(model, records, split=split, nlp=nlp_arg, code_set=code_set,
                                  plots_dir=(out / "plots" / split) if plots else None)
    if statements is not None and statements.is_file():
        metrics.update(evaluate_statements(model, statements, nlp=nlp_arg, code_set=code_set))
    for m in metrics.values():
        m.pop("plots", None)
    model.card["metrics"] = metrics
    save_model(model, out)
    return model, metrics


def evaluate_statements(model: Any, statements: Path, *, nlp: Any, code_set: Any = None) -> dict[str, Any]:
    """Metrics on the statements' dev and test splits, and on the test statements copied from real notes."""
    from nec_nlp.classifier import evaluate, load_corpus

    out: dict[str, Any] = {}
    records = load_corpus(statements)
    for split in ("dev", "test"):
        chosen = [r for r in records if r.get("split", split) == split]
        if chosen:
            out[f"statements_{split}"] = evaluate(model, chosen, nlp=nlp, code_set=code_set)
    real = [r for r in records if r.get("split") == "test" and str(r.get("source", "")).startswith("mtsamples")]
    if real:
        out["statements_test_real_notes"] = evaluate(model, real, nlp=nlp, code_set=code_set)
    return out


def render_metrics(metrics: dict[str, Any]) -> None:
    """Print a metrics table (model beside the majority and keyword baselines)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Specificity model evaluation")
    for col in ("data", "n", "F1", "acc", "ECE", "majority F1/acc", "keyword F1/acc"):
        table.add_column(col, no_wrap=True)
    for name, m in metrics.items():
        b = m["baselines"]
        table.add_row(name, str(m["n"]), f"{m['macro_f1']:.3f}", f"{m['accuracy']:.3f}", f"{m['ece']:.3f}",
                      f"{b['majority']['macro_f1']:.3f}/{b['majority']['accuracy']:.3f}",
                      f"{b['keyword']['macro_f1']:.3f}/{b['keyword']['accuracy']:.3f}")
    console = Console()
    Console(width=max(console.width, 120)).print(table)


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_command(
        corpus: Annotated[Path, typer.Argument(help="Corpus folder with train/dev/test.jsonl.gz.")] = DEFAULT_CORPUS,
        out: Annotated[Optional[Path], typer.Option("--out", help="Write the model folder here.")] = None,
        name: Annotated[Optional[str], typer.Option(
            "--name", help="Folder name under models/ (default: the next free specificity-vN).")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing model folder.")] = False,
        set_default: Annotated[bool, typer.Option("--set-default", help="Point models/DEFAULT at the new model.")
                               ] = False,
        statements: Annotated[Path, typer.Option(
            help="Hand-labelled statements: the dev split is added to training, dev and test are evaluated.")
                              ] = DEFAULT_STATEMENTS,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        sample: Annotated[Optional[int], typer.Option(help="Train/evaluate on this many records per split.")] = None,
        code_set: Annotated[str, typer.Option("--code-set", help="ICD-10-CM release.")] = "2026-04",
        no_pipeline: Annotated[bool, typer.Option(
            "--no-pipeline", help="Use the corpus spans as mentions instead of running the extraction pipeline.")
                               ] = False,
        plots: Annotated[bool, typer.Option(help="Also write evaluation plots into the model folder.")] = False,
        no_recommender: Annotated[bool, typer.Option(
            "--no-recommender", help="Do not stack on the code recommender (text and code-set features only).")
                                  ] = False,
    ) -> None:
        """Train the specificity classifier and write a versioned model folder (model, card JSON + Markdown)."""
        from nec_nlp.persistence import models_dir

        if not corpus.is_dir():
            raise InputError(f"corpus folder {corpus} not found: run `python scripts/build_corpora.py` first.")
        if out is None:
            root = models_dir()
            out = root / (name or next_version_name(root))
        if (out / "model.joblib").exists() and not overwrite:
            raise InputError(f"{out} already holds a model: pass --overwrite or another --name/--out.")
        model, metrics = train_and_save(corpus, out, statements=statements, seed=seed, sample=sample,
                                        code_set_release=code_set, use_pipeline=not no_pipeline, plots=plots,
                                        recommender=not no_recommender)
        render_metrics(metrics)
        if set_default:
            from nec_nlp.persistence import models_dir as _md

            (_md() / "DEFAULT").write_text(out.name + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}")
