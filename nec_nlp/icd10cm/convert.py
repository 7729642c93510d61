"""Converters used by ``scripts/build_icd10cm.py``: the FY2025 CMS index files -> compact JSON-able objects.

Build-time only (not imported at run time); the drug-class part needs the ``build`` extra
(``drug-named-entity-recognition``).

- :func:`build_index`: the Alphabetic Index CSV -> ``{"columns": [...], "rows": [[level, term, code, see,
  see_also, nonessential], ...]}`` in document order (a term's path is rebuilt from the levels at load time).
- :func:`build_neoplasm_table` / the table part of :func:`build_drug_table`: CMS table XML ->
  ``{"columns": [...], "rows": [[level, title, nonessential, see, see_also, [cell, ...]], ...]}``.
- the class part of :func:`build_drug_table`: drug name -> MeSH class -> Table-of-Drugs class entry,
  derived from ``drug-named-entity-recognition`` and the Table itself (see :func:`build_drug_classes`).
"""

import bz2
import csv
import importlib.metadata
import importlib.util
import pickle
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

MIN_ENDING_SUPPORT = 3  # Table drugs that must share a name ending before it decides a class
MIN_ENDING_AGREEMENT = 0.75  # share of those drugs that must fall in one class entry's code family
DRUG_USES = ["poisoning_accidental", "poisoning_intentional", "poisoning_assault", "poisoning_undetermined",
             "adverse_effect", "underdosing"]
NEOPLASM_BEHAVIOURS = ["malignant_primary", "malignant_secondary", "in_situ", "benign", "uncertain",
                       "unspecified"]


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


_CONNECTOR_TERMS = frozenset({"and", "with", "in", "on", "or", "of", "due to", "without"})


def build_index(csv_path: Path) -> dict[str, Any]:
    """The Alphabetic Index CSV as compact rows (level, term, code, see, see_also, nonessential modifiers)."""
    rows = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            term, noness = _clean(r["Term"]), _clean(r["NonEssModif"])
            essential = _clean(re.sub(r"\([^()]*\)", " ", noness))
            if essential and term.lower() in _CONNECTOR_TERMS:
                # the CSV puts "Failure, heart, diastolic, acute - and (on) chronic" as the term "and" with the
                # modifiers "(on) chronic (congestive)": "chronic" is no modifier but the subterm's own word
                term = f"{term} {essential}"
                noness = " ".join(re.findall(r"\([^()]*\)", noness))
            rows.append([int(r["Level"]), term, _clean(r["Code"]) or None, _clean(r["See"]) or None,
                         _clean(r["SeeAlso"]) or None, noness or None])
    return {"columns": ["level", "term", "code", "see", "see_also", "nonessential"], "rows": rows}


def _table_rows(xml_path: Path) -> tuple[list[str], list[list[Any]]]:
    root = ET.parse(str(xml_path)).getroot()
    heads = [_clean(h.text) for h in root.iter("head")]
    rows: list[list[Any]] = []

    def walk(el: ET.Element, level: int) -> None:
        title_el = el.find("title")
        title = _clean(title_el.text if title_el is not None else "")
        nemod = " ".join(_clean(n.text) for n in title_el.findall("nemod")) if title_el is not None else ""
        cells: list[str | None] = [None] * (len(heads) - 1)
        for cell in el.findall("cell"):
            col = int(cell.attrib["col"]) - 2
            val = _clean(cell.text)
            cells[col] = val if val and set(val) != {"-"} else None
        see = el.find("see")
        see_also = el.find("seeAlso")
        rows.append([level, title, nemod or None, _clean(see.text) if see is not None else None,
                     _clean(see_also.text) if see_also is not None else None, cells])
        for term in el.findall("term"):
            walk(term, int(term.attrib.get("level", level + 1)))

    for letter in root.findall("letter"):
        for main in letter.findall("mainTerm"):
            walk(main, 0)
    return heads, rows


def build_neoplasm_table(xml_path: Path) -> dict[str, Any]:
    heads, rows = _table_rows(xml_path)
    return {"headings": heads, "columns": NEOPLASM_BEHAVIOURS, "rows": rows}


