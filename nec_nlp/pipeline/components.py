"""spaCy components of the extraction pipeline (registered as ``spacy_factories`` entry points).

Order in :func:`nec_nlp.pipeline.build_nlp`::

    nec_sectionizer -> nec_sentencizer -> nec_lexicon -> nec_linker -> nec_context

* ``nec_sentencizer``: fast rule-based sentence starts (punctuation, MTSamples ``HEADER:,`` headers, ``.,``).
* ``nec_sectionizer``: section headers -> categories (``doc._.nec_sections``, ``Span._.section_category``).
* ``nec_lexicon``: lexicon phrase matching (CONDITION -> ``doc.ents``; SITE/TYPE/CAUSE/DRUG candidates).
* ``nec_linker``: attaches details to each CONDITION (``Span._.site/type/cause/drug/laterality/encounter``) and
  writes the attached details and every DRUG to ``doc.spans["details"]``.
* ``nec_context``: medspaCy ConText rebuilt from this component's own saved rules, plus section assertions.

Every component with rules writes them in ``to_disk`` and reads them in ``from_disk``; rules are loaded from the
package resources by ``initialize()``. Extensions are registered by the constructors, not at import time.
No ``from __future__ import annotations`` here: spaCy reads the factory signatures.
"""

import bisect
import re
import warnings
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy
from spacy.attrs import SENT_START, SPACY
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import ensure_path

from nec_nlp.pipeline.rules import (
    DETAIL_LABELS,
    Abbreviation,
    ContextRuleSpec,
    LexiconTerm,
    PatternRule,
    SectionRule,
    default_abbreviations,
    default_context_rules,
    default_lexicon,
    default_patterns,
    default_section_rules,
    expand_pattern,
    read_jsonl,
    write_jsonl,
)

CANDIDATES = "nec_candidates"
DETAILS = "details"
LATERALITY = {"right": "right", "left": "left", "bilateral": "bilateral", "bilaterally": "bilateral",
              "both": "bilateral"}
# Side abbreviations, read as sides only before a word ("L knee", "R OM", "Rt ankle"; never "2 L", "R/O", "L4")
SIDE_ABBREVIATIONS = {"L": "left", "R": "right", "Lt": "left", "Rt": "right", "LT": "left", "RT": "right",
                      "lt": "left", "rt": "right", "bilat": "bilateral", "Bilat": "bilateral"}
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
# The same rule on plain text (the recommender reads mention and sentence strings): a side abbreviation before a word
# or an ordinal, not after a number nor inside a token ("R/O", "L4"); "bilat" anywhere
SIDE_ABBREVIATION_TEXT = re.compile(
    r"(?<![\w/.-])(?<!\d )(?:({})(?=\s+(?:[A-Za-z]|{}\b))|({})\b)".format(
        "|".join(k for k, v in SIDE_ABBREVIATIONS.items() if v != "bilateral"), _ORDINAL.pattern,
        "|".join(k for k, v in SIDE_ABBREVIATIONS.items() if v == "bilateral")))
# Words that extend a SITE phrase ("external ear canal", "lower lobe of the lung").
SITE_EXTENDERS = {
    "upper", "lower", "middle", "external", "internal", "anterior", "posterior", "medial", "lateral", "proximal",
    "distal", "inner", "outer", "superior", "inferior", "deep", "superficial", "dorsal", "ventral", "canal", "wall",
    "lobe", "region", "area", "surface", "tract", "duct", "cavity", "joint", "aspect", "side", "quadrant",
}
LINK_STOP = {",", ".", ";", ":", "and", "or", "but", "which", "who", "that", "he", "she", "the patient", "(", ")"}
RELATION_HEADS = {  # "<head> <next>" introduces a cause phrase; None: any cause/drug/condition may follow
    "due": {"to"}, "secondary": {"to"}, "caused": {"by"}, "induced": {"by"}, "related": {"to"},
    "attributed": {"to"}, "because": {"of"}, "result": {"of"}, "resulting": {"from"}, "from": None, "after": None,
    "following": None,
}
SYMPTOM_WORDS = {"symptoms", "symptom", "sick", "problem", "problems", "complaints", "condition", "ill"}
CAUSE_CONNECTIVES = {"due": {"to"}, "secondary": {"to"}, "caused": {"by"}, "because": {"of"}, "result": {"of"},
                     "resulting": {"from"}, "attributed": {"to"}, "induced": {"by"}}
ALLERGY_STOP = {"no", "known", "any", "other", "his", "her", "their", "the", "a", "an", "has", "have", "had",
                "with", "and", "or", "of", "to", "denies", "nkda", "reports", "possible", "probable", "severe",
                "seasonal", "multiple", "several", "some", "patient", "admits", "she", "he", "history", "for"}
COMPLICATION_WORDS = {"complication", "complications", "exacerbation", "flare", "hematuria", "coma", "ketoacidosis",
                      "hyperosmolarity", "hypoglycemia", "hyperglycemia", "perforation", "obstruction", "bleeding",
                      "hemorrhage", "gangrene", "abscess", "aura", "status", "intractability", "features",
                      "behavioral", "disturbance", "psychotic", "remission", "effusion", "infection"}
DRUG_LEAD = {"of", "to", "from", "with", "on", "by"}
DRUG_LABELS = ("DRUG", "DRUGCLASS")
DRUG_CLASS_SOURCES = ("ICD-10-CM Table of Drugs (class)", "generic drug mention")
# "pain medications", "allergy testing", "apnea index", "normal lordosis": the condition word names no problem here
NOT_A_CONDITION_BEFORE = {"medication", "medications", "medicine", "medicines", "test", "tests", "testing", "index",
                          "therapy", "embolization", "management", "clinic", "service", "evaluation",
                          "workup", "work-up", "precautions", "study", "studies", "regimen", "score", "scale",
                          "protocol", "specialist", "tasks", "panel", "screen", "screening", "pump", "scan", "scans",
                          "imaging", "view", "views", "vaccine", "vaccines", "vaccination", "immunization", "booster"}
NOT_A_CONDITION_AFTER = {"normal"}
# Generic heads that name a disorder only with the body part before them ("biliary disease", "eustachian tube
# dysfunction", "brain injury"): SITE + head is one lexicalised CONDITION, the body word no SITE of its own.
GENERIC_HEAD_WORDS = {"disease", "diseases", "disorder", "disorders", "dysfunction", "insufficiency", "deficiency",
                      "abnormality", "abnormalities", "injury", "injuries", "failure", "syndrome", "defect",
                      "defects", "problem", "problems"}
PREDICATIVE_SOURCE = "index adjective (predicative only)"
PARTICIPLE_SOURCE = "participle of a condition noun (predicative only)"
ATTRIBUTIVE_SOURCE = "participle of a condition noun (before a body part only)"
# Words that end the noun phrase of an attributive finding ("herniated disc at L4-L5")
_PHRASE_END = {"at", "of", "in", "on", "with", "without", "and", "or", "to", "from", "for", "by", "is", "are",
               "was", "were", "the", "a", "an", "that", "which", "after", "due", "secondary", "status"}
# "the lines were flushed with saline", "was retracted using a clamp": a participle before an instrument or agent
# names an action, not a finding
ACTION_AFTER_PARTICIPLE = {"with", "using", "by", "into", "onto", "back", "off", "out", "open", "through"}
COPULAS = {"is", "are", "was", "were", "be", "been", "appears", "appear", "appeared", "remains", "remain", "looks",
           "look", "became", "become", "becomes", "seems", "feels", "felt"}
DEGREE_WORDS = {"mildly", "slightly", "very", "markedly", "somewhat", "moderately", "severely", "not", "also",
                "still", "more", "less", "minimally", "diffusely", "focally", "quite", "extremely", "well",
                "frequently", "often", "occasionally", "sometimes", "always", "now"}
FINDING_HEADS = {"changes", "collection", "compromise", "bulge", "bulging", "desiccation", "activity"}
FINDING_TRIGGERS = {"abnormal", "increased", "decreased", "elevated", "diminished", "reduced", "poor", "low",
                    "impaired", "absent", "frequent"}
FINDING_STOP = {"and", "or", "with", "without", "in", "of", "on", "at", "to", "for", "the", "a", "an", "is", "was",
                "are", "were", "but", "as", "by", "from", "that", "which", "dose", "doses", "risk", "level", "levels"}
_SPINE_LEVEL = re.compile(r"^[ctls]\d{1,2}$")
# Status phrases that ICD-10-CM codes in chapter Z ("status post cholecystectomy", "presence of a cardiac
# pacemaker", "long-term use of insulin", "encounter for screening colonoscopy", "BMI 41"): one CONDITION span of the
# cue and the words after it up to the clause end; the recommender reads the cue.
STATUS_CUES = (("status", "post"), ("s/p",), ("s", "/", "p"), ("presence", "of"), ("long", "-", "term", "current", "use", "of"),
               ("long", "-", "term", "use", "of"), ("long", "term", "current", "use", "of"), ("long", "term", "use", "of"),
               ("screening",), ("history", "of"), ("hx",), ("h/o",), ("h", "/", "o"))
# A procedure word makes "status post X" a status ("status post MI" stays the condition MI); the recommender reads it
# too (the Index entry of a status must name the procedure). Not _PROCEDURE_WORD below, which also counts diagnostic
# procedures (biopsy, -scopy, -graphy) for the site logic.
STATUS_PROCEDURE = re.compile(r"(ectom|otom|ostom|plast|pex)(?:y|ies)$|^(?:transplant|amputation|replacement|bypass|cabg|"
                            r"graft|implant|placement|insertion|fusion|stent|pacemaker|ablation|repair|resection|tka|"
                            r"tha)")  # a word starting so: "persistent" holds no "stent"
