"""The Table of Drugs and Chemicals (FY2025): substance + use + encounter -> a billable T36-T65 code.

Lookup order for a substance:

1. the Table's own entry (main term, a comma path such as ``"Warfarin, rodenticide"``, or its ``see``
   reference: ``"Aleve"`` -> Naproxen; NEC is optional: "opioid" -> "Opioid NEC");
2. a brand name or other name variant of a drug the Table lists (``drug-named-entity-recognition`` names,
   converted by ``scripts/build_icd10cm.py``: "Tylenol" -> Acetaminophen);
   or, for a combination or a longer name, the entry of its first part ("insulin glargine" -> Insulin,
   "amoxicillin-clavulanate" -> Amoxicillin; the note says so);
3. ``fallback="class"``: the drug's class entry of the Table, from the drug -> class map the build script
   derives (MeSH classes matched to class entries by words, or the Table drugs sharing the drug's name
   ending: oseltamivir -> "Antiviral drug NEC" -> T37.5X5- for an adverse effect);
4. ``fallback="T50.99"``: the Table's own entry for a specified drug it does not list ("Drug NEC, specified
   NEC" -> T50.99-).

The 7th character for the encounter is added with :meth:`CodeSet.with_seventh`, so every code returned is a
billable code of the release in use (placeholder X only where the tabular needs it: never T50.99XA).
"""

import logging
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nec_nlp.errors import InputError
from nec_nlp.icd10cm.releases import read_json_gz
from nec_nlp.icd10cm.tables import TermTable, norm

if TYPE_CHECKING:  # pragma: no cover
    from nec_nlp.icd10cm.tabular import CodeSet

logger = logging.getLogger(__name__)

DRUG_FILE = "drugs-2025.json.gz"
CLASS_FILE = "drug-classes.json.gz"
USES = ("poisoning_accidental", "poisoning_intentional", "poisoning_assault", "poisoning_undetermined",
        "adverse_effect", "underdosing")
# the Table's entry for a specified drug it does not list by name
SPECIFIED_DRUG_NEC = ("Drug NEC", "specified NEC")


