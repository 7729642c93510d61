"""Select the MTSamples notes for the hand-annotated extraction gold set (issue 3).

Draws notes of 400-2,000 characters (short enough to annotate completely) from clinical specialties,
round-robin over specialties with a fixed seed, and writes corpora/gold/selection.csv.
Usage: python scripts/select_gold_notes.py [--n 60] [--notes ../shared/data/mtsamples/notes.csv]
"""

import argparse
import csv
import random
from collections import defaultdict
from pathlib import Path

# Specialties whose notes rarely state a patient diagnosis (templates, letters, diets) are left out.
SKIP = {"Letters", "Diets and Nutritions", "Speech - Language", "Lab Medicine - Pathology", "Autopsy",
        "IME-QME-Work Comp etc.", "Dentistry", "Cosmetic / Plastic Surgery", "Office Notes"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--notes", default=str(Path(__file__).resolve().parents[1].parent / "shared/data/mtsamples/notes.csv"))
    ap.add_argument("--out", default="corpora/gold/selection.csv")
    args = ap.parse_args()
    by_spec: dict[str, list[dict]] = defaultdict(list)
    with open(args.notes, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["specialty"].strip() in SKIP or not (400 <= len(row["text"]) <= 2000):
                continue
            by_spec[row["specialty"].strip()].append(row)
    rng = random.Random(args.seed)
    for rows in by_spec.values():
        rng.shuffle(rows)
    specs = sorted(by_spec)
    rng.shuffle(specs)
    chosen: list[dict] = []
    while len(chosen) < args.n:
        for s in specs:
            if by_spec[s] and len(chosen) < args.n:
                chosen.append(by_spec[s].pop())
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["note_id", "specialty", "chars", "part"])
        for i, r in enumerate(chosen):
            w.writerow([r["note_id"], r["specialty"].strip(), len(r["text"]), "a" if i % 2 == 0 else "b"])
    print(f"{len(chosen)} notes from {len({r['specialty'] for r in chosen})} specialties -> {args.out}")


if __name__ == "__main__":
    main()