STATUS_END = {"with", "without", "and", "but", "who", "which", "that", "on", "since", "in", "at", "for", "due",
              "secondary", "after", "x", "times", "was", "is", "were", "are", "has", "had", "now", "currently"}
# Positional compounds of imaging/exam reports ("anteroseptal", "inferolateral", "posteromedial").
_POSITIONAL = re.compile(r"^(?:antero|postero|infero|supero|latero|medio)-?"
                         r"(?:septal|lateral|medial|apical|basal|inferior|superior|posterior|anterior)$")
_POSITIONAL_PREFIXES = ("ante", "post", "infe", "supe", "late", "medi")


def _lengths_of(table: Dict[Tuple[str, ...], str]) -> Dict[str, List[int]]:
    """First word -> the lengths of the table's token tuples starting with it, longest first."""
    lengths: Dict[str, set] = {}
    for toks in table:
        lengths.setdefault(toks[0], set()).add(len(toks))
    return {w: sorted(ns, reverse=True) for w, ns in lengths.items()}


def _table_matches(words: List[str], table: Dict[Tuple[str, ...], str], lengths: Dict[str, List[int]]
                   ) -> List[Tuple[int, int, str]]:
    """(start, end, label) of every term of ``table`` found in ``words`` (dict lookups by first word and length)."""
    out = []
    n = len(words)
    for i, w in enumerate(words):
        for k in lengths.get(w, ()):
            if i + k <= n:
                label = table.get(tuple(words[i:i + k]))
                if label is not None:
                    out.append((i, i + k, label))
    return out


# STATUS_CUES by first word, in their order (checked at every token)
_CUES_BY_FIRST: Dict[str, Tuple[Tuple[str, ...], ...]] = {
    first: tuple(c for c in STATUS_CUES if c[0] == first) for first in dict.fromkeys(c[0] for c in STATUS_CUES)}


def _status_phrases(lowers: List[str]) -> List[Tuple[int, int, str]]:
    """(start, end, "CONDITION") of each status phrase: a cue of :data:`STATUS_CUES` and up to six words after it
    that end at punctuation or a clause word; "BMI" with its value ("BMI is 51", "BMI: 32.5")."""
    out = []
    n = len(lowers)
    for i, w in enumerate(lowers):
        if w == "bmi":
            j = i + 1
            while j < n and j - i <= 3 and lowers[j] in ("is", "of", ":", "=", "was", "today", "now"):
                j += 1
            if j < n and re.fullmatch(r"\d{1,2}(?:\.\d+)?", lowers[j]):
                out.append((i, j + 1, "CONDITION"))
            continue
        for cue in _CUES_BY_FIRST.get(w, ()):
            if tuple(lowers[i:i + len(cue)]) != cue:
                continue
            j = i + len(cue)
            while j < n and j - i - len(cue) < 6 and lowers[j] not in STATUS_END and (
                    lowers[j].isalnum() or lowers[j] in ("-", "/") or "-" in lowers[j]):
                j += 1
            if j > i + len(cue) and lowers[j - 1] not in ("-", "/") and (
                    cue[0] not in ("status", "s/p", "s", "history", "hx", "h/o", "h")
                    or any(STATUS_PROCEDURE.search(x) for x in lowers[i + len(cue):j])):
                out.append((i, j, "CONDITION"))  # "status post MI", "history of MI" stay the condition MI
            break
    return out


def _positional(word: str) -> bool:
    return word.startswith(_POSITIONAL_PREFIXES) and _POSITIONAL.match(word) is not None
# Anatomical head nouns that name a site only with a positional word before them ("medial tubercle",
# "inferolateral wall", "lower pole"); alone they are too vague to be SITE terms of the lexicon.
ANATOMY_HEADS = {"tubercle", "tuberosity", "arch", "wall", "pole", "aspect", "margin", "border", "surface", "apex",
                 "segment", "condyle", "epicondyle", "epicondyles", "malleolus", "process", "recess", "horn",
                 "facet", "cortex", "fossa"}
# A site word right before these names a test, an exam, a device or a movement, not where a condition is
# ("chest x-ray", "musculoskeletal exam", "deep tendon reflexes", "spinal needle", "heel lift").
NOT_A_SITE_BEFORE = {"x", "x-ray", "xray", "x-rays", "radiograph", "radiographs", "film", "films", "exam", "exams",
                     "examination", "reflex", "reflexes", "needle", "speculum", "lift", "movement", "movements",
                     "ct", "mri", "ultrasound", "scan", "incision", "retractor", "strength", "motion",
                     "replacement", "repair", "removal", "surgery", "injection", "block", "reconstruction",
                     "fusion", "transplant", "procedure", "approach", "dressing", "brace", "splint",
                     # a measurement or exam sign ("heart rate", "sinus rhythm", "heart sounds", "marrow signal")
                     "rate", "rates", "rhythm", "sounds", "tones", "signal", "raise", "raising", "rising",
                     # a device or its placement ("chest tube placement", "coronary artery bypass", "epicardial
                     # pacing wires", "central line")
                     "placement", "bypass", "pacing", "catheter", "catheters", "catheterization", "drain", "drains",
                     "graft", "grafting", "stent", "stenting", "ablation", "tube", "tubes", "wires", "lead", "leads",
                     "port", "line", "lines", "prosthesis", "lavage"}
# ... and so do procedure words ("total knee arthroplasty", "breast biopsy", "gallbladder ultrasonography")
_PROCEDURE_WORD = re.compile(r"(?:ectomy|ectomies|plasty|plasties|otomy|otomies|ostomy|scopy|graphy|pexy|"
                             r"rrhaphy|biopsy|biopsies)$")


def _names_no_site(word: str) -> bool:
    return word in NOT_A_SITE_BEFORE or bool(_PROCEDURE_WORD.search(word))


# "further evaluation due to ...", "referred because of ...": the phrase explains an action, not a condition
ACTION_BEFORE_CAUSE = {"evaluation", "referral", "referred", "admitted", "admission", "visit", "consultation",
                       "consult", "workup", "work-up", "here", "surgery", "delayed", "postponed", "cancelled",
                       "canceled", "discontinued", "stopped", "changed", "switched"}
EXTERNAL_EVENT_HEADS = {"accident", "collision", "crash"}
# A sentence with one of these verbs describes a procedure step; its anatomy is a SITE only when the syntax ties
# it to a condition ("mass in the upper-outer quadrant"), never by mere nearness (guideline 1.2).
PROCEDURE_VERBS = {"excised", "incised", "dissected", "irrigated", "sutured", "inserted", "placed",
                   "prepped", "draped", "injected", "infiltrated", "cauterized", "opened", "resected",
                   "transected", "ligated", "mobilized", "withdrawn", "positioned", "secured", "reapproximated",
                   "exposed", "introduced", "scrubbed", "cannulated", "suctioned", "curetted", "debrided"}
CLINICIAN_POSSESSIVES = {"my", "our", "your"}
FALL_SUBJECTS = {"he", "she", "patient", "who", "they", "child", "then", "and", "reportedly", "accidentally",
                 "subsequently", "also", "apparently", "recently", "later"}
# "<condition> resulting in / causing / leading to <condition>": the first condition is the cause of the second
CAUSING = {"resulting": {"in"}, "causing": None, "leading": {"to"}, "producing": None}
SITE_PREPOSITIONS = {"in", "of", "involving", "at", "on", "over", "to", "affecting", "along", "into", "within",
                     "throughout"}


def _key(span: Span) -> str:
    return f"{span.start}:{span.end}"


# --------------------------------------------------------------------------------------------------- extensions
def _links(span: Span) -> Dict[str, Any]:
    return span.doc._.nec_links.get(_key(span), {}) if span.doc._.nec_links else {}


def _get_site(span: Span) -> List[Span]:
    return [span.doc[s:e] for s, e in _links(span).get("site", [])]


def _get_type(span: Span) -> List[Span]:
    return [span.doc[s:e] for s, e in _links(span).get("type", [])]


def _get_cause(span: Span) -> List[Span]:
    return [span.doc[s:e] for s, e in _links(span).get("cause", [])]


def _get_drug(span: Span) -> List[Span]:
    return [span.doc[s:e] for s, e in _links(span).get("drug", [])]


def _get_laterality(span: Span) -> Optional[str]:
    return _links(span).get("laterality")


def _get_encounter(span: Span) -> Optional[str]:
    return _links(span).get("encounter")


def _get_implied(span: Span) -> List[str]:
    return list(_links(span).get("implied_type", []))


def _get_section_category(span: Span) -> Optional[str]:
    sections = span.doc._.nec_sections
    if not sections:
        return None
    starts = [s[0] for s in sections]
    i = bisect.bisect_right(starts, span.start_char) - 1
    return sections[i][3] if i >= 0 else None


def sentence_ids(doc: Doc) -> "numpy.ndarray":
    """Sentence number of every token (0-based), from the SENT_START annotation (one sentence if none)."""
    if len(doc) == 0 or not doc.has_annotation("SENT_START"):
        return numpy.zeros(len(doc), dtype="int64")
    starts = doc.to_array(SENT_START).astype("int64")
    starts[0] = 1
    return numpy.cumsum(starts == 1) - 1


WORDS_KEY = "_nec_words"
LOWERS_KEY = "_nec_lowers"


def token_texts(doc: Doc) -> List[str]:
    """Token texts of ``doc``, computed once per doc by the first component that needs them."""
    words = doc.user_data.get(WORDS_KEY)
    if words is None or len(words) != len(doc):
        words = [t.text for t in doc]
        doc.user_data[WORDS_KEY] = words
    return words


def doc_text(doc: Doc) -> str:
    """``doc.text`` built from the cached token texts (cheaper than creating every Token again)."""
    spaces = doc.to_array(SPACY).tolist()
    return "".join([w + " " if sp else w for w, sp in zip(token_texts(doc), spaces)])


