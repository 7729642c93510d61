"""Build the specificity corpora (corpora/specificity/) from the ICD-10-CM tabular and the Alphabetic Index.

Every example is one diagnosis phrase placed in a short, realistic note fragment:

* phrases come from the tabular titles and inclusion terms (April 2026 release, via ``nec_nlp.icd10cm``) and from the
  Alphabetic Index to Diseases (FY2025 CSV in ../shared/data/icd10cm/fy2025/), a main term joined with its sub-terms;
* the label is **specific** when the phrase leads to an exact or NEC ("other specified") code and **nos** when it
  leads to a NOS ("unspecified") code, or when the index/inclusion term itself says "NOS" (e.g. "Postoperative pain
  NOS" under G89.18); terms that say "NEC" are dropped (the wording alone does not decide), and so are the titles of
  NEC codes ("Other epilepsy": the detail is not in the title) and index codes that are not billable in the tabular;
* the "unspecified"/"NOS"/"NEC"/"not elsewhere classified" wording is removed from the phrase, so the label is not
  leaked; parenthesised nonessential words are kept, swapped in, or dropped at random;
* the phrase is placed in a section with a sentence template, sometimes abbreviated (L/R, w/, w/o, bilat), beside
  negated, historical, family or hypothetical distractor mentions drawn from the same split.

Splits are by 3-character category (md5 of the category: 80 % train, 10 % dev, 10 % test), so test categories are
unseen in training. Output: ``train.jsonl.gz``, ``dev.jsonl.gz``, ``test.jsonl.gz`` and ``manifest.json`` (sources,
checksums, counts). The datasheet (DATASHEET.md) describes them.

Usage: python scripts/build_corpora.py [--index ../shared/data/icd10cm/fy2025/ICD10CM_2025_Index.csv]
       [--out corpora/specificity] [--seed 13] [--per-category 14]
"""

import argparse
import csv
import gzip
import hashlib
import json
import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CODE_SET_RELEASE = "2026-04"
SPLITS = ("train", "dev", "test")
#: Chapter 20 (external causes, V00-Y99) describes how an injury happened, not a diagnosis: left out.
EXTERNAL_CAUSE = ("V", "W", "X", "Y")


# --------------------------------------------------------------------------------------------- code set access
@dataclass(frozen=True)
class CodeInfo:
    code: str
    title: str
    kind: str
    billable: bool
    chapter: str
    inclusion: tuple[str, ...]


def load_codes() -> tuple[dict[str, CodeInfo], str]:
    """All tabular codes with kind/chapter, from nec_nlp.icd10cm (falls back to simple_icd_10_cm if absent)."""
    try:
        from nec_nlp.icd10cm import load_code_set
    except ImportError:
        load_code_set = None
    if load_code_set is not None:
        try:
            cs = load_code_set(CODE_SET_RELEASE)
        except Exception as exc:  # data not built yet: same tabular, read through simple_icd_10_cm
            print(f"nec_nlp.icd10cm unavailable ({exc}); reading simple_icd_10_cm", file=sys.stderr)
            return _load_codes_simple(), "simple_icd_10_cm"
        out = {}
        for c in cs.codes():
            out[c.code] = CodeInfo(c.code, c.title, c.kind, bool(c.billable), str(c.chapter),
                                   tuple(getattr(c, "inclusion", ()) or ()))
        return out, "nec_nlp.icd10cm"
    return _load_codes_simple(), "simple_icd_10_cm"


def _fallback_kind(title: str) -> str:
    t = title.lower()
    if "unspecified" in t or re.search(r"\bnos\b", t):
        return "nos"
    if re.search(r"\bother\b|\bnec\b|not elsewhere classified", t):
        return "nec"
    return "exact"


