"""Checks for the hand-labelled diagnosis-statement dev/test set (corpora/statements/statements.jsonl).

Every statement must parse and carry the documented fields; every accepted code must be a valid, billable
ICD-10-CM code in the April 2026 code set; and the labelled ``kind`` must agree with the kind of the first
accepted code as read from its title ("Other ..."/"not elsewhere classified" -> nec, "unspecified" -> nos,
else exact), except that ``nos`` is also allowed for a code that the tabular gives as the home of an
"... NOS" inclusion term (index default for a bare term, e.g. G89.18 "Postoperative pain NOS").
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATEMENTS = ROOT / "corpora" / "statements" / "statements.jsonl"
FIELDS = {"id", "text", "target", "accepted", "kind", "chapter", "source", "split", "rationale"}
KINDS = {"exact", "nec", "nos"}
CODE_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def _load() -> list[dict]:
    with STATEMENTS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


RECORDS = _load()


# --------------------------------------------------------------------------- code-set access
_OTHER_RE = re.compile(r"\bother\b(?! than)|not elsewhere classified|\bNEC\b", re.IGNORECASE)
_UNSPEC_RE = re.compile(r"\bunspecified\b|\bnot specified\b|\bNOS\b", re.IGNORECASE)


def title_kinds(title: str, inclusion: list[str] | tuple[str, ...] = ()) -> set[str]:
    """Kinds by title (fallback when nec_nlp.icd10cm is absent), mirroring the project's kind rule:
    "other"/NEC -> nec, "unspecified"/"not specified"/NOS -> nos (both when a title has both), else nos when an
    inclusion term says NOS (default for the bare term), else exact."""
    kinds = set()
    if _OTHER_RE.search(title):
        kinds.add("nec")
    if _UNSPEC_RE.search(title):
        kinds.add("nos")
    if not kinds:
        kinds.add("nos" if any(re.search(r"\bNOS\b", t) for t in inclusion) else "exact")
    return kinds


def ancestor_nos_terms(code: str) -> list[str]:
    """'... NOS' inclusion terms on the code or on any tabular ancestor below the block level
    (G40.4 'Grand mal seizure NOS' applies to G40.409)."""
    import simple_icd_10_cm as cm

    terms: list[str] = []
    for node in [code, *cm.get_ancestors(code)]:
        if "-" in node or node.isdigit():  # block or chapter
            break
        terms += [t for t in cm.get_inclusion_term(node) if re.search(r"\bNOS\b", t)]
    return terms


class _SimpleCodeSet:
    """Fallback over ``simple_icd_10_cm`` (April 2026 tabular)."""

    def __init__(self) -> None:
        import simple_icd_10_cm as cm

        self.cm = cm

    def billable(self, code: str) -> bool:
        return self.cm.is_valid_item(code) and self.cm.is_leaf(code)

    def kinds(self, code: str) -> set[str]:
        return title_kinds(self.cm.get_description(code), self.cm.get_inclusion_term(code))

    def nos_terms(self, code: str) -> list[str]:
        return [t for t in self.cm.get_inclusion_term(code) if re.search(r"\bNOS\b", t)]


class _ProjectCodeSet:
    """``nec_nlp.icd10cm.load_code_set("2026-04")``: assert against its ``Code.kind``."""

    def __init__(self, cs) -> None:
        self.cs = cs

    def _get(self, code: str):
        try:
            return self.cs.get(code)
        except Exception:
            return None

    def billable(self, code: str) -> bool:
        c = self._get(code)
        return bool(c is not None and c.billable)

    def kinds(self, code: str) -> set[str]:
        c = self._get(code)
        out = {getattr(c, "kind", None), getattr(c, "secondary_kind", None)}
        return {getattr(k, "value", k) for k in out if k}

    def nos_terms(self, code: str) -> list[str]:
        return list(getattr(self._get(code), "nos_terms", ()) or ())


def _code_set():
    pytest.importorskip("simple_icd_10_cm")
    try:
        from nec_nlp.icd10cm import load_code_set

        cs = load_code_set("2026-04")
    except Exception:
        return _SimpleCodeSet()
    return _ProjectCodeSet(cs)


@pytest.fixture(scope="module")
def code_set():
    return _code_set()


# --------------------------------------------------------------------------- structure
def test_enough_statements():
    assert len(RECORDS) >= 150


def test_fields_and_types():
    for r in RECORDS:
        assert set(r) == FIELDS, (r.get("id"), set(r) ^ FIELDS)
        assert isinstance(r["text"], str) and r["text"].strip(), r["id"]
        assert isinstance(r["accepted"], list) and 1 <= len(r["accepted"]) <= 3, r["id"]
        assert r["kind"] in KINDS, r["id"]
        assert r["split"] in {"dev", "test"}, r["id"]
        assert r["source"] == "written" or re.fullmatch(r"mtsamples:mts-\d{4}", r["source"]), r["id"]
        assert r["chapter"] in {str(i) for i in range(1, 23)}, r["id"]
        assert isinstance(r["rationale"], str) and r["rationale"].strip(), r["id"]
        assert len(set(r["accepted"])) == len(r["accepted"]), r["id"]
        for code in r["accepted"]:
            assert CODE_RE.match(code), (r["id"], code)


def test_target_is_substring_of_text():
    for r in RECORDS:
        assert r["target"] and r["target"] in r["text"], r["id"]


def test_ids_unique():
    ids = [r["id"] for r in RECORDS]
    assert len(ids) == len(set(ids))


def test_chapter_coverage():
    assert len({r["chapter"] for r in RECORDS}) >= 15


def test_kind_counts():
    counts = Counter(r["kind"] for r in RECORDS)
    for k in KINDS:
        assert counts[k] >= 40, counts


def _num(record: dict) -> int:
    return int(record["id"].split("-", 1)[1])


ORIGINAL_LAST = 207  # st-001..st-207: the stratified dev/test set; st-208 onwards: dev extension


def test_ids_are_numbered():
    for r in RECORDS:
        assert re.fullmatch(r"st-\d{3,}", r["id"]), r["id"]


def test_splits_present_and_stratified():
    """The original 207 statements alternate dev/test within each kind."""
    original = [r for r in RECORDS if _num(r) <= ORIGINAL_LAST]
    assert len(original) == ORIGINAL_LAST
    splits = Counter(r["split"] for r in original)
    assert splits["dev"] and splits["test"]
    for k in KINDS:
        per = Counter(r["split"] for r in original if r["kind"] == k)
        assert abs(per["dev"] - per["test"]) <= 1, (k, per)


def test_extension_is_dev_only():
    """Statements after st-207 were written blind after the first tuning round: all dev, test split unchanged."""
    extension = [r for r in RECORDS if _num(r) > ORIGINAL_LAST]
    assert all(r["split"] == "dev" for r in extension), [r["id"] for r in extension if r["split"] != "dev"]
    assert sum(r["split"] == "test" for r in RECORDS) == 102


def test_about_a_third_from_real_notes():
    real = sum(r["source"] != "written" for r in RECORDS)
    assert real >= len(RECORDS) * 0.3


# --------------------------------------------------------------------------- codes
def test_accepted_codes_are_valid_and_billable(code_set):
    bad = [(r["id"], c) for r in RECORDS for c in r["accepted"] if not code_set.billable(c)]
    assert not bad, bad


def test_chapter_matches_first_code():
    cm = pytest.importorskip("simple_icd_10_cm")
    for r in RECORDS:
        assert cm.get_ancestors(r["accepted"][0])[-1] == r["chapter"], r["id"]


def test_kind_agrees_with_code(code_set):
    """``kind`` is the kind of the first accepted code (project rule); an "Other ..." code may be labelled ``nos``
    where it is the index default for the bare term, i.e. it or its tabular parent carries a "... NOS" term."""
    wrong = []
    for r in RECORDS:
        code = r["accepted"][0]
        allowed = code_set.kinds(code)
        if "nec" in allowed and (code_set.nos_terms(code) or ancestor_nos_terms(code)):
            allowed.add("nos")
        if r["kind"] not in allowed:
            wrong.append((r["id"], code, r["kind"], sorted(allowed)))
    assert not wrong, wrong


def test_mtsamples_text_is_copied_from_the_note(shared_dir):
    import csv

    csv.field_size_limit(10**8)
    path = shared_dir / "data" / "mtsamples" / "notes.csv"
    if not path.exists():
        pytest.skip("mtsamples notes not available")
    wanted = {r["source"].split(":", 1)[1] for r in RECORDS if r["source"] != "written"}
    notes = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["note_id"] in wanted:
                notes[row["note_id"]] = row["text"]
    for r in RECORDS:
        if r["source"] == "written":
            continue
        nid = r["source"].split(":", 1)[1]
        assert nid in notes, r["id"]
        assert r["text"] in notes[nid], r["id"]
