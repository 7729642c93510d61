"""Validate a code string a user typed, say why it is not billable, and propose the nearest billable codes.

Reasons (``Validation.reason``), in the order they are checked:

- ``None``: a billable code.
- ``"not a leaf"``: a category/subcategory with children; ``children`` lists them.
- ``"missing 7th character"``: a leaf that takes a 7th character (suggestions: its 7th-character codes).
- ``"missing placeholder X"``: the 7th character came too early (``S00.00A`` for ``S00.00XA``).
- ``"placeholder X where the tabular has a character"``: ``T50.99XA``: T50.99 is not a leaf, its children
  T50.991-T50.996 are; suggestions are their codes with the typed 7th character.
- ``"invalid 7th character"``: the 7th character is not defined for the code.
- ``"malformed"``: not shaped like an ICD-10-CM code (letter, digit, alphanumeric, ...).
- ``"unknown"``: well-formed but not in this release.

For a valid code that is not billable the suggestions are its billable descendants (or 7th-character codes)
in tabular order. For an invalid code they are ranked by closeness of meaning to what was typed: the candidates are the billable codes under
the longest valid prefix of the input; they are ordered by the word overlap of their title with the title of
that prefix (the child that adds least to the typed stem comes first: T50.99XA -> T50.995A "Adverse effect of
other drugs, ..." before T50.991A "Poisoning by other drugs, ..., accidental"), then by edit distance to the
input, then by tabular order.
"""

import re
from itertools import combinations
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nec_nlp.icd10cm.tabular import normalize_code

if TYPE_CHECKING:  # pragma: no cover
    from nec_nlp.icd10cm.tabular import CodeSet

MAX_SUGGESTIONS = 10
_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,})?$")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Validation:
    """The verdict on one typed code string (``input`` is echoed as typed; ``code`` is normalised)."""

    input: str
    code: str
    valid: bool
    billable: bool
    reason: str | None
    suggestions: tuple[str, ...]
    children: tuple[str, ...]
    release: str
    title: str | None = None
    kind: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "code": self.code, "valid": self.valid, "billable": self.billable,
                "reason": self.reason, "detail": self.detail, "title": self.title, "kind": self.kind,
                "suggestions": list(self.suggestions), "children": list(self.children),
                "release": self.release}


def _words(text: str | None) -> set[str]:
    return set(_WORD.findall((text or "").lower()))


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def rank_candidates(cs: "CodeSet", candidates: list[str], typed: str, stem: str | None) -> list[str]:
    """Order candidate codes by title overlap with ``stem``'s title, then edit distance to ``typed``."""
    stem_words = _words(cs.title(stem)) if stem else set()
    raw = typed.replace(".", "")
    order = {c: i for i, c in enumerate(candidates)}

    def key(code: str) -> tuple[float, int, int]:
        words = _words(cs.title(code))
        union = stem_words | words
        jac = len(stem_words & words) / len(union) if union and stem_words else 0.0
        return (-jac, _edit_distance(raw, code.replace(".", "")), order[code])

    return sorted(candidates, key=key)


def _with_placeholders(raw: str) -> list[str]:
    """Dotted codes made of ``raw`` with placeholder X inserted (in character positions 4-6) to reach 7."""
    body, char = raw[:-1], raw[-1]
    need = 6 - len(body)
    out = []
    for slots in combinations(range(3, 6), need):
        chars, it = [], iter(body)
        for i in range(6):
            chars.append("X" if i in slots else next(it, ""))
        cand = "".join(chars) + char
        if len(cand) == 7:
            out.append(f"{cand[:3]}.{cand[3:]}")
    return out


def _longest_prefix(cs: "CodeSet", raw: str) -> str | None:
    for n in range(len(raw), 2, -1):
        cand = normalize_code(raw[:n])
        if cand in cs:
            return cand
    return None


