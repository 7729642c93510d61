"""Build the shipped sample export corpora/sample/notes_sample.csv (the README's first command scores it).

Takes 50 real MTSamples notes (CC0) from 10 clinical specialties, 5 each, 600-3,000 characters, leaving out
the notes of the extraction gold set so the sample never doubles as test data. Deterministic: notes are taken
in note_id order. Columns: note_id, specialty, text.
Usage: python scripts/make_sample.py [--notes ../shared/data/mtsamples/notes.csv] [--out corpora/sample/notes_sample.csv]
"""

import argparse
import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECIALTIES = (
    "Cardiovascular / Pulmonary", "Orthopedic", "Gastroenterology", "Neurology", "Urology",
    "Obstetrics / Gynecology", "Nephrology", "Hematology - Oncology", "Emergency Room Reports",
    "Discharge Summary",
)
PER_SPECIALTY = 5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", default=str(ROOT.parent / "shared" / "data" / "mtsamples" / "notes.csv"))
    ap.add_argument("--out", default=str(ROOT / "corpora" / "sample" / "notes_sample.csv"))
    args = ap.parse_args()
    gold_file = ROOT / "corpora" / "gold" / "selection.csv"
    gold = set()
    if gold_file.exists():
        with open(gold_file, newline="", encoding="utf-8") as fh:
            gold = {r["note_id"] for r in csv.DictReader(fh)}
    picked: dict[str, list[dict[str, str]]] = {s: [] for s in SPECIALTIES}
    with open(args.notes, newline="", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["note_id"])
    for r in rows:
        spec = r["specialty"].strip()
        if spec in picked and len(picked[spec]) < PER_SPECIALTY and r["note_id"] not in gold \
                and 600 <= len(r["text"] or "") <= 3000:
            picked[spec].append(r)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    chosen = sorted((r for rs in picked.values() for r in rs), key=lambda r: r["note_id"])
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["note_id", "specialty", "text"])
        for r in chosen:
            w.writerow([r["note_id"], r["specialty"].strip(), r["text"]])
    print(f"{len(chosen)} notes from {len([s for s in picked if picked[s]])} specialties -> {out}")


if __name__ == "__main__":
    main()
