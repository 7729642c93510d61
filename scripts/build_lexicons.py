"""Build the extraction pipeline's lexicons from real sources into ``nec_nlp/pipeline/resources/``.

Sources (all read directly, nothing hand-typed but small stop lists and the abbreviation table):

* CONDITION: main terms of the ICD-10-CM Alphabetic Index (``ICD10CM_2025_Index.csv``) and their multiword clinical
  forms ("heart failure", "coronary artery disease", "diabetes mellitus"), a form being kept only when the tabular
  list (titles and inclusion terms) uses it as a term of its own; site + condition names that several tabular texts
  write as one unit ("intracranial hemorrhage"); ICD-attested participles of condition nouns ("retracted",
  predicative only) and verb forms of chapter-R signs ("coughing", "wheezes"); the whole title of a disease code
  (chapters A-Q) when it is one name ("disseminated intravascular coagulation"). A coded index subterm is read with
  its main term in the word order the MTSamples notes use ("Alcohol - withdrawal" -> "alcohol withdrawal"), counted
  over the notes that no diagnosis statement of ``corpora/statements`` was taken from.
* SITE: anatomical site terms of the Table of Neoplasms plus index main terms that say "see condition" and name a
  body part, without index fragments that are no anatomy ("with foreign body", "ankle laceration").
* TYPE: index main terms that say "see condition" and are no body part (acute, benign, atypical ...) plus the
  index subterms that qualify many different main terms (chronic, recurrent, severe ...).
* CAUSE: organisms named in tabular titles ("... due to Streptococcus pneumoniae", "... as the cause of diseases
  classified elsewhere") plus cause adjectives that are index subterms (postoperative, viral ...).
* DRUG: drug names and brand names of the PyPI package ``drug-named-entity-recognition`` with their MeSH tree
  numbers as classes, plus the medicinal class names of the Table of Drugs and Chemicals (antibiotic, diuretic ...).
* abbreviations: ``nec_nlp/pipeline/resources/abbreviations.jsonl`` is hand-kept (abbreviation -> expansion); this
  script checks that every expansion is a lexicon term and writes ``abbreviations_checked.jsonl``.

Every output line is ``{"label", "term", "source", ...}``; ``manifest.json`` records source files and checksums.

Usage: python scripts/build_lexicons.py [--shared ../shared] [--tabular PATH] [--out nec_nlp/pipeline/resources]
"""

import argparse
import bz2
import csv
import hashlib
import json
import pickle
import re
import unicodedata
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]

# Index main terms that are ordinary words or encounter reasons rather than disorders (the Z-code filter below
# removes most encounter terms; these are the common words it cannot see).
CONDITION_STOP = {
    "anastomosis", "fire",
    "history", "status", "death", "problem", "examination", "admission", "observation", "encounter", "care", "test",
    "screening", "counseling", "follow-up", "presence", "absence", "use", "user", "exposure", "person", "left",
    "right", "change", "changes", "finding", "findings", "abnormal", "abnormality", "disease", "disorder",
    "syndrome", "condition", "lesion", "injury", "infection", "failure", "complication", "complications", "effect",
    "effects", "state", "sequelae", "late", "damage", "difficulty", "disturbance", "dysfunction", "defect",
    "deformity", "anomaly", "malformation", "insufficiency", "deficiency", "problem", "reaction", "trouble",
    "loss", "mass", "weakness", "tension", "pressure", "fall", "falling", "contact", "drop", "drinking", "smoker",
    "long-term", "maintenance", "removal", "fitting", "replacement", "dependence", "living", "hit", "poor",
    "underweight", "overweight", "stress", "tired", "tiredness", "ill", "illness", "sick", "sickness", "stroke",
    "arrest", "block", "blocked", "burn", "cut", "crush", "foreign", "heat", "cold", "dry", "discharge", "fluid",
    "growth", "lump", "spots", "spot", "shock", "strain", "tear", "break", "place", "position", "rest", "stiff",
    "stiffness", "tender", "tenderness", "swelling", "wound", "palpitation", "collapse", "delivery", "labor",
    "birth", "pregnancy", "pregnant", "newborn", "twin", "multiple", "single", "single liveborn", "liveborn",
    "resistance", "resistant", "carrier", "donor", "contraception", "sterilization", "vaccination", "supervision",
    "transplant", "artificial", "attention", "aftercare", "prophylactic", "unemployment", "problems",
    "bite", "sting", "hanging", "drowning", "asphyxia", "gangrene", "old", "anesthesia", "impression", "injection",
    "type", "female", "male", "symptoms", "complaint", "heart", "skin", "nerve", "nose", "lung", "breast", "muscle",
    "bone", "blood", "evidence", "weight", "suture", "incision", "pulse", "rhythm", "sleep", "speech", "light",
    "may", "round", "short", "high", "large", "small", "low", "positive", "negative", "palpable", "pathology",
    "surgical", "secondary", "gestational", "baby", "cavity", "distress", "insertion", "response", "pattern",
    "situation", "delay", "extra", "double", "feeling", "air", "night", "twist", "hole", "pin", "plaque",
    "traction", "african", "american", "japanese", "black", "yellow", "white", "button", "word", "language",
    "increase", "decrease", "persistence", "missed", "scar", "closure", "ring", "sponge", "shower", "water",
    "food", "child", "children", "mobility", "movements", "sensations", "episodes", "limits", "remains",
    "discharge", "complication", "complications", "plus", "stimulation", "guidance", "straining", "frozen",
    "simple", "illness", "aspiration", "presentation", "development", "desertion", "bent", "aberrant",
    "limit", "dissection", "reflex", "reflexes", "episode", "temperature", "coagulation", "arch", "sensation",
    "vision", "appetite", "voice", "sputum", "band", "flat", "slow", "tobacco", "alcohol", "index", "side",
    # words of procedure and anatomy descriptions ("the opening of the nerve root", "pericardial window", "skin
    # flap", "atrial appendage", "fixation lead", "gastric remnant", "macula", "calf squeeze", "freely mobile")
    "opening", "window", "flap", "appendage", "fixation", "remnant", "implant", "implants", "ampulla", "macula",
    "squeeze", "mobile", "fat", "leakage", "curvature", "line", "mark", "direction", "appearance", "swimmer's",
}
# Generic heads whose named level-1 entries are one condition name, subterm first ("cubital tunnel syndrome")
NAMED_HEADS = {"syndrome", "disease", "disorder"}
# Generic heads: kept only inside multiword forms ("heart failure", "kidney disease").
GENERIC_HEADS = {
    "disease", "disorder", "syndrome", "failure", "infection", "insufficiency", "deficiency", "injury", "lesion",
    "abnormality", "anomaly", "complication", "defect", "dysfunction", "reaction", "pain", "effect",
}
# Conditions the stop list removes as single words but whose clinical use is unambiguous.
CONDITION_KEEP = {"stroke", "gangrene", "tear", "burn", "bite", "strain", "sting", "swelling", "palpitation", "tenderness", "asphyxia", "pain", "mass", "lesion",
                  "deformity", "weakness", "stiffness", "infection", "injury", "dysfunction", "abnormality",
                  "sickness", "tumor", "lupus", "trauma", "defect"}
EXTERNAL_STOP = {"activity", "change", "complication", "contact", "disease", "effect", "exposure", "failure",
                 "food", "high", "low", "object", "procedure", "sequelae", "status", "travel", "victim", "wound",
                 "legal", "nail", "prolonged", "reduction", "wrong", "took", "earth", "thirst", "hunger", "casualty",
                 "discharge", "sitting", "standing", "running", "reaching", "kneeling", "fracture", "hemorrhage",
                 "injury", "shock", "sickness", "radiation", "heat", "noise", "storm", "catching", "ictus", "cat",
                 "broken", "dropped", "crushed", "frozen", "melting", "hot", "washed", "premature", "thrown"}
