"""The Alphabetic Index to Diseases and Injuries (FY2025), reconciled with the tabular release in use.

Every index entry has its path (main term -> subterms), the code as printed, the NEC mark, ``see`` /
``see also`` references, and ``resolved``: the billable code of *this* release the entry leads to.

Reconciliation of a printed code with the tabular (``IndexHit.note`` says what was done):

- billable in the release: kept;
- printed with ``-`` or now a category/subcategory (expanded since FY2025, e.g. R10.2 in April 2026):
  descends to its "unspecified" child -- the billable descendant of kind ``nos`` whose chain of titles below
  the printed code says "unspecified" most often (S72.00- -> S72.009A "... unspecified part of neck of
  unspecified femur"), then the one with most ``NOS`` inclusion terms (G40.- -> G40.909 "Epilepsy NOS"), then
  without a 7th character, fewest characters, tabular order; with no such child ``resolved`` stays None and the note lists how
  many children there are;
- a leaf that takes a 7th character: the initial-encounter character is added (the note says so; use
  :meth:`CodeSet.with_seventh` for another encounter);
- absent from the release (deleted): ``resolved`` is None with a note.

``see`` references are followed by :meth:`AlphabeticIndex.lookup` and :meth:`AlphabeticIndex.search`: an entry
with no code of its own takes ``resolved`` from the target (``see`` "Pain, abdominal"); references to the
Table of Neoplasms / Drugs and the generic "see condition" are reported but not followed.
"""

import re
from functools import lru_cache
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from nec_nlp.icd10cm.releases import cached, read_json_gz, shipped_checksum

if TYPE_CHECKING:  # pragma: no cover
    from nec_nlp.icd10cm.tabular import CodeSet

INDEX_FILE = "index-2025.json.gz"


class _Words:
    """The ``[a-z0-9]+`` words of lower-cased text, a hyphenated prefix closed up first: the index prints
    "post-traumatic stress disorder" and notes write "posttraumatic" as often, so both read ``posttraumatic``."""

    _word = re.compile(r"[a-z0-9]+")
    _prefix = re.compile(r"\b(pre|post|non|anti|sub|peri|intra|extra|para|pseudo)-(?=[a-z])")

    def findall(self, text: str) -> list[str]:
        return self._word.findall(self._prefix.sub(r"\1", text) if "-" in text else text)


_WORD = _Words()
_IGNORE = {"nos", "nec", "of", "the", "and", "with", "in", "due", "to", "by", "a", "an", "or", "s"}
_MAX_SEE_DEPTH = 4
_UNSPEC_WORDS = re.compile(r"\bunspecified\b|\bnot specified\b|\bNOS\b")
# bump when the reconciliation or state layout changes (part of the cache key)
INDEX_LOGIC = 2


@dataclass(frozen=True)
class IndexHit:
    """One Alphabetic Index entry as seen from a release."""

    path: tuple[str, ...]
    code: str | None
    nec: bool
    see: str | None
    see_also: str | None
    resolved: str | None
    note: str | None
    release: str = ""
    nonessential: str | None = None
    score: float = 1.0
    row: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {"path": list(self.path), "code": self.code, "nec": self.nec, "see": self.see,
                "see_also": self.see_also, "resolved": self.resolved, "note": self.note,
                "nonessential": self.nonessential, "release": self.release, "score": round(self.score, 4)}


