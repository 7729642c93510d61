"""The Table of Neoplasms (FY2025): anatomical site + behaviour -> code, reconciled with the tabular in use.

A site is matched as a comma path below "Neoplasm, neoplastic" (``"lung"``, ``"lung, upper lobe"``), else by
the words of its path (``"upper lobe of lung"``); ``see`` references are followed. Table cells printed with
``-`` (``C34.9-``) or expanded since FY2025 descend to their unspecified child like Alphabetic Index codes
(:func:`nec_nlp.icd10cm.index.reconcile`).
"""

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nec_nlp.errors import InputError
from nec_nlp.icd10cm.index import reconcile
from nec_nlp.icd10cm.releases import read_json_gz
from nec_nlp.icd10cm.tables import TermTable

if TYPE_CHECKING:  # pragma: no cover
    from nec_nlp.icd10cm.tabular import CodeSet

NEOPLASM_FILE = "neoplasms-2025.json.gz"
BEHAVIOURS = ("malignant_primary", "malignant_secondary", "in_situ", "benign", "uncertain", "unspecified")
_ALIASES = {"malignant": "malignant_primary", "primary": "malignant_primary", "secondary": "malignant_secondary",
            "metastatic": "malignant_secondary", "ca_in_situ": "in_situ", "uncertain_behavior": "uncertain",
            "uncertain_behaviour": "uncertain", "unspecified_behavior": "unspecified",
            "unspecified_behaviour": "unspecified"}


@dataclass(frozen=True)
class NeoplasmCode:
    """The code for a site and behaviour (``printed`` as in the Table, ``code`` billable in ``release``)."""

    code: str | None
    site: str
    matched_entry: str
    release: str
    behaviour: str = "unspecified"
    printed: str | None = None
    note: str | None = None
    exact_site: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NeoplasmTable:
    """The Table of Neoplasms for one code set."""

    def __init__(self, cs: "CodeSet", table: dict[str, Any]) -> None:
        self.cs = cs
        self.release = cs.release
        self.table = TermTable(table)
        self._root = self.table.children.get(-1, [0])[0]

    @classmethod
    def load(cls, cs: "CodeSet") -> "NeoplasmTable":
        return cls(cs, read_json_gz(NEOPLASM_FILE))

    def _site_row(self, site: str) -> tuple[int | None, bool]:
        parts = [p.strip() for p in site.split(",") if p.strip()]
        if parts and parts[0].lower().startswith("neoplasm"):
            parts = parts[1:]
        if not parts:
            return self._root, True
        row = self.table.find_path(parts, roots=[self._root])
        if row is not None:
            return row, True
        hits = self.table.search_words(site, within=self._root, limit=1)
        return (hits[0][1], False) if hits else (None, False)

    def lookup(self, site: str, behaviour: str = "unspecified") -> NeoplasmCode | None:
        """The code for a neoplasm of ``site`` with ``behaviour`` (one of :data:`BEHAVIOURS`); None when no
        site of the Table matches."""
        beh = _ALIASES.get(behaviour.lower().replace(" ", "_"), behaviour.lower().replace(" ", "_"))
        if beh not in BEHAVIOURS:
            raise InputError(f"unknown neoplasm behaviour {behaviour!r}: use one of {', '.join(BEHAVIOURS)}.")
        row, exact = self._site_row(site)
        if row is None:
            return None
        for _ in range(3):  # follow see references ("see Neoplasm, sinus")
            see = self.table.rows[row][3]
            if see and not any(self.table.rows[row][5]):
                target, _ok = self._site_row(see)
                if target is None:
                    break
                row = target
            else:
                break
        printed = self.table.cell(row, beh)
        entry = ", ".join(self.table.path(row))
        see_note = None
        see_also = self.table.rows[row][4]
        if printed is None and see_also:  # "colon" has no benign cell: see also "Neoplasm, intestine, large"
            target, _ok = self._site_row(see_also)
            if target is not None and self.table.cell(target, beh):
                printed = self.table.cell(target, beh)
                see_note = f"{entry} has no {beh.replace('_', ' ')} code: see also {see_also}"
                entry = ", ".join(self.table.path(target))
        if printed is None:
            return NeoplasmCode(code=None, site=site, matched_entry=entry, release=self.release, behaviour=beh,
                                note=f"the Table gives no {beh.replace('_', ' ')} code for {entry}",
                                exact_site=exact)
        code, note = reconcile(self.cs, printed)
        if see_note:
            note = see_note + (f"; {note}" if note else "")
        if not exact:
            note = f"site matched by words: {entry}" + (f"; {note}" if note else "")
        return NeoplasmCode(code=code, site=site, matched_entry=entry, release=self.release, behaviour=beh,
                            printed=printed, note=note, exact_site=exact)

    def sites(self, site: str | None = None) -> list[str]:
        """The subterms under ``site`` (top-level sites when None), for walking the Table by words."""
        row = self._root if not site else self._site_row(site)[0]
        if row is None:
            return []
        return [self.table.rows[k][1] for k in self.table.children.get(row, [])]