def lower_texts(doc: Doc) -> List[str]:
    """Lower-cased token texts, computed once per doc."""
    lowers = doc.user_data.get(LOWERS_KEY)
    if lowers is None or len(lowers) != len(doc):
        lowers = [w.lower() for w in token_texts(doc)]
        doc.user_data[LOWERS_KEY] = lowers
    return lowers


def side_abbreviations(doc: Doc, lowers: List[str]) -> List[str]:
    """``lowers`` with side abbreviations spelled out ("L knee" -> "left knee"); the same list when there is none.

    "L" and "R" count before a word or an ordinal ("L 3rd toe") only, not after a number ("2 L of fluid") nor
    before a slash or a number ("R/O").
    "Bilat" counts anywhere."""
    words = token_texts(doc)
    out = None
    n = len(words)
    for i, w in enumerate(words):
        side = SIDE_ABBREVIATIONS.get(w)
        if side is None:
            continue
        if side != "bilateral" and not (i + 1 < n and (words[i + 1][:1].isalpha() or _ORDINAL.fullmatch(words[i + 1]))
                                        and not (i > 0 and words[i - 1][-1:].isdigit())):
            continue
        if out is None:
            out = list(lowers)
        out[i] = side
    return lowers if out is None else out


def register_extensions() -> None:
    """Register the Doc/Span extensions this pipeline sets (idempotent; called by every constructor)."""
    if not Doc.has_extension("nec_sections"):
        Doc.set_extension("nec_sections", default=None)
    if not Doc.has_extension("nec_headers"):
        Doc.set_extension("nec_headers", default=None)
    if not Doc.has_extension("nec_links"):
        Doc.set_extension("nec_links", default=None)
    for name, getter in (("site", _get_site), ("type", _get_type), ("cause", _get_cause), ("drug", _get_drug),
                         ("laterality", _get_laterality), ("encounter", _get_encounter),
                         ("implied_type", _get_implied)):
        if not Span.has_extension(name):
            Span.set_extension(name, getter=getter)
    # medspaCy's sectionizer registers the same name; ours reads doc._.nec_sections.
    ext = Span.get_extension("section_category")
    if ext is None or ext[2] is not _get_section_category:
        Span.set_extension("section_category", getter=_get_section_category, force=True)
    for attr in ("is_negated", "is_historical", "is_hypothetical", "is_family", "is_uncertain"):
        if not Span.has_extension(attr):
            Span.set_extension(attr, default=False)


# --------------------------------------------------------------------------------------------------- sections
_CAPS_HEADER = re.compile(r"[A-Z][A-Z0-9/&'()\-]*(?:[ \t]+[A-Z0-9/&'()\-]+){0,7}")
_COLON = re.compile(r":(?![0-9])")
_BOUNDARY_CHARS = ".,;!?\n"


def _header_regex(rules: Iterable[SectionRule]) -> "re.Pattern[str]":
    """Full-match regex of a title-case header made of a known keyword (+ up to three words)."""
    words = sorted({r.keyword for r in rules if len(r.keyword) > 3 and r.keyword.replace(" ", "").isalpha()},
                   key=len, reverse=True)
    known = "|".join(re.escape(w) for w in words) or "(?!x)x"
    return re.compile(rf"(?i:(?:{known})(?:[ \t]+[a-z]+){{0,3}})")


def find_headers(text: str, known: "re.Pattern[str]") -> List[Tuple[int, int, str]]:
    """(header start, end after the colon, header text) for every section header in ``text``.

    A header is the text between a boundary (start, . , ; ! ? or newline) and a colon not followed by a digit,
    either in capitals ("PAST MEDICAL HISTORY:") or a known header word in any case ("Assessment:").
    """
    out = []
    for m in _COLON.finditer(text):
        pos = m.start()
        lo = max(0, pos - 70)
        seg = text[lo:pos]
        b = max(seg.rfind(c) for c in _BOUNDARY_CHARS)
        if b < 0 and lo > 0:
            continue
        start = lo + b + 1
        raw = text[start:pos]
        h = raw.strip()
        if len(h) < 2 or sum(c.isalpha() for c in h) < 2:
            continue
        if _CAPS_HEADER.fullmatch(h) or known.fullmatch(h):
            out.append((start + (len(raw) - len(raw.lstrip())), m.end(), h))
    return out


@Language.factory(
    "nec_sentencizer",
    assigns=["token.is_sent_start"],
    default_config={"split_on_headers": True},
)
def make_sentencizer(nlp: Language, name: str, split_on_headers: bool) -> "RuleSentencizer":
    return RuleSentencizer(nlp, name, split_on_headers=split_on_headers)


class RuleSentencizer:
    """Sentence starts after . ? ! (also the MTSamples ``.,`` line break) and at/after ``HEADER:`` headers.

    Uses the headers the sectionizer found (``doc._.nec_headers``) or finds them itself.
    """

    END = {".", "?", "!"}
    CLOSERS = {",", ")", '"', "'", ".", "?", "!"}

    def __init__(self, nlp: Language, name: str = "nec_sentencizer", *, split_on_headers: bool = True) -> None:
        self.name = name
        self.split_on_headers = split_on_headers
        self._known: Optional["re.Pattern[str]"] = None
        register_extensions()

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if n == 0:
            return doc
        words = token_texts(doc)
        starts = numpy.full(n, -1, dtype="int32")
        starts[0] = 1
        if self.split_on_headers:
            headers = doc._.nec_headers
            if headers is None:
                if self._known is None:
                    self._known = _header_regex(default_section_rules_cached())
                headers = []
                for start, end, header in find_headers(doc.text, self._known):
                    span = doc.char_span(start, end, alignment_mode="expand")
                    if span is not None:
                        headers.append((start, end, header, span.start, span.end))
            for h in headers:
                for j, after in ((h[3], False), (h[4], True)):
                    while j < n and (words[j].isspace() or (after and words[j] in {",", ";"})):
                        j += 1
                    if j < n:
                        starts[j] = 1
        prev_end = False
        for i, text in enumerate(words):
            if prev_end:
                if text in self.CLOSERS or text.isspace():
                    continue
                starts[i] = 1
                prev_end = False
            if text in self.END or (text.isspace() and "\n" in text):
                # "1." of a numbered list opening a sentence does not end it
                prev_end = not (text == "." and i > 0 and starts[i - 1] == 1 and words[i - 1].isdigit())
                # "E. coli", "H. influenzae": a genus initial before a lower-case species does not end it
                if (text == "." and i > 0 and len(words[i - 1]) == 1 and words[i - 1].isupper()
                        and i + 1 < n and words[i + 1][:1].islower()):
                    prev_end = False
        doc.from_array([SENT_START], starts.reshape(-1, 1).astype("uint64"))
        return doc


_SECTION_CACHE: Dict[str, Any] = {}


def default_section_rules_cached() -> List[SectionRule]:
    if "rules" not in _SECTION_CACHE:
        _SECTION_CACHE["rules"] = default_section_rules()
    return _SECTION_CACHE["rules"]


@Language.factory("nec_sectionizer", assigns=["doc._.nec_sections"], default_config={})
def make_sectionizer(nlp: Language, name: str) -> "Sectionizer":
    return Sectionizer(nlp, name)


