"""Score a Spark DataFrame of notes with the same results as the local batch (``pip install nec-nlp[spark]``).

Scoring runs in ``mapInPandas``: each executor Python process builds one scorer on first use (by the same
picklable factory as the local batch) and keeps it for every later partition; the spaCy pipeline is never
pickled. Validation is the local batch's (empty text, size limit, binary content, missing id, duplicate id).
The duplicate-id check needs a global view: a window over the id (one shuffle) marks every row after the first
of its id, "first" meaning the DataFrame's order (``monotonically_increasing_id``); pass
``check_duplicates=False`` to skip the shuffle when the ids are known to be unique.

Output: the input columns except the text, then ``error``, ``error_message``, ``code_set``, ``codes``
(array of the note's codes, as ``score --json``) and ``result`` (the ``score --json`` object as a JSON string).
"""

import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from nec_nlp.batch import _score_texts, default_factory, error_message, validate_fields

_SCORERS: dict[str, Any] = {}  # one scorer per executor Python process, per configuration

RESULT_FIELDS = (("error", "string"), ("error_message", "string"), ("code_set", "string"),
                 ("codes", "array<string>"), ("result", "string"))


def _scorer(factory: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    key = f"{factory.__module__}.{factory.__qualname__}:{json.dumps(kwargs, sort_keys=True, default=str)}"
    if key not in _SCORERS:
        _SCORERS[key] = factory(**kwargs)
    return _SCORERS[key]


_DUP_COL = "__nec_nlp_first_row_of_id"


def _score_partition(batches: Iterator[Any], *, factory: Callable[..., Any], kwargs: dict[str, Any],
                     id_col: str, text_col: str, max_chars: int, chunk_size: int) -> Iterator[Any]:
    import pandas as pd

    for pdf in batches:
        firsts = pdf[_DUP_COL].tolist() if _DUP_COL in pdf.columns else [True] * len(pdf)
        records = [_check_duplicate(validate_fields({id_col: i, text_col: t}, id_col=id_col, text_col=text_col,
                                                    max_chars=max_chars), first)
                   for i, t, first in zip(pdf[id_col].tolist(), pdf[text_col].tolist(), firsts)]
        todo = [k for k, r in enumerate(records) if r.error is None]
        results: dict[int, tuple[dict[str, Any] | None, str | None]] = {}
        if todo:
            scorer = _scorer(factory, kwargs)
            for start in range(0, len(todo), chunk_size):
                idx = todo[start:start + chunk_size]
                for k, res in zip(idx, _score_texts(scorer, [records[k].text for k in idx])):  # type: ignore[misc]
                    results[k] = res
        errors, messages, code_sets, codes, blobs = [], [], [], [], []
        for k, rec in enumerate(records):
            result, err = results.get(k, (None, None))
            reason, message = rec.error, rec.message
            if err is not None:
                reason, message = "scoring_failed", error_message(0, rec.note_id, "scoring_failed", err)
            errors.append(reason)
            messages.append(message)
            code_sets.append(result["code_set"] if result else None)
            codes.append(list(result["codes"]) if result else [])
            blobs.append(json.dumps(result, ensure_ascii=False) if result else None)
        out = pdf.drop(columns=[c for c in (text_col, _DUP_COL) if c in pdf.columns]).copy()
        out["error"] = pd.Series(errors, index=pdf.index, dtype=object)
        out["error_message"] = pd.Series(messages, index=pdf.index, dtype=object)
        out["code_set"] = pd.Series(code_sets, index=pdf.index, dtype=object)
        out["codes"] = pd.Series(codes, index=pdf.index, dtype=object)
        out["result"] = pd.Series(blobs, index=pdf.index, dtype=object)
        yield out


def _check_duplicate(rec: Any, first: bool) -> Any:
    """A valid record (or an empty one: the local reader checks ids before emptiness) whose id was already seen."""
    from dataclasses import replace

    if first or rec.note_id is None or rec.error not in (None, "empty_text"):
        return rec
    return replace(rec, text=None, error="duplicate_id",
                   message=error_message(0, rec.note_id, "duplicate_id", "an earlier row has this id"))


def score(
    df: Any,
    *,
    text_col: str = "text",
    id_col: str = "note_id",
    code_set: str | None = None,
    model: str | None = None,
    max_chars: int = 1_000_000,
    chunk_size: int = 64,
    scorer_factory: Callable[..., Any] | None = None,
    scorer_kwargs: dict[str, Any] | None = None,
    check_duplicates: bool = True,
) -> Any:
    """Score the notes of a Spark DataFrame; one output row per input row.

    Args:
        df: a ``pyspark.sql.DataFrame`` with the id and text columns.
        text_col: the note text column (dropped from the output).
        id_col: the id column.
        code_set: ICD-10-CM release for the scorer.
        model: model name or path for the scorer.
        max_chars: longer texts get ``error = "text_too_long"``.
        chunk_size: notes scored per ``score_many`` call.
        scorer_factory: picklable module-level scorer factory (default ``nec_nlp.api.load``).
        scorer_kwargs: its keyword arguments (default ``model``/``code_set``).
        check_duplicates: mark rows whose id an earlier row has with ``error = "duplicate_id"`` (one shuffle);
            the first row of each id is scored, as in the local batch.

    Returns:
        A lazy DataFrame: the input columns except ``text_col``, plus ``error``, ``error_message``,
        ``code_set``, ``codes`` and ``result`` (the ``score --json`` object as JSON).

    Raises:
        InputError: the id or text column is missing.
    """
    from nec_nlp.errors import InputError

    missing = [c for c in (id_col, text_col) if c not in df.columns]
    if missing:
        raise InputError(f"column(s) {', '.join(missing)} not in the DataFrame ({', '.join(df.columns)})")
    kept = [f"`{f.name}` {f.dataType.simpleString()}" for f in df.schema.fields if f.name != text_col]
    schema = ", ".join([*kept, *(f"`{n}` {t}" for n, t in RESULT_FIELDS)])
    if check_duplicates:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        key = F.trim(F.col(f"`{id_col}`").cast("string"))
        order = "__nec_nlp_order"
        # the window's shuffle may be coalesced by adaptive query execution into one partition (a small export
        # then runs on one core): spread the rows again over the input's partitions, at least one per core
        parts = max(df.rdd.getNumPartitions(), df.sparkSession.sparkContext.defaultParallelism)
        df = (df.withColumn(order, F.monotonically_increasing_id())
              .withColumn(_DUP_COL, F.row_number().over(Window.partitionBy(key).orderBy(order)) == 1)
              .drop(order)
              .repartition(parts))
    func = partial(
        _score_partition,
        factory=scorer_factory or default_factory,
        kwargs=dict(scorer_kwargs) if scorer_kwargs is not None else {"model": model, "code_set": code_set},
        id_col=id_col, text_col=text_col, max_chars=max_chars, chunk_size=chunk_size,
    )
    return df.mapInPandas(func, schema=schema)


def local_session(app_name: str = "nec_nlp", master: str = "local[2]") -> Any:
    """A local Spark session whose Python workers run this interpreter (tests, benchmarks, notebooks)."""
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (SparkSession.builder.master(master).appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate())
