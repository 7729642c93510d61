"""Inter-annotator agreement for the extraction gold set (double-annotated subset).

Annotator ``c`` blindly re-annotated 12 notes (the first 6 of part ``a`` and the first 6 of part ``b`` in
corpora/gold/selection.csv) into corpora/gold/raw_iaa/c.jsonl. This script places both annotations with
``build_gold.place`` (the original annotations are read from the untouched raw files corpora/gold/raw/a.jsonl and
b.jsonl, not from the built gold file) and prints, per label:

* pairwise F1, lenient (same label, overlapping character ranges; GUIDELINE section 5) and strict (same label, same
  start and end). Lenient: P = share of c spans overlapping an original span, R = share of original spans overlapping
  a c span, F1 = 2PR/(P+R). Strict: F1 = 2|exact matches| / (|c| + |original|). F1 is symmetric in which annotator
  is taken as reference.
* assertion (and laterality) agreement on CONDITION pairs matched leniently and one-to-one (greedy: exact boundaries
  first, then largest overlap), with observed agreement and Cohen's kappa (undefined, shown as "n/a", when both
  annotators use a single identical value on all pairs, i.e. expected agreement = 1).

Usage: python scripts/gold_agreement.py [--notes ../shared/data/mtsamples/notes.csv] [--by-part]
"""

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_gold import ASSERTIONS, LABELS, place  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LABEL_ORDER = ["CONDITION", "SITE", "TYPE", "CAUSE", "DRUG"]
assert set(LABEL_ORDER) == LABELS


def load_raw(path: Path, texts: dict) -> dict:
    """note_id -> list of spans with offsets (fails loudly on an unplaceable span)."""
    docs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        text = texts[rec["note_id"]]
        spans = []
        for i, sp in enumerate(rec["spans"]):
            start = place(text, sp["text"], int(sp.get("occurrence", 0)))
            if start < 0:
                raise SystemExit(f"{path.name} {rec['note_id']} span {i} ({sp['label']}): not found")
            out = {"start": start, "end": start + len(sp["text"]), "label": sp["label"], "text": sp["text"]}
            if sp["label"] == "CONDITION":
                a = sp.get("assertion", {})
                out["assertion"] = {k: bool(a.get(k, False)) for k in ASSERTIONS}
                out["laterality"] = sp.get("laterality") or None
            spans.append(out)
        docs[rec["note_id"]] = spans
    return docs


def overlaps(x: dict, y: dict) -> bool:
    return x["start"] < y["end"] and y["start"] < x["end"]


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def span_scores(pairs: list, label: str) -> dict:
    """pairs: list of (c_spans, o_spans) per note."""
    n_c = n_o = c_hit = o_hit = exact = 0
    for cs, os_ in pairs:
        cs = [s for s in cs if s["label"] == label]
        os_ = [s for s in os_ if s["label"] == label]
        n_c += len(cs)
        n_o += len(os_)
        c_hit += sum(any(overlaps(c, o) for o in os_) for c in cs)
        o_hit += sum(any(overlaps(o, c) for c in cs) for o in os_)
        exact += len({(s["start"], s["end"]) for s in cs} & {(s["start"], s["end"]) for s in os_})
    p = c_hit / n_c if n_c else 0.0
    r = o_hit / n_o if n_o else 0.0
    strict = 2 * exact / (n_c + n_o) if n_c + n_o else 0.0
    return {"n_c": n_c, "n_o": n_o, "c_hit": c_hit, "o_hit": o_hit, "exact": exact,
            "lenient": f1(p, r), "strict": strict}


def match_conditions(cs: list, os_: list) -> list:
    """One-to-one greedy matching of overlapping CONDITION spans (exact first, then largest overlap)."""
    cand = []
    for i, c in enumerate(cs):
        for j, o in enumerate(os_):
            if overlaps(c, o):
                ov = min(c["end"], o["end"]) - max(c["start"], o["start"])
                exact = c["start"] == o["start"] and c["end"] == o["end"]
                cand.append((not exact, -ov, c["start"], i, j))
    cand.sort()
    used_c, used_o, out = set(), set(), []
    for _, _, _, i, j in cand:
        if i in used_c or j in used_o:
            continue
        used_c.add(i)
        used_o.add(j)
        out.append((cs[i], os_[j]))
    return out


def cohen_kappa(xs: list, ys: list):
    n = len(xs)
    if not n:
        return None, None
    po = sum(x == y for x, y in zip(xs, ys)) / n
    cx, cy = Counter(xs), Counter(ys)
    pe = sum(cx[k] * cy[k] for k in set(cx) | set(cy)) / (n * n)
    if pe >= 1.0:
        return po, None
    return po, (po - pe) / (1 - pe)