class Sectionizer:
    """Finds section headers and gives every span a section category (unknown headers keep the current one)."""

    def __init__(self, nlp: Language, name: str = "nec_sectionizer") -> None:
        self.name = name
        self.rules: List[SectionRule] = []
        self._regex: Optional["re.Pattern[str]"] = None
        self._keywords: List[Tuple["re.Pattern[str]", str]] = []
        register_extensions()

    def initialize(self, get_examples: Any = None, *, nlp: Optional[Language] = None,
                   rules: Optional[List[SectionRule]] = None) -> None:
        self.set_rules(rules if rules is not None else default_section_rules())

    def set_rules(self, rules: List[SectionRule]) -> None:
        self.rules = list(rules)
        self._regex = _header_regex(self.rules)
        kws = sorted(self.rules, key=lambda r: len(r.keyword), reverse=True)
        self._keywords = [
            (re.compile(rf"\b{re.escape(r.keyword)}" + (r"\b" if len(r.keyword) <= 4 else "")), r.category)
            for r in kws
        ]

    def category(self, header: str) -> Optional[str]:
        h = header.upper()
        for rx, cat in self._keywords:
            if rx.search(h):
                return cat
        return None

    def __call__(self, doc: Doc) -> Doc:
        if self._regex is None:
            self.initialize()
        assert self._regex is not None
        sections: List[List[Any]] = []
        current: Optional[str] = None
        text = doc_text(doc)
        headers = []
        for start, end, header in find_headers(text, self._regex):
            span = doc.char_span(start, end, alignment_mode="expand")
            headers.append((start, end, header, span.start if span is not None else 0,
                            span.end if span is not None else 0))
        doc._.nec_headers = headers
        for start, end, header, _, _ in headers:
            cat = self.category(header)
            if cat is None:  # a sub-heading ("HEENT:", "Neck:") stays in its section
                if current is None:
                    continue
                cat = current
            current = cat
            sections.append([start, end, len(text), cat, header.strip()])
        for a, b in zip(sections, sections[1:]):
            a[2] = b[0]
        doc._.nec_sections = sections
        return doc

    def to_disk(self, path: Any, *, exclude: Iterable[str] = tuple()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_jsonl(path / "section_rules.jsonl", self.rules)

    def from_disk(self, path: Any, *, exclude: Iterable[str] = tuple()) -> "Sectionizer":
        path = ensure_path(path)
        self.set_rules([SectionRule.from_dict(d) for d in read_jsonl(path / "section_rules.jsonl")])
        return self


# --------------------------------------------------------------------------------------------------- lexicon
_SIMPLE = re.compile(r"^[a-z]+(?: [a-z]+)*$")
_HYPHENED = re.compile(r"^[a-z]+(?:(?: |-)[a-z]+|'s)*$")
_HYPHEN_TOKENS = re.compile(r"[a-z]+|-|'s")


# Abbreviations that name a laboratory marker when a number follows ("CA 125")
_MARKER_ABBREVIATIONS = frozenset({"CA"})

# Condition words whose plural names something else ("artificial tears" are eye drops)
_NO_PLURAL = frozenset({"tear"})


def _plural(term: str, min_len: int = 4) -> Optional[str]:
    words = term.split()
    last = words[-1]
    if last in _NO_PLURAL or not last.isalpha() or len(last) < min_len or last.endswith(("us", "is", "ae", "es")):
        return None
    if last.endswith("y") and last[-2] not in "aeiou":
        last = last[:-1] + "ies"
    elif last.endswith(("ch", "sh", "ss", "x")):
        last += "es"
    elif last.endswith("s"):
        return None
    else:
        last += "s"
    return " ".join([*words[:-1], last])


def _latin_plural(term: str) -> Optional[str]:
    """Latin plurals of anatomy ("patella" -> "patellae", "meniscus" -> "menisci", "septum" -> "septa")."""
    words = term.split()
    last = words[-1]
    if not last.isalpha() or len(last) < 5:
        return None
    for sing, plur in (("a", "ae"), ("us", "i"), ("um", "a")):
        if last.endswith(sing):
            return " ".join([*words[:-1], last[: len(last) - len(sing)] + plur])
    return None


# (singular, plural) endings of Latin condition names; the recommender reads them back in the singular
LATIN_CONDITION_PLURALS = (("igo", "igines"), ("oma", "omata"), ("ix", "ices"), ("us", "i"), ("a", "ae"))


def _latin_condition_plural(term: str) -> Optional[str]:
    """Latin plurals of condition names ("lentigo" -> "lentigines", "nevus" -> "nevi", "varix" -> "varices",
    "bulla" -> "bullae", "condyloma" -> "condylomata")."""
    words = term.split()
    last = words[-1]
    if not last.isalpha() or len(last) < 5 or last.endswith("ous"):
        return None
    for sing, plur in LATIN_CONDITION_PLURALS:
        if last.endswith(sing):
            return " ".join([*words[:-1], last[: len(last) - len(sing)] + plur])
    return None


@Language.factory(
    "nec_lexicon",
    assigns=["doc.ents", "doc.spans"],
    default_config={"plurals": True, "finding_phrases": True},
)
def make_lexicon(nlp: Language, name: str, plurals: bool, finding_phrases: bool) -> "LexiconMatcher":
    return LexiconMatcher(nlp, name, plurals=plurals, finding_phrases=finding_phrases)


class LexiconMatcher:
    """Phrase matching of the lexicons (token LOWER), abbreviations (ORTH) and detail patterns (Matcher).

    CONDITION matches go to ``doc.ents``; SITE/TYPE/CAUSE/DRUG/ENCOUNTER matches go to
    ``doc.spans["nec_candidates"]``. Overlaps are resolved longest-first (CONDITION wins ties).
    """

    PRIORITY = {"CONDITION": 0, "DRUG": 1, "DRUGCLASS": 1, "CAUSE": 2, "SITE": 3, "TYPE": 4, "ENCOUNTER": 5}

    def __init__(self, nlp: Language, name: str = "nec_lexicon", *, plurals: bool = True,
                 finding_phrases: bool = True) -> None:
        self.name = name
        self.nlp = nlp
        self.plurals = plurals
        self.finding_phrases = finding_phrases
        self.terms: List[LexiconTerm] = []
        self.abbreviations: List[Abbreviation] = []
        self.patterns: List[PatternRule] = []
        self._table: Optional[Dict[Tuple[str, ...], str]] = None
        self._predicative: set = set()
        self._participles: set = set()
        self._attributive: set = set()
        self._main_terms: set = set()
        self._lengths: Dict[str, List[int]] = {}
        self._abbr: Optional[PhraseMatcher] = None
        self._matcher: Optional[Matcher] = None
        self._abbr_info: Dict[str, Abbreviation] = {}
        register_extensions()

    def initialize(self, get_examples: Any = None, *, nlp: Optional[Language] = None,
                   terms: Optional[List[LexiconTerm]] = None,
                   abbreviations: Optional[List[Abbreviation]] = None,
                   patterns: Optional[List[PatternRule]] = None) -> None:
        self.terms = list(terms) if terms is not None else default_lexicon()
        self.abbreviations = list(abbreviations) if abbreviations is not None else default_abbreviations()
        self.patterns = list(patterns) if patterns is not None else default_patterns()
        self._build()

    def _build(self) -> None:
        """Index the terms as lower-case token tuples (dict lookups beat a 50k-pattern PhraseMatcher to build)."""
        vocab = self.nlp.vocab
        tokenizer = self.nlp.tokenizer
        table: Dict[Tuple[str, ...], str] = {}
        predicative: set = set()
        participles: set = set()
        attributive: set = set()
        main_terms: set = set()
        for t in self.terms:
            forms = [t.term]
            if t.label == "CONDITION" and " of " in t.term:  # "coarctation of aorta" is said "of the aorta"
                forms.append(t.term.replace(" of ", " of the ", 1))
            if self.plurals and t.label in ("CONDITION", "SITE"):
                p = _plural(t.term, 3 if t.label == "SITE" else 4)  # "ears", "eyes", "legs"
                if p:
                    forms.append(p)
                p = _latin_plural(t.term) if t.label == "SITE" else _latin_condition_plural(t.term)
                if p:
                    forms.append(p)
            label = t.label
            if t.source == ATTRIBUTIVE_SOURCE:
                attributive.add(t.term)
                continue
            if t.source in (PREDICATIVE_SOURCE, PARTICIPLE_SOURCE):
                predicative.add(t.term)
                if t.source == PARTICIPLE_SOURCE:
                    participles.add(t.term)
                continue
            if label == "DRUG" and t.source.startswith(DRUG_CLASS_SOURCES):
                label = "DRUGCLASS"  # a class or generic drug: a DRUG detail only when it is a stated cause
            for f in forms:
                f = f.lower()
                if _SIMPLE.match(f):
                    toks = tuple(f.split())
                elif _HYPHENED.match(f):  # what the tokenizer does with "gastro-esophageal", "crohn's"
                    toks = tuple(_HYPHEN_TOKENS.findall(f))
                else:
                    toks = tuple(x.lower_ for x in tokenizer(f))
                if toks and toks not in table:  # first label wins for a duplicated term
                    table[toks] = label
                if t.main_term and label == "CONDITION":
                    main_terms.add(toks)
        # the same CONDITION names without their hyphens: "Failure-to-thrive", "Wolff-Parkinson White syndrome",
        # "tachy-brady" are written with hyphens the Index does not print, or without those it does
        dehyph: Dict[Tuple[str, ...], str] = {}
        hyphened: Dict[Tuple[str, ...], str] = {}
        for toks, label in table.items():
            if label != "CONDITION":
                continue
            bare = tuple(w for w in toks if w != "-")
            if len(bare) >= 2 and table.get(bare, label) == label:  # "motor vehicle accident" stays a CAUSE
                dehyph.setdefault(bare, label)
                if len(bare) < len(toks):
                    hyphened.setdefault(bare, label)
        self._dehyph = (dehyph, _lengths_of(dehyph))
        self._hyphened = (hyphened, _lengths_of(hyphened))
        self._table = table
        self._main_terms = main_terms
        self._predicative = predicative
        self._participles = participles
        self._attributive = attributive | predicative
        self._abbr = PhraseMatcher(vocab, attr="ORTH")
        self._abbr_info = {}
        for a in self.abbreviations:
            key = f"ABBR:{a.abbr}"
            self._abbr_info[key] = a
            self._abbr.add(key, [tokenizer(a.abbr)])
        # Patterns that are only literal alternatives join the term table; the rest go to a Matcher that runs
        # only on docs holding one of their first words.
        self._matcher = Matcher(vocab)
        self._pattern_firsts: set = set()
        for i, p in enumerate(self.patterns):
            literals = expand_pattern([{("LOWER" if k == "ORTH" else k): v for k, v in tok.items()}
                                       for tok in p.pattern])
            if literals is not None:
                for lit in literals:
                    toks = tuple(lit.split())
                    if toks and toks not in table:
                        table[toks] = p.label
                continue
            first = p.pattern[0].get("LOWER") if p.pattern else None
            self._pattern_firsts |= {first} if isinstance(first, str) else {None}
            self._matcher.add(f"{p.label}:{i}", [p.pattern])
        self._lengths = _lengths_of(table)

    def _attributive_findings(self, lowers: List[str], found: List[Tuple[int, int, str]]) -> List[Tuple[int, int, str]]:
        """An index adjective or condition participle before a body part names the finding with it ("herniated
        disc", "ruptured appendix", "hypertrophied anal papilla", "perforated tympanic membrane"): a CONDITION
        over the participle and its noun phrase, up to one word after the last body-part word. Not when a
        condition word follows (its own mention: "thickened skin lesion") or the word is an instrument's action
        ("retracted with a clamp")."""
        attributive = self._attributive
        if not attributive or attributive.isdisjoint(lowers):
            return []
        n = len(lowers)
        site_end: Dict[int, int] = {}
        starts: set = set()
        for s, e, label in found:
            if label == "SITE":
                site_end[s] = max(e, site_end.get(s, e))
            elif label == "CONDITION":
                starts.add(s)
        out: List[Tuple[int, int, str]] = []
        for i, w in enumerate(lowers):
            k = i + 2 if i + 2 < n and lowers[i + 1] in ("left", "right", "bilateral") else i + 1
            if w not in attributive or k not in site_end or (i > 0 and lowers[i - 1] in COPULAS):
                continue  # "retracted left tympanic membrane": the side may stand between
            e = site_end[k]
            while e in site_end:
                e = site_end[e]
            if (e < n and lowers[e].isalpha() and len(lowers[e]) > 3 and lowers[e] not in _PHRASE_END
                    and e not in starts and (e + 1 == n or not lowers[e + 1].isalpha()
                                             or lowers[e + 1] in _PHRASE_END)):
                e += 1  # "anal papilla": a body-part noun the site table lacks after a site adjective
            if e < n and (e in starts or lowers[e] in GENERIC_HEAD_WORDS):
                continue
            out.append((i, e, "CONDITION"))
        return out

    def __call__(self, doc: Doc) -> Doc:
        if self._table is None:
            self.initialize()
        assert self._table is not None and self._abbr is not None and self._matcher is not None
        strings = doc.vocab.strings
        found: List[Tuple[int, int, str]] = []  # (start, end, label); Spans are made for the kept ones only
        lowers = lower_texts(doc)
        n = len(lowers)
        for s, e, label in _table_matches(lowers, self._table, self._lengths):
            # "drug - induced": the cause word is before the hyphen
            found.append((s - 1 if lowers[s] == "-" and s > 0 else s, e, label))
        found.extend(self._dehyphenated(lowers))
        heads = [(s, e + 1, "CONDITION") for s, e, label in found
                 if label == "SITE" and e < n and lowers[e] in GENERIC_HEAD_WORDS]
        found.extend(heads)
        if self.finding_phrases:
            found.extend(self._findings(doc, lowers))
            found.extend(_status_phrases(lowers))
        found.extend(self._attributive_findings(lowers, found))
        predicative = self._predicative
        for i, w in enumerate(lowers):  # "the throat was mildly erythematous", "uterus is enlarged"
            if w in predicative:
                j = i - 1
                while j >= 0 and (lowers[j] in DEGREE_WORDS or (  # "appears confused and depressed"
                        lowers[j] in {"and", "or", ","} and j > 0 and lowers[j - 1] in predicative)):
                    j -= 2 if lowers[j] in {"and", "or", ","} else 1
                if j >= 0 and lowers[j] in COPULAS and not (
                        w in self._participles and i + 1 < n and lowers[i + 1] in ACTION_AFTER_PARTICIPLE):
                    found.append((i, i + 1, "CONDITION"))
            elif len(w) <= 3 and _SPINE_LEVEL.match(w) and i + 2 < n and lowers[i + 1] in ("-", "through", "to") \
                    and (_SPINE_LEVEL.match(lowers[i + 2]) or lowers[i + 2].isdigit()):
                found.append((i, i + 3, "SITE"))  # spine levels "L4-L5", "C5-6" are sites
        abbr_hits: Dict[Tuple[int, int], Abbreviation] = {}
        for mid, s, e in self._abbr(doc):
            a = self._abbr_info[strings[mid]]
            if a.abbr in _MARKER_ABBREVIATIONS and e < n and (doc[e].like_num or lowers[e] == "-"):
                continue  # "CA 125", "CA 19-9" are tumour markers, not a carcinoma
            abbr_hits[(s, e)] = a
            found.append((s, e, a.label))
        run = len(self._matcher) and (None in self._pattern_firsts or not self._pattern_firsts.isdisjoint(lowers))
        for mid, s, e in self._matcher(doc) if run else ():
            if lowers[s] == "-" and s > 0:  # "drug - induced": the cause word is before the hyphen
                s -= 1
            found.append((s, e, strings[mid].split(":", 1)[0]))
        # longest first, then CONDITION before details, then leftmost; no overlaps; never inside a header
        taken = bytearray(n + 1)
        for h in doc._.nec_headers or ():  # "ALLERGIES:", "HISTORY OF PRESENT ILLNESS:" hold no mentions
            taken[h[3]:h[4]] = b"\x01" * (h[4] - h[3])
        priority = self.PRIORITY
        found.sort(key=lambda f: (f[0] - f[1], priority.get(f[2], 9), f[0]))
        conditions: List[Span] = []
        others: List[Span] = []
        for s, e, label in found:
            if any(taken[s:e]):
                continue
            taken[s:e] = b"\x01" * (e - s)
            if label == "CONDITION":
                if (e < n and lowers[e] in NOT_A_CONDITION_BEFORE) or (s > 0 and lowers[s - 1] in
                                                                        NOT_A_CONDITION_AFTER):
                    continue
                conditions.append(Span(doc, s, e, label=label))
            else:
                others.append(Span(doc, s, e, label=label))
        conditions.sort(key=lambda sp: sp.start)
        others.sort(key=lambda sp: sp.start)
        doc.ents = conditions
        doc.spans[CANDIDATES] = others
        links: Dict[str, Any] = {}
        for (s, e), a in abbr_hits.items():
            if a.qualifier:
                links[f"{s}:{e}"] = {"abbr_qualifier": a.qualifier}
        self._inner_sites(conditions, found, lowers, links)
        doc._.nec_links = links
        return doc

    def _dehyphenated(self, lowers: List[str]) -> List[Tuple[int, int, str]]:
        """CONDITION names matched with the text's and the term's hyphen tokens left out (span in doc tokens)."""
        keep = [i for i, w in enumerate(lowers) if w != "-"]
        table, lengths = self._dehyph if len(keep) < len(lowers) else self._hyphened
        if not table:
            return []
        comp = [lowers[i] for i in keep]
        return [(keep[s], keep[e - 1] + 1, label) for s, e, label in _table_matches(comp, table, lengths)]

    def _inner_sites(self, conditions: List[Span], found: List[Tuple[int, int, str]], lowers: List[str],
                     links: Dict[str, Any]) -> None:
        """Body words inside a multiword CONDITION are its SITE ("chest pain": SITE "chest"; "fibroid uterus": SITE
        "uterus") unless the whole name is a main term of the ICD-10-CM Index ("carpal tunnel syndrome"), as the
        gold guideline's revision 2 (test T1) has it: the Index reaches the code through the site subterm."""
        if not conditions:
            return
        sites = sorted(((s, e) for s, e, label in found if label == "SITE"), key=lambda f: (f[0] - f[1], f[0]))
        if not sites:
            return
        for ent in conditions:
            if ent.end - ent.start < 2 or tuple(lowers[ent.start:ent.end]) in self._main_terms:
                continue
            taken = bytearray(ent.end - ent.start)
            inner: List[Tuple[int, int]] = []
            for s, e in sites:  # longest first, no overlaps, never the whole condition
                if ent.start <= s and e <= ent.end and (s, e) != (ent.start, ent.end) and \
                        not any(taken[s - ent.start:e - ent.start]):
                    taken[s - ent.start:e - ent.start] = b"\x01" * (e - s)
                    inner.append((s, e))
            if not inner:
                continue
            inner.sort()
            merged = [list(inner[0])]
            for s, e in inner[1:]:  # adjacent body words are one SITE ("low back", "eustachian tube")
                if s == merged[-1][1]:
                    merged[-1][1] = e
                else:
                    merged.append([s, e])
            links.setdefault(f"{ent.start}:{ent.end}", {})["inner_site"] = [(s, e) for s, e in merged]

    def _findings(self, doc: Doc, lowers: List[str]) -> List[Tuple[int, int, str]]:
        """ "increased intracranial pressure", "decreased breath sounds": an abnormal finding is a CONDITION;
        so is an imaging finding named by its head noun ("degenerative changes", "fluid collection")."""
        out = []
        n = len(lowers)
        for i, w in enumerate(lowers):
            if w in FINDING_HEADS and i > 0 and lowers[i - 1].isalpha() and lowers[i - 1] not in FINDING_STOP \
                    and lowers[i - 1] not in FINDING_TRIGGERS and lowers[i - 1] not in {"no", "any", "without"}:
                out.append((i - 1, i + 1, "CONDITION"))
            if w not in FINDING_TRIGGERS:
                continue
            j = i + 1
            while j < n and j - i <= 4 and lowers[j].isalpha() and lowers[j] not in FINDING_STOP:
                j += 1
            if j - i >= 2:
                out.append((i, j, "CONDITION"))
        return out

    def to_disk(self, path: Any, *, exclude: Iterable[str] = tuple()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_jsonl(path / "terms.jsonl", self.terms)
        write_jsonl(path / "abbreviations.jsonl", self.abbreviations)
        write_jsonl(path / "patterns.jsonl", self.patterns)

    def from_disk(self, path: Any, *, exclude: Iterable[str] = tuple()) -> "LexiconMatcher":
        path = ensure_path(path)
        self.terms = [LexiconTerm.from_dict(d) for d in read_jsonl(path / "terms.jsonl")]
        self.abbreviations = [Abbreviation.from_dict(d) for d in read_jsonl(path / "abbreviations.jsonl")]
        self.patterns = [PatternRule.from_dict(d) for d in read_jsonl(path / "patterns.jsonl")]
        self._build()
        return self


# --------------------------------------------------------------------------------------------------- linker
@Language.factory(
    "nec_linker",
    assigns=["doc._.nec_links", "doc.spans"],
    requires=["doc.ents", "token.is_sent_start"],
    default_config={"max_phrase": 6, "site_window": 8, "type_window": 3},
)
def make_linker(nlp: Language, name: str, max_phrase: int, site_window: int, type_window: int) -> "DetailLinker":
    return DetailLinker(nlp, name, max_phrase=max_phrase, site_window=site_window, type_window=type_window)


class DetailLinker:
    """Attaches SITE/TYPE/CAUSE/DRUG candidates, laterality and encounter to the CONDITION they modify.

    Left of a condition: a run of detail candidates and laterality words ("left lower lobe | pneumonia").
    Right of it: "in/of/involving (the) SITE", "with/without X" (a TYPE; a condition inside it is absorbed),
    "due to/secondary to/caused by X" (a CAUSE), "of/to DRUG", adjacent TYPE ("type 2"), and an encounter
    phrase anywhere after it in the sentence.
    """

    def __init__(self, nlp: Language, name: str = "nec_linker", *, max_phrase: int = 6, site_window: int = 8,
                 type_window: int = 3) -> None:
        self.name = name
        self.max_phrase = max_phrase
        self.site_window = site_window
        self.type_window = type_window
        self._lw: List[str] = []  # lower-cased token texts of the doc being processed
        self._free: List[Tuple[int, int]] = []  # CAUSE mentions with no CONDITION mention to attach to
        register_extensions()

    def __call__(self, doc: Doc) -> Doc:
        self._lw = side_abbreviations(doc, lower_texts(doc))
        self._free = []
        cands = self._site_candidates(doc, list(doc.spans[CANDIDATES]) if CANDIDATES in doc.spans else [])
        at: Dict[int, Span] = {}
        for c in cands:
            for i in range(c.start, c.end):
                at[i] = c
        cond_at: Dict[int, Span] = {}
        for ent in doc.ents:
            for i in range(ent.start, ent.end):
                cond_at[i] = ent
        links: Dict[str, Any] = dict(doc._.nec_links or {})
        details: List[Span] = []
        sid = sentence_ids(doc)
        bounds = numpy.append(numpy.flatnonzero(numpy.diff(sid, prepend=-1)), len(doc))
        absorbed: set = set()
        ents = list(doc.ents)
        for ent in ents:
            if _key(ent) in absorbed:
                continue
            link: Dict[str, Any] = {"site": [], "type": [], "cause": [], "drug": [], "laterality": None,
                                    "encounter": None}
            prior = links.get(_key(ent), {})
            link["site"].extend(tuple(x) for x in prior.get("inner_site", ()))
            if prior.get("abbr_qualifier"):
                q = prior["abbr_qualifier"]
                if q in LATERALITY:
                    link["laterality"] = LATERALITY[q]
                else:
                    link["implied_type"] = [q]
            k = int(sid[ent.start])
            sent_start, sent_end = int(bounds[k]), int(bounds[k + 1])
            self._left(doc, ent, sent_start, at, link)
            self._right(doc, ent, sent_end, at, cond_at, link, absorbed)
            links[_key(ent)] = link
        if absorbed:
            doc.ents = [e for e in ents if _key(e) not in absorbed]
        self._relations(doc, ents, sid, bounds, links)
        self._causing(ents, sid, links)
        self._complication(doc, ents, sid, bounds, links)
        self._nearby(doc, ents, cands, sid, links, at, bounds[1:])
        for ent in ents:
            if ent.text.lower().startswith("allerg"):
                self._allergy(doc, ent, sid, bounds, at, links[_key(ent)])
        # encounter: applies to the conditions before it in its sentence, and to those after it too when it
        # says what the encounter is for ("Subsequent encounter for right radius fracture with routine healing")
        for c in cands:
            if c.label_ != "ENCOUNTER":
                continue
            word = c.text.lower().split()[0]
            enc = "sequela" if word.startswith("sequela") else word
            ahead = c.end < len(doc) and doc[c.end].lower_ in ("for", "of")
            for ent in doc.ents:
                if sid[ent.start] == sid[c.start] and (ahead or ent.end <= c.start):
                    links[_key(ent)]["encounter"] = enc
        doc._.nec_links = links
        seen: set = set()
        for ent in doc.ents:
            link = links[_key(ent)]
            for kind, label in (("site", "SITE"), ("type", "TYPE"), ("cause", "CAUSE"), ("drug", "DRUG")):
                for s, e in link[kind]:
                    if (s, e, label) not in seen:
                        seen.add((s, e, label))
                        details.append(Span(doc, s, e, label=label))
        for c in cands:  # every drug name is a DRUG detail, attached or not (a bare drug class is not)
            if c.label_ == "DRUG" and (c.start, c.end, "DRUG") not in seen:
                seen.add((c.start, c.end, "DRUG"))
                details.append(c)
        self._external_events(cands, seen)
        for s, e in self._free:  # a stated cause whose effect is no CONDITION mention ("symptoms ... due to X")
            if (s, e, "CAUSE") not in seen and not any(a < e and s < b and lab == "CAUSE" for a, b, lab in seen):
                seen.add((s, e, "CAUSE"))
                details.append(Span(doc, s, e, label="CAUSE"))
        details.sort(key=lambda sp: (sp.start, sp.end))
        doc.spans[DETAILS] = details
        doc.user_data.pop(WORDS_KEY, None)
        doc.user_data.pop(LOWERS_KEY, None)
        return doc

    def _site_candidates(self, doc: Doc, cands: List[Span]) -> List[Span]:
        """Drop SITE candidates that name a test/device ("chest x-ray"); add positional compounds ("anteroseptal")
        and positional word + anatomical head ("medial tubercle", "inferolateral wall") as SITE candidates."""
        lw = self._lw
        n = len(lw)
        drug_at = {c.start for c in cands if c.label_ in DRUG_LABELS}
        # "subcutaneous heparin", "oral hypoglycemics": a site word before a drug is its route, not a site
        out = [c for c in cands if not (c.label_ == "SITE" and c.end < n and (_names_no_site(lw[c.end])
                                                                             or c.end in drug_at))]
        merged: List[Span] = []
        for c in out:  # "nerve" + "root", "paraspinal" + "muscles": adjacent site words name one site
            if merged and c.label_ == "SITE" and merged[-1].label_ == "SITE" and merged[-1].end == c.start:
                merged[-1] = Span(doc, merged[-1].start, c.end, label="SITE")
                continue
            if c.label_ == "SITE":  # "inferior pole", "lower lobe": positional words before a site belong to it
                s0 = c.start
                while s0 > 0 and (lw[s0 - 1] in SITE_EXTENDERS or _positional(lw[s0 - 1])) and not (
                        merged and merged[-1].end > s0 - 1):
                    s0 -= 1
                if s0 < c.start:
                    c = Span(doc, s0, c.end, label="SITE")
            merged.append(c)
        out = merged
        covered = {i for c in out for i in range(c.start, c.end)}
        added = False
        starts = [i for i, w in enumerate(lw) if w in SITE_EXTENDERS or _positional(w)]
        i = -1
        for i0 in starts:
            if i0 < i or i0 in covered:
                continue
            i = j = i0
            while j < n and j not in covered and (lw[j] in SITE_EXTENDERS or _positional(lw[j])):
                j += 1
            if j < n and j not in covered and lw[j] in ANATOMY_HEADS:
                j += 1
            elif not (j - i >= 2 and lw[j - 1] in ANATOMY_HEADS or any(_positional(lw[x]) for x in range(i, j))):
                i = j
                continue
            if j < n and _names_no_site(lw[j]):
                i = j
                continue
            out.append(Span(doc, i, j, label="SITE"))
            added = True
            i = j
        if added:
            out.sort(key=lambda sp: (sp.start, sp.end))
        return out

    @staticmethod
    def _attached(links: Dict[str, Any]) -> set:
        out = set()
        for link in links.values():
            for kind in ("site", "type", "cause"):
                for s, e in link.get(kind, []):
                    out.update(range(s, e))
        return out

    def _external_events(self, cands: List[Span], seen: set) -> None:
        """An external-cause event named on its own ("REASON FOR EXAM: Motor vehicle collision.", "she fell") is
        the cause of the injuries the note is about, attached or not: a multiword event of the ICD-10-CM external
        cause index (vehicle accident / collision / crash), or "fell" (the index's "Fall") not followed by
        "asleep"."""
        lw = self._lw
        n = len(lw)
        for c in cands:
            if c.label_ == "CAUSE" and c.end - c.start >= 2 and lw[c.end - 1] in EXTERNAL_EVENT_HEADS:
                self._free.append((c.start, c.end))
        for i, w in enumerate(lw) if "fell" in lw else ():  # "she fell"; not "we fell into an abscess cavity"
            if w == "fell" and i > 0 and lw[i - 1] in FALL_SUBJECTS \
                    and not (i + 1 < n and lw[i + 1] in {"asleep", "apart", "off", "out", "through", "in", "into"}):
                self._free.append((i, i + 1))

    def _nearby(self, doc: Doc, ents: List[Span], cands: List[Span], sid: Any, links: Dict[str, Any],
                at: Optional[Dict[int, Span]] = None, sent_end: Any = None) -> None:
        """A SITE/TYPE/CAUSE candidate not yet attached goes to the nearest CONDITION of its sentence when close
        ("tenderness ... medial tubercle of the right foot", "pain is severe")."""
        if not ents:
            return
        used = self._attached(links)
        window = {"SITE": self.site_window, "TYPE": self.type_window, "CAUSE": self.type_window}
        by_sent: Dict[int, List[Span]] = {}
        for ent in ents:
            by_sent.setdefault(int(sid[ent.start]), []).append(ent)
        lw = self._lw
        procedural = ({int(sid[i]) for i, x in enumerate(lw) if x in PROCEDURE_VERBS}
                      if not PROCEDURE_VERBS.isdisjoint(lw) else set())
        for c in cands:
            w = window.get(c.label_)
            if w is None or any(i in used for i in range(c.start, c.end)):
                continue
            if c.label_ == "SITE" and (int(sid[c.start]) in procedural or (c.start > 0 and lw[c.start - 1] in
                                                                          CLINICIAN_POSSESSIVES)):
                continue  # anatomy of a procedure step ("fascia were excised", "with my hand") is no SITE
            best, dist = None, w + 1
            for ent in by_sent.get(int(sid[c.start]), ()):
                d = c.start - ent.end if c.start >= ent.end else ent.start - c.end
                if 0 <= d < dist:
                    best, dist = ent, d
            if best is not None:
                link = links[_key(best)]
                link[c.label_.lower()].append((c.start, c.end))
                used.update(range(c.start, c.end))
                if c.label_ == "SITE" and c.start > 0 and self._lw[c.start - 1] in LATERALITY:
                    link["laterality"] = link["laterality"] or LATERALITY[self._lw[c.start - 1]]
                if c.label_ == "SITE" and sent_end is not None:
                    n_before = len(link["site"])
                    self._more_sites(c.end, int(sent_end[int(sid[c.start])]), at, link)
                    for s2, e2 in link["site"][n_before:]:
                        used.update(range(s2, e2))

    def _relations(self, doc: Doc, ents: List[Span], sid: Any, bounds: Any, links: Dict[str, Any]) -> None:
        """ "(symptoms) may be secondary to biliary disease": a cause phrase in a sentence with a CONDITION is the
        cause of the nearest CONDITION before it (or the first one of the sentence)."""
        if not ents:
            return
        used = {(s, e) for link in links.values() for s, e in link.get("cause", [])}
        by_sent: Dict[int, List[Span]] = {}
        for ent in ents:
            by_sent.setdefault(int(sid[ent.start]), []).append(ent)
        lowers = self._lw
        n = len(doc)
        for i in range(n - 1):
            follow = CAUSE_CONNECTIVES.get(lowers[i])
            if follow is None or lowers[i + 1] not in follow:
                continue
            k = int(sid[i])
            if k not in by_sent:
                continue
            s = i + 2
            end = int(bounds[k + 1])
            while s < end and self._lw[s] in {"the", "a", "an", "his", "her", "their", "prior", "possible"}:
                s += 1
            e = self._phrase_end(doc, s, end)
            if e <= s or any(a < e and s < b for a, b in used):
                continue
            if i > 0 and self._lw[i - 1] in ACTION_BEFORE_CAUSE:
                continue
            before = [x for x in by_sent[k] if x.end <= i]
            near = bool(before) and i - before[-1].end <= 10
            lead = {self._lw[j] for j in range(max(0, i - 4), i)}
            if not near and not (i > 0 and self._lw[i - 1] in COPULAS) and not lead & SYMPTOM_WORDS:
                continue  # "evaluation due to", "not visualized due to": no condition is being explained
            target = before[-1] if before else by_sent[k][0]
            used.add((s, e))
            if target.start < e and s < target.end:  # "symptoms may be secondary to biliary disease"
                self._free.append((s, e))
                continue
            links[_key(target)]["cause"].append((s, e))

    def _causing(self, ents: List[Span], sid: Any, links: Dict[str, Any]) -> None:
        """ "disc herniation resulting in deformity of the cord", "impingement of the root by a disc protrusion":
        a condition that produces another one in the same sentence is that condition's CAUSE."""
        if len(ents) < 2:
            return
        lw = self._lw
        for a, b in zip(ents, ents[1:]):
            if sid[a.start] != sid[b.start]:
                continue
            gap = lw[a.end:b.start]
            if not gap or len(gap) > 10:
                continue
            cause, effect = None, None
            follow = CAUSING.get(gap[0], False)
            if follow is not False and (follow is None or (len(gap) > 1 and gap[1] in follow)):
                cause, effect = a, b  # "<a> resulting in (mild) <b>"
            elif "by" in gap and len(gap) - 1 - gap[::-1].index("by") >= len(gap) - 3:
                cause, effect = b, a  # "<a> of the nerve root by a <b>"
            if cause is effect or cause is None or any(t in LINK_STOP - {"the"} for t in gap):
                continue
            if cause is b and any(t.endswith("ed") for t in gap):  # "exacerbated by", "relieved by": a trigger
                continue
            link = links[_key(effect)]
            if (cause.start, cause.end) not in link["cause"]:
                link["cause"].append((cause.start, cause.end))

    def _complication(self, doc: Doc, ents: List[Span], sid: Any, bounds: Any, links: Dict[str, Any]) -> None:
        """ "repair of deviated septum with complication of a septal perforation", "hematoma as a complication of
        the biopsy": the procedure (or condition) the complication followed is the CAUSE of the complication."""
        lw = self._lw
        n = len(lw)
        starts = {e.start: e for e in ents}
        for i in range(1, n - 1):
            if lw[i] not in ("complication", "complications") or lw[i + 1] != "of":
                continue
            k = int(sid[i])
            sent_start, sent_end = int(bounds[k]), int(bounds[k + 1])
            if lw[i - 1] == "with":  # "<cause> with complication of <condition>"
                j = i + 2
                while j < sent_end and lw[j] in {"a", "an", "the"}:
                    j += 1
                effect = next((starts[x] for x in range(j, min(sent_end, j + 3)) if x in starts), None)
                e = i - 1
                s = e
                while s - 1 >= sent_start and e - s < self.max_phrase and lw[s - 1] not in LINK_STOP \
                        and lw[s - 1] not in {"of", "post", "s/p", "after", "following", "history", "with"}:
                    s -= 1
            else:  # "<condition> (as a / a) complication of <cause>"
                b = i - 1
                while b >= sent_start and lw[b] in {"a", "an", "as", "the", ",", "is", "was", "known"}:
                    b -= 1
                effect = next((x for x in ents if x.start <= b < x.end), None)
                s = i + 2
                while s < sent_end and lw[s] in {"a", "an", "the", "his", "her", "their"}:
                    s += 1
                e = self._phrase_end(doc, s, sent_end)
            if effect is None or e <= s or sid[effect.start] != k:
                continue
            link = links[_key(effect)]
            if not any(a < e and s < b2 for a, b2 in link["cause"]):
                link["cause"].append((s, e))

    def _allergy(self, doc: Doc, ent: Span, sid: Any, bounds: Any, at: Dict[int, Span],
                 link: Dict[str, Any]) -> None:
        """ "food allergies", "allergic to penicillin, sulfa": what the patient is allergic to is the CAUSE."""
        k = int(sid[ent.start])
        start, end = int(bounds[k]), int(bounds[k + 1])
        j = ent.start
        while j - 1 >= start and self._lw[j - 1].isalpha() and self._lw[j - 1] not in ALLERGY_STOP:
            j -= 1
        if j < ent.start and ent.start - j <= 3:
            link["cause"].append((j, ent.start))
        i = ent.end
        if i < end and self._lw[i] in {"to", "of"}:
            i += 1
            items = 0
            while i < end and items < 6:
                while i < end and self._lw[i] in {",", "and", "or", "the", "a", "/"}:
                    i += 1
                e = i
                while e < end and self._lw[e] not in {",", "and", "or", ".", ";", ":", "/", "("} and e - i < 4:
                    e += 1
                if e == i:
                    break
                link["cause"].append((i, e))
                d = at.get(i)
                if d is not None and d.label_ in DRUG_LABELS:
                    link["drug"].append((d.start, d.end))
                items += 1
                i = e

    def _left(self, doc: Doc, ent: Span, sent_start: int, at: Dict[int, Span], link: Dict[str, Any]) -> None:
        j = ent.start - 1
        site_end: Optional[int] = None
        while j >= sent_start:
            low = self._lw[j]
            c = at.get(j)
            if c is not None and c.label_ in DETAIL_LABELS + ("DRUGCLASS",):
                if c.label_ == "SITE":
                    site_end = site_end or c.end
                    start = c.start
                    while start - 1 >= sent_start and self._lw[start - 1] in SITE_EXTENDERS:
                        start -= 1
                    link["site"].insert(0, (start, site_end))
                    site_end = None
                    j = start - 1
                    continue
                link["drug" if c.label_ == "DRUGCLASS" else c.label_.lower()].insert(0, (c.start, c.end))
                j = c.start - 1
                continue
            if low in LATERALITY:
                link["laterality"] = link["laterality"] or LATERALITY[low]
                j -= 1
                continue
            if low in {",", "and", "-", "/", "or", "to"} and j - 1 >= sent_start and (
                    at.get(j - 1) is not None and at[j - 1].label_ in ("TYPE", "CAUSE", "SITE")):
                j -= 1
                continue
            break

    def _site_phrase(self, doc: Doc, k: int, end: int, at: Dict[int, Span], link: Dict[str, Any]) -> int:
        """Consume "(the) (left) lower lobe (of the lung)" from token k; returns the next index."""
        i = k
        laterality = None  # kept only when a site follows ("in both grandfathers" is no laterality)
        while i < end and self._lw[i] in {"the", "his", "her", "their", "both", "a"}:
            if self._lw[i] == "both":
                laterality = "bilateral"
            i += 1
        start = None
        last = None
        found_site = False
        while i < end:
            low = self._lw[i]
            c = at.get(i)
            if low in LATERALITY and start is None:
                laterality = laterality or LATERALITY[low]
                i += 1
                continue
            if c is not None and c.label_ == "SITE":
                start = i if start is None else start
                i = c.end
                last = i
                found_site = True
                continue
            if low in SITE_EXTENDERS:
                start = i if start is None else start
                i += 1
                last = i
                continue
            break
        if found_site and start is not None and last is not None:
            link["site"].append((start, last))
            link["laterality"] = link["laterality"] or laterality
            return self._more_sites(last, end, at, link)
        return k

    def _more_sites(self, last: int, end: int, at: Dict[int, Span], link: Dict[str, Any]) -> int:
        """Sites joined to the one ending at ``last``: coordinated ("at L1-L2, L2-L3, and L3-L4", "in the hands
        and elbows") or a site of a site ("the inferior pole of the right kidney"); returns the next index."""
        while True:
            j = last
            joined = False
            side = None
            while j < end and (self._lw[j] in {",", "and", "or", "of", "the", "both", "his", "her"}
                               or (joined and self._lw[j] in LATERALITY)):
                joined = joined or self._lw[j] in {",", "and", "or", "of"}
                side = LATERALITY.get(self._lw[j], side)
                j += 1
            c = at.get(j)
            if not joined or c is None or c.label_ != "SITE" or c.start != j:
                return last
            link["site"].append((c.start, c.end))
            link["laterality"] = link["laterality"] or side
            last = c.end

    def _phrase_end(self, doc: Doc, k: int, end: int, conditions: Optional[Dict[int, Span]] = None) -> int:
        """End of a detail phrase starting at k; with ``conditions``, "and"/"or" + a condition continue it."""
        i = k
        while i < end and i - k < self.max_phrase:
            low = self._lw[i]
            if low in ("and", "or") and conditions is not None and i > k and i + 1 < end and i + 1 in conditions:
                i += 1
                continue
            if low in LINK_STOP or low in {"with", "without", "due", "secondary"} and i > k:
                break
            i += 1
        return i

    def _right(self, doc: Doc, ent: Span, sent_end: int, at: Dict[int, Span], cond_at: Dict[int, Span],
               link: Dict[str, Any], absorbed: set) -> None:
        k = ent.end
        steps = 0
        while k < sent_end and steps < 6:
            steps += 1
            low = self._lw[k]
            c = at.get(k)
            if c is not None and c.label_ in ("TYPE", "CAUSE", "SITE") and c.start == k:
                link[c.label_.lower()].append((c.start, c.end))
                k = c.end
                continue
            if low in SITE_PREPOSITIONS:
                nxt = self._site_phrase(doc, k + 1, sent_end, at, link)
                if nxt > k + 1:
                    k = nxt
                    continue
                if low in DRUG_LEAD:
                    d = self._drug_after(doc, k + 1, sent_end, at)
                    if d is not None:
                        link["drug"].append((d.start, d.end))
                        k = d.end
                        continue
                break
            if low in {"with", "without", "w/", "w/o"}:
                e = self._phrase_end(doc, k + 1, sent_end, cond_at)
                inner = [cond_at[i] for i in range(k + 1, e) if i in cond_at]
                typed = any(at.get(i) is not None and at[i].label_ in ("TYPE", "CAUSE") for i in range(k + 1, e))
                words = {self._lw[i] for i in range(k + 1, e)}
                numeric = any(self._lw[i][:1].isdigit() for i in range(k + 1, e))
                if k + 1 < sent_end and self._lw[k + 1] == "no":  # "with no hydronephrosis" = "without ..."; but
                    typed = False  # "with no significant central canal ..." names no condition inside: no TYPE
                if e > k + 1 and not numeric and (inner or typed or words & COMPLICATION_WORDS):
                    link["type"].append((k, e))  # a condition inside stays a CONDITION of its own
                    k = e
                    continue
                break
            if low in RELATION_HEADS:
                follow = RELATION_HEADS[low]
                s = k + 1
                if follow is not None:
                    if s < sent_end and self._lw[s] in follow:
                        s += 1
                    else:
                        break
                elif not any((at.get(i) is not None and at[i].label_ in ("CAUSE", *DRUG_LABELS)) or i in cond_at
                             for i in range(s, min(sent_end, s + 4))):
                    break
                while s < sent_end and self._lw[s] in {"the", "a", "an", "his", "her"}:
                    s += 1
                e = self._phrase_end(doc, s, sent_end)
                if e > s:
                    d = next((at[i] for i in range(s, e) if at.get(i) is not None and at[i].label_ in DRUG_LABELS),
                             None)
                    link["cause"].append((s, e))
                    if d is not None:
                        link["drug"].append((d.start, d.end))
                    k = e
                    continue
                break
            break

    def _drug_after(self, doc: Doc, k: int, end: int, at: Dict[int, Span]) -> Optional[Span]:
        i = k
        while i < end and i - k < 5:
            c = at.get(i)
            if c is not None and c.label_ in DRUG_LABELS:
                return c
            if self._lw[i] in LINK_STOP:
                return None
            i += 1
        return None


# --------------------------------------------------------------------------------------------------- context
SECTION_ASSERTIONS = {"family_history": "is_family", "past_medical_history": "is_historical",
                      "past_surgical_history": "is_historical"}


@Language.factory(
    "nec_context",
    assigns=["span._.is_negated", "span._.is_historical", "span._.is_hypothetical", "span._.is_family",
             "span._.is_uncertain"],
    requires=["doc.ents"],
    default_config={"section_attrs": SECTION_ASSERTIONS, "keep_modifiers": False},
)
def make_context(nlp: Language, name: str, section_attrs: Dict[str, str], keep_modifiers: bool) -> "NecContext":
    return NecContext(nlp, name, section_attrs=section_attrs, keep_modifiers=keep_modifiers)


class NecContext:
    """medspaCy ConText rebuilt from this component's own rules (which it saves), plus section assertions.

    ``section_attrs`` maps a section category to the assertion every CONDITION in it gets ("family_history" ->
    ``is_family``). With ``keep_modifiers=False`` ConText's modifier objects are dropped after use so that docs
    stay serialisable (``nlp.pipe(n_process>1)``, ``Doc.to_bytes``).
    """

    def __init__(self, nlp: Language, name: str = "nec_context", *,
                 section_attrs: Optional[Dict[str, str]] = None, keep_modifiers: bool = False) -> None:
        self.name = name
        self.nlp = nlp
        self.section_attrs = dict(SECTION_ASSERTIONS if section_attrs is None else section_attrs)
        self.keep_modifiers = keep_modifiers
        self.rules: List[ContextRuleSpec] = []
        self._context: Any = None
        register_extensions()

    def initialize(self, get_examples: Any = None, *, nlp: Optional[Language] = None,
                   rules: Optional[List[ContextRuleSpec]] = None) -> None:
        self.set_rules(rules if rules is not None else default_context_rules())

    def set_rules(self, rules: List[ContextRuleSpec]) -> None:
        from medspacy.context import ConText, ConTextRule

        self.rules = list(rules)
        ctx = ConText(self.nlp, name=f"{self.name}_medspacy", rules=None)
        ctx.add([ConTextRule.from_dict(r.to_dict()) for r in self.rules])
        self._context = ctx
        self._has_patterns = any(r.pattern is not None for r in self.rules)
        register_extensions()

    def __call__(self, doc: Doc) -> Doc:
        if self._context is None:
            self.initialize()
        ents = list(doc.ents)
        if ents:
            self._apply(doc, ents)
        if self.section_attrs:
            for ent in doc.ents:
                attr = self.section_attrs.get(ent._.section_category or "")
                if attr:
                    setattr(ent._, attr, True)
        return doc

    def _apply(self, doc: Doc, ents: List[Span]) -> None:
        """medspaCy's ConText algorithm run sentence by sentence, only where there are targets.

        Same rules, scopes and edges as ``ConText.__call__``, without its whole-document O(modifiers^2) scope
        update: modifiers are built only in sentences holding a CONDITION and paired only within them.
        """
        from medspacy.context.context_graph import ConTextGraph
        from medspacy.context.context_modifier import ConTextModifier

        ctx = self._context
        matcher = ctx._ConText__matcher  # the wrapped ConText's rule matcher (name-mangled private attribute)
        sid = sentence_ids(doc)
        by_sent: Dict[int, List[Span]] = {}
        for e in ents:
            by_sent.setdefault(int(sid[e.start]), []).append(e)
        mods: Dict[int, List[Any]] = {}
        vocab = doc.vocab
        if self._has_patterns:
            matches = matcher(doc)
        else:  # spaCy warns (W036) when the token Matcher behind medspaCy's rules is empty
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                matches = matcher(doc)
        for match_id, start, end in matches:
            k = int(sid[start])
            if k in by_sent:
                rule = matcher.rule_map[vocab[match_id].text]
                mod = ConTextModifier(rule, start, end, doc, max_scope=ctx.max_scope)
                stop = (getattr(rule, "metadata", None) or {}).get("backward_stop")
                if stop and rule.direction == "BACKWARD":
                    # "Elevated troponin, MI ruled out": the backward scope ends at the clause's comma
                    cut = [i for i in range(mod._scope_start, start) if doc[i].text in stop]
                    if cut:
                        mod._scope_start = cut[-1] + 1
                mods.setdefault(k, []).append(mod)
        for k, targets in by_sent.items():
            ms = mods.get(k)
            if not ms:
                continue
            graph = ConTextGraph(prune_on_modifier_overlap=ctx.prune_on_target_overlap)
            graph.targets = targets
            graph.modifiers = ms
            graph.update_scopes()
            graph.apply_modifiers()
            if self.keep_modifiers:
                for target, modifier in graph.edges:
                    target._.modifiers += (modifier,)
            ctx.set_context_attributes(graph.edges)

    def to_disk(self, path: Any, *, exclude: Iterable[str] = tuple()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_jsonl(path / "context_rules.jsonl", self.rules)

    def from_disk(self, path: Any, *, exclude: Iterable[str] = tuple()) -> "NecContext":
        path = ensure_path(path)
        self.set_rules([ContextRuleSpec.from_dict(d) for d in read_jsonl(Path(path) / "context_rules.jsonl")])
        return self


def rules_summary(nlp: Language) -> Dict[str, int]:
    """Rule counts per component (for model cards and the CLI)."""
    out: Dict[str, int] = {}
    for name, proc in nlp.pipeline:
        if isinstance(proc, LexiconMatcher):
            out[f"{name}.terms"] = len(proc.terms)
            out[f"{name}.abbreviations"] = len(proc.abbreviations)
            out[f"{name}.patterns"] = len(proc.patterns)
        elif isinstance(proc, (Sectionizer, NecContext)):
            out[f"{name}.rules"] = len(proc.rules)
    return out


__all__ = ["RuleSentencizer", "Sectionizer", "LexiconMatcher", "DetailLinker", "NecContext", "register_extensions",
           "rules_summary"]
