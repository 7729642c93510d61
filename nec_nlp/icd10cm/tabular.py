"""The tabular list of one ICD-10-CM release: :class:`Code` records and the :class:`CodeSet` that holds them.

A :class:`CodeSet` is built from the compact form of :mod:`nec_nlp.icd10cm.tabular_xml` (see
:func:`build_state`) and keeps a flat, cache-friendly state (plain dicts and tuples, see
:mod:`nec_nlp.icd10cm.releases` for the cache); :class:`Code` records are created on demand.
"""

import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nec_nlp.errors import CodeSetError
from nec_nlp.icd10cm.kinds import classify, nos_terms
from nec_nlp.icd10cm.tabular_xml import extend_code

if TYPE_CHECKING:  # pragma: no cover
    from nec_nlp.icd10cm.drugs import DrugTable
    from nec_nlp.icd10cm.index import AlphabeticIndex
    from nec_nlp.icd10cm.neoplasms import NeoplasmTable
    from nec_nlp.icd10cm.validation import Validation

logger = logging.getLogger(__name__)

STATE_FORMAT = 3

# row layout in the state: title, parent, chapter, section, kind, secondary_kind, billable, seventh_char,
# placeholder
_T, _P, _CH, _SEC, _K, _K2, _B, _C7, _PH = range(9)

ENCOUNTERS = ("initial", "subsequent", "sequela")


def normalize_code(text: str) -> str:
    """Normalise a typed code: upper case, no whitespace, one dot after the category (``t50 99xa`` ->
    ``T50.99XA``); a trailing ``-`` (the index's "more characters needed" mark) is dropped."""
    raw = re.sub(r"[\s.\u00b7]+", "", str(text)).upper().rstrip("-")
    return f"{raw[:3]}.{raw[3:]}" if len(raw) > 3 else raw


@dataclass(frozen=True)
class Code:
    """One code (category, subcategory or billable code) of a tabular release.

    ``inclusion``, ``excludes1``, ``excludes2``, ``code_first``, ``use_additional``, ``code_also`` and
    ``includes`` are the code's own notes; :meth:`CodeSet.instructions` adds the ones inherited from its
    category and section. ``seventh`` holds the 7th-character meanings that apply to the code (inherited),
    empty when the code takes no 7th character.
    """

    code: str
    title: str
    kind: str
    billable: bool
    parent: str | None
    children: tuple[str, ...]
    chapter: str
    section: str
    release: str
    inclusion: tuple[str, ...] = ()
    nos_terms: tuple[str, ...] = ()
    excludes1: tuple[str, ...] = ()
    excludes2: tuple[str, ...] = ()
    code_first: tuple[str, ...] = ()
    use_additional: tuple[str, ...] = ()
    code_also: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    seventh: dict[str, str] = field(default_factory=dict, hash=False)
    secondary_kind: str | None = None
    seventh_char: str | None = None
    placeholder: bool = False

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d


def build_state(compact: dict[str, Any]) -> dict[str, Any]:
    """Turn the compact form of a tabular release into the flat state a :class:`CodeSet` serves from.

    Leaves under a 7th-character rule get their 7th-character codes (placeholder X added as needed) and stop
    being billable; codes listed in ``seventh_missing`` are left out.
    """
    missing = set(compact.get("seventh_missing", ()))
    seventh_defs: dict[str, dict[str, str]] = compact.get("seventh", {})
    rows: dict[str, tuple[Any, ...]] = {}
    children: dict[str, list[str]] = {}
    notes: dict[str, dict[str, list[str]]] = {}
    seventh_owner: dict[str, str] = {}
    nodes = compact["nodes"]
    has_kids = {n[2] for n in nodes if n[2] is not None}
    for code, title, parent, chapter, section, placeholder, own_notes in nodes:
        owner = code if code in seventh_defs else (seventh_owner.get(parent) if parent else None)
        if owner:
            seventh_owner[code] = owner
        kind, kind2 = classify(title, own_notes.get("inc", ()))
        leaf = code not in has_kids
        rows[code] = (title, parent, chapter, section, kind, kind2, leaf and not owner, None, placeholder)
        if own_notes:
            notes[code] = own_notes
        if parent is not None:
            children.setdefault(parent, []).append(code)
        if leaf and owner:
            for char, meaning in seventh_defs[owner].items():
                ext = extend_code(code, char)
                if ext in missing:
                    continue
                rows[ext] = (f"{title}, {meaning}", code, chapter, section, kind, kind2, True, char, False)
                children.setdefault(code, []).append(ext)
    return {
        "format": STATE_FORMAT,
        "release": compact["release"],
        "version": compact.get("version", ""),
        "chapters": compact.get("chapters", {}),
        "sections": {k: (v[0], v[1]) for k, v in compact.get("sections", {}).items()},
        "section_notes": {k: v[2] for k, v in compact.get("sections", {}).items() if v[2]},
        "rows": rows,
        "children": {k: tuple(v) for k, v in children.items()},
        "notes": notes,
        "seventh": seventh_defs,
        "seventh_owner": seventh_owner,
    }


