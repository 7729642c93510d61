"""Mention + specificity + code set -> ranked ICD-10-CM code suggestions with rationale.

How a CONDITION mention becomes codes (the coder's path, index -> tabular):

1. Only current, affirmed mentions are coded; the others come back with ``codes=()`` and a rationale naming the
   assertion that stopped them.
2. **Drug effects** (adverse effect / reaction, poisoning, overdose, toxicity, underdosing) go to the Table of Drugs
   with the documented drug (``cs.drugs.lookup``); a bare "medication"/"drug" is the table's ``Drug NEC`` row (the
   NOS code T50.90-), a named drug missing from the table falls back to its class or to ``T50.99-`` (NEC).
3. **Everything else** walks the Alphabetic Index: the main term is the mention's head word(s), then at every level
   the subterm whose words best cover the documented details (site, type, cause, drug, laterality, the mention's
   own modifiers) is taken; ``see`` references are followed. Details left over once no subterm matches are the
   documentation the code set has no code of its own for: when the walk ends on an unspecified code and an index
   ``... NEC`` subterm exists, the NEC code is taken (never when an exact code matched). Neoplasm main terms with a
   "see Neoplasm, by site" reference use the Table of Neoplasms with the documented site and behaviour.
4. Tabular titles and inclusion terms (``cs.search_titles``) add alternatives; every candidate is made billable in
   the selected release (an index code that was expanded descends to the child matching the documented words, or to
   its unspecified child), and a 7th character is added where the tabular requires it (initial encounter unless the
   mention says subsequent/sequela; the rationale says which).
5. Candidates are ranked by how well the documented words match each code's axes (index path first).

**Kind of a suggestion** is the kind of its code (``cs.kind``: exact / nec / nos), except that an "Other ..." code the
index gives as the default for the bare term (its path or inclusion terms say "NOS", e.g. G89.18 for "postoperative
pain") is reported as ``nos`` when no further detail was documented.

A note-level pass (:func:`annotate_note`) adds Excludes1 conflicts and code-first / use-additional instructions
between the note's codes.
"""

import json
import logging
import re
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from nec_nlp.errors import InputError
from nec_nlp.icd10cm.index import _WORD as _INDEX_WORDS
from nec_nlp.types import CodeSuggestion, Mention, ScoredMention, Specificity

logger = logging.getLogger(__name__)

__all__ = ["recommend", "annotate_note", "rule_specificity", "evaluate_codes", "MAX_CODES", "set_memo_size",
           "clear_memo", "memo_info"]

MAX_CODES = 5

# -- words ---------------------------------------------------------------------------------------------------------

_WORD = _INDEX_WORDS  # "post-traumatic" and "posttraumatic" are one word, as in the index's own reading
# Words that carry no axis by themselves (connectors, index conventions).
_STOP = frozenset(
    "a an the of in on at to and or by for from with without due nos nec specified unspecified other site type "
    "is was are be as per s".split()
)
_CONNECTORS = frozenset({"with", "without", "due to", "in", "of", "by", "following"})
_NEGATORS = frozenset({"without", "no", "non", "not"})
# Modifiers that describe extent or course rather than a coded type: left over, they do not call for an NEC code.
_DESCRIPTOR_WORDS = ("generalized generalised localized localised diffuse widespread extensive multiple "
                     "new recent ongoing persistent mild moderate severe significant small large acquired "
                     "community displaced nondisplaced closed open stable improving worsening resolving refractory "
                     "apparently well controlled symptomatic known").split()
_GENERIC_DRUG = frozenset(
    "drug drugs medication medications medicine medicines medicament medicaments agent agents substance "
    "substances pill pills therapy treatment".split()
)
_DRUG_EFFECTS: tuple[tuple[str, str], ...] = (
    ("underdos", "underdosing"),
    ("overdos", "poisoning"),
    ("poison", "poisoning"),
    ("toxicity", "poisoning"),
    ("intoxication", "poisoning"),
    ("adverse", "adverse_effect"),
    ("side effect", "adverse_effect"),
    ("reaction", "adverse_effect"),
    ("allergic reaction", "adverse_effect"),
    ("sting", "poisoning"),  # "Sting - see Table of Drugs and Chemicals, by animal": wasp, scorpion, jellyfish
)
_POISON_INTENT = (
    ("self-harm", "poisoning_intentional"),
    ("self harm", "poisoning_intentional"),
    ("suicid", "poisoning_intentional"),
    ("intentional", "poisoning_intentional"),
    ("assault", "poisoning_assault"),
    ("undetermined", "poisoning_undetermined"),
    ("could not be determined", "poisoning_undetermined"),
    ("cannot be determined", "poisoning_undetermined"),
    ("can't be determined", "poisoning_undetermined"),
)
_NEOPLASM_BEHAVIOUR: tuple[tuple[tuple[str, ...], str], ...] = (
    (("metasta", "secondary"), "malignant_secondary"),
    (("in situ", "carcinoma in situ"), "in_situ"),
    (("benign", "adenoma", "lipoma", "fibroma", "leiomyoma", "papilloma"), "benign"),
    (("uncertain behavio",), "uncertain"),
    (("malignan", "cancer", "carcinoma", "sarcoma", "adenocarcinoma", "melanoma", "lymphoma", "primary"),
     "malignant_primary"),
)
# Axes a more specific code could need, recognised by words in the titles of the sibling codes.
_AXES: tuple[tuple[str, frozenset[str]], ...] = (
    ("laterality", frozenset({"right", "left", "bilateral"})),
    ("acuity", frozenset({"acute", "chronic", "subacute", "acuity"})),
    ("organism", frozenset({"bacterial", "viral", "organism", "streptococcal", "staphylococcal", "fungal",
                            "pneumococcal", "escherichia", "influenza", "pseudomonas", "klebsiella"})),
    ("stage", frozenset({"stage", "stages"})),
    ("severity", frozenset({"mild", "moderate", "severe"})),
    ("complication", frozenset({"complicated", "complication", "complications", "hematuria", "hemorrhage",
                                "intractable", "obstruction", "perforation"})),
    ("episode", frozenset({"episode", "recurrent", "single"})),
)
_ASSERTED_AXIS_WORDS = frozenset(w for axis, words in _AXES
                                  if axis in ("acuity", "organism", "severity", "complication") for w in words)
_ENCOUNTER_TEXT = {"initial": "initial encounter", "subsequent": "subsequent encounter", "sequela": "sequela"}


_NUMERALS = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "first": "1", "second": "2", "third": "3", "fourth": "4",
             "one": "1", "two": "2", "three": "3", "four": "4", "grade": "degree", "1st": "1", "2nd": "2",
             "3rd": "3", "4th": "4", "5th": "5"}


_LETTER = "letter-"  # a one-letter index subterm ("A", "S") as a word of its own


def _stem(word: str) -> str:
    if word in _NUMERALS:
        return _NUMERALS[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str | None) -> list[str]:
    return [_stem(w) for w in _WORD.findall((text or "").lower())]


def _content(text: str | None) -> list[str]:
    return list(_content_cached(text or ""))


@lru_cache(maxsize=1 << 15)
def _content_cached(text: str) -> tuple[str, ...]:
    return tuple(w for w in _words(text) if w not in _STOP)


@lru_cache(maxsize=1 << 18)
def _word_match(a: str, b: str) -> bool:
    """Two stems match when equal or when one is a >= 5-letter prefix of the other (epileptic ~ epilepsy)."""
    if a == b:
        return True
    n = min(len(a), len(b))
    if n < 5 or abs(len(a) - len(b)) > 2:  # "lymph" is no "lymphoma"
        return False
    k = max(5, n - 2)
    return a[:k] == b[:k] and frozenset((a, b)) not in _FALSE_FRIENDS


# words that share a 5-letter stem but not a meaning ("tibial plateau" is no "plate" of a prosthesis)
_FALSE_FRIENDS = frozenset({frozenset(("plate", "plateau"))})


# Words the Alphabetic Index uses for what notes usually say (documented word -> index words). A coder reads
# "distal radius" as "radius, lower end" and a "partial" tear as "incomplete".
_INDEX_SYNONYMS: dict[str, tuple[str, ...]] = {
    "distal": ("lower",), "proximal": ("upper",), "partial": ("incomplete",), "partially": ("incomplete",),
    "full": ("complete",), "total": ("complete",), "coli": ("colon", "large", "intestine"),
    "colonic": ("colon", "large", "intestine"), "colon": ("large", "intestine"),
    "sigmoid": ("colon", "large", "intestine"), "cecum": ("large", "intestine"), "cecal": ("cecum", "large"),
    # bone adjectives: the index lists the bone ("Fracture, traumatic > femur > shaft" for a femoral shaft)
    "tibial": ("tibia",), "fibular": ("fibula",), "humeral": ("humerus",),
    "radial": ("radius",), "ulnar": ("ulna",), "clavicular": ("clavicle",), "patellar": ("patella",),
    "scapular": ("scapula",), "vertebral": ("vertebra",), "calcaneal": ("calcaneus",), "sternal": ("sternum",),
    "mandibular": ("mandible",), "pelvic": ("pelvis",), "acetabular": ("acetabulum",),
    "metatarsal": ("metatarsus",), "metacarpal": ("metacarpus",), "periorbital": ("periocular", "orbit"),
    # the index's word for a passing condition ("Hypothyroidism, neonatal, transitory")
    "transient": ("transitory",),
    "lumbar": ("low", "back"), "hamstring": ("muscle", "thigh"), "quadriceps": ("muscle", "thigh"),
    "jejunum": ("small", "intestine"), "jejunal": ("jejunum", "small", "intestine"),
    "gestation": ("pregnancy",), "gravid": ("pregnancy",), "renal": ("kidney",), "dental": ("tooth", "teeth"),
    "hepatic": ("liver",), "pulmonary": ("lung",), "cardiac": ("heart",), "gastric": ("stomach",),
    "cerebral": ("brain",), "cervical": ("cervix",), "ocular": ("eye",), "otic": ("ear",), "cutaneous": ("skin",),
    "dermal": ("skin",), "pancreatic": ("pancreas",), "rectal": ("rectum",), "esophageal": ("esophagus",),
    "duodenal": ("duodenum",), "laryngeal": ("larynx",), "pharyngeal": ("pharynx",), "tracheal": ("trachea",),
    "bronchial": ("bronchus",), "splenic": ("spleen",), "prostatic": ("prostate",), "mammary": ("breast",),
    "vaginal": ("vagina",), "vulvar": ("vulva",), "penile": ("penis",), "scrotal": ("scrotum",),
    "cerebellar": ("cerebellum",), "nasal": ("nose",), "oral": ("mouth",), "lingual": ("tongue",),
    "labial": ("lip",), "gingival": ("gum", "gingiva"), "urethral": ("urethra",), "ureteral": ("ureter",),
    "biliary": ("bile", "duct"), "appendiceal": ("appendix",), "anal": ("anus",), "thymic": ("thymus",),
    "vesical": ("bladder",), "uterine": ("uterus",), "ovarian": ("ovary",), "testicular": ("testis",),
    "lid": ("eyelid",), "digit": ("finger", "toe"), "hallux": ("toe", "foot"),
    # the tabular's own synonyms for intractable (G40/G43 note: "pharmacoresistant, treatment resistant,
    # refractory (medically), poorly controlled")
    "refractory": ("intractable",), "pharmacoresistant": ("intractable",),
    "sacrum": ("sacral",), "sacral": ("sacrum",), "coccyx": ("coccygeal",), "coccygeal": ("coccyx",),
    "norovirus": ("norwalk", "viral"), "neonatal": ("newborn",), "neonate": ("newborn",),
    "newborn": ("neonatal",),
    "zoster": ("herpes",), "shingles": ("herpes", "zoster"), "strep": ("streptococcal", "streptococcus"),
    "staph": ("staphylococcal", "staphylococcus"),
    # one side documented is the index's "unilateral" ("Osteoarthritis, knee, unilateral" for a left knee)
    "left": ("unilateral",), "right": ("unilateral",), "gonococcal": ("gonorrheal", "gonococcus"),
    # a drug documented as such is what the index calls a medicament ("Hypothyroidism, due to, medicament")
    "drug": ("medicament",), "medication": ("medicament", "drug"), "medicine": ("medicament", "drug"),
    # a part names the region the index (or the tabular) codes it by when it has no entry of its own
    "toe": ("foot",), "finger": ("hand",), "thumb": ("hand", "finger"), "forehead": ("face",),
    "disc": ("intervertebral", "nucleus", "pulposus"), "disk": ("intervertebral", "nucleus", "pulposus", "disc"),
    "intracranial": ("brain", "cerebral"), "naris": ("nostril", "nose"), "nares": ("nostril", "nose"),
    "radioactive": ("postirradiation", "irradiation", "radiation"), "radiation": ("postirradiation", "irradiation"),
    "ablation": ("postprocedural", "postablative"),
    "op": ("postoperative", "postprocedural"), "postop": ("postoperative", "postprocedural"),
    "postsurgical": ("postoperative", "postprocedural"),
    "forearm": ("arm", "limb"), "thigh": ("leg", "limb"), "calf": ("leg", "limb"),
    "extremity": ("limb",), "extremities": ("limb",),
    "temple": ("face",), "cheek": ("face",), "chin": ("face",), "brow": ("face",), "eyebrow": ("face",),
}
for _k, _v in list(_INDEX_SYNONYMS.items()):
    _INDEX_SYNONYMS[_stem(_k)] = _v


@lru_cache(maxsize=1 << 18)
def _term_match(t: str, w: str) -> bool:
    """An index word ``t`` is supported by a documented word ``w``: same word, or the index's word for it."""
    return _word_match(t, w) or any(_word_match(t, x) for x in _INDEX_SYNONYMS.get(w, ())) or (
        t in _spinal_region(w))


_SPINAL_LEVEL = re.compile(r"^([clts])(\d{1,2})$")
_SPINAL_REGION = {"c": ("cervical",), "t": ("thoracic",), "l": ("lumbar",), "s": ("sacral", "sacrum")}


def _spinal_region(w: str) -> tuple[str, ...]:
    """A vertebral level ("l3", "c5", "t12") names its spinal region (lumbar, cervical, thoracic, sacral)."""
    m = _SPINAL_LEVEL.match(w)
    if not m:
        return ()
    n = int(m.group(2))
    limit = {"c": 8, "t": 12, "l": 5, "s": 5}[m.group(1)]
    return _SPINAL_REGION[m.group(1)] if 1 <= n <= limit else ()


# -- documented details ------------------------------------------------------------------------------------------


@dataclass
class _Doc:
    """The documented words of one mention, grouped by axis (``phrases``: axis -> list of content-word lists)."""

    head: list[str]
    phrases: list[tuple[str, list[str]]]
    laterality: str | None
    encounter: str | None
    negative: set[int] = field(default_factory=set)  # indexes of phrases stated as absent ("without hematuria")
    originals: list[str] = field(default_factory=list)  # the documented surface string of each phrase
    other_specified: bool = False  # the provider wrote "other (specified) X": a type the code set has no code for
    region: set[str] = field(default_factory=set)  # region words of a site (Table of Neoplasms): child codes only
    cov_cache: dict[Any, tuple[float, set[str]]] = field(default_factory=dict)  # _coverage per (term, used, ...)

    def described(self, matched: Iterable[str]) -> list[str]:
        """'axis "surface"' for each documented phrase that shares a word with ``matched``."""
        m = set(matched)
        out = []
        for i, (axis, ws) in enumerate(self.phrases):
            if i < len(self.originals) and m & set(ws):
                if axis == "context":
                    out.append("words in the sentence " + ", ".join(f'"{w}"' for w in ws if w in m))
                else:
                    out.append(f'{axis} "{self.originals[i]}"')
        return out

    @property
    def detail_words(self) -> set[str]:
        return {w for _, ws in self.phrases for w in ws}

    def has(self, axis: str) -> bool:
        return any(a == axis and ws for a, ws in self.phrases)


def _negated_in_sentence(sentence: str, phrase: str) -> bool:
    """The phrase follows "not"/"no"/"without" within three words of its clause ("not intractable", "without
    damage to nail")."""
    at = sentence.find(phrase)
    if at <= 0:
        return False
    clause = re.split(r"[,.;:()]", sentence[:at])[-1]
    return bool(set(_WORD.findall(clause)[-3:]) & _NEGATORS)


_UNSTATED = frozenset({"identified", "specified", "known", "found", "documented", "stated", "determined",
                       "isolated"})


def _documented(mention: Mention) -> _Doc:
    d = mention.details
    phrases: list[tuple[str, list[str]]] = []
    originals: list[str] = []
    negative: set[int] = set()
    sent_low = (mention.sentence or "").lower()
    sites = _site_abbreviations()
    for axis, values in (("site", d.site), ("type", d.type), ("cause", d.cause), ("drug", d.drug)):
        for v in values:
            v = sites.get(v, v) if axis == "site" else v  # "Abd" -> "abdominal"
            ws = _content(v)
            if axis == "cause" and v.lower() in _external_causes():
                # "after a fall": an external cause, coded apart (chapter 20); it may choose a subterm but is no
                # detail that the condition's code lacks ("Injury, head, specified NEC")
                axis = "external"
            if ws:
                if set(_WORD.findall(v.lower())) & _NEGATORS or _negated_in_sentence(sent_low, v.lower()):
                    negative.add(len(phrases))
                phrases.append((axis, ws))
                originals.append(v)
    if any(_ORGANISM_WORD.search(w) for v in d.cause for w in _WORD.findall(v.lower())):
        # a named organism makes the condition infective ("Pseudomonas otitis externa": "Otitis, externa,
        # infective NEC") when the index has no subterm for the organism itself
        phrases.append(("context", ["infective", "infectious"]))
        originals.append("organism named")
    if d.drug:
        # a named drug is what the index calls "drug" / "medicament" ("Hypothyroidism, due to, drugs")
        phrases.append(("drug", ["drug", "medicament", "medication"]))
        originals.append(d.drug[0])
    if d.laterality:
        phrases.append(("laterality", _content(d.laterality)))
        originals.append(d.laterality)
    # a letter that names a type ("hepatitis A", "protein S deficiency"), which the stop words would drop
    letters = [_LETTER + x.lower() for x in re.findall(r"(?<=\w )([AS])\b(?!')", mention.text)]
    if letters:
        phrases.append(("type", letters))
        originals.append(" ".join(x[-1].upper() for x in letters))
    # Modifiers inside the mention span itself ("focal epilepsy" when the pipeline kept them together).
    head = _content(mention.text)
    known = {w for _, ws in phrases for w in ws}
    extra = [w for w in head[:-1] if w not in known] if len(head) > 1 else []
    if extra:
        phrases.append(("type", extra))
        originals.append(" ".join(w for w in _WORD.findall(mention.text.lower()) if _stem(w) in extra))
    # The word just before the mention in the same clause modifies it ("twin gestation", "Hammertoe deformity"
    # when extraction kept only the head): documented as a type, not as sentence context.
    sent0 = mention.sentence or ""
    at0 = sent0.lower().find(mention.text.lower())
    if at0 > 0:
        clause = re.split(r"[,.;:()]", sent0[:at0])[-1]
        known = {w for _, ws in phrases for w in ws} | set(head)
        lead_words = [_stem(w) for w in _WORD.findall(clause.lower())[-1:]]
        lead_words = [w for w in lead_words if w not in _STOP and w not in known and not w.isdigit()
                      and w not in _NOT_A_KIND
                      and w not in ("right", "left", "bilateral") and w not in _NEGATORS]
        if lead_words:  # an organism name the lexicon lacks is a cause ("parainfluenza bronchiolitis")
            phrases.append(("cause" if _ORGANISM_WORD.search(lead_words[-1]) else "type", lead_words))
            originals.append(" ".join(lead_words))
    tail = sent0[at0 + len(mention.text):] if at0 >= 0 else ""
    form = re.match(r"\s*,?\s*([a-z]{4,})\s+(?:form|type|variant|variety)\b", tail.lower())
    if form and _stem(form.group(1)) not in {w for _, ws in phrases for w in ws} and form.group(1) not in _STOP:
        phrases.append(("type", [_stem(form.group(1))]))  # "Tremor, dystonic form": a kind named after the term
        originals.append(form.group(0).strip(" ,"))
    # The rest of the sentence: weak evidence (the extraction may have split "Gestational diabetes" or left
    # "recurrent, moderate" unattached). It can choose a subterm but never calls for an NEC code.
    known = {w for _, ws in phrases for w in ws} | set(head)
    raw = _WORD.findall(_sentence_without(mention))
    # "without psychotic features", "no coma": the words after; "HIV negative": the word before
    # ("organism not identified": the words before "not <identified/specified/...>")
    near_negation = {i + k for i, w in enumerate(raw) if w in _NEGATORS | {"negative", "denies"}
                     for k in ((-1,) if w == "negative" else (-2, -1, 1) if i + 1 < len(raw)
                               and raw[i + 1] in _UNSTATED else (1, 2, 3))}
    context = [_stem(w) for i, w in enumerate(raw)
               if i not in near_negation and _stem(w) not in _STOP and _stem(w) not in known]
    negated_context = [_stem(w) for i, w in enumerate(raw)
                       if i in near_negation and _stem(w) not in _STOP and _stem(w) not in known
                       and w not in _NEGATORS]
    laterality = d.laterality
    if context:
        phrases.append(("context", list(dict.fromkeys(context))))
        originals.append("sentence context")
        if laterality is None:
            sides = {w for w in context if w in ("right", "left", "bilateral")}
            laterality = sides.pop() if len(sides) == 1 else None
    if negated_context:
        negative.add(len(phrases))
        phrases.append(("context", list(dict.fromkeys(negated_context))))
        originals.append("sentence context (stated absent)")
    after = _after_procedure(_sentence_without(mention))
    if after and not any(axis == "cause" for axis, _ws in phrases):
        # "Pneumothorax after CT-guided lung biopsy": the procedure the condition followed, read as the index's
        # "postprocedural" (the extraction leaves it as sentence words)
        phrases.append(("cause", ["postprocedural"]))
        originals.append(f"after a procedure ({after})")
    trimester = _trimester(mention.sentence or "")
    if trimester:
        phrases.append(("context", [trimester, "trimester"]))
        originals.append("weeks of gestation")
    if any(axis == "site" and ws for axis, ws in phrases) and not {"generalized", "generalised", "diffuse",
                                                                   "widespread"} & set(raw):
        phrases.append(("context", ["localized"]))  # a named site is what the index calls "localized"
        originals.append("a documented site (localized)")
    sent = (mention.sentence or "").lower()
    at = sent.find(mention.text.lower())
    lead = _WORD.findall(sent[:at])[-3:] if at >= 0 else []
    other = "other" in lead[-2:] or _WORD.findall(mention.text.lower())[:1] == ["other"]
    return _Doc(head=head, phrases=phrases, laterality=laterality, encounter=d.encounter, negative=negative,
                originals=originals, other_specified=other)