@dataclass(frozen=True)
class DrugCode:
    """The code for a substance, use and encounter (``code`` None when the Table gives none for the use)."""

    code: str | None
    substance: str
    matched_entry: str | None
    fallback: str | None
    drug_class: str | None
    release: str
    use: str = "adverse_effect"
    encounter: str = "initial"
    stem: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DrugTable:
    """The Table of Drugs and Chemicals for one code set."""

    def __init__(self, cs: "CodeSet", table: dict[str, Any], classes: dict[str, Any]) -> None:
        self.cs = cs
        self.release = cs.release
        self.table = TermTable(table)
        self.classes = classes
        self._class_drugs: dict[str, list[Any]] = classes.get("drugs", {})
        self._aliases: dict[str, str] = classes.get("aliases", {})
        self._entries: dict[str, str] = classes.get("entries", {})
        self._salts: dict[str, list[int]] | None = None

    @classmethod
    def load(cls, cs: "CodeSet") -> "DrugTable":
        return cls(cs, read_json_gz(DRUG_FILE), read_json_gz(CLASS_FILE))

    def _entry_row(self, substance: str) -> int | None:
        parts = [p.strip() for p in substance.split(",") if p.strip()]
        return self.table.find_path(parts) if parts else None

    def _follow_see(self, row: int, depth: int = 0) -> int:
        see = self.table.rows[row][3]
        if see and depth < 3 and not any(self.table.rows[row][5]):
            target = self._entry_row(see)
            if target is not None:
                return self._follow_see(target, depth + 1)
        return row

    def _partial_row(self, name: str) -> tuple[int | None, str | None]:
        """A Table entry for the first component of a combination ("amoxicillin-clavulanate") or the first
        word of a longer name ("insulin glargine"), itself or through a name variant."""
        parts = [p for p in re.split(r"\s*[/+]\s*|(?<=[a-z])-(?=[a-z]{4,})|\s+and\s+|\s+", name.lower()) if p]
        if len(parts) < 2:
            return None, None
        head = parts[0]
        row = self._entry_row(f"{head}, {' '.join(parts[1:])}")  # "sodium chloride" -> Sodium, chloride
        if row is not None:
            return row, None
        row = self._entry_row(head)
        if row is None and head in self._aliases:
            row = self._entry_row(self._aliases[head])
        if row is None:
            return None, None
        rest = set(parts[1:])
        for child in self.table.children.get(row, []):
            # "lithium carbonate" -> Lithium, salts (carbonate): the rest of the name as a subterm or its
            # nonessential modifier
            words = set(re.findall(r"[a-z]+", " ".join(str(x or "") for x in self.table.rows[child][1:3]).lower()))
            if rest & words:
                return child, f"matched the Table entry {', '.join(self.table.path(child))!r}"
        return row, f"matched the Table entry for {head!r}, the first part of the name"

    def _salt_row(self, name: str) -> tuple[int | None, str | None]:
        """The Table's one entry for a salt or ester of a one-word name it does not list by itself
        ("medroxyprogesterone" -> "Medroxyprogesterone acetate"): main terms "<name> <one word>", all coded alike."""
        key = norm(name)
        if not key or " " in key or len(key) < 5:
            return None, None
        if self._salts is None:
            salts: dict[str, list[int]] = {}
            for i in self.table.children.get(-1, []):
                ws = norm(self.table.rows[i][1]).split()
                if len(ws) == 2:
                    salts.setdefault(ws[0], []).append(i)
            self._salts = salts
        rows = self._salts.get(key, [])
        if not rows or len({tuple(self.table.rows[i][5]) for i in rows}) != 1:
            return None, None
        return rows[0], f"{name} is listed as {self.table.rows[rows[0]][1]!r}"

    def drug_class(self, substance: str) -> tuple[str, str, str] | None:
        """``(class entry, via, evidence)`` for a drug the Table does not list, from the shipped class map."""
        key = norm(substance)
        key = self._aliases.get(key, key)
        hit = self._class_drugs.get(key)
        return (hit[0], hit[1], hit[2]) if hit else None

    def lookup(self, substance: str, use: str = "adverse_effect", encounter: str = "initial") -> DrugCode:
        """The billable code for ``substance`` under ``use`` at ``encounter``; see the module docstring.

        Args:
            substance: a drug or chemical name as documented (brand names work when the drug package knows
                them); a comma path selects a Table subterm ("Warfarin, rodenticide").
            use: one of :data:`USES`.
            encounter: ``initial``, ``subsequent`` or ``sequela``.
        """
        if use not in USES:
            raise InputError(f"unknown use {use!r}: use one of {', '.join(USES)}.")
        name = " ".join(str(substance).split())
        row = self._entry_row(name)
        alias_note = None
        if row is None:
            canon = self._aliases.get(norm(name))
            if canon is not None:
                row = self._entry_row(canon)
                alias_note = f"{name} is a name of {canon}"
        if row is None:
            row, alias_note = self._partial_row(name)
        if row is None:
            row, alias_note = self._salt_row(name)
        if row is not None:
            row = self._follow_see(row)
            return self._from_row(row, name, use, encounter, fallback=None, drug_class=None, note=alias_note)
        cls = self.drug_class(name)
        if cls is not None:
            entry, via, evidence = cls
            crow = self._entry_row(entry)
            if crow is not None:
                how = "MeSH class" if via == "mesh" else "name ending"
                return self._from_row(crow, name, use, encounter, fallback="class", drug_class=entry,
                                      note=f"not in the Table; class entry {entry!r} by {how} {evidence}")
        nec = self.table.find_path(list(SPECIFIED_DRUG_NEC))
        if nec is None:  # pragma: no cover - the Table always has it
            raise InputError("the Table of Drugs has no 'Drug NEC, specified NEC' entry")
        return self._from_row(nec, name, use, encounter, fallback="T50.99", drug_class=None,
                              note="not in the Table and no drug class known: specified drug NEC")

    def _from_row(self, row: int, substance: str, use: str, encounter: str, *, fallback: str | None,
                  drug_class: str | None, note: str | None) -> DrugCode:
        stem = self.table.cell(row, use)
        entry = ", ".join(self.table.path(row))
        code = None
        if stem is None:
            note = (note + "; " if note else "") + f"the Table gives no {use.replace('_', ' ')} code for {entry}"
        else:
            code = self.cs.with_seventh(stem.rstrip("-"), encounter)
            if code is None:
                note = (note + "; " if note else "") + f"{stem} is not a code of release {self.release}"
        return DrugCode(code=code, substance=substance, matched_entry=entry, fallback=fallback,
                        drug_class=drug_class, release=self.release, use=use, encounter=encounter, stem=stem,
                        note=note)

    def entries(self) -> list[str]:
        """The Table's main terms."""
        return [self.table.rows[i][1] for i in self.table.children.get(-1, [])]