class CodeSet:
    """The codes of one ICD-10-CM tabular release, with validation and the index/tables built lazily.

    Build one with :func:`nec_nlp.icd10cm.load_code_set`; :meth:`from_compact` builds one in memory
    (e.g. from a ten-code fixture in tests).
    """

    def __init__(self, state: dict[str, Any], *, source: str = "", warnings: tuple[str, ...] = (),
                 checksum: str | None = None) -> None:
        self._s = state
        self._rows: dict[str, tuple[Any, ...]] = state["rows"]
        self._children: dict[str, tuple[str, ...]] = state["children"]
        self._notes: dict[str, dict[str, list[str]]] = state["notes"]
        self._cache: dict[str, Code] = {}
        self.release: str = state["release"]
        self.version: str = state.get("version", "")
        self.source = source
        self.warnings = warnings
        self.checksum = checksum  # sha256 of the data the release was loaded from (None: built in memory)
        self._index: AlphabeticIndex | None = None
        self._drugs: DrugTable | None = None
        self._neoplasms: NeoplasmTable | None = None
        self._searcher: Any = None

    @classmethod
    def from_compact(cls, compact: dict[str, Any], *, source: str = "<memory>") -> "CodeSet":
        """A code set from the compact form of :func:`nec_nlp.icd10cm.tabular_xml.parse_tabular`."""
        return cls(build_state(compact), source=source)

    def __repr__(self) -> str:
        return f"CodeSet(release={self.release!r}, codes={len(self._rows)})"

    # -- access ---------------------------------------------------------------------------------------
    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and normalize_code(code) in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, code: str) -> Code | None:
        """The :class:`Code` for ``code`` (any case, with or without the dot), or None."""
        key = normalize_code(code)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        row = self._rows.get(key)
        if row is None:
            return None
        notes = self._notes.get(key, {})
        inc = tuple(notes.get("inc", ()))
        owner = self._s["seventh_owner"].get(key) or (
            self._s["seventh_owner"].get(row[_P]) if row[_C7] else None)
        c = Code(
            code=key, title=row[_T], kind=row[_K], billable=row[_B], parent=row[_P],
            children=self._children.get(key, ()), chapter=row[_CH], section=row[_SEC], release=self.release,
            inclusion=inc, nos_terms=nos_terms(inc), excludes1=tuple(notes.get("ex1", ())),
            excludes2=tuple(notes.get("ex2", ())), code_first=tuple(notes.get("cf", ())),
            use_additional=tuple(notes.get("ua", ())), code_also=tuple(notes.get("ca", ())),
            includes=tuple(notes.get("includes", ())),
            seventh=dict(self._s["seventh"][owner]) if owner else {},
            secondary_kind=row[_K2], seventh_char=row[_C7], placeholder=row[_PH],
        )
        self._cache[key] = c
        return c

    def require(self, code: str) -> Code:
        """Like :meth:`get` but raises :class:`~nec_nlp.errors.CodeSetError` for an unknown code."""
        c = self.get(code)
        if c is None:
            raise CodeSetError(f"{normalize_code(code)!r} is not a code of ICD-10-CM release {self.release}; "
                               "run `nec-nlp code` on it for the nearest valid codes.")
        return c

    def codes(self, *, billable_only: bool = False) -> Iterator[Code]:
        """All codes in tabular order (categories, subcategories, billable codes)."""
        for key, row in self._rows.items():
            if billable_only and not row[_B]:
                continue
            c = self.get(key)
            assert c is not None
            yield c

    def code_strings(self) -> list[str]:
        """All code strings in tabular order (cheap: no :class:`Code` records are built)."""
        return list(self._rows)

    def is_billable(self, code: str) -> bool:
        row = self._rows.get(normalize_code(code))
        return bool(row and row[_B])

    def kind(self, code: str) -> str:
        """``exact``, ``nec`` or ``nos`` (see :mod:`nec_nlp.icd10cm.kinds`); raises for unknown codes."""
        return self.require(code).kind

    def title(self, code: str) -> str | None:
        row = self._rows.get(normalize_code(code))
        return row[_T] if row else None

    def chapter_title(self, chapter: str) -> str:
        return str(self._s["chapters"].get(chapter, ""))

    def section_title(self, section: str) -> str:
        return str(self._s["sections"].get(section, ("", ""))[0])

    def ancestors(self, code: str) -> list[Code]:
        """The parent chain of ``code``, nearest first, up to its 3-character category."""
        out: list[Code] = []
        parent = self.require(code).parent
        while parent is not None:
            p = self.get(parent)
            assert p is not None
            out.append(p)
            parent = p.parent
        return out

    def billable_descendants(self, code: str) -> list[Code]:
        """The billable codes at or under ``code``, in tabular order."""
        key = self.require(code).code
        out: list[Code] = []
        stack = [key]
        while stack:
            k = stack.pop()
            if self._rows[k][_B]:
                c = self.get(k)
                assert c is not None
                out.append(c)
            stack.extend(reversed(self._children.get(k, ())))
        return out

    def seventh_characters(self, code: str) -> dict[str, str]:
        """The 7th-character meanings that apply to ``code`` (empty when it takes none)."""
        return dict(self.require(code).seventh)

    def instructions(self, code: str) -> dict[str, list[tuple[str, str]]]:
        """The instructional notes that apply to ``code``: its own and its ancestors' and section's,
        as ``{"excludes1": [(from_code, note), ...], "excludes2": ..., "code_first": ..., "use_additional":
        ..., "code_also": ..., "includes": ..., "inclusion": ..., "notes": ..., "seventh_note": ...}``
        (nearest first; ``inclusion`` only the code's own)."""
        keys = {"ex1": "excludes1", "ex2": "excludes2", "cf": "code_first", "ua": "use_additional",
                "ca": "code_also", "includes": "includes", "inc": "inclusion", "notes": "notes",
                "s7note": "seventh_note"}
        out: dict[str, list[tuple[str, str]]] = {v: [] for v in keys.values()}
        c = self.require(code)
        chain = [c.code] + [a.code for a in self.ancestors(c.code)]
        sources = [(k, self._notes.get(k, {})) for k in chain]
        sources.append((c.section, self._s.get("section_notes", {}).get(c.section, {})))
        for src, notes in sources:
            for short, long in keys.items():
                if short == "inc" and src != c.code:
                    continue
                out[long].extend((src, n) for n in notes.get(short, ()))
        return out

    # -- validation and 7th characters ------------------------------------------------------------------
    def validate(self, text: str) -> "Validation":
        """Validate a typed code string; see :func:`nec_nlp.icd10cm.validation.validate`."""
        from nec_nlp.icd10cm.validation import validate

        return validate(self, text)

    def with_seventh(self, code_stem: str, encounter: str = "initial") -> str | None:
        """The billable code for ``code_stem`` at ``encounter`` (``initial``, ``subsequent`` or ``sequela``).

        Adds the placeholder X only where the tabular needs it (T45.515 -> T45.515A, T37.5X5 -> T37.5X5A,
        T50.99 -> None because T50.99 is not a leaf). The character is the first whose meaning starts with the
        encounter word (fracture codes: ``A`` "initial encounter for closed fracture"). A stem that is
        already billable and takes no 7th character is returned as it is. None when no valid code results.
        """
        if encounter not in ENCOUNTERS:
            raise CodeSetError(f"unknown encounter {encounter!r}: use one of {', '.join(ENCOUNTERS)}.")
        stem = normalize_code(code_stem)
        c = self.get(stem)
        if c is None:
            return None
        if c.billable and not c.seventh_char:
            return c.code if not c.seventh else None
        if c.seventh_char:
            base = c.parent
            c = self.get(base) if base else None
            if c is None:
                return None
        if not c.seventh or any(not self._rows[k][_C7] for k in c.children):
            return None
        for char, meaning in c.seventh.items():
            if meaning.lower().startswith(encounter):
                ext = extend_code(c.code, char)
                return ext if self.is_billable(ext) else None
        return None

    # -- search ------------------------------------------------------------------------------------------
    def search_titles(self, text: str, limit: int = 20, *, billable_only: bool = False) -> list[tuple[str, float]]:
        """Fuzzy search over titles and inclusion terms (char 3-gram TF-IDF, built on first use)."""
        from nec_nlp.icd10cm.search import TitleSearcher

        if self._searcher is None:
            self._searcher = TitleSearcher.load(self)
        return self._searcher.search(text, limit=limit, billable_only=billable_only)

    # -- companion tables (built lazily) -----------------------------------------------------------------
    @property
    def index(self) -> "AlphabeticIndex":
        """The Alphabetic Index, reconciled with this release."""
        if self._index is None:
            from nec_nlp.icd10cm.index import AlphabeticIndex

            self._index = AlphabeticIndex.load(self)
        return self._index

    @property
    def drugs(self) -> "DrugTable":
        """The Table of Drugs and Chemicals, with the drug-class fallback."""
        if self._drugs is None:
            from nec_nlp.icd10cm.drugs import DrugTable

            self._drugs = DrugTable.load(self)
        return self._drugs

    @property
    def neoplasms(self) -> "NeoplasmTable":
        """The Table of Neoplasms."""
        if self._neoplasms is None:
            from nec_nlp.icd10cm.neoplasms import NeoplasmTable

            self._neoplasms = NeoplasmTable.load(self)
        return self._neoplasms
