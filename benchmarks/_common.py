"""Helpers shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``)."""

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NOTES = ROOT.parent / "shared" / "data" / "mtsamples" / "notes.csv"


def read_notes(path: Path, n: int) -> list[str]:
    """The texts of the first ``n`` notes of an MTSamples-style CSV (column ``text``)."""
    csv.field_size_limit(10**8)
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.append(row["text"])
            if len(out) >= n:
                break
    return out