def validate(cs: "CodeSet", text: str) -> Validation:
    """Validate ``text`` against the code set ``cs``; see the module docstring for reasons and ranking."""
    code = normalize_code(text)
    raw = code.replace(".", "")

    def result(valid: bool, billable: bool, reason: str | None, suggestions: list[str] | tuple[str, ...] = (),
               children: tuple[str, ...] = (), detail: str | None = None) -> Validation:
        c = cs.get(code) if valid else None
        return Validation(input=text, code=code, valid=valid, billable=billable, reason=reason,
                          suggestions=tuple(suggestions[:MAX_SUGGESTIONS]), children=children,
                          release=cs.release, title=c.title if c else None, kind=c.kind if c else None,
                          detail=detail)

    hit = cs.get(code)
    if hit is not None:
        if hit.billable:
            return result(True, True, None)
        desc = [d.code for d in cs.billable_descendants(code)]
        if hit.seventh and hit.children and all(cs.get(k).seventh_char for k in hit.children):  # type: ignore[union-attr]
            return result(True, False, "missing 7th character", hit.children, hit.children,
                          detail=f"{code} takes a 7th character: "
                                 + ", ".join(f"{k} {v}" for k, v in hit.seventh.items()))
        return result(True, False, "not a leaf", desc, hit.children,
                      detail=f"{code} is a {'category' if len(raw) == 3 else 'subcategory'} with "
                             f"{len(hit.children)} child code(s); code to the most specific one documented")

    if not _SHAPE.match(code):
        code = raw
        near = [c for c, _ in cs.search_titles(text, limit=MAX_SUGGESTIONS, billable_only=True)] if (
            re.search(r"[A-Za-z]{3,}", text)) else []
        return result(False, False, "malformed", near,
                      detail="an ICD-10-CM code is a letter, a digit, a digit or letter, then up to 4 more "
                             "characters (e.g. T50.995A)")

    if len(raw) == 7 and raw[6].isalpha():
        char = raw[6]
        stem6 = raw[:6]
        base = stem6.rstrip("X")
        # the typed placeholder X stands where the tabular has a real character
        if base != stem6:
            for n in range(len(base), 2, -1):
                b = cs.get(base[:n])
                if b is None:
                    continue
                if b.children and not all(cs.get(k).seventh_char for k in b.children):  # type: ignore[union-attr]
                    cands = [d.code for d in cs.billable_descendants(b.code) if d.seventh_char == char]
                    return result(False, False, "placeholder X where the tabular has a character",
                                  rank_candidates(cs, cands, code, b.code), b.children,
                                  detail=f"{b.code} is not a leaf: its child codes need their own character "
                                         "before the 7th character; X is only a placeholder for absent "
                                         "characters")
                break
        leaf = cs.get(stem6)
        if leaf is not None and leaf.seventh:
            valid_ext = [k for k in leaf.children if cs.get(k).seventh_char]  # type: ignore[union-attr]
            return result(False, False, "invalid 7th character", valid_ext, tuple(valid_ext), detail=f"{char!r} is not a 7th character of {leaf.code}; "
                                                  + ", ".join(f"{k} {v}" for k, v in leaf.seventh.items()))
    # a 7th character typed too early: placeholder X missing (S00.00A -> S00.00XA, T50.95A -> T50.9X5A)
    if raw[-1].isalpha() and 4 <= len(raw) < 7:
        fixes = [f for f in _with_placeholders(raw) if cs.is_billable(f)]
        if fixes:
            return result(False, False, "missing placeholder X", fixes, (),
                          detail=f"the 7th character goes in 7th position: fill absent characters with the "
                                 f"placeholder X ({fixes[0]})")
    prefix = _longest_prefix(cs, raw)
    if len(raw) > 7 and prefix is not None:
        cands = [d.code for d in cs.billable_descendants(prefix)]
        return result(False, False, "unknown", rank_candidates(cs, cands, code, prefix), (),
                      detail=f"an ICD-10-CM code has at most 7 characters; nearest valid code: {prefix}")
    if prefix is None:
        return result(False, False, "unknown", [], (), detail=f"no code of release {cs.release} starts with "
                                                              f"{code[:3]}")
    cands = [d.code for d in cs.billable_descendants(prefix)]
    return result(False, False, "unknown", rank_candidates(cs, cands, code, prefix), (),
                  detail=f"{code} is not in release {cs.release}; nearest valid code: {prefix}")