def _load_codes_simple() -> dict[str, CodeInfo]:
    import simple_icd_10_cm as cm

    try:  # the project's kind rule, when the code-set module is importable but its data is not built
        from nec_nlp.icd10cm.kinds import classify
    except ImportError:
        classify = None
    out: dict[str, CodeInfo] = {}
    for code in cm.get_all_codes(with_dots=True):
        if cm.is_chapter_or_block(code):
            continue
        title = cm.get_description(code)
        inclusion = tuple(cm.get_inclusion_term(code))
        if len(code.replace(".", "")) == 7 and cm.get_parent(code) in out:  # 7th character: inherit the kind
            kind = out[cm.get_parent(code)].kind
        elif classify is not None:
            kind = classify(title, inclusion)[0]
        else:
            kind = _fallback_kind(title)
        out[code] = CodeInfo(code, title, kind, cm.is_leaf(code), cm.get_ancestors(code)[-1], inclusion)
    return out


# --------------------------------------------------------------------------------------------- phrase cleaning
_NOS_PREP = re.compile(
    r"\s+(?:of|in|at|on|to)\s+(?:an?\s+)?unspecified\s+(?:site|sites|part|parts|region|body region|location|"
    r"type|organism|cause|severity|stage|complexity|trimester|level|degree|side)\b", re.I)
_NOS_SEGMENT = re.compile(r",\s*unspecified(?:\s+[a-z-]+){0,3}(?=,|$)", re.I)
_NOS_WORD = re.compile(r"\bunspecified\b|\bnot otherwise specified\b|\bNOS\b|\bNEC\b|not elsewhere classified",
                       re.I)
_PARENS = re.compile(r"(\S+)((?:\s*\([^()]*\))+)")
_BRACKETS = re.compile(r"\s*\[[^\]]*\]")


def strip_nos(text: str) -> str:
    """Remove "unspecified"/"NOS"/"NEC" wording (and the phrases built on it) so the label is not leaked."""
    text = _NOS_PREP.sub("", text)
    text = _NOS_SEGMENT.sub("", text)
    text = _NOS_WORD.sub("", text)
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"\s+,", ",", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"\s{2,}", " ", text).strip(" ,;-")
    text = re.sub(r"\b(of|in|with|and|or|to|at|on)$", "", text).strip(" ,;-")
    return text


def resolve_parens(text: str, rng: random.Random) -> str:
    """Nonessential parenthesised words: keep the word, swap in one alternative, or drop the parentheses."""

    def pick(m: re.Match[str]) -> str:
        alts = [a.strip() for a in re.findall(r"\(([^()]*)\)", m.group(2)) if a.strip()]
        r = rng.random()
        if alts and r < 0.3:
            return rng.choice(alts)
        if alts and r < 0.45:
            return f"{rng.choice(alts)} {m.group(1)}"
        return m.group(1)

    text = _BRACKETS.sub("", text)
    return re.sub(r"\s{2,}", " ", _PARENS.sub(pick, text)).strip()


_PREP_START = re.compile(r"^(with|without|due to|of|in|from|following|after|during|by|on|at|to|complicating|"
                         r"secondary|associated|involving|affecting|causing|as|and|or|not|for|resulting|"
                         r"induced|related)\b", re.I)


def index_phrase(path: list[str]) -> str:
    """Natural phrase from an index path: adjective sub-terms go in front, prepositional ones after."""
    head = re.sub(r"\(s\)|\(es\)", "", path[0].split(",")[0]).strip()
    front: list[str] = []
    back: list[str] = []
    for sub in path[1:]:
        sub = re.sub(r"\s*-\s*see.*$", "", sub).strip()
        if not sub:
            continue
        if _PREP_START.match(sub) or "," in sub:
            back.append(sub)
        else:
            front.insert(0, sub)
    return " ".join([*front, head.lower() if front else head, *back]).strip()


# --------------------------------------------------------------------------------------------- note contexts
SECTIONS_CURRENT = ("ASSESSMENT:", "ASSESSMENT AND PLAN:", "IMPRESSION:", "DIAGNOSES:", "DISCHARGE DIAGNOSES:",
                    "POSTOPERATIVE DIAGNOSIS:", "HISTORY OF PRESENT ILLNESS:", "CHIEF COMPLAINT:", "PROBLEM LIST:",
                    "A/P:", "Dx:")
