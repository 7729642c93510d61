"""Turn the annotators' raw files (corpora/gold/raw/*.jsonl) into the extraction gold set with offsets.

Raw line: {"note_id": "mts-1959", "spans": [{"label": "CONDITION", "text": "cystitis", "occurrence": 0,
           "assertion": {"negated": false, ...}}, ...]}
``occurrence`` is the 0-based index of that exact (case-sensitive) string among its occurrences in the note.
Output: corpora/gold/extraction_gold.jsonl, one note a line with its text and spans with start/end offsets.
Fails loudly (naming note and span, never note text) when a span cannot be placed.
Usage: python scripts/build_gold.py [--notes ../shared/data/mtsamples/notes.csv]
"""

import argparse
import csv
import json
import sys
from pathlib import Path

LABELS = {"CONDITION", "SITE", "TYPE", "CAUSE", "DRUG"}
ASSERTIONS = ("negated", "historical", "hypothetical", "family", "uncertain")


def place(text: str, snippet: str, occurrence: int) -> int:
    start = -1
    for _ in range(occurrence + 1):
        start = text.find(snippet, start + 1)
        if start < 0:
            return -1
    return start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", default=str(Path(__file__).resolve().parents[1].parent / "shared/data/mtsamples/notes.csv"))
    ap.add_argument("--raw", default="corpora/gold/raw")
    ap.add_argument("--out", default="corpora/gold/extraction_gold.jsonl")
    args = ap.parse_args()
    with open(args.notes, newline="", encoding="utf-8") as fh:
        notes = {r["note_id"]: r for r in csv.DictReader(fh)}
    problems, docs = [], []
    for raw in sorted(Path(args.raw).glob("*.jsonl")):
        for lineno, line in enumerate(raw.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            note = notes[rec["note_id"]]
            text = note["text"]
            spans = []
            for i, sp in enumerate(rec["spans"]):
                if sp["label"] not in LABELS:
                    problems.append(f"{raw.name}:{lineno} span {i}: unknown label {sp['label']!r}")
                    continue
                start = place(text, sp["text"], int(sp.get("occurrence", 0)))
                if start < 0:
                    problems.append(f"{raw.name}:{lineno} {rec['note_id']} span {i} ({sp['label']}): not found")
                    continue
                out = {"start": start, "end": start + len(sp["text"]), "label": sp["label"], "text": sp["text"]}
                if sp["label"] == "CONDITION":
                    a = sp.get("assertion", {})
                    out["assertion"] = {k: bool(a.get(k, False)) for k in ASSERTIONS}
                    for attr in ("laterality", "encounter"):
                        if sp.get(attr):
                            out[attr] = sp[attr]
                spans.append(out)
            spans.sort(key=lambda s: (s["start"], s["end"]))
            docs.append({"note_id": rec["note_id"], "specialty": note["specialty"].strip(), "text": text,
                         "spans": spans, "annotator": raw.stem})
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    docs.sort(key=lambda d: d["note_id"])
    with open(args.out, "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    n_spans = sum(len(d["spans"]) for d in docs)
    print(f"{len(docs)} notes, {n_spans} spans -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