# -- drug classes ------------------------------------------------------------------------------------------
_WORD = re.compile(r"[a-z]+")
# words that carry no class meaning when matching MeSH class names to Table class entries
_STOP = {"system", "systems", "agent", "agents", "drug", "drugs", "nec", "and", "or", "of", "the", "other",
         "substance", "substances", "medicament", "medicaments", "preparation", "preparations", "compound",
         "compounds", "type", "combination", "combinations", "a", "in", "for", "with", "by", "to"}


def _stem(word: str) -> str:
    for suf in ("ics", "ic", "als", "al", "ants", "ant", "ents", "ent", "es", "s"):
        if word.endswith(suf) and len(word) - len(suf) >= 4:
            return word[: -len(suf)]
    return word


def _class_words(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP)


def _drug_stem_code(cells: list[str | None]) -> str | None:
    """The adverse-effect column's code family (T37.5X-) of a Table row, when the row is a medicinal drug."""
    ae = cells[DRUG_USES.index("adverse_effect")]
    return ae[:-1] if ae else None


def build_drug_classes(table: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Drug name -> Table-of-Drugs class entry, for drugs the Table does not list by name.

    Steps (all derived from data, no hand-typed codes):

    1. *Class entries* of the Table: main terms with a drug (adverse-effect) column whose title names a class
       ("Antiviral drug NEC", "Anticoagulant NEC", "Penicillin NEC", ...).
    2. *MeSH class -> class entry*: every class-like MeSH descriptor of ``drug-named-entity-recognition``
       (those whose tree number is an ancestor of drugs' tree numbers, or D27 "pharmacologic action" classes)
       is matched to the class entry with the same content words as the head of its name (stemmed, stop
       words such as agent/drug/NEC dropped: "antiviral agents" ~ "Antiviral drug NEC").
    3. *Drug -> MeSH class*: a drug's MeSH tree numbers are walked up to the nearest class matched in step 2.
    4. *Drug -> name-ending class* (for drugs whose MeSH tree holds no matched class, e.g. oseltamivir, whose
       tree numbers are chemical only): the drug's name ending is compared with the Table's own drug names
       (those the drug package also knows as drugs); the longest ending (3 to 8 letters) shared by at least
       ``MIN_ENDING_SUPPORT`` Table drugs of which ``MIN_ENDING_AGREEMENT`` fall in one class entry's code
       family decides (-vir: acyclovir, aciclovir, ganciclovir -> T37.5X- -> Antiviral drug NEC).

    Returns:
        ``(classes, sources)``: ``classes`` = ``{"entries": {entry title: adverse-effect stem}, "drugs":
        {drug name: [entry title, via, mesh class]}}``; ``sources`` names the package and version used.
    """
    rows = table["rows"]
    # 1. class entries: level-0 rows with a drug column whose title ends in NEC or names a drug class
    entries: dict[str, str] = {}
    for level, title, _nemod, _see, _see_also, cells in rows:
        stem = _drug_stem_code(cells)
        if level == 0 and stem and (title.endswith(" NEC") or re.search(r"\b(drug|agent)s?\b", title, re.I)):
            entries.setdefault(title, stem)
    entry_words = {t: _class_words(t) for t in entries}
    # Table names (all levels) of medicinal rows, for the name-stem vote
    table_names: dict[str, str] = {}
    for level, title, _nemod, _see, _see_also, cells in rows:
        stem = _drug_stem_code(cells)
        if stem and level == 0 and re.fullmatch(r"[A-Za-z][a-z-]+", title):
            table_names.setdefault(title.lower(), stem)
    stem_to_entry: dict[str, str] = {}
    for t, s in sorted(entries.items(), key=lambda kv: (not kv[0].endswith(" NEC"), len(kv[0]))):
        stem_to_entry.setdefault(s, t)

    spec = importlib.util.find_spec("drug_named_entity_recognition")
    assert spec and spec.origin, "drug-named-entity-recognition is not installed (pip install -e '.[build]')"
    pkl = Path(spec.origin).parent / "drug_ner_dictionary.pkl.bz2"
    with bz2.open(pkl, "rb") as f:
        d = pickle.load(f)  # noqa: S301 - the package's own shipped dictionary
    canon: dict[str, dict[str, Any]] = d["drug_canonical_to_data"]
    variants: dict[str, list[str]] = d["drug_variant_to_canonical"]

    # 2. MeSH classes: descriptors that are ancestors of other drugs' tree numbers, or D27 classes
    tree_to_name: dict[str, str] = {}
    for name, data in canon.items():
        for t in data.get("mesh_tree", ()):
            tree_to_name.setdefault(t, name)
    prefixes = {".".join(t.split(".")[:i]) for data in canon.values() for t in data.get("mesh_tree", ())
                for i in range(1, t.count(".") + 1)}
    class_trees = {t: n for t, n in tree_to_name.items() if t in prefixes or t.startswith("D27")}
    mesh_to_entry: dict[str, str] = {}
    for t, name in class_trees.items():
        # the head of a MeSH name is before its comma ("anesthetics, local" -> anesthetics)
        words = _class_words(name.split(",")[0])
        if not words:
            continue
        best = [e for e, ew in entry_words.items() if ew == words]
        if best:
            mesh_to_entry[name] = min(best, key=len)

    def mesh_class(name: str) -> tuple[str, str] | None:
        for t in canon.get(name, {}).get("mesh_tree", ()):
            parts = t.split(".")
            for i in range(len(parts) - 1, 0, -1):
                cls = class_trees.get(".".join(parts[:i]))
                if cls and cls in mesh_to_entry:
                    return cls, mesh_to_entry[cls]
        return None

    # 4. name endings voted by the Table's own drug names (only names the drug package knows as drugs)
    ending_votes: dict[str, Counter[str]] = defaultdict(Counter)
    ending_examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, stem in table_names.items():
        if name not in variants:
            continue
        for n in range(3, min(len(name) - 2, 8) + 1):
            ending_votes[name[-n:]][stem] += 1
            ending_examples[(name[-n:], stem)].append(name)

    def ending_class(name: str) -> tuple[str, str] | None:
        if not re.fullmatch(r"[a-z]+", name):
            return None
        for n in range(min(len(name) - 2, 8), 2, -1):
            votes = ending_votes.get(name[-n:])
            if not votes:
                continue
            stem, count = votes.most_common(1)[0]
            if count >= MIN_ENDING_SUPPORT and count / sum(votes.values()) >= MIN_ENDING_AGREEMENT \
                    and stem in stem_to_entry:
                examples = ", ".join(sorted(ending_examples[(name[-n:], stem)])[:4])
                return f"-{name[-n:]} ({examples})", stem_to_entry[stem]
        return None

    drugs: dict[str, list[Any]] = {}
    for name in canon:
        if name in table_names:
            continue
        hit = mesh_class(name)
        if hit:
            drugs[name] = [hit[1], "mesh", hit[0]]
            continue
        hit2 = ending_class(name)
        if hit2:
            drugs[name] = [hit2[1], "name", hit2[0]]
    # brand names and other variants -> their canonical drug (listed in the Table, or classed above)
    all_table_names = {r[1].lower() for r in rows if r[0] == 0}
    aliases: dict[str, str] = {}
    for var, cans in variants.items():
        if not cans or var == cans[0] or var in drugs or var in all_table_names or len(var) > 40:
            continue
        if cans[0] in drugs or cans[0] in all_table_names:
            aliases[var] = cans[0]
    sources = {"package": f"drug-named-entity-recognition=={importlib.metadata.version('drug-named-entity-recognition')}",
               "file": pkl.name, "mesh_classes_matched": len(mesh_to_entry)}
    classes = {"entries": entries, "mesh_to_entry": dict(sorted(mesh_to_entry.items())), "drugs": drugs,
               "aliases": aliases}
    return classes, sources


def build_drug_table(xml_path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    heads, rows = _table_rows(xml_path)
    table = {"headings": heads, "columns": DRUG_USES, "rows": rows}
    classes, sources = build_drug_classes(table)
    return table, classes, sources