TARGET_TEMPLATES = ("{T}.", "1. {T}.", "{T}, stable; continue current management.", "The patient presents with {t}.",
                    "Findings are consistent with {t}.", "Diagnosed with {t} today.",
                    "Patient is a {age}-year-old {sex} with {t}.", "Admitted for {t}.", "2. {T} - follow up in clinic.",
                    "Seen today for {t}.", "{T}, new problem.", "Currently being treated for {t}.")
DISTRACTOR_TEMPLATES = ("No evidence of {d}.", "Denies {d}.", "History of {d}, resolved.", "Family history of {d}.",
                        "Negative for {d}.", "Rule out {d}.", "h/o {d}.", "Mother had {d}.", "No {d}.",
                        "Past medical history of {d}.")
ABBREV = ((r"\bright\b", "R"), (r"\bleft\b", "L"), (r"\bbilateral\b", "bilat"), (r"\bwithout\b", "w/o"),
          (r"\bwith\b", "w/"), (r"\bhistory of\b", "h/o"))


#: Modifiers notes add freely. Put in front of a phrase only when no code of the phrase's category uses the word, so
#: they never change the label ("severe anxiety" is still F41.9): the model learns that detail only counts when the
#: classification asks for it.
FREE_MODIFIERS = ("severe", "mild", "moderate", "chronic", "acute", "recurrent", "right", "left", "bilateral",
                  "worsening", "persistent", "symptomatic", "longstanding", "new onset", "intermittent")


def category_words(codes: dict[str, CodeInfo]) -> dict[str, set[str]]:
    """Words used by the titles and inclusion terms of each 3-character category."""
    out: dict[str, set[str]] = defaultdict(set)
    for info in codes.values():
        for text in (info.title, *info.inclusion):
            out[info.code[:3]].update(re.findall(r"[a-z]+", text.lower()))
    return out


def add_free_modifier(phrase: str, category: set[str], rng: random.Random) -> str | None:
    """``phrase`` with a modifier the category never uses in front, or None when every candidate is used."""
    options = [m for m in FREE_MODIFIERS if not set(m.split()) & category and m not in phrase.lower()]
    if not options:
        return None
    return f"{rng.choice(options)} {phrase[0].lower() + phrase[1:] if not phrase[:2].isupper() else phrase}"


def abbreviate(text: str, rng: random.Random) -> str:
    for pattern, repl in ABBREV:
        if rng.random() < 0.7:
            text = re.sub(pattern, repl, text, flags=re.I)
    return text


def _lower_first(text: str) -> str:
    return text if text[:2].isupper() or len(text) < 2 else text[0].lower() + text[1:]


def place(phrase: str, distractors: list[str], rng: random.Random) -> tuple[str, int, int]:
    """Put ``phrase`` in a note fragment; returns (text, start, end) of the phrase inside it."""
    template = rng.choice(TARGET_TEMPLATES)
    lead, _, tail = template.partition("{T}" if "{T}" in template else "{t}")
    surface = phrase[0].upper() + phrase[1:] if "{T}" in template else _lower_first(phrase)
    lead = lead.format(age=rng.randint(19, 91), sex=rng.choice(("male", "female")))
    before = [rng.choice(DISTRACTOR_TEMPLATES).format(d=_lower_first(d)) for d in distractors[:1]]
    after = [rng.choice(DISTRACTOR_TEMPLATES).format(d=_lower_first(d)) for d in distractors[1:]]
    section = rng.choice(SECTIONS_CURRENT)
    prefix = section + (" " if rng.random() < 0.5 else "\n")
    if before and rng.random() < 0.5:
        prefix += before.pop() + " "
    after = before + after
    start = len(prefix) + len(lead)
    text = prefix + lead + surface + tail
    if after:
        text += " " + " ".join(after)
    return text, start, start + len(surface)