SITE_NOT = {"old", "female", "male", "index", "side", "soft", "newborn", "involving", "respirations", "scar",
            "disease", "syndrome", "penetration", "axis", "midline", "radicular", "respiratory",
            # neoplasm-table and index words that are no anatomy: devices, tumour names, qualifiers, events
            "catheter", "instrument", "electronic", "infusion", "dialysis", "stump", "bite", "book-leaf",
            "carcinoid", "carcinoma", "fibrosarcoma", "hepatoblastoma", "hepatoma", "melanoma", "mesothelioma",
            "nevus", "melanotic", "lipomatous", "metastatic", "disseminated", "immunoproliferative",
            "hematopoietic", "ectopic", "descended", "undescended", "descending", "retained", "penetrating",
            "nontraumatic", "non-cardiac", "non-uterine", "orthopedic", "ovulation", "premenstrual", "postpartal",
            "rebound", "respiration", "thermal", "false", "great", "greater", "lesser", "little", "hard", "round",
            "minus", "crystalline", "anginoid", "odontogenic", "pluriendocrine", "pluriglandular"}
SITE_STOP = {
    "other", "specified", "unspecified", "site", "sites", "multiple", "part", "parts", "tissue", "tissues", "wall",
    "cavity", "organ", "organs", "system", "left", "right", "region", "area", "surface", "lobe", "body", "duct",
    "canal", "cell", "cells", "gland", "glands", "connective", "accessory", "overlapping lesion", "ill-defined",
    "skin", "structure", "structures", "cord", "floor", "roof", "fold", "folds", "tract", "membrane", "process",
    "portion", "border", "junction", "margin", "angle", "point", "space", "tip", "base", "tube", "vessel",
    "vessels", "node", "nodes", "center", "central", "lateral", "medial", "upper", "lower", "middle", "posterior",
    "anterior", "inferior", "superior", "internal", "external", "deep", "superficial", "main", "head", "back",
}
TYPE_STOP = {
    "left", "right", "bilateral", "other", "specified", "unspecified", "with", "without", "due", "in", "of",
    "and", "or", "nos", "nec", "see", "also", "newborn", "history", "type", "stage", "old", "late", "current",
    "following", "fever", "general", "simple", "true", "false", "secondary", "primary", "complicating",
    "personal", "family", "mother", "maternal", "fetus", "fetal", "perinatal", "due to", "cause", "causing",
    "resulting", "affecting", "involving", "alcohol", "ascending", "descending", "accidental", "auditory",
    "multiple", "total", "ocular", "sigmoid", "functional", "complete", "local", "significant",
}
CAUSE_WORDS = {
    "postoperative", "postprocedural", "post-procedural", "post-operative", "postsurgical", "post-traumatic",
    "posttraumatic", "traumatic", "viral", "bacterial", "fungal", "drug-induced", "alcohol-induced", "alcoholic",
    "iatrogenic", "infectious", "infective", "parasitic", "radiation", "radiation-induced", "steroid-induced",
    "postinfectious", "postherpetic", "diabetic", "hypertensive", "ischemic", "toxic", "occupational",
}
DRUG_STOP = {
    "today", "plan", "care", "bid", "tid", "qid", "daily", "oral", "tablet", "tablets", "capsule", "dose",
    "doses", "water", "oxygen", "air", "food", "salt", "sugar", "iron", "gold", "silver", "lead", "tar", "gas",
    "smoke", "paint", "glue", "dye", "soap", "oil", "alcohol", "fat", "protein", "blood", "plasma", "saline",
    "normal", "nos", "nec", "medicine", "medicines", "medication", "medications", "drug", "drugs", "agent",
    "agents", "hormone", "hormones", "enzyme", "vitamin", "vitamins", "ointment", "lotion", "cream", "spray",
    "mild", "moderate", "severe", "acute", "chronic", "pain", "fever", "cold", "stress", "sleep", "rest", "rise",
    "advance", "advanced", "aid", "all", "allergy", "alert", "ally", "balance", "bright", "calm", "clear", "cure",
    "early", "ease", "edge", "energy", "focus", "free", "fresh", "heal", "health", "help", "hope", "life", "max",
    "natural", "nature", "one", "plus", "pro", "pure", "quick", "relief", "rescue", "restore", "safe", "secure",
    "select", "sensitive", "simple", "solution", "strong", "support", "ultra", "unit", "units", "may", "will",
    "duration", "ring", "patch", "gel", "liquid", "release", "extended", "control", "complete", "active",
    "strength", "regular", "lente", "contrast", "cardiac", "heart", "head", "neck", "back", "chest", "skin",
    "eye", "ear", "nose", "face", "hand", "foot", "leg", "arm", "body", "lung", "liver", "kidney", "brain",
    "bone", "joint", "muscle", "nerve", "blood pressure", "pressure", "mucosa", "tissue", "cell", "cells",
    "creatinine", "glucose", "potassium", "sodium", "calcium", "magnesium", "chloride", "phosphorus", "urea",
    "bicarbonate", "albumin", "bilirubin", "cholesterol", "triglycerides", "hemoglobin", "insulin resistance",
    "collagen", "fibrin", "thrombin", "estrogen", "testosterone", "cortisol", "histamine", "dopamine", "serotonin",
    "glucagon", "ammonia", "urine", "stool", "mucus", "milk", "coffee", "caffeine", "nicotine", "tobacco",
    "cocaine", "marijuana", "heroin",
}
# Drug-table class words kept when the table gives them an adverse-effect code (i.e. medicinal).
CLASS_STOP = {"drug", "medicament", "agent", "gas", "poison", "ointment", "lotions", "liniments", "tonic",
              "electrolytes", "enzyme", "ergot", "glue", "paint", "smoke", "tar", "vitamin", "trace element"}