def _stem(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed content words (NOS/NEC and function words dropped)."""
    return list(_words_cached(text))


@lru_cache(maxsize=262_144)
def _words_cached(text: str) -> tuple[str, ...]:
    return tuple(_stem(w) for w in _WORD.findall(text.lower().replace("'s", "")) if w not in _IGNORE)


def _norm_term(text: str) -> str:
    return " ".join(_WORD.findall(re.sub(r"\([^)]*\)", " ", text.lower())))


def _unspecified_share(cs: "CodeSet", code: str, top: str) -> float:
    """Share of the codes from ``top`` (excluded) down to ``code`` whose title is on the unspecified axis."""
    chain = []
    cur = cs.get(code)
    while cur is not None and cur.code != top:
        if not cur.seventh_char:
            chain.append(cur.title)
        cur = cs.get(cur.parent) if cur.parent else None
    return sum(len(_UNSPEC_WORDS.findall(t)) for t in chain) / len(chain) if chain else 0.0


def reconcile(cs: "CodeSet", printed: str | None) -> tuple[str | None, str | None]:
    """(resolved billable code, note) for an index code as printed; see the module docstring."""
    if not printed:
        return None, None
    dash = printed.endswith("-")
    code = printed.rstrip("-").strip()
    c = cs.get(code)
    if c is None:
        return None, f"{code} is not a code of release {cs.release}"
    if c.billable:
        return c.code, None if not dash else f"{printed} completed to {c.code}"
    kids = c.children
    if kids and all(cs.get(k).seventh_char for k in kids):  # type: ignore[union-attr]
        ext = cs.with_seventh(c.code, "initial")
        if ext:
            return ext, f"{c.code} takes a 7th character: initial encounter ({ext}) assumed"
        return None, f"{c.code} takes a 7th character"
    desc = cs.billable_descendants(c.code)
    nos = [d for d in desc if d.kind == "nos"]
    why = "printed with '-' (more characters needed)" if dash else f"not billable in release {cs.release}"
    if nos:
        best = min(nos, key=lambda d: (-_unspecified_share(cs, d.code, c.code), -len(d.nos_terms),
                                       bool(d.seventh_char), len(d.code)))
        return best.code, f"{c.code} {why}: descended to its unspecified child {best.code}"
    return None, f"{c.code} {why}: no unspecified child, choose among {len(desc)} billable codes"


class AlphabeticIndex:
    """The Alphabetic Index of one code set (build with :meth:`load`; served from the warm cache)."""

    def __init__(self, cs: "CodeSet", state: dict[str, Any]) -> None:
        self.cs = cs
        self.release = cs.release
        self._s = state
        self._level: list[int] = state["level"]
        self._term: list[str] = state["term"]
        self._code: list[str | None] = state["code"]
        self._see: list[str | None] = state["see"]
        self._see_also: list[str | None] = state["see_also"]
        self._noness: list[str | None] = state["noness"]
        self._parent: list[int] = state["parent"]
        self._resolved: list[str | None] = state["resolved"]
        self._note: list[str | None] = state["note"]
        self._children: dict[int, list[int]] = {}
        self._child_cache: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
        for i, p in enumerate(self._parent):
            self._children.setdefault(p, []).append(i)
        self._mains: dict[str, list[int]] = {}
        for i in self._children.get(-1, []):
            for variant in self._main_variants(i):
                self._mains.setdefault(variant, []).append(i)
        self._inverted: dict[str, set[int]] | None = None
        self._own_words: list[frozenset[str]] = []
        self._opt_words: list[frozenset[str]] = []
        self._variants: list[list[frozenset[str]]] = []

    @classmethod
    def load(cls, cs: "CodeSet", *, use_cache: bool = True) -> "AlphabeticIndex":
        """Load the shipped index reconciled with ``cs`` (cached per index and release checksum)."""
        checksum = f"{shipped_checksum(INDEX_FILE)}|{cs.release}|{len(cs)}|{INDEX_LOGIC}"

        def build() -> dict[str, Any]:
            return cls.build_state(cs, read_json_gz(INDEX_FILE)["rows"])

        state = cached("index", cs.release, checksum, build, use_cache=use_cache,
                       check=lambda v: isinstance(v, dict) and v.get("release") == cs.release)
        return cls(cs, state)

    @staticmethod
    def build_state(cs: "CodeSet", rows: list[list[Any]]) -> dict[str, Any]:
        """Flat columns for ``rows`` of ``[level, term, code, see, see_also, nonessential]``."""
        parent: list[int] = []
        stack: list[int] = []
        resolved: list[str | None] = []
        notes: list[str | None] = []
        memo: dict[str, tuple[str | None, str | None]] = {}
        for i, (level, _term, code, *_rest) in enumerate(rows):
            del stack[level:]
            parent.append(stack[-1] if stack else -1)
            stack.append(i)
            if code not in memo:
                memo[code] = reconcile(cs, code)
            r, n = memo[code]
            resolved.append(r)
            notes.append(n)
        cols = list(zip(*rows)) if rows else [[]] * 6
        return {"release": cs.release, "level": list(cols[0]), "term": list(cols[1]), "code": list(cols[2]),
                "see": list(cols[3]), "see_also": list(cols[4]), "noness": list(cols[5]), "parent": parent,
                "resolved": resolved, "note": notes}

    def __len__(self) -> int:
        return len(self._term)

    # -- entries -----------------------------------------------------------------------------------------------
    def _main_variants(self, i: int) -> set[str]:
        term = self._term[i]
        out = {_norm_term(term)}
        out.update(_norm_term(p) for p in term.split(",") if p.strip())
        return {o for o in out if o}

    def path_of(self, i: int) -> tuple[str, ...]:
        out = []
        while i >= 0:
            out.append(self._term[i])
            i = self._parent[i]
        return tuple(reversed(out))

    def hit(self, i: int, *, score: float = 1.0, depth: int = 0) -> IndexHit:
        """The :class:`IndexHit` for entry number ``i`` (``see`` followed when it has no code)."""
        h = IndexHit(path=self.path_of(i), code=self._code[i], nec=bool(re.search(r"\bNEC\b", self._term[i])),
                     see=self._see[i], see_also=self._see_also[i], resolved=self._resolved[i], note=self._note[i],
                     release=self.release, nonessential=self._noness[i], score=score, row=i)
        if h.code is None and h.see and depth < _MAX_SEE_DEPTH:
            target = self._follow(h.see, depth + 1)
            if target is not None and target.resolved:
                note = f"see {h.see}" + (f"; {target.note}" if target.note else "")
                h = replace(h, resolved=target.resolved, note=note)
            elif target is None:
                h = replace(h, note=f"see {h.see} (not followed: not an entry of this index)")
        return h

    def _follow(self, see: str, depth: int) -> IndexHit | None:
        if see.lower().startswith(("table of", "condition")):
            return None
        parts = [p.strip() for p in see.split(",") if p.strip()]
        # main terms may contain commas themselves ("Abdomen, abdominal"): try the longest main term first
        for n in range(len(parts), 0, -1):
            head = _norm_term(", ".join(parts[:n]))
            for i in self._mains.get(head, []):
                found = self._walk(i, parts[n:])
                if found is not None:
                    return self.hit(found, depth=depth)
        return None

    def _match_child(self, i: int, term: str) -> int | None:
        """The child of entry ``i`` named ``term``: exact normalised term first, then the same content words."""
        exact, loose = self._child_keys(i)
        want = _norm_term(term)
        found = exact.get(want)
        if found is None:
            found = loose.get(" ".join(words(want)))
        return found

    def _child_keys(self, i: int) -> tuple[dict[str, int], dict[str, int]]:
        """Lookup tables of entry ``i``'s children, built once per entry (first child wins, document order)."""
        keys = self._child_cache.get(i)
        if keys is None:
            exact: dict[str, int] = {}
            loose: dict[str, int] = {}
            for k in self._children.get(i, []):
                t = _norm_term(self._term[k])
                exact.setdefault(t, k)
                loose.setdefault(" ".join(words(t)), k)
            keys = self._child_cache[i] = (exact, loose)
        return keys

    def _walk(self, i: int, rest: list[str]) -> int | None:
        for term in rest:
            nxt = self._match_child(i, term)
            if nxt is None:
                return None
            i = nxt
        return i

    def lookup(self, path: list[str] | tuple[str, ...] | str) -> IndexHit | None:
        """The entry at ``path`` (``["Pain", "postoperative NOS"]`` or ``"Pain, postoperative NOS"``).

        Terms match case-insensitively, ignoring nonessential modifiers; a term without NOS/NEC matches an
        entry that has it (``["Pain", "postoperative"]`` finds "postoperative NOS"). ``see`` is followed.
        """
        if isinstance(path, str):
            hit = self._follow(path, 0)
            return hit
        if not path:
            return None
        for i in self._mains.get(_norm_term(path[0]), []):
            found = self._walk(i, list(path[1:]))
            if found is not None:
                return self.hit(found)
        return None

    def subterms(self, path: list[str] | tuple[str, ...] | str | None = None) -> list[IndexHit]:
        """The child entries of ``path`` (main terms when ``path`` is empty), for walking the index by words."""
        if not path:
            return [self.hit(i) for i in self._children.get(-1, [])]
        hit = self.lookup(path)
        if hit is None:
            return []
        return [self.hit(k) for k in self._children.get(hit.row, [])]

    # -- search ------------------------------------------------------------------------------------------------
    def _best_variant(self, i: int, qset: set[str]) -> tuple[frozenset[str], bool]:
        """Words of the comma variant of entry ``i``'s term that best fits the query ("Epilepsy, epileptic,
        epilepsia" is three names of one term), and whether it is the first variant."""
        variants = self._variants[i]
        if len(variants) == 1:
            return variants[0], True
        best = max(range(len(variants)), key=lambda k: (len(variants[k] & qset), -len(variants[k]), -k))
        return variants[best], best == 0

    def _build_inverted(self) -> dict[str, set[int]]:
        inv: dict[str, set[int]] = {}
        self._own_words = [frozenset(words(t)) for t in self._term]
        self._opt_words = [frozenset(words(n)) if n else frozenset() for n in self._noness]
        self._variants = []
        for i, term in enumerate(self._term):
            vs = [frozenset(words(v)) for v in term.split(",")] if "," in term else [self._own_words[i]]
            self._variants.append([v for v in vs if v] or [frozenset()])
            for w in self._own_words[i] | self._opt_words[i]:
                inv.setdefault(w, set()).add(i)
        return inv

    def knows(self, word: str) -> bool:
        """Whether ``word`` (lower-cased, lightly stemmed as :func:`words` does) occurs in some index term."""
        if self._inverted is None:
            self._inverted = self._build_inverted()
        return _stem(word.lower()) in self._inverted

    def search(self, term: str, limit: int = 10) -> list[IndexHit]:
        """Entries whose path covers the words of ``term``, best first.

        Score: share of the query words found on the entry's path (+0.5 when all are), minus 0.05 for each
        word on the path the query did not ask for (per term, its best-fitting comma variant), minus 0.02 per
        level of depth; nonessential modifiers match for free; entries with a code or a ``see`` come first
        among equals.
        """
        q = list(dict.fromkeys(words(term)))
        if not q:
            return []
        if self._inverted is None:
            self._inverted = self._build_inverted()
        inv = self._inverted
        cand: set[int] = set()
        for w in q:
            for i in inv.get(w, ()):
                cand.add(i)
        # an entry is a candidate when its own term holds a query word; its ancestors may hold the rest
        scored: list[tuple[float, int]] = []
        qset = set(q)
        for i in cand:
            if not self._own_words[i] & qset:
                continue
            own, first = self._best_variant(i, qset)
            path_words: set[str] = set()
            j = self._parent[i]
            while j >= 0:
                path_words |= self._best_variant(j, qset)[0]
                j = self._parent[j]
            optional = self._opt_words[i]
            covered = qset & (own | path_words | optional)
            extra = (own | path_words) - qset
            score = (len(covered) / len(qset) + (0.5 if covered == qset else 0.0) - 0.05 * len(extra)
                     - 0.02 * self._level[i] - (0.0 if first else 0.01)
                     + (0.02 if self._code[i] or self._see[i] else 0.0))
            scored.append((score, i))
        scored.sort(key=lambda t: (-t[0], self._level[t[1]], t[1]))
        return [self.hit(i, score=s) for s, i in scored[:limit]]