# --------------------------------------------------------------------------------------------- candidates
@dataclass
class Candidate:
    phrase: str
    label: str
    code: str
    kind: str
    origin: str  # "title" | "title-head" | "inclusion" | "index" | "drug-table" | "neoplasm-table"


def title_candidates(info: CodeInfo, rng: random.Random) -> list[Candidate]:
    out = []
    if info.kind != "nec":
        phrase = strip_nos(resolve_parens(info.title, rng))
        if phrase:
            label = "nos" if info.kind == "nos" else "specific"
            out.append(Candidate(phrase, label, info.code, info.kind, "title"))
            if info.kind == "nos":
                head = phrase.split(",")[0].strip()
                if head and head != phrase:
                    out.append(Candidate(head, "nos", info.code, info.kind, "title-head"))
    for term in info.inclusion:
        if re.search(r"\bNEC\b|not elsewhere classified", term):
            continue
        label = "nos" if (re.search(r"\bNOS\b", term) or info.kind == "nos") else "specific"
        phrase = strip_nos(resolve_parens(term, rng))
        if phrase:
            out.append(Candidate(phrase, label, info.code, info.kind, "inclusion"))
    return out


def index_candidates(index_csv: Path, codes: dict[str, CodeInfo], rng: random.Random) -> tuple[list[Candidate],
                                                                                                   Counter[str]]:
    out: list[Candidate] = []
    skipped: Counter[str] = Counter()
    path: list[str] = []
    with index_csv.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            level = int(row["Level"])
            term = row["Term"].strip()
            path = path[:level] + [term]
            code = row["Code"].strip()
            if not code:
                continue
            info = codes.get(code)
            if info is not None and info.code[0] in EXTERNAL_CAUSE:
                continue
            if info is None or not info.billable:
                skipped["code not billable in the tabular"] += 1
                continue
            if any(re.search(r"\bNEC\b", t) for t in path):
                skipped["NEC wording"] += 1
                continue
            nos = any(re.search(r"\bNOS\b", t) for t in path)
            phrase = strip_nos(index_phrase(path))
            if len(phrase) < 3:
                continue
            label = "nos" if (nos or info.kind == "nos") else "specific"
            out.append(Candidate(phrase, label, info.code, info.kind, "index"))
    return out, skipped


def table_candidates(codes: dict[str, CodeInfo]) -> list[Candidate]:
    """Phrases from the Tables of Drugs and Neoplasms ("adverse effect of <substance>", "malignant neoplasm of
    <site>", ...), through the code set's tables (empty when nec_nlp.icd10cm is not available)."""
    try:
        from nec_nlp.features import table_phrases
        from nec_nlp.icd10cm import load_code_set

        pairs = table_phrases(load_code_set(CODE_SET_RELEASE))
    except Exception as exc:  # the code-set module or its data not built
        print(f"tables skipped ({exc})", file=sys.stderr)
        return []
    out = []
    for phrase, code in pairs:
        info = codes.get(code)
        if info is None or info.code[0] in EXTERNAL_CAUSE or re.search(r"\bNEC\b", phrase):
            continue
        label = "nos" if (re.search(r"\bNOS\b", phrase) or info.kind == "nos") else "specific"
        clean = strip_nos(phrase)
        if len(clean) >= 3:
            origin = "drug-table" if code.startswith("T") else "neoplasm-table"
            out.append(Candidate(clean, label, code, info.kind, origin))
    return out