GENERIC_DRUG = [  # generic drug mentions: "investigational drug", "a new medication"
    "investigational drug", "investigational medication", "investigational agent", "study drug",
    "unknown drug", "unknown medication", "unspecified drug", "unspecified medication", "new medication",
    "new drug", "medicament", "biological substance", "medicinal substance",
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def clean(term: str) -> str:
    """Lower-case, drop bracketed/parenthesised parts and "NEC"/"NOS", collapse spaces."""
    t = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", term)
    t = re.sub(r"\b(NEC|NOS)\b", " ", t)
    t = re.sub(r"\s+", " ", t).strip(" ,;-").lower()
    return t


def variants(title: str) -> list[str]:
    """"Epilepsy, epileptic, epilepsia" -> ["epilepsy", "epilepsia"]: nouns of a comma list (adjectives dropped)."""
    parts = [clean(p) for p in title.split(",")]
    out = [parts[0]] if parts and parts[0] else []
    for p in parts[1:]:
        if p and " " not in p and not re.search(r"(ic|ed|al|ive|ous|ary|ar|oid)$", p):
            out.append(p)
    # "Guillain-Barré disease or syndrome": the name with each head
    for o in list(out):
        m = re.fullmatch(r"(.+) (disease|syndrome|disorder) or (disease|syndrome|disorder)", o)
        if m:
            out += [f"{m.group(1)} {m.group(2)}", f"{m.group(1)} {m.group(3)}"]
    # "pre-eclampsia" is also written "preeclampsia": add the closed form of hyphenated prefixes
    out += [j for j in (_PREFIX_HYPHEN.sub(r"\1", o) for o in out) if j not in out]
    # "Barré" is mostly typed "Barre"
    out += [a for a in (unicodedata.normalize("NFKD", o).encode("ascii", "ignore").decode() for o in out)
            if a not in out and a]
    return list(dict.fromkeys(out))


_PREFIX_HYPHEN = re.compile(r"\b(pre|post|non|anti|hyper|hypo|sub|peri|intra|extra|para|pseudo|re)-(?=[a-z])")


def read_tabular(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Return tabular texts (titles and inclusion terms, lower-cased) and (code, title) pairs."""
    texts: list[str] = []
    titles: list[tuple[str, str]] = []
    for _, el in ET.iterparse(path):
        if el.tag == "diag":
            name, desc = el.findtext("name"), el.findtext("desc")
            if name and desc:
                titles.append((name, desc))
                texts.append(desc.lower())
            inc = el.find("inclusionTerm")
            if inc is not None:
                texts.extend(n.text.lower() for n in inc.findall("note") if n.text)
        elif el.tag in ("chapter", "section"):
            el.clear()
    return texts, titles


def _paren_variants(t: str) -> set[str]:
    """'coronary (artery) disease' -> {'coronary disease', 'coronary artery disease'}; hyphen-free twins too."""
    out = {re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", " ", t)).strip(),
           re.sub(r"\s+", " ", re.sub(r"[()]", " ", t)).strip()}
    out |= {o.replace("gastro-", "gastro") for o in out}
    return {o for o in out if o}


def _eponym(term: str) -> tuple[str, str, str] | None:
    """``(name, possessive, head)`` of an eponym term ("kawasaki's syndrome" -> kawasaki, kawasaki's, syndrome;
    "graves' disease" -> graves, graves', disease); None for other terms."""
    m = re.fullmatch(r"([a-z-]+)('s|s') (syndrome|disease)", term)
    if not m:
        return None
    return m.group(1) + ("s" if m.group(2) == "s'" else ""), m.group(1) + m.group(2), m.group(3)


def lexicalised_forms(texts: list[str]) -> set[str]:
    """Term heads of tabular texts: 'heart failure, unspecified' -> 'heart failure'; brackets removed.

    A head is the text before a comma, "NOS" or a with/without/due to/in/and/or clause ("of" is kept:
    "shortness of breath"); leading qualifiers are also stripped ("acute myocardial infarction" adds
    "myocardial infarction").
    """
    forms: set[str] = set()
    for t in texts:
        t = re.sub(r"\[[^\]]*\]", " ", t)
        t = re.sub(r"\s+", " ", t)
        head = re.split(r",| nos\b| with\b| without\b| due to\b| in\b| and\b| or\b| as\b| of (?:the |unspecified|"
                        r"other|right|left|bilateral)", t)[0].strip()
        for h in _paren_variants(head):
            h = re.sub(r"^(other specified|other|unspecified|specified)\s+", "", h)
            words = h.split()
            if words and re.search(r"[^suia]s$", words[-1]) and len(words[-1]) > 4:  # "suicidal ideations"
                forms.add(" ".join([*words[:-1], words[-1][:-1]]))
            forms.add(h)
            while len(words) > 1 and words[0] in TYPE_WORDS_HINT:
                words = words[1:]
                forms.add(" ".join(words))
    return forms


def site_organised(children: list[dict], sites: set[str]) -> bool:
    """True when a main term's subterms are mostly sites or qualifiers ("Cyst - ovary", "Ulcer - chronic").

    Disorders without a code of their own are indexed by site and kind; heading words ("Blood", "Skin",
    "Positive") list other conditions under them instead.
    """
    subs = [clean(c["Term"]) for c in children if c["Level"] == "1"]
    subs = [x for x in subs if x]
    if len(subs) < 3:
        return False
    hits = sum(1 for x in subs if x in sites or x.split()[0] in sites or x.split()[0] in TYPE_WORDS_HINT
               or x.startswith(("with", "without", "due to", "in ", "of ")))
    return hits / len(subs) >= 0.3


def read_index(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# Tumour (morphology) names that the Table of Neoplasms lists beside sites ("skin ... melanoma"): never a site.
MORPHOLOGY = re.compile(r"(?<!st)omas?\b|\b(carcinoma|sarcoma|nevus|nevi|cancer|tumou?r|neoplasm|metasta\w*)\b")


def neoplasm_sites(path: Path) -> set[str]:
    sites: set[str] = set()
    root = ET.parse(path).getroot()

    def walk(el: ET.Element, level: int) -> None:
        for term in el.findall("term"):
            title = "".join(term.find("title").itertext()) if term.find("title") is not None else ""
            if "see" not in title.lower() and "overlapping" not in title.lower():
                for v in [clean(p) for p in title.split(",")]:
                    if v and len(v) > 2 and not re.search(r"\d", v) and not MORPHOLOGY.search(v):
                        sites.add(v)
            if level < 2:
                walk(term, level + 1)

    for mt in root.iter("mainTerm"):
        walk(mt, 1)
    return sites


def organisms(titles: list[tuple[str, str]]) -> set[str]:
    out: set[str] = set()
    for code, desc in titles:
        if not code[0] in "ABJGNLMK":
            continue
        m = re.search(r"\bdue to (.+)$", desc) or re.match(r"(.+?) as the cause of diseases", desc)
        if not m:
            continue
        org = m.group(1)
        for ab in re.findall(r"\[([^\]]+)\]", org):
            if len(ab) > 1:
                out.add(ab.strip().lower())
        org = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", org)
        org = re.split(r",| with\b| without\b| in\b| and\b| or\b| as\b| classified\b", org)[0]
        org = re.sub(r"^(other|unspecified|an?|the)\s+", "", org.strip(), flags=re.I)
        org = re.sub(r"\s+", " ", org).strip().lower()
        if not org or re.search(r"\b(specified|unspecified|other|organism|disease|drug|complication|"
                                r"deficiency|infection|of|procedure|injury|condition|the|a|and|to)\b", org):
            continue
        words = org.split()
        if 1 <= len(words) <= 3 and len(org) > 3 and re.search(ORGANISM, org):
            out.add(org)
    return out


def drugs_from_package() -> list[dict]:
    import drug_named_entity_recognition as dner

    pkl_path = Path(dner.__file__).parent / "drug_ner_dictionary.pkl.bz2"
    with bz2.open(pkl_path, "rb") as fh:
        d = pickle.load(fh)
    try:
        from drug_named_entity_recognition.util import stopwords as pkg_stop
    except Exception:  # pragma: no cover - older package layout
        pkg_stop = set()
    out = []
    canon = d["drug_canonical_to_data"]
    for variant, canonicals in d["drug_variant_to_canonical"].items():
        v = variant.strip().lower()
        if (len(v) < 4 or v in DRUG_STOP or v in pkg_stop or not re.match(r"^[a-z][a-z0-9 \-]*[a-z0-9]$", v)
                or len(v.split()) > 4 or re.search(r"\d", v.split()[0])):
            continue
        data = canon.get(canonicals[0], {}) if canonicals else {}
        if not any(k in data for k in ("medline_plus_id", "nhs_url", "drugbank_id", "wikipedia_url")):
            continue  # MeSH-only chemical or protein names, not medications
        if len(v.split()) > 2 and v != (data.get("name") or "").lower():
            continue  # long chemical synonyms
        classes = sorted({t.rsplit(".", 1)[0] if t.count(".") > 1 else t for t in data.get("mesh_tree", [])})
        out.append({"label": "DRUG", "term": v, "source": "drug-named-entity-recognition",
                    "canonical": (data.get("name") or canonicals[0]).lower(), "classes": classes})
    return out, pkl_path


def external_causes(path: Path) -> set[str]:
    """Events of the Index to External Causes ("fall", "assault") and vehicle accidents ("motor vehicle accident")."""
    root = ET.parse(path).getroot()
    out: set[str] = set()
    for mt in root.iter("mainTerm"):
        title = clean((mt.findtext("title") or "").split(",")[0])
        if title and " " not in title and title not in EXTERNAL_STOP and len(title) > 3:
            out.add(title)
        if title == "accident":
            for term in mt.findall("term"):
                sub = clean((term.findtext("title") or "").split(",")[0])
                if sub and len(sub.split()) <= 3 and re.search(r"vehicle|car|cycle|truck|bus|motor", sub) \
                        and not sub.startswith(("in ", "caused", "late", "sequelae", "specified")):
                    for head in ("accident", "collision", "crash"):
                        out.add(f"{sub} {head}")
    return out


def drug_table_substances(path: Path) -> tuple[list[str], set[str]]:
    """Medicinal substances of the Table of Drugs (with an adverse-effect code) and all its substance names."""
    root = ET.parse(path).getroot()
    medicinal, everything = [], set()
    for mt in root.iter("mainTerm"):
        title_el = mt.find("title")
        title = "".join(title_el.itertext()) if title_el is not None else ""
        term = clean(re.split(r"[,(]", title)[0])
        if not term or "NEC" in title:
            continue
        everything.add(term)
        cells = {c.get("col"): (c.text or "") for c in mt.findall("cell")}
        if cells.get("6", "--").strip() not in ("", "--") and len(term.split()) <= 3 and len(term) > 3 \
                and term not in DRUG_STOP and re.match(r"^[a-z][a-z \-]*[a-z]$", term):
            medicinal.append(term)
    return medicinal, everything


def drug_table_classes(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    out = []
    for mt in root.iter("mainTerm"):
        title_el = mt.find("title")
        title = "".join(title_el.itertext()) if title_el is not None else ""
        if "NEC" not in title:
            continue
        cells = {c.get("col"): (c.text or "") for c in mt.findall("cell")}
        if cells.get("6", "--").strip() in ("", "--"):  # no adverse-effect code: not medicinal
            continue
        term = clean(title.split(",")[0])
        term = re.sub(r"\b(drug|agents?)$", "", term).strip() or term
        if term and term not in CLASS_STOP and len(term) > 3:
            out.append(term)
    return out


# Adjectival forms of Table-of-Neoplasms sites ("septum" -> "septal", "adnexa" -> "adnexal", "calvarium" ->
# "calvarial"): a suffix rule per noun ending; a form is kept only when the ICD-10-CM tabular list or index uses it.
ADJ_SUFFIX_RULES = (("um", ("al",)), ("a", ("al", "ar", "eal")), ("us", ("al", "ar", "ic", "ine")), ("is", ("al", "ic")),
                    ("en", ("inal",)), ("x", ("geal",)), ("e", ("al", "ar")), ("", ("al", "ar", "ic", "eal", "ary")))
ADJ_SITE_NOT = {"organic", "regional", "systemic", "marginal", "junctional", "limbar", "limbic", "capsular"}


def adjective_sites(sites: set[str], texts: Iterable[str]) -> set[str]:
    """Adjectives of single-word neoplasm sites that the ICD-10-CM texts attest."""
    words: set[str] = set()
    for t in texts:
        words.update(re.findall(r"[a-z]+(?:-[a-z]+)?", t.lower()))
    out: set[str] = set()
    for s in sites:
        if " " in s or len(s) < 4:
            continue
        for end, sufs in ADJ_SUFFIX_RULES:
            if not s.endswith(end):
                continue
            stem = s[:len(s) - len(end)] if end else s
            out.update(a for a in (stem + suf for suf in sufs)
                       if a in words and a != s and len(a) > 5 and a not in ADJ_SITE_NOT)
            break
    return out


# Words that start a clause, not an anatomical name ("with foreign body", "and colon", "involving larynx").
SITE_LEAD_NOT = {"with", "without", "and", "or", "of", "in", "by", "involving", "associated", "during",
                 "complicating", "specified", "site", "due"}
# Words of index subterm chains that are no anatomy (event, severity, timing, birth/obstetric context).
SITE_CHAIN_NOT = {"bite", "laceration", "puncture", "rupture", "old", "major", "minor", "moderate", "unilateral",
                  "only", "during", "complicating", "delivery", "abortion", "obstetrical", "trauma", "traumatic",
                  "nontraumatic", "birth", "newborn", "specified", "unspecified", "site", "sites", "degree",
                  "first", "second", "third", "fourth", "index", "generalized", "rebound", "colic", "syndrome",
                  "dermatitis", "instrument", "catheter", "dialysis", "infusion", "electronic", "prosthesis",
                  "graft", "shunt", "postpartal", "penetrating", "avulsion", "vertebrogenic", "pleurodynia",
                  "non-cardiac", "atypical", "ischemic", "musculoskeletal", "precordial", "postprocedural",
                  "postoperative", "post-thoracotomy", "focal", "side", "injury"}
# Condition heads after which a site is said apart ("pain in the ear", "fracture of the radius"): the compound
# is never taken as one lexicalised name here.
COMPOUND_HEAD_NOT = {"pain", "fracture", "laceration", "amputation", "wound", "puncture", "bite", "contusion",
                     "abrasion", "sprain", "dislocation", "subluxation", "injury", "mass", "cyst", "lesion",
                     "nodule", "tenderness", "swelling", "weakness", "corrosion", "burn", "density",
                     # index main terms that are no disorder when they follow a body word
                     "opening", "beat", "implant", "restoration", "shunt", "transfusion", "appearance", "passage",
                     "cleft", "tuberosity", "cavities", "ossicles", "nerves"}


def site_compounds(texts: Iterable[str], sites: set[str], conditions: set[str], min_texts: int = 3) -> set[str]:
    """Site + condition names that the tabular list writes as one unit ("intracranial hemorrhage", "varicose
    veins", "heart disease", "pleural effusion") in at least ``min_texts`` different titles/inclusion terms.

    The guideline keeps such lexicalised names whole; the site word inside is then no SITE of its own.
    """
    counts: Counter[str] = Counter()
    heads = (conditions | GENERIC_HEADS) - COMPOUND_HEAD_NOT
    for t in set(texts):
        words = re.findall(r"[a-z][a-z'\-]*", re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", t))
        seen: set[str] = set()
        for i in range(len(words)):
            for n in (2, 3):
                if i + n <= len(words) and words[i + n - 1] in heads and " ".join(words[i:i + n - 1]) in sites:
                    seen.add(" ".join(words[i:i + n]))
        counts.update(seen)
    return {c for c, k in counts.items() if k >= min_texts}


def build(shared: Path, tabular: Path, out_dir: Path) -> dict:
    d = shared / "data" / "icd10cm" / "fy2025"
    index_path, neo_path, drug_path = (d / "ICD10CM_2025_Index.csv", d / "icd-10-cm-neoplasm-2025.xml",
                                       d / "icd-10-cm-drug-2025.xml")
    rows = read_index(index_path)
    texts, titles = read_tabular(tabular)
    forms = lexicalised_forms(texts)
    # heads of tabular texts with their parenthesised (nonessential) words dropped: "sore throat (acute) NOS" ->
    # "sore throat", never "appendicitis acute"
    plain_heads = {re.split(r",| nos\b| with\b| without\b| due to\b| in\b| and\b| or\b| of\b",
                            re.sub(r"\s+", " ", re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", t)))[0].strip() for t in texts}
    neo = neoplasm_sites(neo_path)

    # Group index rows by main term block.
    blocks: list[tuple[dict, list[dict]]] = []
    for r in rows:
        if r["Level"] == "0":
            blocks.append((r, []))
        elif blocks:
            blocks[-1][1].append(r)

    conditions: dict[str, str] = {}
    head_counts = Counter(f.split()[-1] for f in forms)  # how many tabular terms a word is the head noun of
    site_candidates: set[str] = set()
    symptoms: set[str] = set()
    predicative: set[str] = set()  # adjectives of index main terms ("erythematous", "enlarged")
    head_nouns: set[str] = set()  # main terms without a code: heads of multiword forms only ("infarction")
    multi: dict[str, str] = {}  # multiword candidates, filtered once single-word conditions are known
    sites: set[str] = set()
    type_counter: Counter[str] = Counter()
    see_refs: list[tuple[list[str], str]] = []
    main_terms: set[str] = set()  # multiword main terms (Level 0): lexicalised names, their body words no SITE
    inversions: list[tuple[str, str]] = []  # (coded level-1 subterm, main term)
    named_heads: set[str] = set()  # "cubital tunnel syndrome": a named entry of Syndrome / Disease / Disorder
    disease_mains: set[str] = set()  # infectious diseases with a code of their own (Mumps B26.9), vaccine names too
    for main, children in blocks:
        title = main["Term"]
        see_condition = main["See"].strip().lower() == "condition" or main["SeeAlso"].strip().lower() == "condition"
        vs = variants(title)
        if not vs:
            continue
        main_terms.update(v for v in vs if " " in v)
        if main["Code"] and main["Code"][0] in "AB":
            disease_mains.update(vs)
        # "Arrest - sinus I45.5": a level-1 subterm with a code of its own names a disorder with the main term
        # ("sinus arrest", "epiretinal membrane"), whether or not the tabular words it so; filtered below
        for c in children:
            if c["Level"] == "1" and c["Code"] and c["Code"][0] not in "ZVWXY":
                sub = clean(c["Term"])
                if re.fullmatch(r"[a-z][a-z-]+( [a-z][a-z-]+)?", sub) and sub.split()[0] not in INVERSION_LEAD_NOT:
                    inversions.append((sub, vs[0]))
        if see_condition:
            for v in vs:
                if v in neo:
                    sites.add(v)
                else:
                    type_counter[v] += 1000  # always a TYPE candidate
            continue
        codes = [c["Code"] for c in [main, *children] if c["Code"]]
        if main["Code"].startswith("R"):  # a sign or symptom of its own (Cough R05, Tremor R25.1)
            symptoms.update(vs)
        z_share = sum(c[0] in "ZVWXY" for c in codes) / len(codes) if codes else 1.0
        for c in children:
            if c["Level"] == "1":
                sub = clean(c["Term"])
                if sub and " " not in sub and sub.isalpha():
                    type_counter[sub] += 1
        ref = (main["See"] or main["SeeAlso"]).strip().lower()
        if ref.startswith("table of drugs") or (not main["Code"] and ref.startswith("neoplasm")):
            # morphology terms ("Adenocarcinoma - see also Neoplasm, malignant, by site") and drug-table
            # conditions ("Overdose - see Table of Drugs and Chemicals"): coded through a table, not the index
            for v in vs:
                if ((v not in CONDITION_STOP or v in CONDITION_KEEP) and len(v) > 2 and not re.search(r"\d", v)
                        and len(v.split()) <= 4):
                    conditions.setdefault(v, "index main term (table reference)")
            continue
        if main["See"] and not codes:  # pure cross-reference: resolved after the first pass
            see_refs.append((vs, main["See"]))
            continue
        if not codes:  # "Bowen's - disease - see Neoplasm, skin, in situ": the eponym + its generic head word
            for c in children:
                sub = clean(c["Term"])
                if c["Level"] == "1" and c["See"] and sub in GENERIC_HEADS:
                    for v in vs[:1]:
                        conditions.setdefault(f"{v} {sub}", "index main term + generic subterm (cross-reference)")
        if not codes and main["SeeAlso"] and any(" " not in v and DISEASE_SUFFIX.search(v) for v in vs):
            # "Nephrolithiasis - see also Calculus, kidney" (no code of its own): a synonym of a condition
            see_refs.append(([v for v in vs if DISEASE_SUFFIX.search(v)], main["SeeAlso"]))
            continue
        if (z_share > 0.5 and not (main["Code"] and main["Code"][0] not in "ZVWXY")  # "History", not "COVID-19"
                and not set(vs) & CONDITION_KEEP):  # "Strain" lists "mental strain" Z73.3 beside its sprains
            continue
        # "Erythema, erythematous": the adjective names the finding when said of a body part ("is erythematous")
        for p in [clean(x) for x in title.split(",")[1:]]:
            if p and " " not in p and re.search(r"(ous|ed|ic|ive|al)$", p) and len(p) > 4:
                predicative.add(p)
        for v in vs:
            if (v in CONDITION_STOP and v not in CONDITION_KEEP) or v in GENERIC_HEADS - CONDITION_KEEP:
                pass
            elif not main["Code"] and main["See"] and v not in CONDITION_KEEP:
                # "Choledocholithiasis - see Calculus, bile duct" (with a coded subterm "typhoidal"): a synonym,
                # resolved with the pure cross-references below
                see_refs.append(([v], main["See"]))
            elif (not main["Code"] and v not in CONDITION_KEEP and not site_organised(children, neo)
                  and head_counts.get(v, 0) < 2 and not (" " not in v and DISEASE_SUFFIX.search(v))):
                head_nouns.add(v)  # a heading word ("Blood", "Weight", "Positive"): heads multiword forms only
            elif len(v) > 2 and (not re.search(r"\d", v) or re.fullmatch(r"[a-z]+-\d+", v)) and len(v.split()) <= 4:
                conditions.setdefault(v, "index main term")  # "covid-19" is a name, not a number
            # main term + nonessential modifier when the tabular uses it ("diabetes mellitus")
            for nem in re.findall(r"\(([^)]*)\)", main["NonEssModif"]):
                for cand in (f"{v} {nem.lower()}", f"{nem.lower()} {v}"):
                    multi.setdefault(cand, "index main term + modifier")
        # "Syndrome - cubital tunnel - see Lesion, nerve, ulnar", "Disorder - post-transplant lymphoproliferative
        # D47.Z1": a level-1 entry with a code or a reference under a generic head word names one condition, written
        # subterm first, whether or not a tabular text words it so
        if vs[0] in NAMED_HEADS:
            for c in children:
                sub = clean(c["Term"])
                if c["Level"] == "1" and (c["Code"] or c["See"]) and re.fullmatch(r"[a-z][a-z'-]+( [a-z][a-z'-]+){0,2}", sub):
                    named_heads.add(f"{sub} {vs[0]}")
        # multiword forms: level-1 (and level-2 under it) subterms + main term
        parents: dict[int, list[str]] = {}
        for c in children:
            lvl = int(c["Level"])
            raw = c["Term"].lower()
            subs = [x for p in re.split(r",| or ", raw) for x in _paren_variants(p.strip())]
            parents[lvl] = subs
            if lvl > 2 or raw.startswith(("with", "without", "due to", "in ", "of ", "following")):
                continue
            for v in vs[:1]:
                for sub in subs:
                    multi.setdefault(f"{sub} {v}", "index subterm + main term")
                    if len(sub) == 1 and sub.isalpha() and c["Code"] and f"{v} {sub}" in forms:
                        multi.setdefault(f"{v} {sub}", "index main term + letter")  # "Hepatitis - C" -> "hepatitis c"
                    if f"{v} {sub}" in plain_heads or f"{v} {sub}s" in plain_heads:  # "sore throat", "varicose vein"
                        multi.setdefault(f"{v} {sub}", "index main term + subterm")
                    if lvl == 2 and 1 in parents:
                        for p1 in parents[1]:
                            multi.setdefault(f"{sub} {p1} {v}", "index subterm + main term")

    # Body parts that index site-organised main terms list as subterms ("Pain - chest", "Contusion - knee").
    lat = re.compile(r"\b(left|right|bilateral)\b")
    for main, children in blocks:
        if clean(main["Term"].split(",")[0]) not in SITE_MAIN_TERMS:
            continue
        chain: dict[int, str] = {}
        for c in children:
            lvl = int(c["Level"])
            sub = clean(c["Term"])
            chain[lvl] = sub
            if not sub or re.search(r"\d|\b(due|with|without|associated|specified|related|of|by|and|or|on|"
                                    r"over|to|neoplasm|cancer|device|tumor|code|see)\b", sub):
                continue
            for cand in (sub, f"{chain.get(lvl - 1, '')} {sub}".strip() if lvl > 1 else sub):
                cand = re.sub(r"\s+", " ", lat.sub(" ", cand)).strip()
                if cand and len(cand.split()) <= 3 and cand not in TYPE_WORDS_HINT | CAUSE_WORDS:
                    site_candidates.add(cand)

    # "Abdominalgia - see Pain, abdominal": a synonym of a kept condition is a condition.
    for vs, see in see_refs:
        target = clean(see.split(",")[0])
        # "Sjögren's syndrome or disease - see Syndrome, Sjögren": a named entry under a generic head counts too
        named = target in ("syndrome", "disease") and len(see.split(",")) > 1
        if (target in conditions and target not in GENERIC_HEADS) or named:
            for v in vs:
                if named and target not in conditions and " " not in v:
                    continue  # "Salmonella - see Infection, Salmonella": an organism, not a synonym
                if v not in CONDITION_STOP and len(v) > 2 and not re.search(r"\d", v) and len(v.split()) <= 4:
                    conditions.setdefault(v, "index cross-reference")

    # Tabular heads ending in a condition or a generic head noun ("benign prostatic hyperplasia").
    heads = set(conditions) | GENERIC_HEADS | head_nouns
    for f in forms:
        if f.split()[-1] in heads:
            multi.setdefault(f, "tabular term")
    # the whole title of a disease code names its condition ("Disseminated intravascular coagulation"), whatever its
    # head noun: a title that is one name (no clause, no list, no "other"), of chapters A-Q
    for code, desc in titles:
        t = clean(desc)
        w = t.split()
        if (code[0] > "Q" or not 2 <= len(w) <= 4 or t in multi or t in conditions
                or re.search(r"[,;:/\d]|\b(with|without|due|of|in|and|or|to|by|other|unspecified|specified|abnormal|"
                             r"disorders|diseases|conditions|sequelae|affecting|during|complicating|following|late)\b", t)
                or w[-1] in sites or w[-1] in neo or t in sites):
            continue
        multi.setdefault(t, "tabular title")
    qualifiers = TYPE_WORDS_HINT | CAUSE_WORDS
    for cand, src in sorted(multi.items(), key=lambda kv: (len(kv[0].split()), kv[0])):
        words = cand.split()
        if not (2 <= len(words) <= 5) or cand not in forms or cand in conditions:
            continue
        if re.search(r"[\d/\[\]]|\b(other|unspecified|specified|left|right|bilateral|nec|nos|unilateral|"
                     r"site|sites|type|stage|initial|subsequent|sequela|encounter|part|parts)\b", cand):
            continue
        # "acute cystitis" is TYPE + CONDITION, not one term; "deep vein thrombosis" stays whole
        if words[0] in qualifiers and " ".join(words[1:]) in conditions:
            continue
        conditions[cand] = src

    # eponyms: "Kawasaki's syndrome" is written "Kawasaki disease" and "Kawasaki syndrome" as often ("Graves'
    # disease": "Graves disease")
    for t, src in list(conditions.items()):
        ep = _eponym(t)
        if ep:
            name, possessive, _head = ep
            for head in ("syndrome", "disease", "disorder"):  # "Asperger disorder"
                conditions.setdefault(f"{name} {head}", src)
                conditions.setdefault(f"{possessive} {head}", src)

    # "post-traumatic stress disorder" is written "posttraumatic stress disorder" as often
    vocabulary = {w for t in [*texts, *(r["Term"].lower() for r in rows)] for w in re.findall(r"[a-z]+", t)}
    for t, src in list(conditions.items()):
        joined = _PREFIX_HYPHEN.sub(r"\1", t)
        if joined != t and all(w in vocabulary for w in joined.split()):  # a written word: "posttraumatic"
            conditions.setdefault(joined, src)

    # "Convulsions" is indexed in the plural; a note says "a febrile convulsion"
    for t, src in list(conditions.items()):
        if (" " not in t and t.endswith("ions") and t[:-1] not in conditions and t[:-1] in vocabulary
                and t[:-1] not in CONDITION_STOP):
            conditions[t[:-1]] = src

    # "sickle-cell disease" is written "sickle cell disease" as often: the open form of a hyphenated compound
    for t, src in list(conditions.items()):
        opened = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", t)
        if (opened != t and " " in t and t.split()[-1] in heads - {"accident"} and "-" not in t.split()[-1]
                and not _PREFIX_HYPHEN.search(t) and all(w in vocabulary for w in opened.split())):
            conditions.setdefault(opened, src)

    # a body part, a substance or a qualifier is never a condition by itself; nor is a habit ("alcohol use")
    medicinal, substance_names = drug_table_substances(drug_path)
    medicinal_set = set(medicinal)
    for t in list(conditions):
        # "Mumps" and "Pertussis" head vaccine rows of the Table of Drugs, but the index codes them as diseases
        substance = t in substance_names and t not in CONDITION_KEEP and not (
            t in disease_mains and t not in medicinal_set)
        if (t in neo or (t.endswith("s") and t[:-1] in neo) or substance
                or t in sites
                or t in TYPE_WORDS_HINT or t in CAUSE_WORDS or t.endswith(" use")
                or (" " not in t and t in type_counter and type_counter[t] >= 1000)):
            del conditions[t]
    orgs = organisms(titles)
    for t in list(conditions):  # "pseudomonas aeruginosa" (index "Pseudomonas - aeruginosa"): an organism, a CAUSE
        rest = " ".join(t.split()[1:])
        if t in orgs or (" " in t and t.split()[0] in orgs and rest not in conditions and t.split()[-1] not in heads):
            del conditions[t]
            orgs.add(t)
    externals = external_causes(d / "icd-10-cm-eindex-2025.xml")
    types = {t for t, n in type_counter.items()
             if n >= 12 and t not in TYPE_STOP and t not in neo and t not in conditions and len(t) > 3
             and t not in orgs and " " not in t and re.search(ADJECTIVE, t)}
    types |= TYPE_WORDS_HINT
    types -= CAUSE_WORDS
    types -= TYPE_STOP
    adjectives = adjective_sites(neo, [*texts, *(r["Term"] for r in rows)])
    sites = {s for s in sites | neo | adjectives | (site_candidates - set(conditions) - types) if s not in SITE_STOP
             and s not in SITE_NOT and s not in GENERIC_HEADS and s not in conditions and len(s) > 2
             and s not in TYPE_WORDS_HINT and s not in types and " or " not in s and re.fullmatch(r"[a-z][a-z '-]*", s)}
    # Index/neoplasm-table fragments that are no anatomy: "with foreign body", "and colon" (a clause of a longer
    # entry) and site + event/qualifier chains of the injury index ("ankle laceration", "chest atypical",
    # "kidney moderate"), which would hide the condition word inside them.
    not_anatomy = set(conditions) | types | CAUSE_WORDS | TYPE_WORDS_HINT | SITE_CHAIN_NOT
    sites = {s for s in sites if s.split()[0] not in SITE_LEAD_NOT
             and (" " not in s or not any(w in not_anatomy for w in s.split()))}
    compounds = site_compounds(texts, sites, set(conditions))
    for c in compounds:
        conditions.setdefault(c, "tabular site + condition compound")
    cause_terms = orgs | CAUSE_WORDS | {e for e in externals if e not in conditions and e not in sites}

    # coded subterm + main term ("sinus arrest", "epiretinal membrane"), unless the main term is an adjective
    # ("Elevated - lipoprotein"), the subterm a qualifier, cause or organism (extracted apart: "acute" +
    # "cystitis"), or a body part that the main term is said of ("femur" + "fracture": SITE + CONDITION; a body
    # word is kept only under a heading word that is no condition by itself: "sinus arrest")
    cause_word = {w for c in cause_terms for w in c.split()}
    patterns = out_dir / "patterns.jsonl"  # hand-kept detail patterns: their cause words too ("induced", "post")
    if patterns.exists():
        for line in patterns.read_text(encoding="utf-8").splitlines():
            p = json.loads(line) if line.strip() else {}
            if p.get("label") == "CAUSE":
                for tok in p.get("pattern", []):
                    v = tok.get("LOWER")
                    cause_word.update([v] if isinstance(v, str) else (v or {}).get("IN", []))
    order = phrase_counts(shared, {p for sub, main_v in inversions for p in (f"{sub} {main_v}", f"{main_v} {sub}")})
    for sub, main_v in inversions:
        cand = f"{sub} {main_v}"
        first = sub.split()[0]
        if first in cause_word or main_v in ("use", "allergy"):  # "drug use" is a habit; "inhalant allergy" a cause
            continue
        body = sub in sites or first in sites or sub in neo or first in neo
        if (cand in conditions or " " in main_v or re.search(ADJECTIVE, main_v) or first in types
                or first in TYPE_WORDS_HINT or sub in cause_terms or first in orgs or sub in conditions
                or (body and (main_v in conditions or main_v in GENERIC_HEADS | CONDITION_KEEP))
                or main_v in SITE_MAIN_TERMS or first in CONDITION_STOP):
            continue
        # "Alcohol - withdrawal F10.239" is written "alcohol withdrawal": the order real notes use, when they use one
        if order.get(f"{main_v} {sub}", 0) >= max(2, 2 * order.get(cand, 0) + 1):
            cand = f"{main_v} {sub}"
            if cand in conditions or cand in sites or cand in site_candidates:  # "middle lobe" is a place
                continue
        conditions[cand] = "index coded subterm + main term"

    # last, so that a named head ("stress disorder") never hides a longer tabular name ("post-traumatic stress
    # disorder") as qualifier + condition, nor takes the source of a term kept above
    for cand in sorted(named_heads):
        if not re.search(r"\b(other|unspecified|specified|nec|nos|left|right|bilateral|type|stage)\b", cand):
            conditions.setdefault(cand, "index named entry + generic head")
            ep = _eponym(cand)
            if ep:  # "Dupuytren's disease" is written "Dupuytren disease" as often
                conditions.setdefault(f"{ep[0]} {ep[2]}", "index named entry + generic head")

    drug_rows, pkl_path = drugs_from_package()
    drug_terms = {r["term"] for r in drug_rows}
    classes = drug_table_classes(drug_path)
    for c in classes:
        for v in {c, c + "s"}:
            if v not in drug_terms:
                drug_rows.append({"label": "DRUG", "term": v, "source": "ICD-10-CM Table of Drugs (class)",
                                  "canonical": c, "classes": [c]})
                drug_terms.add(v)
    substances, all_substances = drug_table_substances(drug_path)
    for t in substances:
        if t not in drug_terms:
            drug_rows.append({"label": "DRUG", "term": t, "source": "ICD-10-CM Table of Drugs", "canonical": t,
                              "classes": []})
            drug_terms.add(t)
    for g in GENERIC_DRUG:
        drug_rows.append({"label": "DRUG", "term": g, "source": "generic drug mention", "canonical": g,
                          "classes": []})
    # a drug name that is also a condition/site term is ambiguous: keep it out of DRUG
    drug_rows = [r for r in drug_rows if r["term"] not in conditions and r["term"] not in sites]

    out_dir.mkdir(parents=True, exist_ok=True)

    def write(name: str, recs: list[dict]) -> None:
        with open(out_dir / name, "w", encoding="utf-8") as fh:
            for r in sorted(recs, key=lambda r: r["term"]):
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")

    parts = participles(set(conditions), [*texts, *(r["Term"] for r in rows)])
    # participles no ICD-10-CM text prints but the notes write before a body part ("herniated disc",
    # "hypertrophied anal papilla"): named findings there only, never after a copula ("was intubated")
    forms = {f for c in conditions for f in participle_forms(c)} - parts - NOT_PARTICIPLE - set(conditions)
    before_site: Counter[str] = Counter()
    for g, k in phrase_counts(shared, {f"{f} {s}" for f in forms for s in sites if len(s.split()) <= 2}).items():
        before_site[g.split()[0]] += k
    attributive = {f for f, k in before_site.items() if k >= MIN_NOTE_PARTICIPLE}
    for g, base in symptom_inflections(symptoms & set(conditions)).items():
        if g not in conditions and g not in TYPE_WORDS_HINT and g not in CONDITION_STOP and g not in NOT_INFLECTION:
            conditions[g] = "inflected sign/symptom (index R code)"
    predicative = {p for p in predicative if p not in conditions and p not in CAUSE_WORDS and p not in sites
                   and p not in TYPE_WORDS_HINT and p not in CONDITION_STOP and p not in NOT_PREDICATIVE
                   and p not in neo}
    rows = [{"label": "CONDITION", "term": t, "source": s, **({"main_term": True} if t in main_terms else {})}
            for t, s in conditions.items()]
    rows += [{"label": "CONDITION", "term": p, "source": PREDICATIVE_SOURCE} for p in predicative]
    parts = {p for p in parts if p not in predicative and p not in conditions and p not in CAUSE_WORDS
             and p not in sites and p not in TYPE_WORDS_HINT and p not in CONDITION_STOP and p not in NOT_PREDICATIVE
             and p not in neo}
    rows += [{"label": "CONDITION", "term": p, "source": PARTICIPLE_SOURCE} for p in parts]
    attributive = {p for p in attributive if p not in parts and p not in predicative and p not in CAUSE_WORDS
                   and p not in sites and p not in TYPE_WORDS_HINT and p not in CONDITION_STOP and p not in neo}
    rows += [{"label": "CONDITION", "term": p, "source": ATTRIBUTIVE_SOURCE} for p in attributive]
    write("conditions.jsonl", rows)
    write("sites.jsonl", [{"label": "SITE", "term": t, "source": "ICD-10-CM neoplasm table / index"}
                          for t in sites])
    write("types.jsonl", [{"label": "TYPE", "term": t, "source": "ICD-10-CM index modifiers"} for t in types])
    write("causes.jsonl", [{"label": "CAUSE", "term": t,
                            "source": "ICD-10-CM tabular organism" if t in orgs else
                            "ICD-10-CM external cause index" if t in externals else "cause modifier"}
                           for t in cause_terms])
    write("drugs.jsonl", drug_rows)

    # Abbreviations: the hand-kept table must expand to lexicon terms.
    lex = {"CONDITION": set(conditions), "SITE": sites, "TYPE": types, "CAUSE": cause_terms, "DRUG": drug_terms}
    abbr_path = out_dir / "abbreviations.jsonl"
    problems = []
    if abbr_path.exists():
        for line in abbr_path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            a = json.loads(line)
            if a["label"] in lex and a["expansion"].lower() not in lex[a["label"]]:
                problems.append(f"abbreviation {a['abbr']!r}: expansion {a['expansion']!r} is no {a['label']} term")
    manifest = {
        "sources": {p.name: sha256(p) for p in (index_path, neo_path, drug_path, tabular, pkl_path)},
        "counts": {k: len(v) for k, v in lex.items()},
        "problems": problems,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


PREDICATIVE_SOURCE = "index adjective (predicative only)"
PARTICIPLE_SOURCE = "participle of a condition noun (predicative only)"
ATTRIBUTIVE_SOURCE = "participle of a condition noun (before a body part only)"


def phrase_counts(shared: Path, phrases: set[str]) -> Counter[str]:
    """How often each phrase occurs in the MTSamples notes (lower-cased words), leaving out every note that a
    diagnosis statement of ``corpora/statements`` was taken from (dev or test): unlabelled usage only."""
    notes_csv = shared / "data" / "mtsamples" / "notes.csv"
    statements = ROOT / "corpora" / "statements" / "statements.jsonl"
    if not notes_csv.exists():
        return Counter()
    held = set()
    if statements.exists():
        for line in statements.read_text(encoding="utf-8").splitlines():
            src = json.loads(line).get("source", "") if line.strip() else ""
            if src.startswith("mtsamples:"):
                held.add(src.split(":", 1)[1])
    sizes = {len(p.split()) for p in phrases}
    counts: Counter[str] = Counter()
    csv.field_size_limit(1 << 30)
    with open(notes_csv, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("note_id") in held:
                continue
            # within a clause: "Labs: glucose" is no "labs glucose"
            for clause in re.split(r"[^a-z0-9\s'-]+", (row.get("text") or "").lower()):
                words = re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", clause)
                for n in sizes:
                    for i in range(len(words) - n + 1):
                        g = " ".join(words[i:i + n])
                        if g in phrases:
                            counts[g] += 1
    return counts


def participles(conditions: set[str], texts: Iterable[str]) -> set[str]:
    """Past participles of single-word condition nouns that the ICD-10-CM texts also use ("depression" ->
    "depressed", "retraction" -> "retracted", "deviation" -> "deviated"): said of a body part after a copula
    ("the ears are retracted") or before it ("fractured hip") they name the finding."""
    words: set[str] = set()
    for t in texts:
        words.update(re.findall(r"[a-z]+", t.lower()))
    return {f for c in conditions for f in participle_forms(c)
            if f in words and f not in conditions and f not in NOT_PARTICIPLE}


def participle_forms(c: str) -> list[str]:
    """The past participles a single-word condition noun may have (unattested forms included)."""
    if " " in c or not c.isalpha():
        return []
    forms = []
    if c.endswith("ement"):
        forms.append(c[:-4] + "d")  # enlargement -> enlarged
    if c.endswith("ation"):
        forms.append(c[:-5] + "ated")  # deviation -> deviated
    elif c.endswith("ion"):
        forms.append(c[:-3] + "ed")  # retraction -> retracted
    if c.endswith("e") and not c.endswith("ee"):
        forms.append(c + "d")  # fracture -> fractured
    if c.endswith("ing"):
        forms.append(c[:-3] + "ed")  # thickening -> thickened
    if c.endswith("trophy"):
        forms.append(c[:-1] + "ied")  # hypertrophy -> hypertrophied
    return forms


def symptom_inflections(symptoms: set[str]) -> dict[str, str]:
    """The verb forms clinicians write for signs and symptoms coded in chapter R: "cough" -> "coughing",
    "tremor" -> "tremoring", "wheezing" -> "wheezes", "hiccup" -> "hiccuping"."""
    out: dict[str, str] = {}
    for c in symptoms:
        if " " in c or not c.isalpha() or len(c) < 4:
            continue
        if c.endswith("ing"):
            out[c[:-3] + "es"] = c  # wheezing -> wheezes
        elif not c.endswith(("ed", "s", "y", "ion", "ity", "ism", "sis", "tis", "ia", "ae", "oma", "al", "ic", "ous")):
            out[c[:-1] + "ing" if c.endswith("e") and not c.endswith("ee") else c + "ing"] = c
    return out


# Verb forms that are ordinary words ("blood pressure rises", "scoring system")
NOT_INFLECTION = {"rises", "scoring", "chilling", "weaking", "slowes", "paining"}


# Notes (MTSamples, statement sources left out) that must use a participle no ICD-10-CM text prints
MIN_NOTE_PARTICIPLE = 3
# Participles that name an action or an event, not a finding ("was caused by", "was transfused").
NOT_PARTICIPLE = {"caused", "activated", "transfused", "reversed", "contracted", "abandoned", "aborted",
                  "duplicated", "elevated", "contaminated", "lobulated", "reticulated", "encysted", "erupted",
                  "regurgitated", "displaced", "infiltrated"}
NOT_PREDICATIVE = {"unspecified", "unilateral", "previous", "physical", "maternal", "limited", "visual", "sexual",
                   "regional", "tropical", "constitutional", "failed", "cyclic", "autonomous", "anesthetic",
                   "adhesive", "aqueous", "hypnotic", "inconclusive", "intellectual", "dermal", "conjunctival",
                   "myocardial", "thymic", "sinoatrial", "hernial", "rectal", "retinal", "fecal", "increased",
                   "mosaic", "perverted", "weathered", "cephal", "vestigial", "neuronal", "metabolic", "nutritional",
                   "psychiatric", "exhaustive", "destructive", "arrested", "crushed", "twisted"}
# A single word with a disease-forming suffix names a disorder even when its main term only refers elsewhere or
# lists kinds ("Nephrolithiasis - see also Calculus, kidney", "Fibroadenoma - see Neoplasm, benign, by site").
DISEASE_SUFFIX = re.compile(r"(iasis|itis|osis|oma|emia|pathy|algia|plasia|trophy|rrhea|rrhage|cele|ectasis)$")

# Words that open a level-1 subterm clause or a non-disorder reading ("Arrest - cardiac" is kept; "Disease - of
# heart", "Pain - due to device", "Failure - to thrive" are not "X main-term" names).
INVERSION_LEAD_NOT = {"with", "without", "due", "in", "of", "following", "to", "by", "on", "and", "or", "see",
                      "specified", "other", "unspecified", "nec", "nos", "from", "after", "during", "not", "as",
                      "at", "affecting", "involving", "newborn", "fetus", "maternal", "complicating", "history"}
SITE_MAIN_TERMS = {"pain", "contusion", "laceration", "abrasion", "sprain", "wound", "blister", "puncture"}
ADJECTIVE = r"(al|ic|ous|ive|ed|ent|ant|ar|ary|oid|ile|ing|ful|less|ial)$"
ORGANISM = (r"(coccus|cocci|bacter|ella|virus|viruses|monas|bacillus|bacilli|bacterium|bacteria|myces|plasma|"
            r"idium|ia|fungi|fungus|aureus|coli|pneumoniae|species|spp|rickettsia|chlamydia|candida|mrsa|e\. coli|"
            r"helicobacter|pylori|trichomonas|giardia|[a-z]\. [a-z]+|influenza|herpes|hiv|hpv|rsv|zoster)")


# Qualifier words that index subterms use across conditions; they are TYPEs, never the start of a CONDITION.
TYPE_WORDS_HINT = {
    "acute", "chronic", "subacute", "recurrent", "severe", "mild", "moderate", "intractable", "persistent",
    "paroxysmal", "focal", "generalized", "localized", "diffuse", "primary", "secondary", "essential",
    "malignant", "benign", "complicated", "uncomplicated", "simple", "complex", "early", "late", "stable",
    "unstable", "active", "inactive", "partial", "complete", "incomplete", "total", "bilateral", "lobar", "hemorrhagic",
    "obstructive", "nonobstructive", "proliferative", "nonproliferative", "exudative", "erosive", "atypical",
    "typical", "congenital", "acquired", "idiopathic", "neuropathic", "allergic", "seasonal", "perennial",
    "transient", "intermittent", "constant", "episodic", "morbid", "controlled", "uncontrolled", "refractory",
    "symptomatic", "asymptomatic", "decompensated", "compensated", "systolic", "diastolic", "displaced",
    "nondisplaced", "comminuted", "open", "closed", "superficial", "deep", "spastic", "flaccid", "major", "minor",
    "single", "massive", "small", "large", "exacerbation", "acute on chronic", "minimal",
    "worsening", "extensive", "residual", "mildly", "moderately", "severely", "slightly", "slight", "longstanding",
    "long-standing", "in remission", "central", "high-grade", "low-grade", "recurring", "sudden", "dull", "aching",
    "sharp", "stabbing", "shooting", "burning", "throbbing", "excessive", "productive", "nonproductive", "atrophic",
    "hypertrophic", "fixed", "reversible", "partially reversible", "subclinical", "transiently", "progressive",
    "worsened", "stable", "improving", "resolving", "flare-up", "flare", "recurrence", "heavy", "new-onset",
    "new onset", "unresponsive to medical therapy", "refractory", "atopic", "diplegic", "hemiplegic",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--tabular", default=None)
    ap.add_argument("--out", default=str(ROOT / "nec_nlp" / "pipeline" / "resources"))
    args = ap.parse_args()
    tabular = Path(args.tabular) if args.tabular else None
    if tabular is None:
        import simple_icd_10_cm

        tabular = next((Path(simple_icd_10_cm.__file__).parent / "data").glob("icd10c-tabular-*.xml"))
    manifest = build(Path(args.shared), tabular, Path(args.out))
    print(json.dumps(manifest["counts"]))
    if manifest["problems"]:
        print("\n".join(manifest["problems"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