def report(title: str, pairs: list) -> None:
    print(f"== {title}: {len(pairs)} notes ==")
    print(f"{'label':<10} {'n_c':>4} {'n_orig':>6} {'lenP':>6} {'lenR':>6} {'F1_len':>7} {'exact':>6} {'F1_strict':>9}")
    tot = Counter()
    for label in LABEL_ORDER:
        s = span_scores(pairs, label)
        p = s["c_hit"] / s["n_c"] if s["n_c"] else 0.0
        r = s["o_hit"] / s["n_o"] if s["n_o"] else 0.0
        print(f"{label:<10} {s['n_c']:>4} {s['n_o']:>6} {p:>6.2f} {r:>6.2f} {s['lenient']:>7.2f} {s['exact']:>6} "
              f"{s['strict']:>9.2f}")
        for k in ("n_c", "n_o", "c_hit", "o_hit", "exact"):
            tot[k] += s[k]
    p = tot["c_hit"] / tot["n_c"] if tot["n_c"] else 0.0
    r = tot["o_hit"] / tot["n_o"] if tot["n_o"] else 0.0
    strict = 2 * tot["exact"] / (tot["n_c"] + tot["n_o"]) if tot["n_c"] + tot["n_o"] else 0.0
    print(f"{'ALL':<10} {tot['n_c']:>4} {tot['n_o']:>6} {p:>6.2f} {r:>6.2f} {f1(p, r):>7.2f} {tot['exact']:>6} "
          f"{strict:>9.2f}")
    matched = [m for cs, os_ in pairs for m in match_conditions(
        [s for s in cs if s["label"] == "CONDITION"], [s for s in os_ if s["label"] == "CONDITION"])]
    print(f"-- CONDITION attributes on {len(matched)} one-to-one lenient matches --")
    print(f"{'attribute':<12} {'agree':>6} {'obs_agr':>8} {'pos_c':>6} {'pos_orig':>8} {'kappa':>6}")
    for flag in ASSERTIONS:
        xs = [c["assertion"][flag] for c, _ in matched]
        ys = [o["assertion"][flag] for _, o in matched]
        po, k = cohen_kappa(xs, ys)
        agree = sum(x == y for x, y in zip(xs, ys))
        ks = "n/a" if k is None else f"{k:.2f}"
        print(f"{flag:<12} {agree:>3}/{len(xs):<3} {po or 0:>7.2f} {sum(xs):>6} {sum(ys):>8} {ks:>6}")
    xs = [c.get("laterality") or "none" for c, _ in matched]
    ys = [o.get("laterality") or "none" for _, o in matched]
    po, k = cohen_kappa(xs, ys)
    ks = "n/a" if k is None else f"{k:.2f}"
    print(f"{'laterality':<12} {sum(x == y for x, y in zip(xs, ys)):>3}/{len(xs):<3} {po or 0:>7.2f} "
          f"{sum(x != 'none' for x in xs):>6} {sum(y != 'none' for y in ys):>8} {ks:>6}")
    allx = [tuple(c["assertion"][f] for f in ASSERTIONS) for c, _ in matched]
    ally = [tuple(o["assertion"][f] for f in ASSERTIONS) for _, o in matched]
    n_all = sum(x == y for x, y in zip(allx, ally))
    print(f"all 5 flags identical: {n_all}/{len(matched)}")
    print()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", default=str(ROOT.parent / "shared/data/mtsamples/notes.csv"))
    ap.add_argument("--iaa", default=str(ROOT / "corpora/gold/raw_iaa/c.jsonl"))
    ap.add_argument("--raw", default=str(ROOT / "corpora/gold/raw"))
    ap.add_argument("--by-part", action="store_true", help="also report c vs a and c vs b separately")
    ap.add_argument("--list", action="store_true", help="list unmatched spans per note (for error analysis)")
    args = ap.parse_args()
    with open(args.notes, newline="", encoding="utf-8") as fh:
        texts = {r["note_id"]: r["text"] for r in csv.DictReader(fh)}
    c = load_raw(Path(args.iaa), texts)
    orig, owner = {}, {}
    for raw in sorted(Path(args.raw).glob("*.jsonl")):
        for nid, spans in load_raw(raw, texts).items():
            orig[nid] = spans
            owner[nid] = raw.stem
    missing = [n for n in c if n not in orig]
    if missing:
        raise SystemExit(f"notes in {args.iaa} without an original annotation: {missing}")
    ids = list(c)
    print(f"c ({Path(args.iaa).name}) vs original annotators on {len(ids)} notes: "
          + ", ".join(f"{p}={sum(owner[n] == p for n in ids)}" for p in sorted(set(owner[n] for n in ids))))
    print()
    report("c vs original (a+b)", [(c[n], orig[n]) for n in ids])
    if args.by_part:
        for part in sorted(set(owner[n] for n in ids)):
            report(f"c vs {part}", [(c[n], orig[n]) for n in ids if owner[n] == part])
    if args.list:
        for n in ids:
            only_c = [(s["label"], s["text"]) for s in c[n]
                      if not any(o["label"] == s["label"] and overlaps(s, o) for o in orig[n])]
            only_o = [(s["label"], s["text"]) for s in orig[n]
                      if not any(x["label"] == s["label"] and overlaps(s, x) for x in c[n])]
            print(f"## {n} ({owner[n]}) only c: {only_c}")
            print(f"## {n} ({owner[n]}) only {owner[n]}: {only_o}")
            for cs, os_ in match_conditions([s for s in c[n] if s["label"] == "CONDITION"],
                                            [s for s in orig[n] if s["label"] == "CONDITION"]):
                if (cs["start"], cs["end"]) != (os_["start"], os_["end"]):
                    print(f"   boundary: c {cs['text']!r} vs {os_['text']!r}")
                diff = [f for f in ASSERTIONS if cs["assertion"][f] != os_["assertion"][f]]
                if diff or cs.get("laterality") != os_.get("laterality"):
                    print(f"   attrs {cs['text']!r}: c={[f for f in ASSERTIONS if cs['assertion'][f]]},"
                          f"{cs.get('laterality')} vs {[f for f in ASSERTIONS if os_['assertion'][f]]},"
                          f"{os_.get('laterality')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
