"""Read a CMS ICD-10-CM tabular XML (``icd10cm-tabular-*.xml``) into the project's compact form.

The compact form is a plain JSON-able dict (format 1)::

    {"format": 1, "release": "2026-04", "version": "2026",
     "chapters": {"1": "Certain infectious ... (A00-B99)", ...},
     "sections": {"A00-A09": ["Intestinal infectious diseases (A00-A09)", "1", notes], ...},
     "nodes": [[code, title, parent, chapter, section, placeholder, notes], ...],   # document order
     "seventh": {code: {char: meaning}},          # where a sevenChrDef is declared
     "seventh_missing": ["S02.11AA", ...]}        # 7th-character codes the code list says do not exist

``notes`` is a dict with the keys present among ``inc`` (inclusion terms), ``includes``, ``ex1``, ``ex2``,
``cf`` (code first), ``ua`` (use additional code), ``ca`` (code also), ``notes`` and ``s7note``.
"""

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

FORMAT = 1

_NOTE_TAGS = {
    "inclusionTerm": "inc",
    "includes": "includes",
    "excludes1": "ex1",
    "excludes2": "ex2",
    "codeFirst": "cf",
    "useAdditionalCode": "ua",
    "codeAlso": "ca",
    "notes": "notes",
    "sevenChrNote": "s7note",
}


def _text(el: ET.Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def _notes(el: ET.Element) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for child in el:
        key = _NOTE_TAGS.get(child.tag)
        if key:
            out.setdefault(key, []).extend(_text(n) for n in child.findall("note") if n.text)
    return out


def _seventh_def(el: ET.Element) -> dict[str, str] | None:
    sdef = el.find("sevenChrDef")
    if sdef is None:
        return None
    out: dict[str, str] = {}
    last = None
    for ext in sdef:
        if ext.tag == "extension":
            last = ext.attrib["char"]
            out[last] = _text(ext)
        elif ext.tag == "note" and last is not None:
            out[last] = f"{out[last]}/{_text(ext)}"
    return out


def read_code_list(path: str | Path) -> set[str]:
    """Read a ``code-list-*.txt`` of simple-icd-10-cm (one undotted code per line)."""
    return {line.split(" ")[0].strip().replace(".", "") for line in Path(path).read_text("utf-8").splitlines()
            if line.strip()}


def extend_code(code: str, char: str) -> str:
    """``code`` (dotted) with placeholder X up to 6 characters and ``char`` as 7th: T50.99 + A -> T50.99XA."""
    raw = code.replace(".", "").ljust(6, "X") + char
    return f"{raw[:3]}.{raw[3:]}"


def parse_tabular(xml_path: str | Path, release: str, code_list: set[str] | None = None) -> dict[str, Any]:
    """Parse a CMS tabular XML file into the compact form.

    Args:
        xml_path: the tabular XML.
        release: release id to record (e.g. ``"2026-04"``).
        code_list: optional set of all valid undotted codes of the release; 7th-character codes absent
            from it are recorded in ``seventh_missing`` (a few code families restrict their 7th characters).

    Returns:
        The compact dict described in the module docstring.
    """
    root = ET.parse(str(xml_path)).getroot()
    chapters: dict[str, str] = {}
    sections: dict[str, list[Any]] = {}
    nodes: list[list[Any]] = []
    seventh: dict[str, dict[str, str]] = {}
    missing: list[str] = []

    def walk(el: ET.Element, parent: str | None, chapter: str, section: str,
             sdef: dict[str, str] | None) -> None:
        code = _text(el.find("name"))
        title = _text(el.find("desc"))
        own = _seventh_def(el)
        if own is not None:
            seventh[code] = own
            sdef = own
        notes = _notes(el)
        nodes.append([code, title, parent, chapter, section, el.attrib.get("placeholder") == "true", notes])
        kids = el.findall("diag")
        for kid in kids:
            walk(kid, code, chapter, section, sdef)
        if not kids and sdef and code_list is not None:
            for char in sdef:
                ext = extend_code(code, char)
                if ext.replace(".", "") not in code_list:
                    missing.append(ext)

    for chap in root.findall("chapter"):
        num = _text(chap.find("name"))
        chapters[num] = _text(chap.find("desc"))
        for sec in chap.findall("section"):
            sid = sec.attrib.get("id", "")
            sections[sid] = [_text(sec.find("desc")), num, _notes(sec)]
            for diag in sec.findall("diag"):
                walk(diag, None, num, sid, None)
    version = _text(root.find("version"))
    return {"format": FORMAT, "release": release, "version": version, "chapters": chapters,
            "sections": sections, "nodes": nodes, "seventh": seventh, "seventh_missing": sorted(missing)}


def guess_release(xml_path: str | Path) -> str:
    """A release id from a CMS file name (``...April-1-2026.xml`` -> ``2026-04``), else the file stem."""
    name = Path(xml_path).name
    months = {m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july",
                                           "august", "september", "october", "november", "december"], 1)}
    m = re.search(r"(january|february|march|april|may|june|july|august|september|october|november|december)"
                  r"\D*?(?:\d{1,2}\D+)?(\d{4})", name, re.IGNORECASE)
    if m:
        return f"{m.group(2)}-{months[m.group(1).lower()]:02d}"
    m = re.search(r"(20\d\d)", name)  # a fiscal-year file: in force from October of the year before
    return f"{int(m.group(1)) - 1}-10" if m else Path(xml_path).stem
