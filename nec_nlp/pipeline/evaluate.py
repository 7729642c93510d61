"""Evaluate the extraction pipeline against the gold set (``corpora/gold/extraction_gold.jsonl``).

Gold line: ``{note_id, specialty, text, spans: [{start, end, label, text, assertion?, laterality?, encounter?}]}``.

Per label (CONDITION, SITE, TYPE, CAUSE, DRUG):

* lenient (primary): a predicted span is correct when it overlaps a gold span of the same label (precision);
  a gold span is found when a predicted span of the same label overlaps it (recall);
* strict: exact boundaries and label.

Assertions (negated, historical, hypothetical, family, uncertain) are scored as accuracy over the gold
CONDITIONs that a predicted CONDITION overlaps (the predicted span with the largest overlap); laterality and
encounter likewise.
"""

import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc

from nec_nlp.errors import InputError
from nec_nlp.pipeline.rules import LABELS
from nec_nlp.types import ASSERTIONS

DEFAULT_GOLD = Path("corpora/gold/extraction_gold.jsonl")


def read_gold(path: Union[str, Path]) -> list[dict[str, Any]]:
    """Gold notes of a JSONL file; raises :class:`InputError` naming the line when one is malformed."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"gold file {p} not found; build it with `python scripts/build_gold.py`")
    notes = []
    with open(p, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                _ = rec["text"], rec["spans"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"{p}:{lineno}: not a gold note (needs text and spans)") from None
            notes.append(rec)
    return notes


def predicted_spans(doc: Doc) -> list[dict[str, Any]]:
    """CONDITIONs (with assertions, laterality, encounter) and SITE/TYPE/CAUSE/DRUG details of a processed doc."""
    out: list[dict[str, Any]] = []
    for ent in doc.ents:
        out.append({
            "start": ent.start_char, "end": ent.end_char, "label": "CONDITION", "text": ent.text,
            "assertion": {a: bool(getattr(ent._, f"is_{a}")) for a in ASSERTIONS},
            "laterality": ent._.laterality, "encounter": ent._.encounter,
        })
    for sp in doc.spans["details"] if "details" in doc.spans else []:
        out.append({"start": sp.start_char, "end": sp.end_char, "label": sp.label_, "text": sp.text})
    return out


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> int:
    return max(0, min(a["end"], b["end"]) - max(a["start"], b["start"]))


def _prf(tp_pred: int, n_pred: int, tp_gold: int, n_gold: int) -> dict[str, float]:
    p = tp_pred / n_pred if n_pred else 0.0
    r = tp_gold / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "n_pred": n_pred, "n_gold": n_gold}


def _docs(nlp: Language, notes: list[dict[str, Any]], batch_size: int) -> Iterator[Doc]:
    yield from nlp.pipe((n["text"] for n in notes), batch_size=batch_size)


def evaluate_extraction(nlp: Language, gold_path: Union[str, Path] = DEFAULT_GOLD, *, batch_size: int = 32,
                        collect_errors: bool = False, annotator: Optional[str] = None) -> dict[str, Any]:
    """Score ``nlp`` on a gold file.

    Args:
        nlp: A pipeline from :func:`nec_nlp.pipeline.build_nlp` or :func:`nec_nlp.pipeline.load_nlp`.
        gold_path: The gold JSONL file.
        batch_size: Passed to ``nlp.pipe``.
        collect_errors: Also return the missed and spurious spans per note under ``"errors"`` (they hold note
            text: for error analysis only, never for logs).
        annotator: Only the notes whose gold record has this ``annotator`` (``"a"`` or ``"b"``); all when None.

    Returns:
        ``{"notes", "labels": {LABEL: {"lenient": {precision, recall, f1, n_pred, n_gold}, "strict": {...}}},
        "micro": {"lenient", "strict"}, "assertions": {name: {"accuracy", "n", "gold_true", "pred_true"}},
        "attributes": {"laterality"|"encounter": {"accuracy", "n"}}, "errors"?: [...]}``.
    """
    notes = read_gold(gold_path)
    if annotator is not None:
        notes = [n for n in notes if n.get("annotator") == annotator]
        if not notes:
            raise InputError(f"no gold notes of annotator {annotator!r} in {gold_path}")
    counts = {lab: {"lp": 0, "lg": 0, "sp": 0, "np": 0, "ng": 0} for lab in LABELS}
    assertion = {a: {"correct": 0, "n": 0, "gold_true": 0, "pred_true": 0, "tp": 0} for a in ASSERTIONS}
    attrs = {k: {"correct": 0, "n": 0} for k in ("laterality", "encounter")}
    errors: list[dict[str, Any]] = []
    for note, doc in zip(notes, _docs(nlp, notes, batch_size)):
        pred = predicted_spans(doc)
        gold = [g for g in note["spans"] if g.get("label") in LABELS]
        note_err: dict[str, Any] = {"note_id": note.get("note_id"), "missed": [], "spurious": [],
                                    "assertion": []}
        for lab in LABELS:
            ps = [p for p in pred if p["label"] == lab]
            gs = [g for g in gold if g["label"] == lab]
            c = counts[lab]
            c["np"] += len(ps)
            c["ng"] += len(gs)
            gold_exact = {(g["start"], g["end"]) for g in gs}
            c["sp"] += sum((p["start"], p["end"]) in gold_exact for p in ps)
            for p in ps:
                if any(_overlap(p, g) for g in gs):
                    c["lp"] += 1
                elif collect_errors:
                    note_err["spurious"].append({"label": lab, "text": p["text"], "start": p["start"]})
            for g in gs:
                if any(_overlap(p, g) for p in ps):
                    c["lg"] += 1
                elif collect_errors:
                    note_err["missed"].append({"label": lab, "text": g["text"], "start": g["start"]})
        pconds = [p for p in pred if p["label"] == "CONDITION"]
        for g in (g for g in gold if g["label"] == "CONDITION"):
            best = max(pconds, key=lambda p: _overlap(p, g), default=None)
            if best is None or not _overlap(best, g):
                continue
            ga = g.get("assertion") or {}
            for a in ASSERTIONS:
                gv, pv = bool(ga.get(a, False)), bool(best["assertion"][a])
                s = assertion[a]
                s["n"] += 1
                s["correct"] += gv == pv
                s["gold_true"] += gv
                s["pred_true"] += pv
                s["tp"] += gv and pv
                if collect_errors and gv != pv:
                    note_err["assertion"].append({"text": g["text"], "start": g["start"], "assertion": a,
                                                  "gold": gv, "pred": pv})
            for k in attrs:
                attrs[k]["n"] += 1
                attrs[k]["correct"] += (g.get(k) or None) == (best.get(k) or None)
        if collect_errors:
            errors.append(note_err)
    labels = {}
    tot = {"lp": 0, "lg": 0, "sp": 0, "np": 0, "ng": 0}
    for lab, c in counts.items():
        for k in tot:
            tot[k] += c[k]
        labels[lab] = {"lenient": _prf(c["lp"], c["np"], c["lg"], c["ng"]),
                       "strict": _prf(c["sp"], c["np"], c["sp"], c["ng"])}
    result: dict[str, Any] = {
        "gold": str(gold_path),
        "notes": len(notes),
        "labels": labels,
        "micro": {"lenient": _prf(tot["lp"], tot["np"], tot["lg"], tot["ng"]),
                  "strict": _prf(tot["sp"], tot["np"], tot["sp"], tot["ng"])},
        "assertions": {a: {"accuracy": (s["correct"] / s["n"]) if s["n"] else 0.0, "n": s["n"],
                           "gold_true": s["gold_true"], "pred_true": s["pred_true"], "both_true": s["tp"]}
                       for a, s in assertion.items()},
        "attributes": {k: {"accuracy": (v["correct"] / v["n"]) if v["n"] else 0.0, "n": v["n"]}
                       for k, v in attrs.items()},
    }
    if collect_errors:
        result["errors"] = errors
    return result


def format_report(result: dict[str, Any]) -> Iterable[list[str]]:
    """Rows (label, lenient P/R/F1, strict P/R/F1, n_gold, n_pred) for a table."""
    for lab, r in result["labels"].items():
        le, st = r["lenient"], r["strict"]
        yield [lab, f"{le['precision']:.3f}", f"{le['recall']:.3f}", f"{le['f1']:.3f}", f"{st['precision']:.3f}",
               f"{st['recall']:.3f}", f"{st['f1']:.3f}", str(le["n_gold"]), str(le["n_pred"])]