def split_of(category: str) -> str:
    h = int(hashlib.md5(category.encode()).hexdigest(), 16) % 100
    return "train" if h < 80 else "dev" if h < 90 else "test"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(index_csv: Path, out_dir: Path, seed: int, per_category: int) -> dict[str, Any]:
    rng = random.Random(seed)
    codes, code_source = load_codes()
    cands: list[Candidate] = []
    for info in sorted(codes.values(), key=lambda c: c.code):
        if info.billable and info.code[0] not in EXTERNAL_CAUSE:
            cands.extend(title_candidates(info, rng))
    idx, skipped = index_candidates(index_csv, codes, rng)
    cands.extend(idx)
    tables = table_candidates(codes)
    cands.extend(tables)
    # dedupe: one label per phrase (a phrase seen with both labels is ambiguous: dropped)
    by_phrase: dict[str, list[Candidate]] = defaultdict(list)
    for c in cands:
        by_phrase[c.phrase.lower()].append(c)
    conflicting = 0
    unique: list[Candidate] = []
    for group in by_phrase.values():
        if len({c.label for c in group}) > 1:
            conflicting += 1
            continue
        unique.append(group[0])
    # cap per category and label, keeping a mix of origins
    by_cat: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for c in unique:
        by_cat[(c.code[:3], c.label)].append(c)
    chosen: list[Candidate] = []
    for key in sorted(by_cat):
        group = by_cat[key]
        rng.shuffle(group)
        group.sort(key=lambda c: c.origin == "title")  # index/inclusion first: closer to how notes read
        chosen.extend(group[:per_category])
    pools: dict[str, list[str]] = defaultdict(list)
    for c in chosen:
        pools[split_of(c.code[:3])].append(c.phrase)
    records: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    rng.shuffle(chosen)
    cat_words = category_words(codes)
    modified = 0
    for n, c in enumerate(chosen):
        split = split_of(c.code[:3])
        phrase = abbreviate(c.phrase, rng) if rng.random() < 0.15 else c.phrase
        if rng.random() < 0.2:
            with_modifier = add_free_modifier(phrase, cat_words[c.code[:3]], rng)
            if with_modifier is not None:
                phrase, modified = with_modifier, modified + 1
        distractors = [rng.choice(pools[split]) for _ in range(rng.choice((0, 0, 1, 1, 2)))]
        distractors = [d for d in distractors if d.lower() != c.phrase.lower()]
        text, start, end = place(phrase, distractors, rng)
        records[split].append({
            "id": f"spec-{n:06d}", "text": text, "start": start, "end": end, "target": text[start:end],
            "label": c.label, "code": c.code, "kind": c.kind, "category": c.code[:3],
            "chapter": codes[c.code].chapter, "origin": c.origin, "n_distractors": len(distractors),
            "phrase": phrase,
            "split": split,
        })
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for split in SPLITS:
        path = out_dir / f"{split}.jsonl.gz"
        recs = sorted(records[split], key=lambda r: r["id"])
        with gzip.GzipFile(path, "wb", mtime=0) as fh:
            for r in recs:
                fh.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
        files[split] = {"file": path.name, "sha256": sha256(path), "n": len(recs),
                        "labels": dict(Counter(r["label"] for r in recs)),
                        "origins": dict(Counter(r["origin"] for r in recs)),
                        "categories": len({r["category"] for r in recs})}
    manifest = {
        "code_set": CODE_SET_RELEASE, "code_source": code_source,
        "index": {"file": index_csv.name, "sha256": sha256(index_csv)},
        "seed": seed, "per_category": per_category,
        "candidates": {"total": len(cands), "from_index": len(idx), "from_tables": len(tables), "unique_phrases": len(unique),
                       "ambiguous_phrases_dropped": conflicting, "free_modifier_added": modified, "index_rows_skipped": dict(skipped)},
        "splits": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, default=SHARED / "data/icd10cm/fy2025/ICD10CM_2025_Index.csv")
    ap.add_argument("--out", type=Path, default=ROOT / "corpora/specificity")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--per-category", type=int, default=14)
    args = ap.parse_args()
    if not args.index.is_file():
        print(f"index CSV not found: {args.index}", file=sys.stderr)
        return 2
    manifest = build(args.index, args.out, args.seed, args.per_category)
    print(json.dumps(manifest["splits"], indent=2))
    print(json.dumps(manifest["candidates"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
