"""Shared machinery of the Table of Drugs and Chemicals and the Table of Neoplasms: rows in document order
(level, title, nonessential modifier, see, see also, one cell per column), their paths, and term matching."""

import re
from typing import Any

from nec_nlp.icd10cm.index import words

_PAREN = re.compile(r"\([^)]*\)")


def norm(text: str) -> str:
    """Lower case, no parenthesised modifiers, single spaces, ``'s`` dropped."""
    t = _PAREN.sub(" ", text.lower()).replace("'s", "")
    return " ".join(re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", t))


class TermTable:
    """A CMS term table (``{"columns": [...], "rows": [[level, title, nemod, see, see_also, cells], ...]}``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.columns: list[str] = list(data["columns"])
        self.rows: list[list[Any]] = data["rows"]
        self.parent: list[int] = []
        self.children: dict[int, list[int]] = {}
        stack: list[int] = []
        for i, row in enumerate(self.rows):
            level = row[0]
            del stack[level:]
            p = stack[-1] if stack else -1
            self.parent.append(p)
            self.children.setdefault(p, []).append(i)
            stack.append(i)
        self.mains: dict[str, list[int]] = {}
        self.mains_by_words: dict[str, list[int]] = {}  # NEC/NOS and function words dropped: "opioid" ~ "Opioid NEC"
        mains = self.children.get(-1, [])
        # whole titles first: "sodium" is the main term Sodium before the inverted "Iopodate, sodium"
        for i in mains:
            full = norm(self.rows[i][1])
            self.mains.setdefault(full, []).append(i)
            self.mains_by_words.setdefault(" ".join(words(full)), []).append(i)
        for i in mains:
            for v in self._variants(self.rows[i][1]) - {norm(self.rows[i][1])}:
                self.mains.setdefault(v, []).append(i)
                self.mains_by_words.setdefault(" ".join(words(v)), []).append(i)
        self._inverted: dict[str, set[int]] | None = None
        self._child_cache: dict[int, tuple[dict[str, int], dict[str, int], dict[str, int]]] = {}

    @staticmethod
    def _variants(title: str) -> set[str]:
        out = {norm(title)} | {norm(p) for p in title.split(",")}
        return {o for o in out if o}

    def path(self, i: int) -> tuple[str, ...]:
        out = []
        while i >= 0:
            out.append(self.rows[i][1])
            i = self.parent[i]
        return tuple(reversed(out))

    def cell(self, i: int, column: str) -> str | None:
        return self.rows[i][5][self.columns.index(column)]

    def child(self, i: int, term: str) -> int | None:
        """The child row of ``i`` named ``term``: the whole title first ("lung" before "lingula, lung"), then the
        title without NEC/NOS and function words, then a comma variant of the title ("abdomen, abdominal")."""
        by_title, by_words, by_variant = self._child_keys(i)
        want = norm(term)
        found = by_title.get(want)
        if found is None:
            found = by_words.get(" ".join(words(term)))
        if found is None:
            found = by_variant.get(want)
        return found

    def _child_keys(self, i: int) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """Lookup tables of the children of row ``i``, built once per row (first child wins, as in document order)."""
        keys = self._child_cache.get(i)
        if keys is None:
            by_title: dict[str, int] = {}
            by_words: dict[str, int] = {}
            by_variant: dict[str, int] = {}
            for k in self.children.get(i, []):
                title = self.rows[k][1]
                by_title.setdefault(norm(title), k)
                by_words.setdefault(" ".join(words(title)), k)
                for v in self._variants(title):
                    by_variant.setdefault(v, k)
            keys = self._child_cache[i] = (by_title, by_words, by_variant)
        return keys

    def walk(self, start: int, terms: list[str]) -> int | None:
        i = start
        for t in terms:
            nxt = self.child(i, t)
            if nxt is None:
                return None
            i = nxt
        return i

    def find_path(self, parts: list[str], roots: list[int] | None = None) -> int | None:
        """The row at a comma path; main terms may contain commas themselves (longest head first)."""
        if roots is not None:
            for r in roots:
                found = self.walk(r, parts)
                if found is not None:
                    return found
            return None
        for n in range(len(parts), 0, -1):
            for i in self.mains.get(norm(", ".join(parts[:n])), []):
                found = self.walk(i, parts[n:])
                if found is not None:
                    return found
        for n in range(len(parts), 0, -1):
            for i in self.mains_by_words.get(" ".join(words(", ".join(parts[:n]))), []):
                found = self.walk(i, parts[n:])
                if found is not None:
                    return found
        return None

    def search_words(self, text: str, within: int | None = None, limit: int = 5) -> list[tuple[float, int]]:
        """Rows whose path (below ``within``) covers the words of ``text`` best: (score, row), best first."""
        q = set(words(text))
        if not q:
            return []
        if self._inverted is None:
            inv: dict[str, set[int]] = {}
            for i, row in enumerate(self.rows):
                for w in words(row[1]):
                    inv.setdefault(w, set()).add(i)
            self._inverted = inv
        cand = set().union(*(self._inverted.get(w, set()) for w in q))
        out = []
        for i in cand:
            chain = []
            j = i
            inside = within is None
            while j >= 0:
                if j == within:
                    inside = True
                    break
                chain.append(j)
                j = self.parent[j]
            if not inside:
                continue
            pw = set().union(*(set(words(self.rows[k][1])) for k in chain))
            covered = q & pw
            if not covered:
                continue
            score = len(covered) / len(q) - 0.05 * len(pw - q) - 0.01 * len(chain)
            out.append((score, i))
        out.sort(key=lambda t: (-t[0], t[1]))
        return out[:limit]