_GESTATION = re.compile(r"\b(?:at|of)\s+(\d{1,2})(?:\s*\+\s*\d)?\s*(?:weeks?|wks?)\b"
                        r"|\b(\d{1,2})(?:\s*\+\s*\d)?\s*(?:weeks?|wks?)\s*(?:of\s+)?(?:gestation|pregnan|ga\b|iup)",
                        re.I)


_PREGNANCY_SAID = re.compile(r"\b(?:pregnan\w*|gestation\w*|gravid\w*|intrauterine pregnancy|iup)\b", re.I)
_WEEKS = re.compile(r"\b(\d{1,2})(?:\s*\+\s*\d)?\s*(?:weeks?|wks?)\b()", re.I)


# Words before a condition that say how it was found or known, not what kind it is ("clinical depression" is
# depression, not an "other specified" one)
_NOT_A_KIND = frozenset({"clinical", "clinically", "underlying", "known", "new", "recent", "current", "ongoing",
                         "possible", "probable", "presumed", "suspected", "likely", "documented", "diagnosed",
                         "reported", "apparent", "significant", "true", "frank", "overt", "active"})


def _after_procedure(text: str) -> str | None:
    """The procedure word of an "after/following/status post <procedure>" phrase in ``text`` ("after CT-guided lung
    biopsy" -> "biopsy", "following CABG" -> "cabg"), if any, within four words of the connector."""
    words = _WORD.findall(text.lower())
    for i, w in enumerate(words):
        if w in ("after", "following"):
            for v in words[i + 1:i + 6]:
                if _PROCEDURE_WORD.search(v) and not v.startswith(("transplant", "graft")):
                    return v  # life after a transplant is a status: its complications are T86 codes
    return None


def _trimester(sentence: str) -> str | None:
    """The trimester ("1"/"2"/"3", as titles' ordinals stem) of a gestational age in weeks stated in the sentence
    (ICD-10-CM: first < 14 weeks, second 14 to < 28, third 28 until delivery)."""
    m = _GESTATION.search(sentence)
    if not m and _PREGNANCY_SAID.search(sentence) and not re.search(r"post-?partum|puerper|deliver", sentence, re.I):
        m = _WEEKS.search(sentence)  # "UTI in pregnancy, 22 weeks"
    if not m:
        return None
    weeks = int(m.group(1) or m.group(2))
    if not 1 <= weeks <= 45:
        return None
    return "1" if weeks < 14 else "2" if weeks < 28 else "3"


def _alternatives(term: str) -> tuple[list[str], ...]:
    return _alternatives_cached(term)


@lru_cache(maxsize=1 << 14)
def _alternatives_cached(term: str) -> tuple[list[str], ...]:
    """Content words of each alternative an index term offers ("atrial or auricular", "Diabetes, diabetic")."""
    letter = re.fullmatch(r"\s*([AaSs])\s*(?:\([^)]*\))?\s*", term)
    if letter:  # "Hepatitis - A", "Deficiency - protein - S": a letter that is also a stop word
        return ([_LETTER + letter.group(1).lower()],)
    inner = re.findall(r"\(([^)]*)\)", term)
    outer = re.sub(r"\([^)]*\)", " ", term)
    pieces = [p.strip() for p in re.split(r",\s*or\s+|,|\s+or\s+", outer) if p.strip()]
    if re.search(r",\s*or\s+", outer) and len(pieces) > 1 and len(pieces[0].split()) >= 2 and all(
            len(p.split()) == 1 for p in pieces[1:]):
        # "Reiter's disease, syndrome, or urethritis": the name goes with each head ("Reiter's syndrome")
        name = " ".join(pieces[0].split()[:-1])
        alts = [_content(a) for a in [pieces[0], *(f"{name} {p}" for p in pieces[1:]), *inner]]
        return tuple(a for a in alts if a) or ([],)
    parts = re.split(r"\s+or\s+|\s*/\s*", outer)
    split: list[str] = []
    for part in parts:
        pieces = [p.strip() for p in part.split(",") if p.strip()]
        # "Diabetes, diabetic", "femur, femoral" are spelling variants; "Fragments, cataract" is not;
        # "acute, subacute" lists values of one axis (either one)
        if len(pieces) > 1 and (all(p[:3].lower() == pieces[0][:3].lower() for p in pieces) or any(
                all(p.lower() in words for p in pieces) for _axis, words in _AXES)):
            split.extend(pieces)
        else:
            split.append(" ".join(pieces))
    alts = [_content(a) for a in [*split, *inner]]
    alts = [a for a in alts if a]
    # "atrial or auricular fibrillation": words shared by every alternative stay with each of them
    return tuple(alts) or ([],)


# Index words that name no axis of their own ("lumbar region", "upper part"), or the patient's sex that statements
# rarely repeat ("Congestion, pelvic, female"): optional when matching.
_FILLER = frozenset({"region", "part", "level", "area", "structure", "portion", "organ", "site", "multiple", "phase",
                     "end", "induced", "female", "male"})


_NERVE_HEADS = frozenset({"neuropathy", "mononeuropathy", "neuritis", "neuralgia", "palsy", "entrapment",
                          "compression", "lesion"})


def _polarity(term: str, connector: str | None) -> bool | None:
    """True for a "with ..." subterm, False for "without ...", None when the subterm states neither."""
    first = (_WORD.findall(term.lower()) or [""])[0]
    if first in _NEGATORS:
        return False
    if first == "with" or connector == "with":
        return True
    if connector == "without":
        return False
    return None


def _sentence_without(mention: Mention) -> str:
    """The mention's sentence minus the mention and its documented details (what is left around it)."""
    sent = mention.sentence or ""
    if not sent:
        return ""
    low = sent.lower()
    for part in (mention.text, *mention.details.site, *mention.details.type, *mention.details.cause,
                 *mention.details.drug):
        if part:
            low = low.replace(part.lower(), " ")
    return low


_COMMON_QUALIFIERS = frozenset({"benign", "malignant", "primary", "secondary", "congenital", "acquired", "traumatic",
                                "nontraumatic", "bilateral", "unilateral", "specified", "unspecified", "recurrent",
                                "chronic", "subacute", "infected", "infective", "complicated", "multiple", "single",
                                "closed", "displaced", "nondisplaced", "partial", "complete", "simple", "severe",
                                "moderate", "localized", "generalized", "abnormal", "organic", "functional"})


def _coverage(term: str, doc: _Doc, used: set[str], connector: str | None = None) -> tuple[float, set[str]]:
    """Score how well an index subterm is supported by the documented words not used yet.

    Returns (score, matched words). Score 0 when some content word of the term is undocumented (a subterm is
    only taken when all its words are documented), else the summed fraction of each detail phrase it covers
    (so "postoperative" covering a whole CAUSE beats "ear" covering a third of "external ear canal").
    """
    key = (term, connector, frozenset(used), len(doc.phrases))
    hit = doc.cov_cache.get(key)
    if hit is not None:
        return hit[0], set(hit[1])
    best: tuple[float, set[str]] = (0.0, set())
    for tw in _alternatives(term):
        got = _coverage_words(tw, term, doc, used, connector)
        if got[0] > best[0]:
            best = got
    if best[0] <= 0 and "," in re.sub(r"\([^)]*\)", "", term):
        # "chronic lymphocytic, of B-cell type": what follows the comma qualifies the subterm; the part before it
        # documented in full is weaker evidence for it
        first = re.sub(r"\([^)]*\)", "", term).split(",")[0]
        words = _content(first)
        if len(words) >= 2 or (len(words) == 1 and len(words[0]) >= 6 and words[0] not in _COMMON_QUALIFIERS):
            # one common word before the comma is too little ("benign, intracranial" for "benign"); a rare one
            # is enough ("pilaris, acquired" for keratosis pilaris)
            got = _coverage_words(words, first, doc, used, connector)
            if got[0] > 0:
                best = (0.7 * got[0], got[1])
    doc.cov_cache[key] = best
    return best[0], set(best[1])


def _coverage_words(tw: list[str], term: str, doc: _Doc, used: set[str], connector: str | None
                    ) -> tuple[float, set[str]]:
    if not tw:
        return 0.0, set()
    pol = _polarity(term, connector)
    # a phrase stated as absent ("without hematuria") only supports a "without ..." subterm
    avail = [(axis, [w for w in ws if w not in used]) for i, (axis, ws) in enumerate(doc.phrases)
             if (pol is False) == (i in doc.negative)]
    matched: set[str] = set()
    via_synonym: set[str] = set()
    for t in tw:
        hit = next((w for _, ws in avail for w in ws if _word_match(t, w)), None)
        if hit is None:
            hit = next((w for _, ws in avail for w in ws if _term_match(t, w)), None)
            if hit is not None:
                via_synonym.add(hit)
        if hit is None and (t in _FILLER or (t == "nerve" and doc.head and doc.head[-1] in _NERVE_HEADS)
                            or (t in ("bone", "bones", "wall") and len(tw) > 1)
                            or (t == "coli" and "escherichia" in tw)):
            # "median neuropathy" is the index's "Neuropathy, median nerve"; "metatarsal" its "metatarsal bone" and
            # "skin of the abdomen" its "abdominal wall"; the
            # species of E. coli was dropped from the documented words (no "colon") but belongs to its genus
            continue
        if hit is None:
            # words already accounted for (the condition itself, "with chronic cholecystitis") may repeat
            if any(_word_match(t, w) for w in used) or any(_word_match(t, w) for w in doc.head):
                continue
            return 0.0, set()
        matched.add(hit)
    score = 0.0
    for axis, ws in avail:
        if ws:
            score += (0.5 if axis == "context" else 1.0) * sum(
                (0.9 if w in via_synonym else 1.0) for w in ws if w in matched) / len(ws)
    return score, matched


# -- candidates --------------------------------------------------------------------------------------------------


@dataclass
class _Cand:
    code: str
    score: float
    path: tuple[str, ...] = ()
    source: str = "index"
    matched: tuple[str, ...] = ()
    nos_default: bool = False
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _hit_code(hit: Any) -> str | None:
    """The code an index entry leads to: as printed when it is a subcategory of this release (so the
    documented words can choose among its codes), else the index's reconciled billable code."""
    printed = (getattr(hit, "code", None) or "").rstrip("-").rstrip(".")
    resolved = getattr(hit, "resolved", None) or None
    if printed and resolved and printed != resolved and resolved.replace(".", "").startswith(
            printed.replace(".", "")):
        return printed
    # printed with '-' and no unspecified child to resolve to: the subcategory itself (made billable later from
    # the documented words, e.g. the side)
    return resolved or printed or None


def _see_path(see: str) -> list[str]:
    return [p.strip() for p in re.split(r",\s*", see) if p.strip()]


def _lookup(cs: Any, path: Sequence[str] | str) -> Any:
    try:
        if not isinstance(path, str) and len(path) == 1:
            main = _main_entry(cs, path[0])
            if main is not None:
                return main
        return cs.index.lookup(path if isinstance(path, str) else list(path))
    except Exception:  # noqa: BLE001 - an unknown path is simply no hit
        return None


class _Bounded(OrderedDict):  # type: ignore[type-arg]
    """A small LRU dict for the per-code-set lookups below (index searches, subterm lists, title searches)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get_or(self, key: Any, make: Any) -> Any:
        try:
            value = self[key]
            self.move_to_end(key)
            return value
        except KeyError:
            value = make()
            self[key] = value
            if len(self) > self.maxsize:
                self.popitem(last=False)
            return value


# Caps sized so the caches fill within the first ~1,000 notes of a batch worker and memory then stays level
# (benchmarks/bench_batch.py); a full cache drops its least recently used entries.
_SEARCH_CACHE = _Bounded(16_384)
_SUBTERM_CACHE = _Bounded(8_192)
_TITLE_CACHE = _Bounded(8_192)
_HISTORY_CATEGORIES = _Bounded(64)  # history categories (Z80-Z87) with the code ranges their notes name
_CACHE_LOCK = threading.Lock()


def _cached(cache: _Bounded, key: Any, make: Any) -> Any:
    with _CACHE_LOCK:
        if key in cache:
            return cache.get_or(key, make)
    value = make()
    with _CACHE_LOCK:
        cache[key] = value
        if len(cache) > cache.maxsize:
            cache.popitem(last=False)
    return value


def _index_search(cs: Any, phrase: str) -> list[Any]:
    def make() -> list[Any]:
        try:
            return list(cs.index.search(phrase, limit=10))
        except Exception:  # noqa: BLE001
            return []
    return _cached(_SEARCH_CACHE, (id(cs), phrase), make)


def _search_titles(cs: Any, query: str) -> list[tuple[str, float]]:
    def make() -> list[tuple[str, float]]:
        try:
            return list(cs.search_titles(query, limit=10))
        except Exception:  # noqa: BLE001
            return []
    return _cached(_TITLE_CACHE, (id(cs), query), make)


def _subterms(cs: Any, path: Sequence[str]) -> list[Any]:
    try:
        if len(path) == 1:
            main = _main_entry(cs, path[0])
            children = getattr(cs.index, "_children", None)
            if main is not None and children is not None:
                return [cs.index.hit(k) for k in children.get(main.row, [])]
        return list(cs.index.subterms(tuple(path)))
    except Exception:  # noqa: BLE001
        return []


_MAIN_ENTRIES: dict[int, dict[str, Any]] = {}


def _main_entry(cs: Any, term: str) -> Any:
    """The main term printed exactly as ``term``. ``cs.index.lookup(["Syndrome"])`` may answer another main term
    that has the word as a comma variant ("Abstinence symptoms, syndrome"); the walk needs the entry itself."""
    table = _MAIN_ENTRIES.get(id(cs))
    if table is None:
        table = {}
        for h in cs.index.subterms(None):
            table.setdefault(h.path[0].strip().lower(), h)
        _MAIN_ENTRIES.clear()
        _MAIN_ENTRIES[id(cs)] = table
    return table.get(term.strip().lower())


def _last(hit: Any) -> str:
    return hit.path[-1] if getattr(hit, "path", None) else ""


def _follow_see(cs: Any, hit: Any, depth: int) -> Any:
    """Follow a ``see`` reference (no code of its own) to the index entry it names, if it is one."""
    seen = 0
    see = getattr(hit, "see", None) if hit is not None else None
    scoped = hit
    for _ in range(depth):
        see = getattr(scoped, "see", None) if scoped is not None else None
        if not (see and not getattr(scoped, "code", None) and scoped.path):
            break
        # "Fracture, traumatic > malleolus: see Fracture, ankle" means the ankle entry of the same main term
        # (and "hip: see Fracture, femur, neck", itself "see Fracture, femur, upper end, neck")
        parts = _see_path(see)
        main = scoped.path[0]
        if not (len(parts) > 1 and main.lower().startswith(parts[0].lower() + ",")
                and main.lower() != parts[0].lower()):
            break
        scoped = _lookup(cs, [main, *parts[1:]]) or _resolve_within(cs, _lookup(cs, [main]), parts[1:])
        if scoped is not None and (_hit_code(scoped) or _subterms(cs, scoped.path)):
            return scoped  # a heading of the same main term ("femur, femoral > neck"): walked on
    # an entry printed without a code sends to its "see" entry, whose subterms the walk may continue in
    # (the index may already have resolved a default code for it)
    while hit is not None and not getattr(hit, "code", None) and getattr(hit, "see", None) and seen < depth:
        target = (_lookup(cs, hit.see) or _lookup(cs, _see_path(hit.see)) or _resolve_reference(cs, hit.see)
                  or _by_site_entry(cs, hit.see))
        if target is None:
            return hit
        hit = target
        seen += 1
    return hit


_BY_SITE = re.compile(r"\bby site\b", re.I)
_RESOLVED: dict[tuple[int, str], Any] = {}


def _resolve_reference(cs: Any, see: str) -> Any:
    """A see / see-also reference whose subterms the index prints with spelling variants ("Infarct, myocardium,
    ST elevation" is "Infarct, infarction > myocardium, myocardial > ST elevation"): each part matched to the
    child one of whose comma variants it is."""
    key = (id(cs), see)
    if key in _RESOLVED:
        return _RESOLVED[key]
    parts = _see_path(see)
    hit = None
    for n in range(len(parts), 0, -1):  # main terms may hold commas themselves
        hit = _lookup(cs, [", ".join(parts[:n])])
        if hit is not None:
            rest = parts[n:]
            break
    hit = _resolve_within(cs, hit, rest) if hit is not None else None
    if len(_RESOLVED) > 4096:
        _RESOLVED.clear()
    _RESOLVED[key] = hit
    return hit


def _resolve_within(cs: Any, hit: Any, rest: Sequence[str]) -> Any:
    """Descend from ``hit`` through ``rest``, each part naming a subterm or one of its comma variants
    ("femur" is "femur, femoral")."""
    rest = list(rest)
    while hit is not None and rest:
        want = rest.pop(0).strip().lower()
        hit = next((sub for sub in _subterms(cs, hit.path)
                    if want in {v.strip().lower() for v in [_last(sub), *_last(sub).split(",")]}), None)
    return hit


def _by_site_entry(cs: Any, see: str) -> Any:
    """The entry a "see X, Y, by site, Z" reference sends to: "X, Y", whose subterms are the sites (the walk
    chooses the documented one; "Z", e.g. laceration, is the condition and is read from the titles below it)."""
    if not _BY_SITE.search(see):
        return None
    before = _BY_SITE.split(see)[0]
    parts = [p for p in _see_path(before.strip(" ,")) if p]
    return _lookup(cs, parts) if parts else None


_EPONYM_HEADS = frozenset({"disease", "syndrome"})


def _main_terms(cs: Any, mention: Mention, doc: _Doc) -> list[tuple[Any, set[str]]]:
    """Index entries naming the mention's condition, best first, with the mention words they consumed.

    Every contiguous word sequence of the mention text is searched, longest first; an entry is kept when all
    the content words of its path are in the mention and it covers the head (last) word. "atrial fibrillation"
    thus lands on "Fibrillation > atrial", "diabetes mellitus" on "Diabetes, diabetic".
    """
    words = _index_words(cs, [w for w in _words(mention.text) if w not in _STOP])
    if not words:
        return []
    head = words[-1]
    first = next((w for w in _words(mention.text) if w not in _STOP), "")
    if len(words) > 1 and _participle_noun(cs, first) != first:
        words = words[1:] + words[:1]  # "herniated disc" is a disc herniation: the condition is the head
        head = words[-1]
    # The word(s) just before the mention may name the condition with it ("Colles fracture").
    sent = mention.sentence or ""
    at = sent.lower().find(mention.text.lower())
    if at > 0:
        before = _index_words(cs, [w for w in _words(sent[:at])[-2:] if w not in _STOP])
        words = before + words
    found: list[tuple[int, int, Any, set[str]]] = []
    seen: set[Any] = set()
    variants = [words]
    if head in _EPONYM_HEADS:  # "Kawasaki disease" is the index's "Kawasaki's syndrome"
        variants += [words[:-1] + [alt] for alt in sorted(_EPONYM_HEADS - {head})]
    for variant in variants:
        _search_main_terms(cs, variant, found, seen)
    raw = re.findall(r"[a-z]+", mention.text.lower()) if not found else []
    singular = _latin_singular(raw[-1]) if raw else None
    if singular:  # "lentigines" is the index's "Lentigo"
        _search_main_terms(cs, words[:-1] + [singular], found, seen)
    nerve = _nerve_entry(cs, words)
    if nerve is not None:  # "saphenous neuropathy": the Index files a named nerve's lesion apart from Neuropathy
        return [nerve]
    found.sort(key=lambda f: (f[4], -f[1], -f[0], 0 if f[2].code else 1, len(f[2].path)))
    strict = [f for f in found if not f[4]]
    if not strict and len(found) > 1:  # several "X, modifier" main terms: the one the index expands most
        found.sort(key=lambda f: -len(_subterms(cs, f[2].path)))
    return [(h, consumed) for _, _, h, consumed, _ in found]


_NERVE_HEADS = frozenset({"neuropathy", "neuralgia", "neuritis", "mononeuropathy", "entrapment", "palsy"})


def _nerve_entry(cs: Any, words: list[str]) -> tuple[Any, set[str]] | None:
    """The Index's entry for a lesion of a named nerve ("Lesion > saphenous nerve" G57.8-, "Lesion > nerve >
    radial" G56.3-, "Mononeuropathy > ilioinguinal nerve" G57.8-) when the nerve's name comes right before a
    neuropathy word; None when the Index names no such nerve."""
    if len(words) < 2 or words[-1] not in _NERVE_HEADS:
        return None
    name = words[-2]
    if name in _STOP or len(name) < 4:
        return None
    for path in (("Lesion", f"{name} nerve"), ("Lesion", "nerve", name), ("Mononeuropathy", f"{name} nerve")):
        main = _main_entry(cs, path[0])
        if main is None:
            continue
        hit = _lookup(cs, [main.path[0], *path[1:]])
        if hit is not None and _hit_code(_follow_see(cs, hit, 3)):
            return hit, {name, words[-1]}
    return None


def _latin_singular(word: str) -> str | None:
    """The singular of a Latin plural condition word ("lentigines" -> "lentigo", "nevi" -> "nevus", "varices" ->
    "varix", "bullae" -> "bulla", "condylomata" -> "condyloma"), for the main-term search only."""
    from nec_nlp.pipeline.components import LATIN_CONDITION_PLURALS

    for sing, plur in LATIN_CONDITION_PLURALS:
        if word.endswith(plur) and len(word) > len(plur) + 2:
            return word[: len(word) - len(plur)] + sing
    return None


def _search_main_terms(cs: Any, words: list[str], found: list[Any], seen: set[Any]) -> None:
    """Index entries for every contiguous word sequence of ``words``, longest first, appended to ``found`` as
    (span length, words consumed, hit, consumed words, lenient); see :func:`_main_terms`."""
    head = words[-1]
    n = len(words)
    spans = sorted(((i, j) for i in range(n) for j in range(i + 1, n + 1)), key=lambda ij: -(ij[1] - ij[0]))
    for i, j in spans:
        if found and j - i < max(f[0] for f in found):
            break
        phrase = " ".join(words[i:j])
        try:
            hits = _index_search(cs, phrase)
        except Exception:  # noqa: BLE001
            hits = []
        for h in hits:
            key = tuple(h.path)
            if (key, getattr(h, "row", None)) in seen:
                continue
            if len(key) > 3 or any(w in _POPULATION and w not in words for part in key for w in _content(part)):
                continue  # "Stroke, ischemic, perinatal arterial" is no adult's ischemic stroke
            pw: list[str] = []
            lenient = 0
            for n_part, part in enumerate(key):
                alts = [a for a in _alternatives(part) if all(any(_word_match(p, w) for w in words) for p in a)]
                if not alts and n_part == 0 and len(key) == 1 and "," in part:
                    # "Fracture, traumatic": the main word alone, ranked after entries matched in full
                    alts = [a for a in [_content(part.split(",")[0])] if a and all(
                        any(_word_match(p, w) for w in words) for p in a)]
                    lenient = 1
                if not alts:
                    pw = []
                    break
                pw.extend(max(alts, key=len))
            if not pw:
                continue
            consumed = {w for w in words if any(_word_match(p, w) for p in pw)}
            # nonessential modifiers ("Diabetes (mellitus)") help rank the entry but stay free for subterms
            noness = _content(getattr(h, "nonessential", None) or "")
            n_free = sum(1 for w in words if w not in consumed and any(_word_match(p, w) for p in noness))
            if not any(_word_match(p, head) for p in _content(key[0]) + noness) and head not in consumed:
                continue
            seen.add((key, getattr(h, "row", None)))
            found.append((j - i, len(consumed) + n_free, h, consumed, lenient))
            if len(key) == 1:
                # a main term printed twice ("Cancer - see also Neoplasm" and "Cancer(o)phobia" read as "Cancer"):
                # its twin, which a search for the longer phrase may have ranked out
                for twin in _index_search(cs, key[0]):
                    tk = (tuple(twin.path), getattr(twin, "row", None))
                    if tuple(twin.path) == key and tk not in seen:
                        seen.add(tk)
                        found.append((j - i, len(consumed) + n_free, twin, consumed, lenient))


def _index_words(cs: Any, words: list[str]) -> list[str]:
    """Closed compounds the index prints in two words: a word the index does not know that splits into two words
    it does ("preeclampsia" -> "pre eclampsia", "hammertoe" -> "hammer toe")."""
    out: list[str] = []
    for w in words:
        out.extend(_split_compound(cs, _participle_noun(cs, w)))
    return out


def _heads_main_term(cs: Any, w: str) -> bool:
    """Whether ``w`` is the first word of an Index main term ("fracture": "Fracture, traumatic")."""
    return any(h.path and re.split(r"[,\s(]", h.path[0].lower())[0] == w for h in _index_search(cs, w)[:8])


def _participle_noun(cs: Any, w: str) -> str:
    """The condition noun of a participle the index does not print ("herniated" -> "herniation",
    "hypertrophied" -> "hypertrophy", "thickened" -> "thickening"); other words unchanged."""
    knows = getattr(cs.index, "knows", None)
    if knows is None or len(w) < 7 or not w.endswith("ed"):
        return w
    if _heads_main_term(cs, w[:-1]) and not _heads_main_term(cs, w):
        return w[:-1]  # "fractured" -> the main term "Fracture, traumatic", though a subterm prints "fractured"
    if knows(w) and _index_search(cs, w):
        return w
    for noun in (w[:-3] + "y", w[:-1] + "ion", w[:-2] + "ion", w[:-1], w[:-1] + "ment", w[:-2] + "ing"):
        if knows(noun):
            return noun
    return w


def _split_compound(cs: Any, w: str) -> list[str]:
    knows = getattr(cs.index, "knows", None)
    if knows is None or len(w) < 7 or not w.isalpha() or knows(w):
        return [w]
    for k in range(3, len(w) - 2):
        a, b = w[:k], w[k:]
        if knows(a) and knows(b) and len(b) >= 3:
            return [a, _stem(b)]
    return [w]


def _combination_candidates(cs: Any, mention: Mention, doc: _Doc) -> list[_Cand]:
    """Combination codes indexed under a documented cause/type ("diabetic neuropathy" is "Diabetes, with,
    neuropathy"): a detail that is itself a main term whose "with" subterms name the condition."""
    head = doc.head[-1] if doc.head else ""
    if not head:
        return []
    out: list[_Cand] = []
    # a condition stated as absent ("without cholelithiasis") is no part of a combination code
    phrases = [p for i, p in enumerate(doc.phrases[:4]) if i not in doc.negative]
    sent = (mention.sentence or "").lower()
    at = sent.find(mention.text.lower())
    if at >= 0:
        # "acute cholecystitis with cholelithiasis": the condition named after "with" may be the main term
        # whose "with" subterm names this one (Cholelithiasis > with > cholecystitis)
        m = re.match(r"\s*(?:,\s*)?with\s+([a-z\s-]+)", sent[at + len(mention.text):])
        if m:
            ws = [w for w in _content(m.group(1)) if w not in doc.head][:3]
            if ws:
                phrases.append(("cause", ws[-1:]))
    for axis, ws in phrases:
        if axis not in ("cause", "type") or not ws:
            continue
        try:
            hits = cs.index.search(" ".join(ws), limit=5)
        except Exception:  # noqa: BLE001
            continue
        for h in hits:
            if len(h.path) != 1 or not any(all(any(_word_match(p, w) for w in ws) for p in a)
                                           for a in _alternatives(h.path[0])):
                continue
            start = _follow_see(cs, h, 3) or h
            names_head = any(conn == "with" and any(_word_match(head, w) for a in _alternatives(_last(sub))
                                                    for w in a)
                             for sub, conn in _flat_subterms(cs, start.path))
            if not names_head:
                continue
            combo = replace(doc, phrases=[*doc.phrases, ("type", list(doc.head))], cov_cache={},
                            originals=[*doc.originals, mention.text])
            end, used, _alts = _walk(cs, start, combo, set(ws))
            code = _hit_code(_follow_see(cs, end, 3))
            if code and any(_word_match(head, w) for p in end.path for w in _content(p)):
                # guideline I.B.9: one combination code when the classification has one for both conditions
                out.append(_Cand(code, 3.2, tuple(end.path), "index", tuple(sorted(used - set(ws))),
                                 note="combination code indexed under the documented cause"))
            break
    return out


def _unused_details(doc: _Doc, used: set[str]) -> set[str]:
    """Documented detail words (not sentence context, not stated absent) that no index word took yet."""
    descriptors = {_stem(w) for w in _DESCRIPTOR_WORDS}
    return {w for i, (axis, ws) in enumerate(doc.phrases) if axis not in ("context", "drug", "laterality", "external")
            and i not in doc.negative and not _co_condition(doc, i)
            for w in ws if w not in used and w not in descriptors}


def _co_condition(doc: _Doc, i: int) -> bool:
    """A "with ..." phrase the index has no subterm for is a condition coded on its own ("CHF with AFib" is
    I50.9 and I48.91), never a reason for an "other specified" code."""
    return i < len(doc.originals) and doc.originals[i].lower().startswith("with ")


_PREGNANCY_WORDS = frozenset({"pregnancy", "pregnant", "gestation", "gestational", "antepartum", "gravid"})


def _in_pregnancy(mention: Mention, doc: _Doc) -> bool:
    """The sentence places the condition in a pregnancy ("sciatica complicating pregnancy, 24 weeks") and the
    condition is not itself a pregnancy term."""
    said = set(_words(mention.sentence or ""))
    return bool(said & _PREGNANCY_WORDS) and not set(doc.head) & _PREGNANCY_WORDS and not any(
        w.startswith(("preg", "gestat", "eclamp", "preeclamp", "labor", "delivery", "abortion", "postpartum",
                      "puerper", "miscarriage", "ectopic")) for w in doc.head)


_RANGE = re.compile(r"\b([A-Z]\d\d)\s*-\s*([A-Z]\d\d)\b")


_PUERPERAL_WORDS = frozenset({"postpartum", "puerperal", "puerperium", "postnatal"})


def _in_puerperium(mention: Mention, doc: _Doc, first: _Cand) -> bool:
    """The sentence places the condition after a delivery ("postpartum urinary retention"), the condition is no
    puerperal term itself, and the index entry of its first code did not take the word ("Depression,
    postpartum")."""
    said = set(_words(mention.sentence or ""))
    path_words = {w for p in first.path for w in _words(p)}
    return bool(said & _PUERPERAL_WORDS) and not (set(doc.head) | path_words) & (_PUERPERAL_WORDS | _PREGNANCY_WORDS)


def _pregnancy_candidate(cs: Any, doc: _Doc, code: str, base: tuple[str, ...] = ("Pregnancy", "complicated by"),
                         fallback: tuple[str, ...] = ()) -> _Cand | None:
    """ICD-10-CM guideline I.C.15.a.1: conditions in pregnancy are coded to chapter 15 first. The "Pregnancy,
    complicated by" subterm naming the condition, else the one whose nonessential "(conditions in M00-M99)" range
    holds the condition's own code (sciatica M54.3- -> "connective system disorders" O99.891)."""
    if code.startswith(("O", "Z3A")):
        return None
    if _lookup(cs, list(base)) is None:
        return None
    head = doc.head[-1] if doc.head else ""
    cat = code.split(".")[0]
    named: _Cand | None = None
    best_range: tuple[int, _Cand] | None = None
    stack = [(sub, 0) for sub, _c in _flat_subterms(cs, base)]
    while stack:
        sub, depth = stack.pop()
        term = _last(sub)
        target = _follow_see(cs, sub, 3)
        hit_code = _hit_code(target) if target is not None else None
        words = _content(term)
        if hit_code and named is None and head and words and _word_match(words[-1], head) and not \
                _undocumented_population([*sub.path[2:], getattr(sub, "nonessential", None) or ""], doc, set()) \
                and all(
                any(_term_match(t, w) for w in [*doc.head, *doc.detail_words]) or t in _FILLER for t in words):
            named = _Cand(hit_code, 0.0, tuple(sub.path), "index", tuple(words),
                          note="condition in pregnancy coded to chapter 15 first (guideline I.C.15.a.1)")
        for lo, hi in _RANGE.findall(getattr(sub, "nonessential", None) or ""):
            if hit_code and lo <= cat <= hi:
                width = (ord(hi[0]) - ord(lo[0])) * 100 + int(hi[1:]) - int(lo[1:])
                if best_range is None or width < best_range[0]:
                    best_range = (width, _Cand(hit_code, 0.0, tuple(sub.path), "index", (),
                                               note=f"condition in pregnancy ({code} is in {lo}-{hi}) coded to "
                                                    "chapter 15 first (guideline I.C.15.a.1)"))
        if depth < 1:
            stack.extend((s2, depth + 1) for s2, _c in _flat_subterms(cs, sub.path))
    if named or best_range or not fallback:
        return named or (best_range[1] if best_range else None)
    # "Puerperal, puerperium > complications > specified NEC" for a condition it does not name
    end = _lookup(cs, [*base, *fallback])
    hit_code = _hit_code(end) if end is not None else None
    return _Cand(hit_code, 0.0, tuple(end.path), "index", (),
                 note=f"condition after delivery that the index does not name under {base[0]!r}: its specified "
                      f"complications code") if hit_code else None


def _sibling_for_leftover(cs: Any, main: Any, doc: _Doc, used: set[str], base: set[str]
                          ) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    """A subterm of the main term (top level) taken by the type/cause words the walk left over."""
    leftover = {w for i, (axis, ws) in enumerate(doc.phrases) if axis in ("type", "cause") and i not in doc.negative
                for w in ws if w not in used} - {_stem(w) for w in _DESCRIPTOR_WORDS}
    if not leftover or not main.path:
        return None
    root = _lookup(cs, list(main.path[:1])) or main
    best: tuple[float, Any, set[str]] | None = None
    for sub, conn in _flat_subterms(cs, root.path):
        if conn is not None or len(sub.path) != 2 or _undocumented_population([_last(sub)], doc, used):
            continue
        score, matched = _coverage(_last(sub), doc, used, conn)
        if score > 0 and matched and matched <= leftover and (best is None or score > best[0]):
            best = (score, sub, matched)
    if best is None:
        return None
    # from the sibling on, only the main term's own words count as taken ("Migraine > intractable" had taken
    # "intractable", which "Migraine > with aura > intractable" needs again)
    root_words = [w for a in _alternatives(root.path[0]) for w in a]
    base = {w for w in base if any(_word_match(w, r) for r in root_words)}
    end, used2, _alts = _walk(cs, _next_entry(cs, best[1]), doc, base | best[2])
    code = _hit_code(_follow_see(cs, end, 3)) or _hit_code(_next_entry(cs, best[1]))
    return (code, tuple(end.path), tuple(sorted(best[2]))) if code else None


_POSTPROCEDURAL_WORDS = frozenset({"postoperative", "postprocedural", "postop", "postsurgical", "op", "operative",
                                   "procedural", "surgical"})
_PROCEDURE_WORD = re.compile(r"(ectomy|otomy|ostomy|plasty|pexy|transplant|bypass|cabg|graft|implant|placement|"
                             r"insertion|fusion|stent|ablation|repair|resection|dissection|biopsy|surgery|procedure|"
                             r"operation|excision|scopy)$")


_ORGANISM_WORD = re.compile(r"(virus|influenza|bacter|coccus|cocci|monas|bacillus|myces|plasma)$")


def _exposure_said(mention: Mention) -> bool:
    """The sentence says the patient was exposed to the condition ("exposure to pertussis", "exposed to
    influenza"), right before the mention."""
    sent = (mention.sentence or "").lower()
    at = sent.find(mention.text.lower())
    lead = _WORD.findall(sent[:at])[-4:] if at > 0 else []
    return any(w in ("exposure", "exposed") for w in lead) and "to" in lead


def _exposure_candidate(cs: Any, own_code: str) -> _Cand | None:
    """"Exposure (to) > communicable disease > bacterial NEC / viral NEC / specified NEC" for an infectious
    disease (chapter 1) whose own code is the first suggestion, i.e. the Index has no "Exposure" entry naming it;
    bacterial or viral by the words of the code's section, category and code titles."""
    own = cs.get(own_code)
    if own is None or str(own.chapter) != "1" or own_code.startswith("Z"):
        return None
    titles = " ".join([cs.section_title(own.section) or "", own.title,
                       *(getattr(cs.get(p), "title", "") for p in (own.parent, own_code[:3]) if p)]).lower()
    kind = "bacterial nec" if "bacteri" in titles else "viral nec" if re.search(r"vir(al|us)", titles) else \
        "specified nec"
    main = _main_entry(cs, "Exposure")
    if main is None:
        return None
    comm = _child(cs, main, "communicable disease")
    sub = _child(cs, comm, kind) if comm is not None else None
    code = _hit_code(sub) if sub is not None else None
    if not code:
        return None
    return _Cand(code, 0.0, tuple(sub.path), "index", (),
                 note=f"exposure to a communicable disease the Index does not list under 'Exposure' "
                      f"({own.code} is {kind[:-4]})")


def _child(cs: Any, hit: Any, name: str) -> Any:
    """The subterm of ``hit`` printed as ``name`` (case-insensitive: "specified NEC", "communicable disease")."""
    name = name.lower()
    return next((k for k in _subterms(cs, tuple(hit.path)) if _last(k).lower() == name), None)


def _postprocedural_said(doc: _Doc) -> bool:
    """A CAUSE says the condition followed a procedure ("postoperative", "post-op", "after CABG",
    "following inguinal lymph node dissection")."""
    return any(axis == "cause" and i not in doc.negative and any(
        w in _POSTPROCEDURAL_WORDS or _PROCEDURE_WORD.search(w) for w in ws)
        for i, (axis, ws) in enumerate(doc.phrases))


def _complication_systems(cs: Any) -> dict[str, Any]:
    """Chapter -> the "Complication(s) > <body system> > postprocedural" entry of the Index whose code is in that
    chapter ("circulatory system > postprocedural" I97.89 for chapter 9, "respiratory system > postoperative"
    J95.89 for chapter 10), read from the Index itself."""
    def make() -> dict[str, Any]:
        out: dict[str, Any] = {}
        main = _main_entry(cs, "Complication")
        if main is None:
            return out
        for system in _subterms(cs, (main.path[0],)):
            for sub in _subterms(cs, tuple(system.path)):
                if _last(sub).lower() not in ("postprocedural", "postoperative"):
                    continue
                nec = _child(cs, sub, "specified NEC")
                code = _hit_code(sub) or (_hit_code(nec) if nec is not None else None)
                obj = cs.get(code.rstrip("-")) if code else None
                if obj is not None and obj.chapter and obj.chapter not in out:
                    out[obj.chapter] = sub
        return out
    return _cached(_SEARCH_CACHE, (id(cs), "complication systems"), make)


def _postprocedural_candidate(cs: Any, doc: _Doc, cands: list[_Cand], own_code: str) -> _Cand | None:
    """A condition documented as following a procedure whose own index entry has no postprocedural subterm: the
    Index's "Complication > <its body system> > postprocedural" entry (the system of the chapter the condition's
    own code is in), walked with the documented words, else its "specified NEC" code. Postoperative atrial
    fibrillation: I97.89 before I48.91. Not for symptom codes (chapter 18 has no body system)."""
    if not _postprocedural_said(doc):
        return None
    index = [c for c in cands if c.source == "index" and c.score >= 1.0]
    if not index or any(re.search(r"post|following|after|complication", " ".join(c.path[1:]), re.I)
                        for c in index):
        return None  # the condition's own entry took the procedure ("Hypothyroidism, postprocedural")
    own = cs.get(own_code)
    if own is None or not any(c.code.rstrip("-") == own_code[:len(c.code.rstrip("-"))] for c in index):
        return None  # the first code is no index code of the condition
    entry = _complication_systems(cs).get(own.chapter)
    if entry is None:
        return None
    end, used, _alts = _walk(cs, entry, doc, set())
    said = {w for _axis, ws in doc.phrases for w in ws} | set(doc.head)
    if end is not entry and not all(any(_word_match(t, w) for w in said) for t in _content(_last(end))):
        end = entry  # "lymphedema after mastectomy" is no lymphedema after a lymph node dissection
    code = _hit_code(_follow_see(cs, end, 3))
    if end is entry:
        nec = _child(cs, entry, "specified NEC")
        code = (_hit_code(nec) if nec is not None else None) or code
    if not code:
        return None
    return _Cand(code, 0.0, tuple(end.path), "index", tuple(sorted(used)),
                 note=f"documented as following a procedure: a postprocedural complication of the body system of "
                      f"{own.code} (code {own.code} as well)")


def _with_prefixes(cs: Any, mains: list[tuple[Any, set[str]]]) -> list[tuple[Any, set[str]]]:
    """Each main entry, then the shorter paths above it ("Hemorrhoids > internal", then "Hemorrhoids"), so a
    walk can also take a sibling branch the documentation supports better ("second degree")."""
    out: list[tuple[Any, set[str]]] = []
    for hit, consumed in mains:
        out.append((hit, consumed))
        for k in range(len(hit.path) - 1, 0, -1):
            up = _lookup(cs, list(hit.path[:k]))
            if up is not None:
                words = [w for part in up.path for a in _alternatives(part) for w in a]
                out.append((up, {w for w in consumed if any(_word_match(w, p) for p in words)}))
    return out


_POPULATION = frozenset({"newborn", "neonatal", "perinatal", "fetus", "fetal", "maternal"})


def _undocumented_population(terms: Iterable[str], doc: _Doc, used: set[str]) -> bool:
    """Whether the terms name a newborn, fetus or mother that nobody documented."""
    return any(w in _POPULATION and not _heading_documented(w, doc, used) for t in terms for w in _content(t))


def _walk(cs: Any, hit: Any, doc: _Doc, used: set[str], depth: int = 0) -> tuple[Any, set[str], list[_Cand]]:
    """Descend from ``hit`` through subterms supported by documented words; return the end entry and alternates."""
    alternates: list[_Cand] = []
    if depth > 8:
        return hit, used, alternates
    best: tuple[float, Any, set[str]] | None = None
    for sub, conn in _flat_subterms(cs, hit.path):
        score, matched = _coverage(_last(sub), doc, used, conn)
        if score <= 0:
            continue
        if _undocumented_population(sub.path[len(hit.path):], doc, used):
            # "Sepsis > newborn > bacterial" is no code for an adult's bacterial sepsis, nor "Polyhydramnios >
            # affecting fetus or newborn" for the mother's
            continue
        if conn is None and len(sub.path) > len(hit.path) + 1 and not _heading_documented(
                sub.path[len(hit.path)], doc, used):
            # reached through a heading printed without a code whose words nobody documented ("Disorder,
            # alcohol use > mild" for a mild cognitive disorder): weaker than a subterm of its own
            score *= 0.5
        code = _hit_code(_follow_see(cs, sub, 3))
        if code:
            alternates.append(_Cand(code, score, tuple(sub.path), "index", tuple(sorted(matched))))
        # One level of look-ahead: "acute > with hematuria" beats "with hematuria" alone.
        total = score + 0.9 * _lookahead(cs, _next_entry(cs, sub), doc, used | matched)
        if code:  # tie-break: the code whose title says more of what was documented
            total += 0.05 * _fit(cs.get(code.rstrip("-")), _Cand(code, 0.0), doc)[0]
        if best is None or total > best[0]:
            best = (total, sub, matched)
    if best is not None and len(best[2]) < 2:
        # "Sprain > acromioclavicular joint or ligament" takes "ligament" alone, "Sprain > knee > cruciate,
        # anterior" three words of an anterior cruciate ligament: the body-site heading nobody named, then more
        bridge = _site_bridge(cs, hit, doc, used, min_words=len(best[2]) + 1)
        if bridge is not None:
            best = bridge
    if best is None:
        best = _heading_default(cs, hit, doc, used, heading=not _hit_code(_follow_see(cs, hit, 3)))
    if best is None:
        best = _site_bridge(cs, hit, doc, used)
    if best is None:
        best = _site_split(cs, hit, doc, used)
    if best is None:
        return hit, used, alternates
    _, sub, matched = best
    used = used | matched | _nonessential_said(sub, doc)
    target = _follow_see(cs, sub, 3)
    if target is not sub and target is not None and tuple(target.path) != tuple(sub.path):
        # Continue the walk inside the referenced entry, which may have subterms of its own.
        end, used2, alt2 = _walk(cs, target, doc, used, depth + 1)
    else:
        end, used2, alt2 = _walk(cs, sub, doc, used, depth + 1)
    if not _hit_code(_follow_see(cs, end, 3)) and _hit_code(target if target is not None else sub):
        # the deeper entry is a heading without a code ("streptococcal NEC > group"): stay where a code is
        return (target if target is not None else sub), used, alternates + alt2
    return end, used2, alternates + alt2


def _nonessential_said(hit: Any, doc: _Doc) -> set[str]:
    """Documented words that an entry's nonessential modifiers name ("Infection, urinary (tract)"): they do not
    change the code, so they are no leftover detail calling for an "other specified" code."""
    groups = re.findall(r"\(([^)]*)\)", getattr(hit, "nonessential", None) or "")
    # plain modifiers only: "(without neurogenic claudication)" or "(see also ...)" says something else
    words = [w for g in groups if not re.search(r"\b(?:with|without|not|see|except|due|in|by)\b", g, re.I)
             for w in _content(g)]
    if not words:
        return set()
    return {w for _axis, ws in doc.phrases for w in ws if any(_word_match(t, w) for t in words)}


def _site_split(cs: Any, hit: Any, doc: _Doc, used: set[str]) -> tuple[float, Any, set[str]] | None:
    """A morphology indexed as "specified site - see Neoplasm, by site" / "unspecified site C71.9" (Glioblastoma,
    Fibroadenoma): the first when a site is documented, the second when none is."""
    has_site = any(axis == "site" and ws for axis, ws in doc.phrases)
    split: dict[str, Any] = {}
    for sub, conn in _flat_subterms(cs, hit.path):
        name = re.sub(r"\s+nec$", "", _last(sub).strip().lower())
        if conn is None and len(sub.path) == len(hit.path) + 1 and name in ("specified site", "unspecified site"):
            split[name] = sub
    if len(split) < 2:  # "Thrombophlebitis > specified site NEC" alone is an NEC entry, not this split
        return None
    return 0.5, split["specified site" if has_site else "unspecified site"], set()


def _site_bridge(cs: Any, hit: Any, doc: _Doc, used: set[str], min_words: int = 1
                 ) -> tuple[float, Any, set[str]] | None:
    """A documented site left over, no subterm for it, but a subterm that is itself a body site lists it
    ("Melanoma > skin > arm" for a melanoma of the arm: a melanoma is of the skin unless said otherwise);
    ``min_words``: how many documented words the listed subterm must take."""
    if not any(axis == "site" and any(w not in used for w in ws) for axis, ws in doc.phrases):
        return None
    best: tuple[float, Any, set[str]] | None = None
    for sub, conn in _flat_subterms(cs, hit.path):
        if conn is not None or len(sub.path) != len(hit.path) + 1 or not _is_site(cs, _last(sub)):
            continue
        for child, c2 in _flat_subterms(cs, sub.path):
            score, matched = _coverage(_last(child), doc, used, c2)
            if len(matched) < min_words:
                continue
            if score > 0 and any(w in matched for axis, ws in doc.phrases if axis == "site" for w in ws):
                if best is None or 0.5 * score > best[0]:
                    best = (0.5 * score, sub, set())
    return best


def _heading_documented(term: str, doc: _Doc, used: set[str]) -> bool:
    said = doc.detail_words | used | set(doc.head)
    return all(t in _FILLER or any(_term_match(t, w) for w in said) for t in _content(term))


def _restates(t: str, doc: _Doc, used: set[str]) -> bool:
    """An index word that repeats what the walk already took (the condition, or a site by its region's name)."""
    return t in _FILLER or any(_term_match(t, w) for w in used) or any(_word_match(t, w) for w in doc.head)


def _heading_default(cs: Any, hit: Any, doc: _Doc, used: set[str], heading: bool = True
                     ) -> tuple[float, Any, set[str]] | None:
    """When no subterm adds a documented word: under a heading printed without a code ("Injury, muscle, finger,
    little, extensor") the subterm that only restates documented words ("hand level" for a finger, "laceration"
    for the laceration), since the walk must go on to reach a code; under any entry a subterm naming the condition
    itself when the path does not yet ("Injury, muscle, ..., hand level > laceration" reached from "Laceration,
    tendon: see Injury, muscle, by site, laceration"). The one leading on to a code wins."""
    best: tuple[float, Any, set[str]] | None = None
    in_path = {w for p in hit.path for w in _content(p)}
    for sub, conn in _flat_subterms(cs, hit.path):
        if conn is not None or _polarity(_last(sub), None) is not None:
            continue
        words = _content(_last(sub))
        if not words or not all(_restates(t, doc, used) for t in words) or all(t in _FILLER for t in words):
            continue
        if not heading and not all(any(_word_match(t, w) for w in doc.head) and not any(
                _word_match(t, p) for p in in_path) for t in words):
            continue
        if "nec" in _WORD.findall(_last(sub).lower()) or "specified" in words:
            continue
        nxt = _next_entry(cs, sub)
        follow = 1.0 if any(all(_restates(t, doc, used) for t in _content(_last(s2))) and _content(_last(s2))
                            for s2, c2 in _flat_subterms(cs, nxt.path) if c2 is None) else 0.0
        total = 0.01 + follow + (0.5 if _hit_code(nxt) else 0.0)
        if best is None or total > best[0]:
            best = (total, sub, set())
    if best is None and heading:
        # nothing restates the documentation under a heading without a code ("Colitis, Clostridium difficile"):
        # its default branch, "not specified as recurrent" / "without ..." / "... NOS", when what it denies was
        # not documented
        said = doc.detail_words | set(doc.head) | used
        for sub, conn in _flat_subterms(cs, hit.path):
            term = _last(sub)
            words = [w for w in _content(term) if w not in _NEGATORS]
            negative = _polarity(term, conn) is False or "nos" in _WORD.findall(term.lower())
            if not negative or not _hit_code(_follow_see(cs, sub, 3)) or (
                    _polarity(term, conn) is False and any(w in said for w in words)):
                continue
            if len(hit.path) == 1 and len(sub.path) == 2 and _polarity(term, conn) is not False and not all(
                    _restates(w, doc, used) for w in words if w != "nos"):
                # "Dysfunction > endocrine NOS" is no default for a eustachian tube dysfunction (deeper headings
                # keep theirs: "Foreign body > entering through orifice > digestive organ or tract NOS")
                continue
            return (0.01, sub, set())
    return best


def _next_entry(cs: Any, sub: Any) -> Any:
    target = _follow_see(cs, sub, 3)
    return target if target is not None else sub


def _lookahead(cs: Any, hit: Any, doc: _Doc, used: set[str]) -> float:
    best = 0.0
    for sub, conn in _flat_subterms(cs, hit.path):
        score, _ = _coverage(_last(sub), doc, used, conn)
        best = max(best, score)
    return best


def _flat_subterms(cs: Any, path: Sequence[str]) -> list[tuple[Any, str | None]]:
    return _cached(_SUBTERM_CACHE, (id(cs), tuple(path)), lambda: _flat_subterms_uncached(cs, path))


def _flat_subterms_uncached(cs: Any, path: Sequence[str]) -> list[tuple[Any, str | None]]:
    """Subterms of ``path`` with their connector; connector subterms ("with", "due to", ...) are replaced by
    their children, which keep the connector (so "with > hematuria" never matches "without hematuria")."""
    out: list[tuple[Any, str | None]] = []
    for sub in _subterms(cs, path):
        term = _last(sub).strip().lower()
        if term in _CONNECTORS and not _hit_code(sub):
            out.extend((child, term) for child in _subterms(cs, sub.path))
        else:
            out.append((sub, None))
            if (term.startswith("without ") and _hit_code(sub)) or (not getattr(sub, "code", None)
                                                                     and not getattr(sub, "see", None)):
                # "without X" is the default branch when X is not documented, and a heading printed without
                # a code ("current episode") only groups its subterms: both are reachable through
                out.extend((child, None) for child in _subterms(cs, sub.path))
    return out


def _has_leftover_type(doc: _Doc, used: set[str], cs: Any, hit: Any) -> bool:
    descriptors = {_stem(w) for w in _DESCRIPTOR_WORDS}
    for sub, _c in _flat_subterms(cs, hit.path):
        descriptors |= set(_content(getattr(sub, "nonessential", None) or ""))
    return doc.other_specified or any(axis in ("type", "cause") and not _co_condition(doc, i) and any(
        w not in used and w not in descriptors for w in ws) for i, (axis, ws) in enumerate(doc.phrases))


def _other_sibling(cs: Any, code: Any, doc: _Doc) -> Any:
    """The "Other ..." code beside an unspecified code (same parent), naming the same condition."""
    if code is None or not code.parent:
        return None
    head = doc.head[-1] if doc.head else ""
    best: tuple[float, Any] | None = None
    for k in cs.billable_descendants(code.parent):
        if k.code == code.code or k.kind != "nec" or not k.title.lower().startswith("other"):
            continue
        if k.seventh_char or (head and not any(_word_match(head, t) for t in _content(k.title))):
            continue
        said = frozenset(set(doc.head) | doc.detail_words)
        if any(t in _ASSERTED_AXIS_WORDS and not _matches_any(t, said) for t in _title_content(k.title)):
            continue  # "Other chronic suppurative otitis media" is no "other" acute otitis media
        fit, _ = _fit(k, _Cand(k.code, 0.0), doc)
        if best is None or fit > best[0]:
            best = (fit, k)
    return best[1] if best else None


def _site_entry(hit: Any) -> bool:
    """The entry is itself a body site (below its main term), so its "specified NEC" subterm means other sites."""
    return len(getattr(hit, "path", ()) or ()) > 1


def _nec_subterm(cs: Any, hit: Any, doc: _Doc, used: set[str]) -> Any:
    """The ``... NEC`` subterm of an entry for documented details that have no code of their own, if any."""
    descriptors = {_stem(w) for w in _DESCRIPTOR_WORDS}
    # words the index prints as nonessential modifiers under this entry are not axes of their own ("antral")
    for sub, _c in _flat_subterms(cs, hit.path):
        descriptors |= set(_content(getattr(sub, "nonessential", None) or ""))
    descriptors |= set(_content(getattr(hit, "nonessential", None) or ""))
    leftover_axes = {axis for i, (axis, ws) in enumerate(doc.phrases)
                     if axis in ("type", "cause", "site") and not _co_condition(doc, i)
                     and any(w not in used and w not in descriptors for w in ws)}
    if doc.other_specified:
        leftover_axes.add("type")
    if not leftover_axes:
        return None
    preferred = []
    for sub, _conn in _flat_subterms(cs, hit.path):
        term = _last(sub).lower()
        if not term.endswith("nec") and "specified" not in term:
            continue
        words = set(_content(term)) - {"specified"}  # "specified NEC" is the bare NEC entry
        # "specified nerve NEC" is the site entry of a nerve, "specified syndrome NEC" a type entry
        words = {"site" if w == "nerve" else "type" if w in ("syndrome", "variety", "kind") else w for w in words}
        if words and not words <= {"type", "site", "form", "cause", "condition", "organism"}:
            continue
        rank = 0
        if "type" in words or "form" in words or not words:
            rank = 2 if words else 1
        elif ("cause" in words or "organism" in words) and "cause" in leftover_axes:
            rank = 2
        elif "site" in words and "site" in leftover_axes:
            rank = 2
        if not words and leftover_axes == {"site"} and not _site_entry(hit):
            rank = 0  # a documented site only calls for "specified NEC" under a site entry ("Nevus, skin, face")
        if rank and _hit_code(_follow_see(cs, sub, 3)):
            preferred.append((rank, sub))
    if not preferred:
        return None
    preferred.sort(key=lambda t: -t[0])
    return _follow_see(cs, preferred[0][1], 3)


# -- making codes billable --------------------------------------------------------------------------------------


def _billable(cs: Any, code: str, doc: _Doc, encounter: str, path: Sequence[str] = ()
              ) -> tuple[str | None, str | None]:
    """A billable code for ``code`` in this release (+7th character); returns (code, how it was completed).

    ``path``: the index entry the code came from; its words say which child a subcategory means ("Cellulitis >
    lower limb" L03.11- is L03.115/L03.116, not the axilla codes beside them)."""
    code = code.rstrip("-").rstrip(".").upper()
    c = cs.get(code)
    how: str | None = None
    if c is None:
        return None, None
    if not c.billable:
        kids = list(cs.billable_descendants(code))
        if not kids:
            stem = cs.with_seventh(code, encounter)
            return (stem, f"7th character for {_ENCOUNTER_TEXT.get(encounter, encounter)}") if stem else (None, None)
        bases = list({(k.parent if k.seventh_char else k.code): None for k in kids})
        base_codes = [cs.get(b) for b in bases]
        pick = _pick_descendant([b for b in base_codes if b is not None], doc,
                                frozenset(w for p in path[1:] for w in _content(p)))
        if pick is None:
            return None, None
        how = f"{code} is a subcategory; {pick.code} chosen among its codes"
        code, c = pick.code, pick
    side = _lateral_sibling(cs, c, doc)
    if side is not None:
        how = f"{c.code} refined to {side.code} for the documented side ({doc.laterality})"
        code, c = side.code, side
    if getattr(c, "seventh", None):
        full = cs.with_seventh(code, encounter)
        if full is None and not any(m.lower().startswith(("initial", "subsequent", "sequela"))
                                    for m in c.seventh.values()):
            # a 7th character that is no encounter: the documented value, else the unspecified one (glaucoma
            # stage: H40.111 + "1" mild stage; the fetus of an obstetric code: "0" when none is stated, O40.3XX0)
            staged = _seventh_by_value(cs, c, doc)
            if staged is not None:
                return staged
        if full and full != code:
            full, meaning = _seventh_by_words(cs, full, c.seventh, encounter, doc)
            return full, f"7th character {full[-1]}: {meaning}"
    return code, how


def _seventh_by_value(cs: Any, c: Any, doc: _Doc) -> tuple[str, str] | None:
    """The 7th character of a non-encounter axis (glaucoma stage, fetus) whose meaning the documentation states
    ("mild stage" -> 1, "fetus 2" -> 2), else the one meaning "unspecified"; None when neither is billable."""
    from nec_nlp.icd10cm.tabular_xml import extend_code

    said = doc.detail_words | set(doc.head)
    best: tuple[int, str, str] | None = None
    for ch, meaning in c.seventh.items():
        words = [w for w in _content(meaning) if w not in ("stage", "unspecified")]
        hit = sum(1 for w in words if w in said)
        score = hit * 2 if hit == len(words) and words else (1 if "unspecified" in meaning.lower() else 0)
        ext = extend_code(c.code, ch)
        if score and cs.is_billable(ext) and (best is None or score > best[0]):
            best = (score, ext, meaning)
    if best is None:
        return None
    said_how = "documented" if best[0] > 1 else "not documented"
    return best[1], f"7th character {best[1][-1]}: {best[2]} ({said_how})"


def _seventh_by_words(cs: Any, full: str, seventh: dict[str, str], encounter: str, doc: _Doc) -> tuple[str, str]:
    """Among the 7th characters for the encounter, the one whose meaning matches the documentation
    ("open fracture" -> B); the first one (e.g. A, closed fracture) by default."""
    said = {w for _, ws in doc.phrases for w in ws} | set(doc.head)
    options = [(ch, m) for ch, m in seventh.items() if m.lower().startswith(encounter)]
    best = (full, seventh.get(full[-1], encounter))
    best_score = 0
    for ch, meaning in options:
        extra = [w for w in _content(meaning) if w not in {"initial", "subsequent", "encounter", "sequela",
                                                           "fracture", "routine", "healing"}]
        score = sum(1 for w in extra if w in said)
        if score > best_score and extra:
            v = cs.validate(full[:-1] + ch)
            if v.valid and v.billable:
                best, best_score = (v.code, meaning), score
    return best


_SIDES = ("right", "left", "bilateral")
_SIDE_WORDS = frozenset({"right", "left", "bilateral", "unspecified", "side", "unilateral"})


def _lateral_sibling(cs: Any, c: Any, doc: _Doc) -> Any:
    """The code of the same category for the documented side, when ``c`` names no side but a sibling does."""
    lat = (doc.laterality or "").lower()
    if lat not in _SIDES or any(w in c.title.lower() for w in _SIDES) or "unspecified" not in c.title.lower():
        return None
    category = c.code.split(".")[0]
    if cs.get(category) is None:
        return None
    own = {w for w in _content(c.title) if w not in ("unspecified", "side", "unilateral")}
    best: tuple[float, Any] | None = None
    for k in cs.billable_descendants(category):
        if k.seventh_char:
            continue
        words = set(_title_words(k.title))
        if lat not in words or (lat != "bilateral" and "bilateral" in words):
            continue
        title = set(_content(k.title))
        shared = sum(1 for w in own if any(_word_match(w, t) for t in title))
        if not own or shared / len(own) < 0.5:
            continue
        # "left breast, unspecified quadrant": an axis the sibling leaves unspecified is no other site or type
        unspecified_axes = set(_content(" ".join(re.findall(r",\s*unspecified\s+(\w+)", k.title.lower()))))
        extra = sum(1 for t in title if t not in _SIDE_WORDS and t not in unspecified_axes
                    and not any(_word_match(t, w) for w in own))
        if extra > 1 or (extra and k.parent != c.parent):
            continue  # another site or type of the category is no side of this code
        key = shared - 0.3 * extra - (0.5 if k.kind == "nec" else 0.0)
        if best is None or key > best[0]:
            best = (key, k)
    return best[1] if best else None


def _title_words(title: str) -> list[str]:
    return _WORD.findall(title.lower())


_EXCEPT = re.compile(r"\b(?:except|other than|excluding)\b[^,;()]*", re.I)


@lru_cache(maxsize=1 << 16)
def _title_content(title: str) -> frozenset[str]:
    """The content words of a code title (precomputed once per title), without the words it excludes
    ("Serous conjunctivitis, except viral" does not name "viral")."""
    return frozenset(_content(_EXCEPT.sub(" ", title)))


@lru_cache(maxsize=1 << 18)
def _matches_any(word: str, words: frozenset[str]) -> bool:
    return any(_word_match(word, w) for w in words)


_DEATH_WORDS = frozenset({"death", "died", "dead", "expired", "fatal", "deceased"})


def _pick_descendant(kids: Sequence[Any], doc: _Doc, path_words: frozenset[str] = frozenset()) -> Any:
    """Among billable descendants pick the one whose title matches the documented words best (laterality
    included) and the words of the index entry it came from; ties go to the unspecified code, then the
    shortest."""
    dwords = doc.detail_words | set(doc.head) | path_words | doc.region
    lat = (doc.laterality or "").lower()

    dkey = frozenset(dwords)
    sided = bool({w for _axis, ws in doc.phrases for w in ws} & {"left", "right", "bilateral", "both"})
    intent_said = bool(dwords & {"intentional", "intentionally", "self", "suicide", "suicidal", "assault",
                                 "undetermined", "overdosed"})
    # words documented as present (not in a "without ..." / "no ..." phrase, nor sentence context)
    affirmed = frozenset(set(doc.head) | {w for i, (axis, ws) in enumerate(doc.phrases)
                                          if i not in doc.negative and axis != "context" for w in ws})

    def rank(k: Any) -> tuple[float, int, int]:
        title = _title_content(k.title)
        tl = k.title.lower()
        hits = sum(1 for t in title if _matches_any(t, dkey))
        match = hits - 0.1 * (len(title) - hits)
        # a title denying what was documented ("not having achieved remission" for a leukemia in remission)
        denied = {_stem(w) for seg in re.findall(r"\b(?:not|without|no)\b([^,]*)", tl) for w in _WORD.findall(seg)}
        match -= 2.5 * sum(1 for t in denied - _STOP if _matches_any(t, affirmed))
        if lat:
            match += 2 if lat in tl else (-2 if any(s in tl for s in ("right", "left", "bilateral")) else 0)
        elif any(s in _title_words(tl) for s in ("right", "left", "bilateral")):
            match -= 0.5 if sided else 1.0  # no side documented: the unspecified-side code
        if "death" in tl and not dkey & _DEATH_WORDS:
            match -= 3  # "... with death due to brain injury ...": an outcome nobody documented is never a default
        if "accidental" in tl and not intent_said:
            match += 0.5  # guideline I.C.19.e.5.b: intent unknown or unspecified -> accidental
        if k.kind == "nos":
            # an axis nobody documented: the unspecified / NOS child, the one the tabular lists "... NOS" under
            # first ("Leukemia NOS" is C95.90 "not having achieved remission", whose words cost more than
            # "in remission")
            match += 0.6 if getattr(k, "nos_terms", ()) else 0.3
        return (match, 1 if k.kind == "nos" else 0, -len(k.code))

    return max(kids, key=rank) if kids else None


# -- drugs and neoplasms -----------------------------------------------------------------------------------------


def _drug_use(mention: Mention, cs: Any = None) -> str | None:
    """The Table-of-Drugs column a drug-effect mention needs, or None when the mention is no drug effect.

    "Reaction"/"adverse effect" only go to the Table when a drug is documented (or the sentence names a
    medication generically); an "allergic reaction" alone is coded from the index.
    """
    text = mention.text.lower()
    sent_words = set(_WORD.findall((mention.sentence or "").lower()))
    drug_said = bool(mention.details.drug) or bool(sent_words & _GENERIC_DRUG - {"therapy", "treatment", "agent",
                                                                                  "agents", "substance"})
    for key, use in _DRUG_EFFECTS:
        if key in text:
            if use == "adverse_effect" and not drug_said and not (
                    cs is not None and _drug_in_sentence(cs, mention, use, "initial")):
                return None  # "Hand tremor due to lithium carbonate, adverse effect": a drug the Table names
            if use == "poisoning":
                sent = (mention.sentence or "").lower()
                for k2, u2 in _POISON_INTENT:
                    if k2 in sent:
                        return u2
                return "poisoning_accidental"
            return use
    return None


_UNNAMED_DRUG = frozenset({"unknown", "unidentified", "unspecified", "unnamed", "unlabeled", "unlabelled"})


def _drug_candidates(cs: Any, mention: Mention, use: str, encounter: str) -> tuple[list[_Cand], bool]:
    """Table-of-Drugs candidates; second value says whether a drug was documented."""
    drugs = [d for d in mention.details.drug if _content(d)]
    # "an unknown medication" names no drug ("Drug NEC", T50.90-); "an investigational drug" does (T50.99-)
    named = [d for d in drugs if [w for w in _content(d) if w not in _GENERIC_DRUG and w not in _UNNAMED_DRUG]]
    sting = "sting" in mention.text.lower()
    if not named and sting:
        # "Bee sting", "Scorpion sting", "sting of a jellyfish": the animal, by its own Table row or under
        # "Venom, venomous"
        words = [w for w in _WORD.findall(f"{mention.text} {_sentence_without(mention)}".lower())
                 if w not in ("sting", "stings", "stung") and _stem(w) not in _STOP and len(w) > 2]
        for q in (x for w in words[:8] for x in (w, f"venom {w}")):
            dc = _drug_lookup(cs, q, use, encounter)
            if dc is not None and dc.code and getattr(dc, "fallback", None) is None and q != "venom":
                named = [q]
                break
    if not named:
        named = _drug_in_sentence(cs, mention, use, encounter)
    cands: list[_Cand] = []
    if not named:
        # a sting by an animal not named is a venomous animal's, not a drug's
        dc = _drug_lookup(cs, "venom" if sting else "Drug NEC", use, encounter)
        if dc is not None:
            cands.append(_Cand(dc.code, 1.0, ("Table of Drugs", dc.matched_entry or "Drug NEC"), "drugs",
                               nos_default=True))
        return cands, False
    for i, d in enumerate(named):
        dc = _drug_lookup(cs, d, use, encounter)
        if dc is None or not dc.code:
            continue
        fb = getattr(dc, "fallback", None)
        note = None
        if fb == "class":
            note = f"not in the Table of Drugs; its class ({dc.drug_class}) entry was used"
        elif fb:
            note = "not in the Table of Drugs and class unknown: drugs, specified NEC"
        rank = {None: 0.0, "class": 0.2}.get(fb, 0.5)  # a drug the Table knows beats a fallback
        cands.append(_Cand(dc.code, 2.0 - 0.01 * i - rank, ("Table of Drugs", dc.matched_entry or d), "drugs",
                           tuple(_content(d)), note=note, extra={"drug": d, "fallback": fb}))
    return cands, True


def _drug_in_sentence(cs: Any, mention: Mention, use: str, encounter: str) -> list[str]:
    """A substance named elsewhere in the sentence that the Table of Drugs knows by name (no fallback), for when
    extraction did not attach one ("Poisoning by acetaminophen, accidental")."""
    words = [w for w in _WORD.findall(_sentence_without(mention)) if len(w) > 3 and _stem(w) not in _STOP
             and w not in _GENERIC_DRUG and w not in _NON_DRUG_WORDS]
    pairs = [f"{a} {b}" for a, b in zip(words[:8], words[1:8])]
    for w in pairs + words[:8]:  # "ethylene glycol" before "ethylene"
        dc = _drug_lookup(cs, w, use, encounter)
        entry = (dc.matched_entry or "").lower() if dc is not None else ""
        if dc is not None and dc.code and getattr(dc, "fallback", None) is None and w.split()[0] in entry:
            return [w]
    return []


_DRUG_NAMED: dict[tuple[int, str], bool] = {}


def _names_drug(cs: Any, phrase: str) -> bool:
    """Whether the Table of Drugs lists ``phrase`` by name (its own row, no class or NEC fallback)."""
    key = (id(cs), phrase.lower())
    if key in _DRUG_NAMED:
        return _DRUG_NAMED[key]
    words = _content(phrase)
    ok = False
    if words and len(words) <= 3:
        dc = _drug_lookup(cs, phrase, "adverse_effect", "initial")
        entry = set(_content((getattr(dc, "matched_entry", None) or "") if dc is not None else ""))
        ok = bool(dc is not None and dc.code and getattr(dc, "fallback", None) is None
                  and all(any(_word_match(w, e) for e in entry) for w in words))
    if len(_DRUG_NAMED) > 8192:
        _DRUG_NAMED.clear()
    _DRUG_NAMED[key] = ok
    return ok


_NON_DRUG_WORDS = frozenset("initial subsequent encounter sequela accidental intentional unintentional self harm "
                            "assault undetermined adverse effect reaction taken prescribed overdose poisoning "
                            "underdosing toxicity patient".split())


def _drug_lookup(cs: Any, substance: str, use: str, encounter: str) -> Any:
    try:
        return cs.drugs.lookup(substance, use=use, encounter=encounter)
    except Exception as exc:  # noqa: BLE001 - unknown use/substance: no candidate
        logger.debug("drug table lookup failed: %s", type(exc).__name__)
        return None


_NEOPLASM_WORDS = ("metasta", "malignan", "benign", "cancer", "carcinoma", "neoplas", "tumor", "tumour", "primary",
                   "secondary", "situ", "uncertain", "adenocarcinoma", "sarcoma", "lesion", "mass")


def _neoplasm_behaviour(mention: Mention, see: str) -> str:
    sent = (mention.sentence or "").lower()
    at = sent.find(mention.text.lower())
    lead = re.split(r"[.;:,()]", sent[:at])[-1] if at > 0 else ""  # "Metastatic carcinoma to the liver"
    # "Carcinoma in situ of the cervix": the words after the mention up to its site
    tail = re.split(r"[.;:,()]|\b(?:of|to|with)\b", sent[at + len(mention.text):])[0] if at >= 0 else ""
    # a "with <spread>" phrase says where it spread, not what this neoplasm is ("Pancreatic cancer with liver
    # metastases" is primary)
    kinds = [t for t in mention.details.type if not re.match(r"\s*with(?:out)?\b", t, re.I)]
    text = " ".join([lead, mention.text, tail, *kinds, *mention.details.site, *mention.details.cause]).lower()
    for keys, b in _NEOPLASM_BEHAVIOUR:
        if any(k in text for k in keys):
            return b
    see = see.lower()
    for key, b in (("secondary", "malignant_secondary"), ("in situ", "in_situ"), ("malignant", "malignant_primary"),
                   ("benign", "benign"), ("uncertain", "uncertain"), ("unspecified", "unspecified")):
        if key in see:
            return b
    return "unspecified"


def _site_phrases(mention: Mention, doc: _Doc) -> list[str]:
    """Site strings to try in the Table of Neoplasms: the documented sites, then the words around the mention in
    its sentence ("... of the upper lobe of the left lung", "Breast cancer")."""
    out = []
    for site in mention.details.site:
        if doc.laterality and doc.laterality not in site.lower():
            out.append(f"{doc.laterality} {site}")
        out.append(site)
    sent = mention.sentence or ""
    low = sent.lower()
    at = low.find(mention.text.lower())
    if at >= 0:
        tail = re.split(r"[.;:]|\bwith\b|\bfrom\b", sent[at + len(mention.text):])[0]
        tail = re.sub(r"^\s*(of|to|in|involving|at)\b", "", tail.strip(), flags=re.I).strip()
        after = re.split(r",|\band\b", tail)[0].strip()
        before = re.split(r"[.;:,]|\band\b", sent[:at])[-1].strip()
        out += [p for p in (tail, after, before) if _content(p)]
    return list(dict.fromkeys(out))


# words of a site phrase that name no site of the Table of Neoplasms by themselves
_NO_TABLE_SITE = frozenset({"left", "right", "bilateral", "skin"})
# histology words, never a site of the Table of Neoplasms ("Basal" tagged as a site of a basal cell carcinoma)
_HISTOLOGY = frozenset({"basal", "squamous", "cell", "merkel", "ductal", "lobular", "papillary", "follicular",
                        "medullary", "transitional", "neuroendocrine", "carcinoid", "adenoid", "cystic", "mucinous",
                        "serous", "clear", "spindle", "invasive", "infiltrating"})
_SKIN_HISTOLOGY = frozenset({"squamous", "basal", "keratinocyte"})
_UNSPECIFIED_MORPHOLOGY = frozenset({"unspecified", "malignant", "neoplasm", "of"})


def _morphology_code(cs: Any, code: str, doc: _Doc) -> str | None:
    """The code for the documented morphology beside a Table-of-Neoplasms code that leaves it unspecified
    ("Unspecified malignant neoplasm of skin of other parts of face" + basal cell carcinoma -> "Basal cell
    carcinoma of skin of other parts of face"): same site words, the rest of the title documented."""
    c = cs.get(code.rstrip("-").rstrip("."))
    if c is None or not c.title.lower().startswith("unspecified malignant neoplasm"):
        return None
    base = set(_title_words(c.title)) - _UNSPECIFIED_MORPHOLOGY
    said = doc.detail_words | set(doc.head)
    pool: dict[str, Any] = {}
    for k in cs.billable_descendants(c.code[:3]):
        pool[k.code] = k
        parent = cs.get(k.parent) if k.parent else None
        if parent is not None:
            pool[parent.code] = parent
    best: tuple[int, str] | None = None
    for k in pool.values():
        words = set(_title_words(k.title)) - {"of"}
        if k.code == c.code or not base <= words:
            continue
        rest = {w for w in words - base if w not in _STOP}
        if not rest or not all(any(_word_match(_stem(w), x) for x in said) for w in rest):
            continue
        if len(words) - len(base) - len(rest) > 1:
            continue
        key = (len(rest), k.code)
        if best is None or key > best:
            best = key
    return best[1] if best else None


_OWN_MORPHOLOGY = frozenset({"C4A", "C7A", "C7B", "D3A"})


def _neoplasm_candidates(cs: Any, mention: Mention, doc: _Doc, see: str) -> list[_Cand]:
    behaviour = _neoplasm_behaviour(mention, see)
    cands: list[_Cand] = []
    said = set(_words(mention.sentence or mention.text)) | doc.detail_words
    phrases = _site_phrases(mention, doc)
    # the noun the Table lists a documented adjective under ("cervical" -> cervix, "renal" -> kidney), tried after
    # (each right after its adjective, so that "Pancreatic" is tried as "pancreas" before the next phrase)
    phrases = list(dict.fromkeys(v for p in phrases for v in (p, " ".join(
        _INDEX_SYNONYMS.get(_stem(w), (w,))[0] for w in _WORD.findall(p.lower())))))
    low = (mention.sentence or "").lower()
    skin_variant: dict[str, str] = {}  # "skin cheek" -> "cheek", tried only when the bare site is ill-defined
    if "skin" in _WORD.findall(see.lower()):
        # "Dermatofibroma - see Neoplasm, skin, benign": the documented site is a site of the skin
        phrases = [v for p in phrases for v in ((f"skin {p}", p) if "skin" not in p.lower() else (p,))]
        said = said | {"skin"}
    elif said & _SKIN_HISTOLOGY:
        # a squamous or basal cell carcinoma of the cheek is of its skin: the "skin" site is tried beside the
        # bare one, which the Table sends to the ill-defined sites (cheek C76.0)
        skin_variant = {f"skin {p}": p for p in phrases if "skin" not in p.lower()}
        phrases = [v for p in phrases for v in ((p, f"skin {p}") if "skin" not in p.lower() else (p,))]
    morphology = set(doc.head) | _HISTOLOGY
    bare_codes: dict[str, str] = {}
    for i, site in enumerate(phrases):
        bare = skin_variant.get(site)
        if bare is not None and not bare_codes.get(bare, "C76").startswith("C76"):
            continue  # the bare site is in the Table (larynx C32.9): a carcinoma there, not of the skin
        if all(any(w.startswith(k) for k in _NEOPLASM_WORDS) or w in morphology or w in _NO_TABLE_SITE
               for w in _content(site)):
            continue  # "Metastatic", "Basal" or "Squamous cell carcinoma" tagged as a site: behaviour, not where
        try:
            nc = cs.neoplasms.lookup(site, behaviour)
        except Exception:  # noqa: BLE001
            nc = None
        printed = (getattr(nc, "printed", None) or "").rstrip("-").rstrip(".") if nc is not None else ""
        if nc is not None and (nc.code or (printed and cs.get(printed) is not None)):
            exact = bool(getattr(nc, "exact_site", True))
            # printed as a subcategory ("skin, shoulder" D23.6-): the documented side chooses the code later
            code = printed if printed and cs.get(printed) is not None else nc.code
            bare_codes[site] = code
            morph = _morphology_code(cs, code, doc)
            if morph is not None:
                code = morph
            entry = set(_content(re.sub(r"^neoplasm, neoplastic,?", "", (nc.matched_entry or "").lower())))
            # a side word alone is no site ("right fifth metatarsal" is no "colon, right")
            overlap = sum(1 for w in set(_content(site)) - morphology - _NO_TABLE_SITE
                          if any(_word_match(w, e) for e in entry))
            if not overlap:
                continue
            # the Table's words nobody documented ("stump, cervical" for a cervical carcinoma) make a worse site
            undocumented = sum(1 for e in entry if e not in _GENERIC_TITLE and not any(
                _term_match(e, w) for w in said))
            # "with liver metastases": where it spread, not the primary site
            spread = 1.0 if behaviour != "malignant_secondary" and re.search(
                rf"\b{re.escape(site.lower())}\s+metasta", low) else 0.0
            cands.append(_Cand(code, 3.0 + 0.3 * overlap - 0.4 * undocumented - 0.1 * i - (0 if exact else 0.1)
                               - spread,
                               ("Table of Neoplasms", nc.matched_entry or site, behaviour.replace("_", " ")),
                               "neoplasms", tuple(_content(site)), note=getattr(nc, "note", None),
                               extra={"spread": spread}))
    if not cands:
        # no documented site: the site the reference itself names ("Sarcoma, Ewing's - see Neoplasm, bone,
        # malignant" -> bone C41.9)
        parts = [p.strip() for p in see.split(",")]
        named = [p for p in parts[1:] if p.lower() not in ("malignant", "benign", "in situ", "uncertain behavior",
                                                              "unspecified behavior", "by site", "secondary",
                                                              "primary") and "site" not in p.lower()]
        if len(parts) >= 3 and named:
            try:
                nc = cs.neoplasms.lookup(", ".join(named), behaviour)
            except Exception:  # noqa: BLE001
                nc = None
            if nc is not None and nc.code and nc.exact_site:
                cands.append(_Cand(nc.code, 2.4, ("Table of Neoplasms", nc.matched_entry or named[0],
                                                  behaviour.replace("_", " ")), "neoplasms", (),
                                   note=f"site named by the index reference ({see})"))
    return cands


# -- the recommendation ------------------------------------------------------------------------------------------


def rule_specificity(mention: Mention, code_set: Any = None) -> Specificity:
    """Transparent fallback when no model is loaded.

    Without a code set: documented details (site, type, cause, laterality, a named drug) -> ``specific``.
    With one: ``specific`` when the documented details take the code beyond the unspecified / index-NOS default
    (a detail matched an index subterm that is not marked NOS, the code is exact or NEC, or a detail is left
    without a code of its own) -- "postoperative pain" stays ``nos`` because the index says
    "Pain, postoperative NOS".
    """
    if code_set is not None and mention.assertion.current_affirmed:
        _, beyond = _memoised(mention, Specificity("specific", 0.5), code_set)
        return Specificity("specific" if beyond else "nos", 0.75 if beyond else 0.25)
    d = mention.details
    named_drug = any(w not in _GENERIC_DRUG for v in d.drug for w in _content(v))
    has = bool(d.site or d.type or d.cause or d.laterality or named_drug)
    if not has:
        words = _content(mention.text)
        has = len(words) > 1 and not all(w in _GENERIC_DRUG or w in {"adverse", "effect", "reaction"}
                                         for w in words[:-1])
    return Specificity("specific" if has else "nos", 0.8 if has else 0.2)


def _history_codes(mention: Mention, cs: Any) -> tuple[CodeSuggestion, ...]:
    """A past or family history is no condition to code, but coders add its history code: the Index's "History,
    personal (of)" / "History, family (of)" entry for the condition ("History of deep vein thrombosis" ->
    Z86.718). Negated, hypothetical and uncertain mentions get none. The note's ``codes`` never include these."""
    a = mention.assertion
    if cs is None or a.negated or a.hypothetical or a.uncertain or not (a.historical or a.family):
        return ()
    mention = _expand_abbreviation(mention)
    base = _lookup(cs, ["History", "family" if a.family else "personal"])
    if base is None:
        return ()
    doc = _own_words(_documented(mention), mention.text)
    head = doc.head[-1] if doc.head else ""
    # the entry must name the condition by more than "disease" ("History, personal, ... specified NEC" is no
    # history of coronary artery disease)
    naming = [w for w in doc.head if w not in ("disease", "disorder", "syndrome", "condition", "problem")][-1:]
    named = None  # an entry found by its whole name deep under "History" ("neoplasm > benign > colon polyp")
    end, used, _ = _walk(cs, base, doc, set())
    code = _hit_code(_follow_see(cs, end, 3)) if end is not base else None
    if not code or not any(_word_match(n, w) for n in naming for w in used):
        # "stroke without residual deficits" names the condition before its "with(out)"; "cancer" is the
        # entry "malignant neoplasm"
        start = None
        if any(head.startswith(k) for k in ("cancer", "carcinom", "malignan")):
            start = _lookup(cs, [*base.path, "malignant neoplasm"])
        for sub in (() if start is not None else _subterms(cs, base.path)):
            stem = _content(re.split(r"\s+(?:without|with)\b|,", _last(sub))[0])
            if stem and all(any(_word_match(t, w) for w in doc.head) for t in stem):
                start = sub
                break
        if start is None:
            start = named = _named_descendant(cs, base, doc)
        if start is None:
            return _history_by_class(mention, cs)
        end, used, _ = _walk(cs, _follow_see(cs, start, 3) or start, doc, set(doc.head))
        code = _hit_code(_follow_see(cs, end, 3))
        if not code:
            return _history_by_class(mention, cs)
    code, _how = _billable(cs, code, doc, mention.details.encounter or "initial")
    obj = cs.get(code) if code else None
    if obj is None or not obj.billable:
        return _history_by_class(mention, cs)
    if "unspecified" in obj.title.lower() and named is None:
        # "History of BCC of the cheek": the skin's history code, not "malignant neoplasm NOS"; an entry that
        # names the condition whole keeps its own code ("Personal history of colon polyps, unspecified")
        by_class = _history_by_class(mention, cs)
        if by_class and by_class[0].kind != "nos":
            return by_class
    return (CodeSuggestion(obj.code, obj.title, cs.kind(obj.code), 1.0),)  # type: ignore[arg-type]


def _named_descendant(cs: Any, base: Any, doc: _Doc, depth: int = 4) -> Any:
    """The deepest-named entry under ``base`` whose words are all documented, the condition's head among them
    ("History, personal > neoplasm > benign > colon polyp" for "history of colon polyps"); None when there is none."""
    said = set(doc.head) | {w for axis, ws in doc.phrases if axis == "site" for w in ws}
    best, best_key = None, (0, 0)
    stack = [(sub, 1) for sub in _subterms(cs, base.path)]
    while stack:
        sub, level = stack.pop()
        words = _content(re.split(r"\s+(?:without|with)\b|,", _last(sub))[0])
        if words and all(any(_term_match(t, w) for w in said) for t in words) and any(
                _word_match(t, h) for t in words for h in doc.head):
            key = (len(words), -level)
            if key > best_key:
                best, best_key = sub, key
        if level < depth:
            stack.extend((child, level + 1) for child in _subterms(cs, sub.path))
    return best


def _table_subsite(c: _Cand, site: str) -> bool:
    """A Table of Neoplasms candidate filed under a part of ``site`` ("Neoplasm, neoplastic, lung, middle lobe" for
    "lung"), not under the site itself nor another one."""
    chain = c.path[1].split(", ")[2:] if len(c.path) > 1 else []
    return len(chain) >= 2 and all(any(_word_match(t, w) for w in _content(chain[0])) for t in _content(site))


def _own_words(doc: _Doc, text: str) -> _Doc:
    """``doc`` with the condition's own words leading and the sentence context left out: the sentence around a
    history or a status is no evidence for its code."""
    kept = [(phrase, said) for phrase, said in zip(doc.phrases, doc.originals) if phrase[0] != "context"]
    doc.phrases = [("type", [w for w in doc.head if w not in _STOP])] + [phrase for phrase, _ in kept]
    doc.originals = [text] + [said for _, said in kept]
    return doc


_HISTORY_SAID = re.compile(r"\b(?:history|hx|h/o|past|previous|prior|s/p|status post)\b", re.I)
_HISTORY_FILLER = frozenset(_content("personal family history other specified unspecified diseases disorders "
                                     "conditions certain system systems"))


def _history_by_class(mention: Mention, cs: Any) -> tuple[CodeSuggestion, ...]:
    """The history code by the classification of the condition itself. The condition is coded as if current; the
    tabular says which conditions each history category takes ("Z87.4 Personal history of diseases of
    genitourinary system: Conditions classifiable to N00-N99"); within the deepest such category, the billable
    code whose title words the condition's code, category, block or chapter title carry, else its "other" code
    (endometriosis N80.9 -> Z87.42 "... other diseases of the female genital tract"; C. difficile enterocolitis
    A04.72 -> Z86.19). The Index lists few conditions under "History"."""
    if not _HISTORY_SAID.search(mention.sentence or mention.text):
        return ()  # "hypotension, resolved with IV fluids" was treated here: no history code
    current = replace(mention, assertion=replace(mention.assertion, historical=False, family=False))
    try:
        first = _recommend(current, Specificity("specific", 0.5), cs)[0].codes[:1]
    except Exception:  # noqa: BLE001 - a condition that cannot be coded has no history code either
        return ()
    obj = cs.get(first[0].code) if first else None
    if obj is not None and obj.code[:2] in ("Z8",) and "history" in obj.title.lower():
        return first  # the sentence named the history code itself ("History of peptic ulcer disease" -> Z87.11)
    if obj is None or obj.code[0] == "Z":
        return ()
    roots = ("Z80", "Z81", "Z82", "Z83", "Z84") if mention.assertion.family else ("Z85", "Z86", "Z87")
    home = max((h for h in _history_categories(cs, roots) if any(_in_range(obj.code, r) for r in h[1])),
               key=lambda h: len(h[0].code), default=None)
    if home is None:
        return ()
    node = home[0]
    if not node.billable:
        contexts = [(3.0, obj.title)] + [(2.0, a.title) for a in cs.ancestors(obj.code)] + \
            [(1.5, cs.section_title(obj.section)), (1.0, cs.chapter_title(obj.chapter))]
        contexts = [(wt, _content(re.sub(r"\([A-Z]\d.*?\)", " ", text))) for wt, text in contexts if text]
        ranked = []
        for cand in cs.billable_descendants(node.code):
            words = [w for w in _content(cand.title) if w not in _HISTORY_FILLER]
            wt = next((wt for wt, ctx in contexts
                       if words and all(any(_word_match(w, c) for c in ctx) for w in words)), 0.0)
            kind = cs.kind(cand.code)
            ranked.append((wt > 0, len(words) if wt else 0, wt, kind == "nec", kind != "nos", cand))
        if not ranked:
            return ()
        node = max(ranked, key=lambda r: r[:5])[5]
    return (CodeSuggestion(node.code, node.title, cs.kind(node.code), 1.0),)  # type: ignore[arg-type]


def _in_range(code: str, spec: str) -> bool:
    """Whether ``code`` falls in a tabular range such as "C15-C26", "C50.-", "C7A.098" or "O24.4-"."""
    spec = spec.strip().rstrip(".-").rstrip(".")
    if "-" in spec:
        lo, hi = (x.strip() for x in spec.split("-", 1))
        return lo <= code[:len(lo)] and code[:len(hi)] <= hi
    return code.startswith(spec)


def _history_categories(cs: Any, roots: Sequence[str]) -> list[tuple[Any, list[str]]]:
    """(history code, the ranges of its "Conditions classifiable to ..." inclusion note) under the roots."""
    def make() -> list[tuple[Any, list[str]]]:
        out = []
        todo = [c for c in (cs.get(r) for r in roots) if c is not None]
        while todo:
            c = todo.pop()
            todo.extend(k for k in (cs.get(x) for x in c.children) if k is not None)
            note = " ".join(t for t in (*c.inclusion, *c.includes) if "classifiable" in t.lower()
                            and "except" not in t.lower())  # "S00-T88, except traumatic fractures"
            m = re.search(r"classifiable (?:elsewhere in|to) ([A-Z0-9.,;\- ]+)", note)
            if m:
                out.append((c, [r for r in re.split(r"[,;]\s*", m.group(1)) if re.match(r"[A-Z]\d", r.strip())]))
        return out
    return _cached(_HISTORY_CATEGORIES, (id(cs), tuple(roots)), make)


_STATUS_CUE = re.compile(r"^\s*(status\s+post|s/p|history\s+of|hx|h/o|presence\s+of|"
                         r"long[\s-]*term\s+(?:current\s+)?use\s+of|screening|bmi)"
                         r"\b[\s:=]*(?:is\s+|of\s+|was\s+)?(.*)$", re.I | re.S)
_STATUS_BASES = {"status post": ("Status", "Absence"), "s/p": ("Status", "Absence"), "presence of": ("Presence",),
                 "history of": ("Status", "Absence"), "hx": ("Status", "Absence"), "h/o": ("Status", "Absence"),
                 "long-term": ("Long-term",), "screening": ("Screening",)}


def _status_codes(mention: Mention, cs: Any) -> tuple[tuple[CodeSuggestion, ...], str] | None:
    """Codes of a status phrase, which chapter Z codes from its own Index main term: "status post cholecystectomy"
    (Status - cholecystectomy Z90.49), "status post left below-knee amputation" (Status - amputation - leg - below
    knee Z89.51-, left), "long-term use of insulin" (Long-term ... drug therapy - insulin Z79.4; a drug the entry
    does not list: "drug, specified NEC" Z79.899), "screening colonoscopy" (Z12.11), "BMI 51" (Z68.43, adult).
    None when the mention is no status phrase; no codes when the Index has no entry for it."""
    m = _STATUS_CUE.match(mention.text)
    if not m:
        return None
    cue = re.sub(r"\s+", " ", m.group(1).lower())
    cue = "long-term" if cue.startswith("long") else cue
    rest = m.group(2).strip()
    if cue == "bmi":
        return _bmi_code(cs, rest)
    doc = _own_words(_documented(replace(mention, text=rest)), rest)
    doc.phrases = [(axis, list(dict.fromkeys(_index_words(cs, ws)))) for axis, ws in doc.phrases]
    from nec_nlp.pipeline.components import STATUS_PROCEDURE

    said = [w for w in _content(" ".join(_index_words(cs, _words(rest)))) if w not in _GENERIC_DRUG]
    bases = _STATUS_BASES[cue]
    if set(said) & set(_JOINT_REPLACEMENT) and set(said) & _REPLACED_JOINTS and "Status" in bases:
        # a joint replacement is the Index's "Presence > <joint>-joint implant": the procedure names its words
        said = [v for w in said for v in _JOINT_REPLACEMENT.get(w, (w,))]
        bases = ("Presence",)
    procedure = [w for w in said if STATUS_PROCEDURE.search(w)]
    best: tuple[int, int, str, tuple[str, ...]] | None = None
    for name in bases:
        base = _main_entry(cs, name)
        if base is None:
            continue
        for hit, depth in _status_entries(cs, base.path):
            code = _hit_code(_follow_see(cs, hit, 3))
            words = _content(" ".join(p for p in hit.path if p != base.path[0]))
            matched = {w for w in said if any(_word_match(t, w) for t in words)}
            if not code or not matched or "NEC" in _last(hit) or any(not any(_word_match(t, w) for w in said) for t in
                                              _content(re.split(r"\s+for\s+", _last(hit))[0])
                                              if t not in _STATUS_FILLER):
                continue  # every word of the entry itself documented ("below knee"), not only its parent's
            if name == "Absence" and not any(re.search(r"ectomy|amputation", w) for w in said):
                continue  # an acquired absence is a removal ("knee replacement" is no "Absence - knee")
            if procedure and name != "Absence" and not any(w in matched for w in procedure):
                continue  # "knee replacement" is no "Status - knee": the procedure must be the entry's
            if best is None or (len(matched), -depth) > best[:2]:
                best = (len(matched), -depth, code, tuple(hit.path))
        if best is None and cue == "long-term" and said:
            # a drug the entry does not list: its "drug, specified NEC" subterm
            end = next((sub for sub in _subterms(cs, base.path) if "specified NEC" in _last(sub)), None)
            if end is not None and _hit_code(end):
                best = (1, 0, _hit_code(end), tuple(end.path))
    if best is None:
        return (), f"Status phrase ({cue}): the Index has no entry under {' / '.join(_STATUS_BASES[cue])} for it."
    code, how = _billable(cs, best[2], doc, "initial", best[3])
    obj = cs.get(code) if code else None
    if obj is None or not obj.billable:
        return (), f"Status phrase ({cue}): Index entry {' - '.join(best[3])} has no billable code here."
    why = f"Status phrase ({cue}): Index {' - '.join(best[3])} -> {obj.code}" + (f"; {how}" if how else "")
    return (CodeSuggestion(obj.code, obj.title, cs.kind(obj.code), 1.0),), why  # type: ignore[arg-type]


_STATUS_FILLER = frozenset(_content("acquired partial complete organ part status post presence of"))


_REPLACED_JOINTS = frozenset({"knee", "hip", "shoulder", "ankle", "elbow", "wrist", "finger", "tka", "tha"})
_JOINT_REPLACEMENT = {"replacement": ("joint", "implant"), "arthroplasty": ("joint", "implant"),
                      "tka": ("knee", "joint", "implant"), "tha": ("hip", "joint", "implant")}


def _status_entries(cs: Any, path: Sequence[str], depth: int = 1) -> list[tuple[Any, int]]:
    """Every entry under a status main term down to three levels, with its depth; an entry that refers to another
    main term brings that term's entries ("Status - transplant - see also Transplant": Transplant - kidney)."""
    out: list[tuple[Any, int]] = []
    for sub in _subterms(cs, path):
        out.append((sub, depth))
        if depth < 3:
            out.extend(_status_entries(cs, sub.path, depth + 1))
        ref = (getattr(sub, "see", None) or getattr(sub, "see_also", None) or "").strip(" -")
        target = _lookup(cs, _see_path(ref)) if ref and depth < 3 else None
        if target is not None and len(target.path) == 1:
            out.extend((hit, d + 1) for hit, d in _status_entries(cs, target.path, depth + 1))
    return out


def _bmi_code(cs: Any, rest: str) -> tuple[tuple[CodeSuggestion, ...], str]:
    """The adult Z68 code whose title range holds the documented BMI value ("Body mass index [BMI] 50.0-59.9,
    adult"); the pediatric codes need a percentile, which a value alone does not give."""
    m = re.match(r"(\d{1,2}(?:\.\d+)?)", rest)
    if not m:
        return (), "BMI without a value: no Z68 code."
    value = float(m.group(1))
    for c in cs.billable_descendants("Z68"):
        t = c.title.lower()
        if "adult" not in t:
            continue
        r = re.search(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)", t)
        low = re.search(r"(\d+(?:\.\d+)?) or less", t)
        high = re.search(r"(\d+(?:\.\d+)?) or greater", t)
        if ((r and float(r.group(1)) <= value <= float(r.group(2)) + 0.099) or (low and value <= float(low.group(1)))
                or (high and value >= float(high.group(1)))):
            return ((CodeSuggestion(c.code, c.title, cs.kind(c.code), 1.0),),  # type: ignore[arg-type]
                    f"BMI {m.group(1)}: the adult Z68 code whose range holds it (adult assumed).")
    return (), f"BMI {m.group(1)}: no adult Z68 range holds it."


def _why_not_coded(mention: Mention) -> str:
    a = mention.assertion
    reasons = [name for name in ("negated", "historical", "hypothetical", "family", "uncertain") if getattr(a, name)]
    labels = {"negated": "negated", "historical": "historical (past history)", "hypothetical": "hypothetical",
              "family": "family history (not the patient)", "uncertain": "uncertain (possible/rule-out)"}
    return "Not coded: the mention is " + ", ".join(labels[r] for r in reasons) + \
        "; only current, affirmed conditions are coded (a history code, when listed, is for the coder's " \
        "secondary coding and is not in the note's codes)."


def recommend(mention: Mention, specificity: Specificity, code_set: Any, *,
              note_mentions: Sequence[Mention] | None = None) -> ScoredMention:
    """Rank ICD-10-CM codes for one CONDITION mention following the exact > NEC > NOS conventions.

    Args:
        mention: The CONDITION mention with its details and assertion.
        specificity: The specificity verdict for the mention (model or :func:`rule_specificity`).
        code_set: A loaded :class:`nec_nlp.icd10cm.CodeSet` (the release every code is validated against).
        note_mentions: All mentions of the note (context; optional).

    Returns:
        A :class:`ScoredMention` with up to :data:`MAX_CODES` billable codes, best first, its rationale, the details
        missing for a more specific code and, for NOS suggestions, a provider query.
    """
    if not mention.assertion.current_affirmed:
        return _recommend(mention, specificity, code_set)[0]
    return _memoised(mention, specificity, code_set)[0]


# -- memo ----------------------------------------------------------------------------------------------------------
# A recommendation depends only on the mention's words (text, details, sentence), the specificity verdict and the
# code set -- not on where in the note it stands or on its section. The batch path sees the same diagnoses
# ("Hypertension.", "Type 2 diabetes mellitus.") over and over: they are computed once and re-bound to each mention.

_MEMO_LOCK = threading.Lock()
_MEMO: "OrderedDict[tuple[Any, ...], tuple[tuple[CodeSuggestion, ...], str, tuple[str, ...], str | None, bool]]" = (
    OrderedDict())
_MEMO_MAX = [8_192]
_MEMO_STATS = Counter()


def set_memo_size(maxsize: int) -> None:
    """Bound the recommendation memo (least recently used entries are dropped); 0 turns it off and clears it."""
    with _MEMO_LOCK:
        _MEMO_MAX[0] = max(0, int(maxsize))
        while len(_MEMO) > _MEMO_MAX[0]:
            _MEMO.popitem(last=False)


def clear_memo() -> None:
    """Empty the recommendation memo (and its hit/miss counters)."""
    with _MEMO_LOCK:
        _MEMO.clear()
        _MEMO_STATS.clear()


def memo_info() -> dict[str, int]:
    """``{"hits", "misses", "size", "maxsize"}`` of the recommendation memo."""
    return {"hits": _MEMO_STATS["hits"], "misses": _MEMO_STATS["misses"], "size": len(_MEMO),
            "maxsize": _MEMO_MAX[0]}


def _spec_prefix(spec: Specificity) -> str:
    return f"Specificity {spec.verdict} (p={spec.probability:.2f})."


def _memoised(mention: Mention, specificity: Specificity, code_set: Any) -> tuple[ScoredMention, bool]:
    if _MEMO_MAX[0] <= 0:
        return _recommend(mention, specificity, code_set)
    key = (id(code_set), getattr(code_set, "release", None), mention.text, mention.details, mention.sentence or "",
           specificity.verdict)
    with _MEMO_LOCK:
        got = _MEMO.get(key)
        if got is not None:
            _MEMO.move_to_end(key)
            _MEMO_STATS["hits"] += 1
    if got is None:
        sm, beyond = _recommend(mention, specificity, code_set)
        tail = sm.rationale[len(_spec_prefix(specificity)):] if sm.rationale.startswith(
            _spec_prefix(specificity)) else None
        if tail is None:  # not the usual shape: do not memoise
            return sm, beyond
        with _MEMO_LOCK:
            _MEMO_STATS["misses"] += 1
            _MEMO[key] = (sm.codes, tail, sm.missing, sm.query, beyond)
            while len(_MEMO) > _MEMO_MAX[0]:
                _MEMO.popitem(last=False)
        return sm, beyond
    codes, tail, missing, query, beyond = got
    return ScoredMention(mention, specificity, codes, _spec_prefix(specificity) + tail, missing, query), beyond


def _recommend(mention: Mention, specificity: Specificity, code_set: Any) -> tuple[ScoredMention, bool]:
    """:func:`recommend`, plus whether documented details reached beyond the NOS default (for the rule)."""
    if not mention.assertion.current_affirmed:
        return ScoredMention(mention, specificity, _history_codes(mention, code_set),
                             _why_not_coded(mention)), False
    original = mention
    mention = _expand_abbreviation(mention)
    cs = code_set
    status = _status_codes(mention, cs)
    if status is not None:
        codes, why = status
        return ScoredMention(original, specificity, codes, why), bool(codes)
    doc = _documented(mention)
    doc.phrases = [(axis, list(dict.fromkeys(_index_words(cs, ws)))) for axis, ws in doc.phrases]
    doc.head = _index_words(cs, doc.head)
    if any(axis == "site" and "skin" not in ws and _is_skin_site(cs, " ".join(ws)) for axis, ws in doc.phrases) \
            and "skin" not in doc.detail_words:
        # the Table of Neoplasms files the documented site under skin ("forehead (skin)"): weak evidence of "skin"
        doc.phrases.append(("context", ["skin"]))
        doc.originals.append("site on the skin (Table of Neoplasms)")
    for axis, ws in list(doc.phrases):
        region = _region_words(cs, " ".join(ws)) if axis == "site" else ()
        if region and not set(region) & doc.detail_words:
            # the Table of Neoplasms files a body part under its region ("knee NEC" C76.5- "lower limb"): what
            # tabular titles say for it ("lipoma of left leg", "Merkel cell carcinoma of left lower limb")
            limb = [w for w in region if w in _LIMB_WORD.values()]
            doc.phrases.append(("context", [w for w in region if w not in limb]))
            doc.originals.append(f"{' '.join(ws)}: {' '.join(region[:2])} (Table of Neoplasms)")
            doc.region |= set(limb)  # "leg" is no index word for a knee ("Fracture, leg" is the lower leg)
    if not mention.details.drug and any(_names_drug(cs, c) for c in mention.details.cause):
        # a cause the Table of Drugs lists by name ("induced by Coumadin") is what the index calls a drug
        doc.phrases.append(("drug", ["drug", "medicament", "medication"]))
        doc.originals.append(next(c for c in mention.details.cause if _names_drug(cs, c)))
    for axis, words, said_as in _organisms(cs, mention.sentence or mention.text):
        if not set(words) <= doc.detail_words:
            doc.phrases.append((axis, words))
            doc.originals.append(said_as)
        if words[0] == "bacterial":  # an organism the classification has no code for: other specified
            doc.other_specified = True
            # its own words name nothing else ("Moraxella catarrhalis" is no catarrhal bronchitis)
            binomial = set(_content(said_as))
            kept = [(i, (axis2, [w for w in ws if w not in binomial or w in words]))
                    for i, (axis2, ws) in enumerate(doc.phrases)]
            doc.negative = {j for j, (i, _p) in enumerate((i, p) for i, p in kept if p[1]) if i in doc.negative}
            doc.originals = [o for (i, p), o in zip(kept, doc.originals) if p[1]]
            doc.phrases = [p for _i, p in kept if p[1]]
    if "escherichia" in doc.detail_words or re.search(r"\bescherichia\b", (mention.sentence or "").lower()):
        # the species of E. coli is no "colon" (the index's word for "diverticulosis coli")
        doc.phrases = [(axis, [w for w in ws if w != "coli"] or ["escherichia"]) for axis, ws in doc.phrases]
    for word in _post_compounds(cs, mention.sentence or mention.text):
        if word not in doc.detail_words and word not in doc.head:
            doc.phrases.append(("type", [word]))
            doc.originals.append(word)
    encounter = mention.details.encounter or "initial"
    enc_note = (f"7th character: {_ENCOUNTER_TEXT.get(encounter, encounter)} (documented)"
                if mention.details.encounter else "7th character: initial encounter (no encounter documented)")
    cands: list[_Cand] = []
    used: set[str] = set()
    primary_note: list[str] = []
    drug_documented = True
    main_path: tuple[str, ...] = ()

    use = _drug_use(mention, cs)
    if use is not None:
        dcands, drug_documented = _drug_candidates(cs, mention, use, encounter)
        cands.extend(dcands)
        if drug_documented:
            used |= {w for c in dcands for w in c.matched}
    else:
        mains = _main_terms(cs, mention, doc)
        main_path = tuple(mains[0][0].path[:1]) if mains else ()
        # A main term that sends to the Table of Neoplasms goes first ("Cancer" has a phobia entry too).
        mains.sort(key=lambda mc: 0 if "neoplasm" in " ".join(
            x or "" for x in (mc[0].see, mc[0].see_also, mc[0].path[0])).lower() else 1)
        for rank, (main, consumed) in enumerate(_with_prefixes(cs, mains[:1])):
            used0 = set(consumed)
            start = _follow_see(cs, main, 3) or main
            end, used1, alts = _walk(cs, start, doc, used0)
            end_code = _hit_code(_follow_see(cs, end, 3))
            also = (getattr(end, "see_also", None) or getattr(main, "see_also", None) or "").strip(" -") or None
            unused = _unused_details(doc, used1)
            if also and "neoplasm" not in also.lower() and (
                    (not end_code and not _hit_code(main)) or (unused and end_code)):
                # "Gestation (period) - see also Pregnancy": the entry it sends to, when this one leads nowhere
                # or leaves documented details unused ("STEMI - see also Infarct, myocardium, ST elevation" for
                # an inferior STEMI); taken when it uses more of them
                target = _lookup(cs, also) or _lookup(cs, _see_path(also)) or _resolve_reference(cs, also)
                if target is not None:
                    start2 = _follow_see(cs, target, 3) or target
                    used_t = used0 | {w for p in start2.path for a in _alternatives(p) for w in a}
                    end2, used2, alts2 = _walk(cs, start2, doc, used_t)
                    code2 = _hit_code(_follow_see(cs, end2, 3))
                    if code2 and (not end_code or len(_unused_details(doc, used2)) < len(unused)):
                        end, used1, alts, end_code = end2, used2 - (used_t - used0), alts2, code2
            path = tuple(end.path)
            # "basal cell (pigmented) (see also Neoplasm, skin, malignant)": a reference inside the modifiers
            noness = re.search(r"see\s+also\s+(neoplasm[^)]*)", getattr(end, "nonessential", None) or "", re.I)
            neo = [x or "" for x in (getattr(end, "see", None), noness.group(1) if noness else None,
                                     getattr(main, "see", None), getattr(main, "see_also", None), main.path[0])]
            neo_see = next((x for x in neo if "neoplasm" in x.lower()), None)
            site_words = [w for axis, ws in doc.phrases if axis == "site" for w in ws]
            site_coded = bool(end_code) and len(path) == 2 and "neoplasm" not in (
                getattr(end, "see", None) or "").lower() and bool(_content(path[-1])) and all(
                any(_term_match(t, w) for w in site_words) for t in _content(path[-1]))
            # "Cancer > lung" for a "right middle lobe lung cancer": a documented part the index's site subterm
            # leaves out, which the Table of Neoplasms may name ("lung, middle lobe" C34.2)
            finer = site_coded and "malignant" in (neo_see or "").lower() and any(
                not any(_term_match(t, w) for t in _content(path[-1])) for w in site_words)
            if neo_see is not None and site_coded and not finer and "see also" not in (
                    noness.group(0).lower() if noness else ""):
                # "Fibroid - see also Neoplasm, connective tissue, benign", but "Fibroid > uterus" D25.9: the
                # index's own code for the documented site comes before the Table's
                neo_see = None
            if neo_see is not None and not any(c.source == "neoplasms" for c in cands):
                neo_cands = _neoplasm_candidates(cs, mention, doc, neo_see)
                if finer:  # only a part of the index's own site ("lung, middle lobe"), not another organ
                    neo_cands = [c for c in neo_cands if _table_subsite(c, path[-1])]
                cands.extend(neo_cands)
            # the main term's own code is the NOS default of a bare term; a multiword main term
            # ("Neuralgia, postherpetic", "Hammer toe") already carries a documented type
            nos_default = (any(w == "nos" for w in _WORD.findall(path[-1].lower())) if path else False) or (
                not (used1 - used0) and len(path) == 1 and len(used0) <= 1)
            end_obj = cs.get(end_code.rstrip("-")) if end_code else None
            own = (_sibling_for_leftover(cs, main, doc, used1, used0) if end_obj is not None
                   and end_obj.kind == "nos" and "unspecified" in end_obj.title.lower() else None)
            if own is not None:
                # never NEC where an exact code exists: the leftover detail has a subterm of its own under the
                # main term ("Pain > pleuritic" R07.81 for pleuritic chest pain, not "Pain > chest" + NEC)
                cands.append(_Cand(own[0], 2.1 - 0.3 * rank, own[1], "index", own[2],
                                   note="the documented detail has its own index entry"))
                own_obj = cs.get(own[0].rstrip("-"))
                own_hit = _lookup(cs, own[1]) if (doc.other_specified or specificity.verdict == "specific") \
                    and own_obj is not None \
                    and own_obj.kind == "nos" and "unspecified" in own_obj.title.lower() else None
                nec = _nec_subterm(cs, own_hit, doc, used1 | set(own[2])) if own_hit is not None else None
                if nec is not None and _hit_code(nec):
                    # "Pneumonia, bacterial" for a bacterium the index does not list: its "specified NEC"
                    cands.append(_Cand(_hit_code(nec), 2.2 - 0.3 * rank, tuple(nec.path), "index", own[2],
                                       note="documented details have no code of their own: index NEC entry"))
            elif end_obj is not None and (specificity.verdict == "specific" or doc.other_specified) \
                    and end_obj.kind == "nos" and "unspecified" in end_obj.title.lower():
                nec = _nec_subterm(cs, end, doc, used1)
                if nec is not None and _hit_code(nec):
                    # above the unspecified end code it replaces, however many words led there
                    nec_score = max(2.0, 1.6 + 0.3 * len(used1 - used0)) - 0.3 * rank
                    cands.append(_Cand(_hit_code(nec), nec_score, tuple(nec.path), "index",
                                       tuple(sorted(used1 - used0)),
                                       note="documented details have no code of their own: index NEC entry"))
                elif _has_leftover_type(doc, used1, cs, end):
                    other = _other_sibling(cs, end_obj, doc)
                    if other is not None:
                        cands.append(_Cand(other.code, 1.9 - 0.3 * rank, tuple(end.path), "tabular",
                                           tuple(sorted(used1 - used0)),
                                           note=f"documented details have no code of their own: the 'Other' code "
                                                f"beside {end_obj.code}"))
            if end_code:
                cands.append(_Cand(end_code, 1.5 - 0.3 * rank + 0.3 * len(used1 - used0), path, "index",
                                   tuple(sorted(used1 - used0)), nos_default=nos_default,
                                   note=getattr(end, "note", None)))
            elif not _hit_code(main) and getattr(main, "see", None):
                primary_note.append(f"index: see {main.see}")
            main_code = _hit_code(_follow_see(cs, main, 3))
            if main_code:
                cands.append(_Cand(main_code, 0.6 - 0.1 * rank, tuple(main.path), "index", nos_default=True))
            cands.extend(replace(a, score=0.5 * a.score) for a in alts)
            used |= used1
        cands.extend(_combination_candidates(cs, mention, doc))
    # Tabular titles and inclusion terms (not for drug effects: the Table of Drugs is the authority there).
    context = " ".join(" ".join(ws) for axis, ws in doc.phrases if axis == "context")
    query = " ".join([*mention.details.type, *mention.details.site, *mention.details.cause, mention.text, context])
    tab: list[tuple[str, float]] = []
    if use is None:
        try:
            tab = _search_titles(cs, query)
        except Exception:  # noqa: BLE001
            tab = []
    for code, score in tab:
        cands.append(_Cand(code, 0.5 * float(score), (), "tabular", extra={"needs_head": True}))

    if any(c.source == "index" and c.score >= 1.0 and c.code[:3] in _OWN_MORPHOLOGY for c in cands):
        # Merkel cell carcinoma and neuroendocrine (carcinoid) tumors have categories of their own (C4A, C7A,
        # C7B, D3A) with their own sites: the Table of Neoplasms does not apply
        cands = [c for c in cands if c.source != "neoplasms"]
    descriptors = {_stem(w) for w in _DESCRIPTOR_WORDS}
    leftover = {w for axis, ws in doc.phrases if axis not in ("context", "drug", "external") for w in ws
                if w not in used and w not in descriptors} if use is None else set()
    if doc.other_specified and use is None:
        leftover.add("other")
    suggestions, info = _finalise(cs, cands, doc, encounter, leftover)

    def sequence_first(extra: _Cand | None) -> None:
        """A code that goes before the condition's own (chapter 15, an exposure, a postprocedural complication)."""
        nonlocal suggestions, info
        if extra is not None:
            cands.append(replace(extra, score=max(c.score for c in cands) + 3.0))
            suggestions, info = _finalise(cs, cands, doc, encounter, leftover)

    if use is None and suggestions:
        if _in_pregnancy(mention, doc):
            sequence_first(_pregnancy_candidate(cs, doc, suggestions[0].code, fallback=("specified condition NEC",)))
        elif _in_puerperium(mention, doc, info[0]["cand"]):
            sequence_first(_pregnancy_candidate(cs, doc, suggestions[0].code, ("Puerperal, puerperium",),
                                                ("complications", "specified NEC")))
    if use is None and suggestions and _exposure_said(mention):
        # contact with a communicable disease the Index does not list under "Exposure"
        sequence_first(_exposure_candidate(cs, suggestions[0].code))
    if use is None and suggestions:
        sequence_first(_postprocedural_candidate(cs, doc, cands, suggestions[0].code))
    suggestions, info, first_note = _code_first(cs, suggestions, info, doc)
    if first_note:
        primary_note.append(first_note)
    rationale = _rationale(doc, specificity, info, enc_note, primary_note, leftover)
    missing = _missing(cs, mention, doc, suggestions, drug_documented, main_path, used)
    query_text = _query(mention, missing, use) if suggestions and suggestions[0].kind == "nos" else None
    beyond = False
    if suggestions:
        top: _Cand = info[0]["cand"]
        nos_marked = bool(top.path) and "nos" in _WORD.findall(top.path[-1].lower())
        beyond = suggestions[0].kind != "nos" or bool(leftover) or (bool(top.matched) and not nos_marked)
    if mention is not original:
        rationale += f' "{original.text}" read as "{mention.text}".'
    sm = ScoredMention(original, specificity, tuple(suggestions), rationale, tuple(missing), query_text)
    return sm, beyond


def _code_first(cs: Any, suggestions: list[CodeSuggestion], info: list[dict[str, Any]], doc: _Doc
                ) -> tuple[list[CodeSuggestion], list[dict[str, Any]], str | None]:
    """Sequencing: when the first code's tabular says "code first" a code that is also suggested for this mention and
    names the mention's own condition, that code goes first ("COVID-19 pneumonia": U07.1, then J12.82, whose note
    reads "Code first COVID-19 (U07.1)")."""
    if len(suggestions) < 2 or not doc.head:
        return suggestions, info, None
    # a plain "Code first X (code)", not "any associated ...", "underlying condition, such as", "if applicable"
    refs = [r for text, examples in _grouped(_notes_of(cs, suggestions[0].code).get("code_first", []))
            if not examples and not text.rstrip().endswith(":")
            and not re.search(r"\b(?:any|associated|underlying|applicable|such|if|known)\b", text, re.I)
            for r in _refs(text)]
    if not refs:
        return suggestions, info, None
    head = doc.head[-1]
    said = set(doc.head) | doc.detail_words
    for i, sg in enumerate(suggestions[1:5], start=1):
        words = [t for t in _content(sg.title) if t not in _GENERIC_TITLE]
        if any(_in_ref(sg.code, r) for r in refs) and any(_word_match(head, t) for t in words) and all(
                any(_term_match(t, w) for w in said) for t in words):
            order = [i] + [j for j in range(len(suggestions)) if j != i]
            note = f"{sg.code} first: {suggestions[0].code} says 'code first' it"
            return [suggestions[j] for j in order], [info[j] for j in order if j < len(info)], note
    return suggestions, info, None


_POST = re.compile(r"\b(post|pre)[\s-]+[a-z]", re.I)


# "H. influenzae": the genus a species name abbreviates it with (the common pathogens only)
_GENUS_BY_SPECIES = {
    ("h", "influenzae"): "hemophilus", ("e", "coli"): "escherichia", ("s", "aureus"): "staphylococcus",
    ("s", "epidermidis"): "staphylococcus", ("s", "pneumoniae"): "streptococcus", ("s", "pyogenes"): "streptococcus",
    ("s", "agalactiae"): "streptococcus", ("k", "pneumoniae"): "klebsiella", ("m", "pneumoniae"): "mycoplasma",
    ("p", "aeruginosa"): "pseudomonas", ("c", "difficile"): "clostridium", ("c", "diff"): "clostridium",
    ("e", "faecalis"): "enterococcus", ("e", "faecium"): "enterococcus", ("h", "pylori"): "helicobacter",
    ("n", "gonorrhoeae"): "gonococcus", ("c", "trachomatis"): "chlamydia", ("m", "catarrhalis"): "moraxella",
}
_ABBREVIATED_GENUS = re.compile(r"\b([A-Za-z])\.\s?([a-z]{4,})\b")
_BINOMIAL = re.compile(r"\b([A-Z][a-z]{4,})\s+([a-z]{4,})\b")
_LATIN_SPECIES = re.compile(r"(?:ii|ae|is|us|um|ens|ila|ica|ia|a)$")


def _organisms(cs: Any, sentence: str) -> list[tuple[str, list[str], str]]:
    """Organisms in the sentence the index would not read as written: an abbreviated genus ("H. influenzae" is
    Hemophilus influenzae) and a binomial whose genus the index does not list ("Citrobacter freundii",
    "Stenotrophomonas maltophilia"), which a coder codes as a bacterium, specified NEC."""
    out: list[tuple[str, list[str], str]] = []
    for m in _ABBREVIATED_GENUS.finditer(sentence):
        genus = _GENUS_BY_SPECIES.get((m.group(1).lower(), m.group(2).lower()))
        if genus:
            out.append(("cause", [genus, _stem(m.group(2).lower())], m.group(0)))
    for m in re.finditer(r"\b([a-z]{3,}virus)(?:es)?\b", sentence.lower()):
        if m.group(1) not in ("coronavirus", "virus"):
            # "Rhinovirus pneumonia": a virus, whose own subterm the walk takes when the index has one
            out.append(("cause", ["viral"], m.group(0)))
    knows = getattr(cs.index, "knows", None)
    for m in _BINOMIAL.finditer(sentence):
        genus, species = m.group(1).lower(), m.group(2).lower()
        if knows is not None and not knows(genus) and not knows(species) and _LATIN_SPECIES.search(species):
            out.append(("cause", ["bacterial", "bacteria"], m.group(0)))
    return out


def _post_compounds(cs: Any, sentence: str) -> list[str]:
    """"post"/"pre" written apart from the word it prefixes, as the index prints it closed ("post cervical
    laminectomy" -> postlaminectomy, "post op" is not one): the closed word, when the index knows it."""
    knows = getattr(cs.index, "knows", None)
    if knows is None or not _POST.search(sentence):
        return []
    out = []
    words = _WORD.findall(sentence.lower())
    for i, w in enumerate(words):
        if w not in ("post", "pre"):
            continue
        for nxt in words[i + 1:i + 4]:  # the prefixed word may follow a site ("post cervical laminectomy")
            if len(nxt) >= 4 and knows(w + nxt):
                out.append(_stem(w + nxt))
                break
    return out


@lru_cache(maxsize=1)
def _lexicon_tables() -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    """From the extraction lexicon: CONDITION abbreviations and SITE abbreviations (case-sensitive) -> their full
    wording (with the qualifier: "T2DM" -> "type 2 diabetes mellitus", "RLQ" -> "right lower quadrant"), and the
    CAUSE terms taken from the External Cause Index ("fall", "motor vehicle accident")."""
    conditions: dict[str, str] = {}
    sites: dict[str, str] = {}
    external: set[str] = set()
    try:
        from nec_nlp.pipeline.rules import default_abbreviations, resource_lines

        for a in default_abbreviations():
            full = a.expansion
            if a.qualifier and a.qualifier.lower() not in full.lower():
                full = f"{a.qualifier} {full}"
            if a.label == "CONDITION":
                conditions[a.abbr] = full
            elif a.label == "SITE":
                sites[a.abbr] = full
        external = {r["term"].lower() for r in resource_lines("causes.jsonl")
                    if "external cause" in r.get("source", "")}
    except Exception as exc:  # noqa: BLE001 - no lexicon: abbreviations stay as written, every cause is a detail
        logger.debug("lexicon tables unavailable: %s", type(exc).__name__)
    return conditions, sites, frozenset(external)


def _abbreviations() -> dict[str, str]:
    return _lexicon_tables()[0]


def _site_abbreviations() -> dict[str, str]:
    return _lexicon_tables()[1]


def _external_causes() -> frozenset[str]:
    return _lexicon_tables()[2]


def _expand_abbreviation(mention: Mention) -> Mention:
    """A mention written as an abbreviation ("DVT") read in full ("deep vein thrombosis") for the index walk."""
    mention = _spell_sides(mention)
    text = mention.text.strip()
    table = _abbreviations()
    full = table.get(text)
    sentence = mention.sentence or ""
    # the other abbreviations of the sentence too: "T2DM with diabetic CKD" combines with chronic kidney disease
    others = [a for a in _ABBR_WORD.findall(sentence) if a != text and a in table]
    if not full and not others:
        return mention
    for a in dict.fromkeys([*([text] if full else []), *others]):
        sentence = re.sub(rf"\b{re.escape(a)}\b", table[a], sentence)
    return replace(mention, text=full or mention.text, sentence=sentence)


def _spell_sides(mention: Mention) -> Mention:
    """Side abbreviations spelled out in the mention and its sentence ("S/p L total hip arthroplasty"), as the
    pipeline reads them: "L"/"R"/"Lt"/"Rt" before a word or an ordinal ("L 3rd toe") and not after a number ("2 L of
    fluid"), "bilat" anywhere."""
    from nec_nlp.pipeline.components import SIDE_ABBREVIATION_TEXT, SIDE_ABBREVIATIONS

    def spell(text: str) -> str:
        return SIDE_ABBREVIATION_TEXT.sub(lambda m: SIDE_ABBREVIATIONS[m.group(1) or m.group(2)], text)
    text, sentence = spell(mention.text), spell(mention.sentence or "")
    if text == mention.text and sentence == (mention.sentence or ""):
        return mention
    return replace(mention, text=text, sentence=sentence)


_ABBR_WORD = re.compile(r"\b[A-Za-z][A-Za-z0-9-]*[A-Z0-9][A-Za-z0-9]*\b")


def _finalise(cs: Any, cands: list[_Cand], doc: _Doc, encounter: str, leftover: set[str]
              ) -> tuple[list[CodeSuggestion], list[dict[str, Any]]]:
    best: dict[str, tuple[float, _Cand, str | None]] = {}
    history_said = any(w in ("history", "hx") for _axis, ws in doc.phrases for w in ws) or "history" in doc.head
    order = sorted(cands, key=lambda c: -c.score)
    indexed = any(c.source in ("index", "neoplasms", "drugs") for c in cands)
    for c in order:
        code, how = _billable(cs, c.code, doc, encounter, c.path if c.source == "index" else ())
        if not code:
            continue
        v = cs.validate(code)
        if not (v.valid and v.billable):
            continue
        code = v.code
        obj = cs.get(code)
        fit, has_head = _fit(obj, c, doc)
        if c.extra.get("needs_head") and not has_head:
            continue  # a title that does not name the condition is no candidate for it
        total = c.score + fit
        if c.source == "neoplasms":
            # the Table of Neoplasms is the authority once a documented site is found in it; its titles say
            # "secondary malignant neoplasm of skin" for an earlobe, which words alone would not choose
            total += 1.0 - c.extra.get("spread", 0.0)  # the site words fit, but they say where it spread
        if c.source != "drugs" and _verbatim(cs, obj, doc):
            # the tabular lists exactly what was documented as the code's title or inclusion term
            # ("Folliculitis of buttock" under L02.32, "Brugada syndrome" under I49.8): the coder's check
            total += 1.0
            c = replace(c, note=c.note or "the tabular lists the documented wording under this code")
        if indexed and c.extra.get("needs_head") and obj is not None:
            # a title found by words alone that asserts an acuity, organism, severity or complication nobody
            # documented ("Subacute osteomyelitis, right tibia and fibula" for osteomyelitis of the tibia)
            said = frozenset(set(doc.head) | doc.detail_words)
            total -= 1.0 * sum(1 for t in _title_content(obj.title) if t in _ASSERTED_AXIS_WORDS
                               and not _matches_any(t, said))
        if c.source == "tabular" and obj is not None and _undocumented_population([obj.title], doc, set()):
            # "Bacterial sepsis of newborn" found by title words is no adult's sepsis
            total -= 2.0
        if c.source == "tabular" and obj is not None and re.match(r"(?:personal|family) history of", obj.title,
                                                                  re.I) and not history_said:
            # "Personal history of traumatic brain injury" found by title words is no current TBI when nobody
            # wrote "history" ("History of peptic ulcer disease" names Z87.11 itself)
            total -= 2.0
        if indexed and c.extra.get("needs_head") and cs.kind(code) == "nec":
            # an "Other ..." code found only by its title words is no NEC decision: the index has the say
            # (its own NEC entries and the 'Other' sibling of its unspecified code come as index candidates)
            total -= 1.0
        if code not in best or best[code][0] < total:
            best[code] = (total, c, how)
    ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:MAX_CODES]
    out: list[CodeSuggestion] = []
    info: list[dict[str, Any]] = []
    top = ranked[0][1][0] if ranked else 1.0
    for code, (score, c, how) in ranked:
        base = cs.get(code)
        kind = cs.kind(code)
        # the NOS reading of an "Other ..." code needs the tabular's word for it: an "... NOS" inclusion term of
        # the code or its parent (G89.18 "Postoperative pain NOS"); "Other pancytopenia" (D61.818) has none
        nos_default = _carries_nos_term(base, cs) and (c.nos_default or _is_nos_term_default(base, doc, cs))
        if c.source == "drugs" and kind == "nos" and not c.nos_default:
            # "Poisoning by X NOS" inclusion terms make the accidental column look unspecified; the drug was named
            kind = "exact"
        if kind == "nec" and nos_default and not leftover:
            # An "Other ..." code the index gives as the default for the bare term (e.g. "Pain, postoperative
            # NOS" -> G89.18): with nothing more documented it is the NOS choice.
            kind = "nos"
        out.append(CodeSuggestion(code, base.title if base is not None else "", kind,  # type: ignore[arg-type]
                                  max(0.0, min(1.0, score / (top or 1.0)))))
        info.append({"code": code, "cand": c, "how": how})
    return out, info


_VERBATIM_SKIP = frozenset({"nos", "nec", "unspecified", "other", "specified", "right", "left", "bilateral",
                            "initial", "subsequent", "encounter", "sequela"})


def _verbatim(cs: Any, obj: Any, doc: _Doc) -> bool:
    """Whether the code's title or one of its inclusion terms (or its parent's, for a code with a 7th
    character) says exactly the documented words: the condition and its site/type/cause details, nothing more
    and nothing less (side, encounter, NOS/NEC and extent words aside)."""
    if obj is None:
        return False
    descriptors = {_stem(w) for w in _DESCRIPTOR_WORDS}
    said = {w for w in doc.head} | {w for i, (axis, ws) in enumerate(doc.phrases)
                                    if axis in ("site", "type", "cause") and i not in doc.negative for w in ws}
    said = {w for w in said if w not in _VERBATIM_SKIP and w not in descriptors}
    if len(said) < 2:
        return False  # a bare term is the index's to decide (its NOS default)
    texts = [obj.title, *(getattr(obj, "inclusion", ()) or ())]
    if getattr(obj, "seventh_char", None) and obj.parent:
        parent = cs.get(obj.parent)
        if parent is not None:
            texts += [parent.title, *(getattr(parent, "inclusion", ()) or ())]
    for t in texts:
        words = {w for w in _content(re.sub(r"\([^)]*\)", " ", t)) if w not in _VERBATIM_SKIP}
        if not words or len(words) != len(said):
            continue
        if all(any(_term_match(w, x) for x in said) for w in words) and all(
                any(_term_match(w, x) for w in words) for x in said):
            return True
    return False


_GENERIC_TITLE = frozenset(_stem(w) for w in (
    "unspecified other specified elsewhere classified nec nos not without with and of due to initial subsequent "
    "encounter sequela for in the or by site type malignant neoplasm secondary primary benign behavior "
    "uncertain").split())


def _fit(code: Any, c: _Cand, doc: _Doc) -> tuple[float, bool]:
    """How well a code's title, inclusion terms (and index path) match the documented words.

    Head and detail words weigh 1, sentence-context words 0.7; each title word nobody documented costs 0.15.
    Second value: whether the code's text names the condition (its head word).
    """
    if code is None:
        return 0.0, False
    title = _title_content(code.title)
    text = title | {w for t in (getattr(code, "inclusion", ()) or ()) for w in _content(t)}
    text |= {w for p in c.path for w in _content(p)}
    weights: dict[str, float] = {w: 1.0 for w in doc.head}
    absent: set[str] = set()
    for i, (axis, ws) in enumerate(doc.phrases):
        for w in ws:
            if i in doc.negative:  # stated as absent ("without infarction"): no support for a title naming it
                if w not in _NEGATORS:
                    absent.add(w)
                continue
            # a side found in a title by words alone is weak evidence for it: every subcategory lists sides
            # ("Unspecified traumatic cataract, left eye" is no code for a cataract of the left eye)
            weights[w] = max(weights.get(w, 0.0), 0.7 if axis == "context" else 0.2 if (
                axis == "laterality" and c.source == "tabular") else 1.0)
    for w in doc.region:  # "knee" is on the "lower limb, including hip" / "left leg" of a title
        weights.setdefault(w, 0.7)
    ftext = frozenset(text)
    wkeys = frozenset(weights)
    fit = sum(wt for w, wt in weights.items() if _matches_any(w, ftext))
    extra = sum(1 for t in title if t not in _GENERIC_TITLE and not _matches_any(t, wkeys))
    if absent and not set(_title_words(code.title)) & _NEGATORS:
        # a title (or inclusion term) naming what was documented as absent, without a "without": wrong code
        fit -= sum(1.0 for w in absent if w not in weights and _matches_any(w, ftext))
    has_head = bool(doc.head) and _matches_any(doc.head[-1], ftext)
    return fit - 0.15 * extra, has_head


def _carries_nos_term(code: Any, cs: Any) -> bool:
    """Whether the code or its tabular parent lists an "... NOS" inclusion term."""
    if code is None:
        return False
    if getattr(code, "nos_terms", ()):
        return True
    parent = cs.get(code.parent) if getattr(code, "parent", None) else None
    return bool(parent is not None and getattr(parent, "nos_terms", ()))


def _is_nos_term_default(code: Any, doc: _Doc, cs: Any = None) -> bool:
    """True when one of the code's "... NOS" inclusion terms is what was documented ("Grand mal seizure NOS")."""
    terms = list(getattr(code, "nos_terms", ()) or ())
    if cs is not None and code is not None:
        for anc in cs.ancestors(code.code)[:2]:
            terms += list(getattr(anc, "nos_terms", ()) or ())
    said = set(doc.head) | {w for axis, ws in doc.phrases if axis != "context" for w in ws}
    for t in terms:
        words = [w for w in _content(re.sub(r"\([^)]*\)", " ", t))]
        if words and all(any(_word_match(w, x) for x in said) for w in words):
            return True
    return False


def _rationale(doc: _Doc, spec: Specificity, info: list[dict[str, Any]], enc_note: str, extra: list[str],
               leftover: set[str]) -> str:
    parts = [f"Specificity {spec.verdict} (p={spec.probability:.2f})."]
    if not info:
        parts.append("No billable code found in the index, tables or tabular for this mention.")
        return " ".join(parts + extra)
    c: _Cand = info[0]["cand"]
    code = info[0]["code"]
    where = {"index": "Alphabetic Index", "drugs": "Table of Drugs", "neoplasms": "Table of Neoplasms",
             "tabular": "tabular titles"}[c.source]
    path = " > ".join(c.path) if c.path else ""
    parts.append(f"{code} from the {where}" + (f" ({path})" if path else "") + ".")
    if c.matched:
        what = doc.described(c.matched) or [", ".join(c.matched)]
        parts.append("Documented " + "; ".join(what) + " matched " + (f'"{c.path[-1]}"' if c.path else "the title")
                     + ".")
    if leftover:
        what = doc.described(leftover) + (['"other (specified)" type'] if "other" in leftover else [])
        parts.append("Documented but without a code of its own: " + "; ".join(what) + ".")
    if c.note:
        parts.append(c.note[0].upper() + c.note[1:] + ".")
    if info[0]["how"]:
        parts.append(str(info[0]["how"]) + ".")
    if len(code) == 8 or (len(code.replace(".", "")) == 7):
        parts.append(enc_note + ".")
    return " ".join(parts + extra)


def _missing(cs: Any, mention: Mention, doc: _Doc, sugg: list[CodeSuggestion], drug_documented: bool,
             main_path: tuple[str, ...], used: set[str]) -> list[str]:
    """The details that would allow a more specific code: axes of the sibling codes and of the index subterms
    that the documentation does not state."""
    if not sugg:
        return []
    top = sugg[0]
    if top.kind == "exact":
        return []
    missing: list[str] = []
    if not drug_documented:
        missing.append("drug")
    documented = set(_words(mention.text)) | doc.detail_words
    if doc.laterality:
        documented |= {"right", "left", "bilateral"}
    code = cs.get(top.code)
    sibling_words: Counter[str] = Counter()
    if code is not None and code.parent:
        parent = cs.get(code.parent)
        grand = cs.get(parent.parent) if parent is not None and parent.parent else None
        scope = grand if grand is not None and len(code.parent.replace(".", "")) > 3 else parent
        if scope is not None:
            for k in cs.billable_descendants(scope.code)[:200]:
                if k.code != top.code:
                    sibling_words.update(set(_WORD.findall(k.title.lower())))
    for axis, words in _AXES:
        if any(w in sibling_words for w in words) and not any(w in documented for w in words):
            missing.append(axis)
    if main_path:
        sites, types = _subterm_axes(cs, main_path)
        type_used = any(axis == "type" and set(ws) & used for axis, ws in doc.phrases)
        if types and not type_used:
            missing.append("type")
        if sites >= 3 and sites * 5 >= sites + types and not mention.details.site:
            missing.append("site")
    return list(dict.fromkeys(missing))


def _subterm_axes(cs: Any, path: tuple[str, ...]) -> tuple[int, int]:
    """How many subterms of an index entry name a body site (an entry of the Table of Neoplasms) and how many
    name something else (a type, cause or form): what the index could use to get more specific."""
    key = (id(cs), path)
    if key in _AXIS_CACHE:
        return _AXIS_CACHE[key]
    sites = types = 0
    for sub, conn in _flat_subterms(cs, path)[:80]:  # a sample is enough to tell whether sites are offered
        term = _last(sub)
        if not _content(term) or term.lower().startswith("see"):
            continue
        if conn is None and _is_site(cs, term):
            sites += 1
        else:
            types += 1
    if len(_AXIS_CACHE) > 4096:
        _AXIS_CACHE.clear()
    _AXIS_CACHE[key] = (sites, types)
    return sites, types


_AXIS_CACHE: dict[tuple[int, tuple[str, ...]], tuple[int, int]] = {}


_SITE_CACHE: dict[tuple[int, str], bool] = {}
_SKIN_CACHE: dict[tuple[int, str], bool] = {}


def _is_skin_site(cs: Any, site: str) -> bool:
    """Whether the Table of Neoplasms files a documented site under skin ("forehead (skin)", "temple (skin)")."""
    key = (id(cs), site.lower())
    if key not in _SKIN_CACHE:
        if len(_SKIN_CACHE) > 8192:
            _SKIN_CACHE.clear()
        ok = False
        try:
            nc = cs.neoplasms.lookup(site, "malignant_primary")
            entry = (getattr(nc, "matched_entry", None) or "").lower() if nc is not None else ""
            last = entry.split(",")[-1] if entry else ""
            ok = bool(nc is not None and (nc.code or "").startswith("C44") and getattr(nc, "exact_site", True)
                      and "skin" not in entry.split(",")[1:-1] and any(_word_match(w, x) for w in _content(site)
                                                                   for x in _content(last)))
        except Exception:  # noqa: BLE001 - no neoplasm table: no skin knowledge
            ok = False
        _SKIN_CACHE[key] = ok
    return _SKIN_CACHE[key]


_LIMB_WORD = {"upper": "arm", "lower": "leg"}


def _named_joints(cs: Any) -> frozenset[str]:
    """Joints the tabular names by themselves: the first word after "Pain in" of the M25.5 codes (shoulder,
    elbow, wrist, hip, knee, ankle)."""
    def make() -> frozenset[str]:
        parent = cs.get("M25.5")
        out = set()
        for child in (cs.get(c) for c in (parent.children if parent else ())):
            m = re.match(r"pain in (\w+)", child.title.lower()) if child else None
            if m and m.group(1) not in ("joints", "unspecified", "other"):
                out.add(_stem(m.group(1)))
        return frozenset(out)
    return _cached(_TITLE_CACHE, (id(cs), "joints"), make)


def _region_words(cs: Any, site: str) -> tuple[str, ...]:
    """The region words of a body part that the Table of Neoplasms files under an ill-defined region (C76: "knee
    NEC" -> C76.5 "lower limb", with "leg", the tabular's other word for it; "forearm NEC" -> "upper limb", "arm");
    empty for sites with organs of their own."""
    def make() -> tuple[str, ...]:
        try:
            hit = cs.neoplasms.lookup(site, "malignant") if site else None
        except Exception:  # noqa: BLE001
            return ()
        if hit is None or not hit.code or not hit.exact_site or not hit.code.startswith(("C76.4", "C76.5")):
            return ()
        if any(_word_match(w, j) for w in _content(site) for j in _named_joints(cs)):
            return ()  # a joint is coded by its own name ("Pain in hip" M25.55-, "Fracture, hip"), not the limb
        obj = cs.get(hit.code[:5])
        words = [w for w in _content(obj.title if obj else "") if w not in ("malignant", "neoplasm")]
        return tuple(words + [_LIMB_WORD[w] for w in words if w in _LIMB_WORD])
    return _cached(_TITLE_CACHE, (id(cs), "region", site), make)


def _is_site(cs: Any, term: str) -> bool:
    key = (id(cs), term.lower())
    if key not in _SITE_CACHE:
        if len(_SITE_CACHE) > 50000:
            _SITE_CACHE.clear()
        _SITE_CACHE[key] = _is_site_uncached(cs, term)
    return _SITE_CACHE[key]


def _is_site_uncached(cs: Any, term: str) -> bool:
    try:
        hit = cs.neoplasms.lookup(term, "unspecified")
    except Exception:  # noqa: BLE001 - no neoplasm table: no site knowledge
        return False
    entry = (getattr(hit, "matched_entry", None) or "").lower() if hit is not None else ""
    return bool(entry) and _content(entry.split(",")[-1].split("(")[0])[:1] == _content(term)[:1]


_USE_TEXT = {"adverse_effect": "an adverse effect of a drug", "underdosing": "underdosing of a drug",
             "poisoning_accidental": "a poisoning", "poisoning_intentional": "an intentional poisoning",
             "poisoning_assault": "a poisoning by assault", "poisoning_undetermined": "a poisoning"}


def _query(mention: Mention, missing: Sequence[str], use: str | None = None) -> str:
    """A short, non-leading provider query in CDI style (open question, options include other/undetermined)."""
    d = mention.details
    words = [*d.cause, *(t for t in d.type if not t.lower().startswith(("with", "without"))), mention.text.strip()]
    condition = " ".join(dict.fromkeys(w.strip() for w in words if w.strip()))
    if d.site:
        condition += " of the " + d.site[0]
    if not missing:
        return (f"The documentation states \"{condition}\". Can it be further specified? Please document "
                "the clinically appropriate detail, other, or clinically undetermined.")
    axes = ", ".join(missing[:-1]) + (" and " if len(missing) > 1 else "") + missing[-1]
    if "drug" in missing:
        what = _USE_TEXT.get(use or "", f'"{condition}"')
        return (f"The documentation describes {what}. Can the drug or substance responsible be identified? "
                "Please document the specific drug or substance, or that it cannot be clinically determined.")
    return (f"The documentation states \"{condition}\". Based on your clinical judgment, can the {axes} be "
            "further specified? Please document the clinically appropriate detail, other, or clinically "
            "undetermined.")


# -- note-level pass ---------------------------------------------------------------------------------------------


_REF_RE = re.compile(r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.?-)?(?:\s*-\s*([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?))?")


def _refs(text: str) -> list[tuple[str, str | None]]:
    """Code references in an instructional note: single codes/prefixes ("L50.-") and ranges ("T36-T50")."""
    return [(m.group(1), m.group(2)) for m in _REF_RE.finditer(text)]


def _in_ref(code: str, ref: tuple[str, str | None]) -> bool:
    c = code.replace(".", "")
    lo = ref[0].replace(".", "")
    if ref[1] is None:
        return c.startswith(lo)
    hi = ref[1].replace(".", "")
    return lo <= c[: len(lo)] and c[: len(hi)] <= hi


def _notes_of(cs: Any, code: str) -> dict[str, list[tuple[str, str]]]:
    try:
        return dict(cs.instructions(code))
    except Exception:  # noqa: BLE001 - older code-set objects: the code's own notes only
        c = cs.get(code)
        if c is None:
            return {}
        return {k: [(code, n) for n in getattr(c, k, ()) or ()] for k in ("excludes1", "code_first", "use_additional")}


def _grouped(notes: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Instruction notes grouped as (header, examples): a "..., such as:" line heads the lines after it."""
    groups: list[tuple[str, str, list[str]]] = []
    for src, text in notes:
        t = text.strip()
        if groups and groups[-1][1].endswith(":") and groups[-1][0] == src and not t.endswith(":"):
            groups[-1][2].append(t)
        else:
            groups.append((src, t, []))
    return [(header, examples) for _, header, examples in groups]


def annotate_note(scored: Sequence[ScoredMention], code_set: Any) -> list[ScoredMention]:
    """Add Excludes1 conflicts and code-first / use-additional notes between the note's recommended codes.

    Only the first code of each coded mention takes part (the note's recommendation). A code-first note whose
    header names "the nature of the adverse effect" (categories T36-T50) is matched by any code of the note
    outside chapter 19, which is then sequenced first.
    """
    cs = code_set
    tops = [(i, sm.codes[0].code) for i, sm in enumerate(scored) if sm.codes]
    out = list(scored)
    for i, code in tops:
        others = list(dict.fromkeys(c for j, c in tops if j != i and c != code))
        if not others:
            continue
        sentence = scored[i].mention.sentence
        same_sentence = [c for j, c in tops if j != i and c != code
                         and (not sentence or scored[j].mention.sentence == sentence)]
        notes: list[str] = []
        instr = _notes_of(cs, code)
        conflicts: dict[str, str] = {}
        for _src, text in instr.get("excludes1", []):
            for o in others:
                if o not in conflicts and any(_in_ref(o, r) for r in _refs(text)):
                    conflicts[o] = text
        for o, text in conflicts.items():
            notes.append(f"Excludes1: {code} excludes {o} ({text}); they are not reported together unless the "
                         "conditions are unrelated.")
        for attr, label in (("code_first", "Code first"), ("use_additional", "Use additional code")):
            for header, examples in _grouped(instr.get(attr, [])):
                hits = [o for o in others
                        if any(_in_ref(o, r) for t in [header, *examples] for r in _refs(t))]
                if attr == "code_first" and "nature of the adverse effect" in header.lower():
                    hits += [o for o in same_sentence if not o.startswith(("S", "T")) and o not in hits]
                if hits:
                    what = header.strip(" ,:")
                    found = ", ".join(dict.fromkeys(hits))
                    notes.append(f"{label} ({what}): sequence {found} (in this note) before {code}."
                                 if attr == "code_first" else f"{label} ({what}): {found} in this note.")
        if notes:
            out[i] = replace(out[i], notes=tuple(dict.fromkeys([*out[i].notes, *notes])))
    return out


# -- evaluation --------------------------------------------------------------------------------------------------


def _read_statements(path: str | Path, split: str | None) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"statements file not found: {p}")
    rows = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p.name} line {n}: not valid JSON ({exc.msg})") from None
        if split is None or row.get("split") == split:
            rows.append(row)
    return rows


def _target_span(text: str, target: str) -> tuple[int, int]:
    """Where a statement's target stands: its first whole-word occurrence ("pneumonia" in "Klebsiella pneumoniae
    pneumonia" is the last word, not the start of "pneumoniae"), else its first occurrence."""
    hit = re.search(r"(?<![A-Za-z])" + re.escape(target) + r"(?![A-Za-z])", text)
    t0 = hit.start() if hit else text.find(target)
    return t0, t0 + len(target)


def _target_mention(mentions: Sequence[ScoredMention], t0: int, t1: int) -> ScoredMention | None:
    """The mention overlapping the target span; when several do, the current affirmed one holding the target's
    last word (its head), then the largest overlap."""
    over = [m for m in mentions if m.mention.start < t1 and m.mention.end > t0]
    if not over:
        return None
    return max(over, key=lambda m: (m.mention.assertion.current_affirmed,
                                    m.mention.start < t1 <= m.mention.end + 1,
                                    min(t1, m.mention.end) - max(t0, m.mention.start)))


def evaluate_codes(scorer: Any, path: str | Path, split: str | None = "dev") -> dict[str, Any]:
    """Code@1, code@5 and kind accuracy of a scorer on the hand-labelled diagnosis statements.

    The mention evaluated is the one overlapping the statement's ``target``; code@1 counts a top code in
    ``accepted``, code@5 any of the top five, kind accuracy compares the top suggestion's kind with ``kind``.

    Args:
        scorer: A :class:`nec_nlp.api.Scorer`.
        path: The statements JSONL file.
        split: ``"dev"``, ``"test"`` or None for all rows.

    Returns:
        ``{"n", "code@1", "code@5", "kind_accuracy", "per_kind": {kind: {...}}, "errors": [...]}``.
    """
    rows = _read_statements(path, split)
    if not rows:
        raise InputError(f"no statements with split {split!r} in {Path(path).name}")
    per: dict[str, Counter[str]] = defaultdict(Counter)
    errors: list[dict[str, Any]] = []
    texts = [r["text"] for r in rows]
    for row, result in zip(rows, scorer.score_many(texts), strict=True):
        text, target = row["text"], row["target"]
        t0, t1 = _target_span(text, target)
        sm = _target_mention(result.mentions, t0, t1)
        codes = [c.code for c in sm.codes] if sm is not None else []
        kind = sm.codes[0].kind if sm is not None and sm.codes else None
        accepted = set(row["accepted"])
        c1 = bool(codes) and codes[0] in accepted
        c5 = any(c in accepted for c in codes[:5])
        k_ok = kind == row["kind"]
        for key in ("all", row["kind"]):
            per[key].update({"n": 1, "code@1": int(c1), "code@5": int(c5), "kind": int(k_ok),
                             "found": int(sm is not None), "found@1": int(c1 and sm is not None)})
        if not c1 or not k_ok:
            errors.append({"id": row.get("id"), "accepted": row["accepted"], "kind": row["kind"],
                           "got": codes[:5], "got_kind": kind, "mention": sm.mention.text if sm else None})

    def figures(c: Counter[str]) -> dict[str, float]:
        n = c["n"] or 1
        return {"n": c["n"], "code@1": c["code@1"] / n, "code@5": c["code@5"] / n, "kind_accuracy": c["kind"] / n}

    overall = figures(per["all"])
    found = per["all"]["found"]
    overall["mention_found"] = found / (per["all"]["n"] or 1)  # statements where extraction found the target
    overall["code@1_when_found"] = per["all"]["found@1"] / (found or 1)
    return {**overall, "split": split, "per_kind": {k: figures(v) for k, v in sorted(per.items()) if k != "all"},
            "errors": errors}
