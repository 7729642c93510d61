"""Mention -> feature dict for the specificity classifier.

Module-level functions only: the fitted scikit-learn pipeline references some of them (column selectors), and
pickled pipelines must not hold lambdas or notebook-defined functions.

A feature dict has one string column, ``text`` (the mention's words plus the surface strings of its extracted
details, lower-cased, with label-leaking "unspecified"/"NOS"/"NEC" wording kept as is: it is real evidence in a
note), and numeric columns (counts of details, shape of the phrase, and, when a code set is given, the kinds of the
candidate codes the code set's title search returns).
"""

import logging
import re
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nec_nlp.types import Mention

logger = logging.getLogger(__name__)

TEXT_COLUMN = "text"

#: Words that open a post-modifier ("... with hallucinations", "... due to ...", "... of left femur").
_LINKERS = ("with", "without", "w/", "w/o", "due", "of", "in", "from", "following", "after", "during",
            "secondary", "associated", "complicating", "caused", "induced", "related", "involving", "by", "on")
_NOS_WORDS = re.compile(r"\b(unspecified|nos|not otherwise specified|unknown|not specified|unclear|nec)\b", re.I)
_TOKEN = re.compile(r"[a-z0-9]+(?:[/'-][a-z0-9]+)*|w/o|w/", re.I)
_ENCOUNTER = re.compile(r"\b(initial|subsequent|sequela|sequelae)\b", re.I)

KINDS = ("exact", "nec", "nos")
#: Bump when the matcher's entries change meaning (invalidates the warm cache).
MATCHER_FORMAT = 2
#: Candidate-code features (see :class:`CandidateMatcher`), per code kind.
CANDIDATE_COLUMNS = (*(f"{feat}_{kind}" for feat in ("match", "full", "covers", "covered", "extra") for kind in KINDS),
                     "n_content", "nos_extra_axis", "nos_extra_free")
#: Code-recommender features (see :func:`recommender_features`): the kind of the code
#: ``nec_nlp.recommender.recommend`` ranks first for the documented mention, the runner-up's score, whether details
#: are missing for a more specific code, and whether the bare condition (the mention words alone, without details or
#: sentence) gets another code (do the documented details change the code?) and of which kind, and whether the first
#: code's title says "unspecified" (a NOS code by its title, not only by a "... NOS" inclusion term).
RECOMMENDER_COLUMNS = ("rec_exact", "rec_nec", "rec_nos", "rec_none", "rec_second_score", "rec_missing",
                       "rec_bare_differs", "rec_bare_nos", "rec_title_unspecified")
#: Numeric columns, in a fixed order (the fitted pipeline selects them by name).
NUMERIC_COLUMNS = (
    "n_tokens", "n_commas", "n_linkers", "has_nos_word", "has_encounter_word",
    "n_site", "n_type", "n_cause", "n_drug", "has_laterality", "has_encounter", "n_details",
    *CANDIDATE_COLUMNS,
)


#: Where a diagnosis phrase stops when it is widened from the mention into its sentence.
_LEFT_STOP = re.compile(r"(?:^|[.;:\n(]|\s-\s|\b(?:(?:male|female|man|woman|patient|pt|boy|girl|old|yo|"
                        r"presents|presenting|consistent|diagnosed|along)\s+with|for|has|had|have|is|was|are|were|"
                        r"(?:history|hx|evidence|signs|symptoms|risk|h/o)\s+of|presents?|denies|"
                        r"no|not|negative|history|h/o|hx|s/p|status post|rule out|r/o|diagnosed|treated|admitted|"
                        r"seen|evaluate|evaluation|consistent|likely|possible|probable|suspected)\b)\s*", re.I)
_RIGHT_STOP = re.compile(r"[.;:\n()]|\s-\s|,?\s+(?:no|not|but|which|that|who|will|continue|continued|stable|"
                         r"new problem|follow|f/u|today|resolved|improving|improved|worsening|currently|"
                         r"treated|status post|s/p|plan|negative|denies)\b", re.I)
_MAX_PHRASE = 160


def mention_phrase(mention: Mention) -> str:
    """The mention widened to its diagnosis phrase within its sentence.

    Extraction pipelines often mark the head ("sepsis") while the details sit beside it ("MRSA sepsis",
    "carcinoma, right lower lid"). The phrase runs left over modifiers up to the sentence start or a cue such as
    "with", "for", "history of", and right up to the sentence end, a semicolon/colon, " - ", or a cue such as
    "no", "stable", "today". Without a sentence (or when the mention is not found in it) the mention text is used.

    Args:
        mention: One CONDITION mention.

    Returns:
        The phrase (at most 160 characters around the mention).
    """
    text, sentence = mention.text.strip(), mention.sentence
    if not text or not sentence:
        return text
    at = sentence.find(text)
    if at < 0:
        at = sentence.lower().find(text.lower())
    if at < 0:
        return text
    left = sentence[max(0, at - _MAX_PHRASE):at]
    starts = [m.end() for m in _LEFT_STOP.finditer(left)]
    start = starts[-1] if starts else 0
    right = sentence[at + len(text): at + len(text) + _MAX_PHRASE]
    stop = _RIGHT_STOP.search(right)
    end = stop.start() if stop else len(right)
    phrase = (left[start:] + text + right[:end]).strip(" ,")
    return phrase or text


def mention_text(mention: Mention) -> str:
    """The text the classifier reads: the mention's phrase plus its detail strings, lower-cased.

    Args:
        mention: One CONDITION mention.

    Returns:
        :func:`mention_phrase` followed by the site, type, cause, drug, laterality and encounter strings that are
        not already inside it.
    """
    text = mention_phrase(mention)
    low = text.lower()
    extra = []
    d = mention.details
    for value in (*d.type, *d.site, *d.cause, *d.drug, d.laterality or "", d.encounter or ""):
        v = value.strip().lower()
        if v and v not in low:
            extra.append(v)
            low += " " + v
    return " ".join([text.lower(), *extra])


def mention_features(mention: Mention, code_set: Any = None) -> dict[str, float | str]:
    """Feature dict of one mention.

    Args:
        mention: A CONDITION mention from :func:`nec_nlp.pipeline.doc_mentions` (or built by hand).
        code_set: Optional :class:`nec_nlp.icd10cm` code set; when given, adds the kinds of the top title-search
            candidates (:data:`CANDIDATE_COLUMNS`). Without it those columns are 0.

    Returns:
        ``{"text": str, <numeric column>: float, ...}`` with every column of :data:`NUMERIC_COLUMNS`.
    """
    feats = _base_features(mention)
    cand = candidate_features([str(feats[TEXT_COLUMN])], code_set)[0]
    feats.update(zip(CANDIDATE_COLUMNS, (float(v) for v in cand)))
    return feats


def _base_features(mention: Mention) -> dict[str, float | str]:
    text = mention_text(mention)
    tokens = _TOKEN.findall(text)
    d = mention.details
    n_details = len(d.site) + len(d.type) + len(d.cause) + len(d.drug) + bool(d.laterality) + bool(d.encounter)
    feats: dict[str, float | str] = {
        TEXT_COLUMN: text,
        "n_tokens": float(len(tokens)),
        "n_commas": float(text.count(",")),
        "n_linkers": float(sum(t.lower() in _LINKERS for t in tokens)),
        "has_nos_word": float(bool(_NOS_WORDS.search(text))),
        "has_encounter_word": float(bool(_ENCOUNTER.search(text))),
        "n_site": float(len(d.site)),
        "n_type": float(len(d.type)),
        "n_cause": float(len(d.cause)),
        "n_drug": float(len(d.drug)),
        "has_laterality": float(d.laterality is not None),
        "has_encounter": float(d.encounter is not None),
        "n_details": float(n_details),
    }
    return feats


def features_frame(mentions: Sequence[Mention], code_set: Any = None,
                   hide: Sequence[str | None] | None = None, *, recommender: bool = False,
                   processes: int = 1) -> pd.DataFrame:
    """Feature rows of many mentions as one DataFrame (the fitted pipeline's input), built in one pass.

    Args:
        mentions: The mentions to featurize.
        code_set: Optional code set, as for :func:`mention_features`.
        hide: Optional code per mention whose own code-set entries the candidate features ignore (training only).
        recommender: Also add the code-recommender columns (:data:`RECOMMENDER_COLUMNS`, zeros without a code set).
        processes: Worker processes for the recommender features of many distinct mentions.

    Returns:
        A DataFrame with the ``text`` column and every column of :data:`NUMERIC_COLUMNS` (then
        :data:`RECOMMENDER_COLUMNS` when ``recommender``), one row per mention.
    """
    columns = [TEXT_COLUMN, *NUMERIC_COLUMNS, *(RECOMMENDER_COLUMNS if recommender else ())]
    if not mentions:
        return pd.DataFrame({c: pd.Series(dtype=object if c == TEXT_COLUMN else float) for c in columns})
    rows = [_base_features(m) for m in mentions]
    frame = pd.DataFrame.from_records(rows)
    cand = candidate_features(frame[TEXT_COLUMN].tolist(), code_set, hide)
    for j, col in enumerate(CANDIDATE_COLUMNS):
        frame[col] = cand[:, j]
    if recommender:
        rec = recommender_features(mentions, code_set, processes)
        for j, col in enumerate(RECOMMENDER_COLUMNS):
            frame[col] = rec[:, j]
    return frame[columns]


def select_text(frame: pd.DataFrame) -> list[str]:
    """Column selector used inside the pickled pipeline: the ``text`` column as a list of strings."""
    return frame[TEXT_COLUMN].astype(str).tolist()


# ---------------------------------------------------------------------------------------------- candidate codes
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("""a an and or of the in on at to for by with without due from as than into other others
unspecified specified nos nec not elsewhere classified encounter initial subsequent sequela part parts site sites
is are was were be has had have which whose this that""".split())
#: Abbreviations and everyday synonyms, applied to notes and code-set text alike.
_ALIASES = {"l": "left", "lt": "left", "r": "right", "rt": "right", "bilat": "bilateral", "medication": "drug",
            "medications": "drug", "medicine": "drug", "meds": "drug", "med": "drug", "reaction": "effect",
            "reactions": "effect", "afib": "fibrillation", "htn": "hypertension", "dm": "diabetes"}
_PAREN = re.compile(r"\(([^()]*)\)|\[([^\]]*)\]")
_OPTIONAL_SEGMENT = re.compile(r"^\s*(without|not|unspecified|nos\b)", re.I)
_ENCOUNTER_TAIL = re.compile(r",\s*(initial|subsequent) encounter.*$|,\s*sequela.*$", re.I)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, crudely singularised content words of ``text`` (axis words and function words left out)."""
    out = set()
    for w in _WORD.findall(text.lower().replace("w/o", " without ").replace("w/", " with ")):
        w = _ALIASES.get(w, w)
        if w not in _STOP:
            out.add(_stem(w))
    return out


def _entry_words(text: str) -> tuple[set[str], set[str]]:
    """(required, optional) words of a code title / inclusion term / index path.

    Parenthesised nonessential words and comma segments that state a default ("without ...", "not ...",
    "unspecified ...") are optional: a note need not say them.
    """
    optional: set[str] = set()
    for m in _PAREN.finditer(text):
        optional |= content_words(m.group(1) or m.group(2) or "")
    text = _ENCOUNTER_TAIL.sub("", _PAREN.sub(" ", text))
    required: set[str] = set()
    for n, seg in enumerate(text.split(",")):
        if n and _OPTIONAL_SEGMENT.match(seg):
            optional |= content_words(seg)
        else:
            required |= content_words(seg)
    return required, optional - required


class CandidateMatcher:
    """Word-coverage matcher from mention text to the code set's titles, inclusion terms and index entries.

    For every entry (one title, inclusion term or index path leading to a billable code) it knows the required
    words, the optional words and the entry's kind: the code's kind, or ``nos`` when the term itself says NOS. A
    query is scored against all entries at once with sparse products; per kind it returns

    * ``match``: best ``(share of the entry's words in the query) * (share of the query's words in the entry)``;
    * ``full``: 1 when an entry has exactly the query's words;
    * ``covers``: best share of the query's words found in an entry whose words are all in the query (the note
      documents everything that entry asks for);
    * ``covered``: best share of an entry's words found in the query, among entries holding every query word
      (how much of the entry's detail the note documents);
    * ``extra``: query words left over beside the entry of that kind that the query contains with the fewest
      words left over (0 when no entry of the kind is contained in the query);

    and ``n_content``, the number of content words of the query; beside the contained ``nos`` entry with the fewest
    words left over, ``nos_extra_axis`` counts the left-over words that other codes of the entry's category use
    (a detail the classification asks for: "left" in "crushing injury of left great toe") and ``nos_extra_free``
    the ones it does not ("severe anxiety": no F41 code says "severe").
    """

    def __init__(self, entries: Sequence[tuple[set[str], set[str], str, str]]) -> None:
        from scipy import sparse

        vocab: dict[str, int] = {}
        self.code_ids: dict[str, int] = {}
        rows, cols, vals, kinds, n_req, owners = [], [], [], [], [], []
        self.entry_words: list[frozenset[str]] = []
        self.entry_cat: list[str] = []
        self.cat_words: dict[str, set[str]] = {}
        for required, optional, kind, code in entries:
            if not required:
                continue
            e = len(kinds)
            cat = code.replace(".", "")[:3]
            self.entry_words.append(frozenset(required | optional))
            self.entry_cat.append(cat)
            self.cat_words.setdefault(cat, set()).update(required | optional)
            kinds.append(KINDS.index(kind))
            owners.append(self.code_ids.setdefault(code_stem(code), len(self.code_ids)))
            n_req.append(len(required))
            for w in required:
                rows.append(e)
                cols.append(vocab.setdefault(w, len(vocab)))
                vals.append(1.0)
            for w in optional:
                rows.append(e)
                cols.append(vocab.setdefault(w, len(vocab)))
                vals.append(1e-3)
        self.vocab = vocab
        self.kinds = np.asarray(kinds, dtype=np.int64)
        self.n_req = np.asarray(n_req, dtype=np.float64)
        self.owners = np.asarray(owners, dtype=np.int64)
        self.matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(kinds), max(len(vocab), 1)))

    def state(self) -> dict[str, Any]:
        """The built matcher as marshal-able values (numpy arrays as bytes), for the code-set warm cache."""
        m = self.matrix
        return {"format": MATCHER_FORMAT, "vocab": self.vocab, "code_ids": self.code_ids,
                "entry_words": self.entry_words, "entry_cat": self.entry_cat, "cat_words": self.cat_words,
                "kinds": self.kinds.tobytes(), "n_req": self.n_req.tobytes(), "owners": self.owners.tobytes(),
                "data": m.data.tobytes(), "indices": m.indices.tobytes(), "indptr": m.indptr.tobytes(),
                "index_dtype": m.indices.dtype.str, "shape": tuple(m.shape)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "CandidateMatcher":
        """The matcher :meth:`state` describes, without rebuilding it from entries."""
        from scipy import sparse

        self = cls.__new__(cls)
        self.vocab, self.code_ids = state["vocab"], state["code_ids"]
        self.entry_words, self.entry_cat, self.cat_words = state["entry_words"], state["entry_cat"], state["cat_words"]
        self.kinds = np.frombuffer(state["kinds"], dtype=np.int64).copy()
        self.n_req = np.frombuffer(state["n_req"], dtype=np.float64).copy()
        self.owners = np.frombuffer(state["owners"], dtype=np.int64).copy()
        idx = np.dtype(state["index_dtype"])
        self.matrix = sparse.csr_matrix((np.frombuffer(state["data"], dtype=np.float64).copy(),
                                         np.frombuffer(state["indices"], dtype=idx).copy(),
                                         np.frombuffer(state["indptr"], dtype=idx).copy()), shape=state["shape"])
        return self

    @classmethod
    def from_code_set(cls, code_set: Any) -> "CandidateMatcher":
        """Entries from every billable code's title and inclusion terms, and from the code set's Alphabetic Index and
        Tables of Drugs and Neoplasms when it has them.

        For a project code set (``nec_nlp.icd10cm.CodeSet``) the entries are kept in the code-set warm cache
        (``NEC_NLP_CACHE_DIR``), so later processes skip the index walk.
        """
        if type(code_set).__module__.startswith("nec_nlp.icd10cm") and getattr(code_set, "release", None):
            try:
                from nec_nlp.icd10cm.releases import cached
            except ImportError:  # pragma: no cover
                cached = None
            if cached is not None:
                key = f"{code_set.release}|{len(code_set)}|matcher-{MATCHER_FORMAT}"

                def build() -> dict[str, Any]:
                    return cls(cls._entries(code_set)).state()

                state = cached("matcher", str(code_set.release), key, build,
                               check=lambda v: isinstance(v, dict) and v.get("format") == MATCHER_FORMAT)
                return cls.from_state(state)
        return cls(cls._entries(code_set))

    @staticmethod
    def _entries(code_set: Any) -> list[tuple[set[str], set[str], str, str]]:
        entries: list[tuple[set[str], set[str], str, str]] = []
        seen: set[tuple[str, str]] = set()
        for c in code_set.codes():
            if not c.billable:
                continue
            for n, text in enumerate((c.title, *getattr(c, "inclusion", ()))):
                key = (_ENCOUNTER_TAIL.sub("", text).lower(), c.kind)
                if key in seen:
                    continue
                seen.add(key)
                kind = "nos" if (n and re.search(r"\bNOS\b", text)) else c.kind
                if n and re.search(r"\bNEC\b", text):
                    kind = c.kind
                entries.append((*_entry_words(text), kind, c.code))
        entries.extend(_index_entries(code_set))
        entries.extend(_table_entries(code_set))
        return entries

    def match(self, texts: Sequence[str], hide: Sequence[str | None] | None = None, chunk: int = 512) -> np.ndarray:
        """Candidate features of each text: an array ``(len(texts), len(CANDIDATE_COLUMNS))``.

        Args:
            texts: Mention texts.
            hide: Optional code per text whose entries are ignored for that text (training augmentation: how a
                phrase that no title or index entry spells out looks to the matcher).
            chunk: Texts scored per sparse product.
        """
        from scipy import sparse

        hidden = np.full(len(texts), -1, dtype=np.int64)
        if hide is not None:
            hidden = np.asarray([self.code_ids.get(code_stem(c), -2) if c else -1 for c in hide], dtype=np.int64)

        out = np.zeros((len(texts), len(CANDIDATE_COLUMNS)), dtype=np.float64)
        k = len(KINDS)
        for lo in range(0, len(texts), chunk):
            words = [content_words(t) for t in texts[lo: lo + chunk]]
            q_rows, q_cols = [], []
            for i, ws in enumerate(words):
                for w in ws:
                    j = self.vocab.get(w)
                    if j is not None:
                        q_rows.append(i)
                        q_cols.append(j)
            n_q = np.asarray([max(len(ws), 1) for ws in words], dtype=np.float64)
            q = sparse.csr_matrix((np.ones(len(q_rows)), (q_rows, q_cols)), shape=(len(words), self.matrix.shape[1]))
            prod = (self.matrix @ q.T).tocoo()
            e, qi, v = prod.row, prod.col, prod.data
            keep = self.owners[e] != hidden[lo:lo + len(words)][qi]
            e, qi, v = e[keep], qi[keep], v[keep]
            req = np.floor(v + 1e-6)
            opt = np.rint((v - req) * 1000)
            entry_cov = req / self.n_req[e]
            query_cov = (req + opt) / n_q[qi]
            kind = self.kinds[e]
            block = np.zeros((len(words), 5 * k + 3))
            np.maximum.at(block, (qi, kind), entry_cov * query_cov)
            full_entry = req >= self.n_req[e]
            full_query = query_cov >= 1.0 - 1e-9
            np.maximum.at(block, (qi, k + kind), (full_entry & full_query).astype(float))
            np.maximum.at(block, (qi, 2 * k + kind), np.where(full_entry, query_cov, 0.0))
            np.maximum.at(block, (qi, 3 * k + kind), np.where(full_query, entry_cov, 0.0))
            # fewest extra words beside a contained entry: stored negated so a maximum finds it
            extra = np.full((len(words), k), -np.inf)
            np.maximum.at(extra, (qi[full_entry], kind[full_entry]), -(n_q[qi] - req - opt)[full_entry])
            block[:, 4 * k: 5 * k] = np.where(np.isfinite(extra), -extra, 0.0)
            block[:, 5 * k] = [len(ws) for ws in words]
            nos_full = full_entry & (kind == KINDS.index("nos"))
            if nos_full.any():
                left_over = (n_q[qi] - req - opt)[nos_full]
                order = np.lexsort((left_over, qi[nos_full]))
                q_sorted, e_sorted = qi[nos_full][order], e[nos_full][order]
                first = np.ones(len(q_sorted), dtype=bool)
                first[1:] = q_sorted[1:] != q_sorted[:-1]
                for qq, ee in zip(q_sorted[first], e_sorted[first]):
                    extra = words[qq] - self.entry_words[ee]
                    axis = extra & self.cat_words[self.entry_cat[ee]]
                    block[qq, 5 * k + 1] = len(axis)
                    block[qq, 5 * k + 2] = len(extra) - len(axis)
            out[lo: lo + len(words)] = block
        return out


def code_stem(code: str) -> str:
    """A code without its 7th character (entries of T50.995A and T50.995 belong together)."""
    plain = code.replace(".", "")
    return plain[:6] if len(plain) == 7 else plain


def _index_entries(code_set: Any) -> list[tuple[set[str], set[str], str, str]]:
    try:
        index = code_set.index
        n = len(index)
    except Exception:  # a code set without an Alphabetic Index (e.g. a test fixture)
        return []
    out = []
    for i in range(n):
        hit = index.hit(i)
        code = hit.resolved
        if not code:
            continue
        kind = code_set.kind(code)
        path = list(hit.path)
        if re.search(r"\bNOS\b", " ".join(path)):
            kind = "nos"
        main, *subs = path
        main_parts = main.split(",")
        required = content_words(_PAREN.sub(" ", main_parts[0]))
        optional = content_words(" ".join(main_parts[1:])) | content_words(hit.nonessential or "")
        for m in _PAREN.finditer(main_parts[0]):
            optional |= content_words(m.group(1) or m.group(2) or "")
        for sub in subs:
            r, o = _entry_words(sub)
            required |= r
            optional |= o
        out.append((required, optional - required, kind, code))
    return out


_DRUG_USES = (("adverse_effect", "adverse effect of {}"), ("poisoning_accidental", "poisoning by {}"),
              ("poisoning_intentional", "intentional overdose of {}"), ("underdosing", "underdosing of {}"))
_NEOPLASM_USES = (("malignant_primary", "malignant neoplasm of {}"), ("malignant_secondary", "metastasis to {}"),
                  ("in_situ", "carcinoma in situ of {}"), ("benign", "benign neoplasm of {}"),
                  ("uncertain", "neoplasm of uncertain behavior of {}"), ("unspecified", "neoplasm of {}"))


def _table_term(path: Sequence[str]) -> str:
    """A substance or site phrase from a table path: sub-terms in front of the first part of the main term."""
    head = _PAREN.sub(" ", path[0]).split(",")[0].strip()
    subs = [_PAREN.sub(" ", t).strip() for t in path[1:] if t.strip()]
    return " ".join([*reversed(subs), head]).strip()


def table_phrases(code_set: Any) -> list[tuple[str, str]]:
    """``(phrase, billable code)`` pairs from the Table of Drugs ("adverse effect of <substance>", poisoning,
    underdosing) and the Table of Neoplasms ("malignant neoplasm of <site>", ...), codes reconciled with the code
    set (7th character "A" added, ``-`` codes taken to their unspecified child). Empty when the code set has no
    tables."""
    try:
        from nec_nlp.icd10cm.index import reconcile

        drugs, neoplasms = code_set.drugs.table, code_set.neoplasms.table
    except Exception:  # a code set without companion tables (e.g. a test fixture)
        return []
    memo: dict[str, str | None] = {}

    def resolve(printed: str | None) -> str | None:
        if not printed:
            return None
        if printed not in memo:
            memo[printed] = reconcile(code_set, printed)[0]
        return memo[printed]

    out: list[tuple[str, str]] = []
    for table, uses, skip_root in ((drugs, _DRUG_USES, False), (neoplasms, _NEOPLASM_USES, True)):
        for i in range(len(table.rows)):
            path = table.path(i)
            if skip_root:
                path = path[1:]
                if not path:
                    continue
                term = _table_term(path)
            else:
                term = _table_term(path)
            if not term:
                continue
            for column, template in uses:
                code = resolve(table.cell(i, column))
                if code:
                    out.append((template.format(term), code))
    return out


def _table_entries(code_set: Any) -> list[tuple[set[str], set[str], str, str]]:
    out = []
    for phrase, code in table_phrases(code_set):
        kind = "nos" if re.search(r"\bNOS\b", phrase) else code_set.kind(code)
        out.append((*_entry_words(phrase), kind, code))
    return out


_MATCHERS: "weakref.WeakKeyDictionary[Any, CandidateMatcher]" = weakref.WeakKeyDictionary()


def matcher_for(code_set: Any) -> CandidateMatcher:
    """The :class:`CandidateMatcher` of a code set, built on first use and kept while the code set lives."""
    try:
        return _MATCHERS[code_set]
    except KeyError:
        pass
    except TypeError:  # not weak-referenceable: build every time
        return CandidateMatcher.from_code_set(code_set)
    m = CandidateMatcher.from_code_set(code_set)
    _MATCHERS[code_set] = m
    return m


def candidate_features(texts: Sequence[str], code_set: Any = None,
                       hide: Sequence[str | None] | None = None) -> np.ndarray:
    """Candidate-code features (:data:`CANDIDATE_COLUMNS`) of each text; zeros without a code set.

    ``hide``: optional code per text whose own entries are ignored (see :meth:`CandidateMatcher.match`).
    """
    if code_set is None or not texts:
        return np.zeros((len(texts), len(CANDIDATE_COLUMNS)), dtype=np.float64)
    return matcher_for(code_set).match(list(texts), hide)


# ---------------------------------------------------------------------------------------------- recommender stacking
#: Memo of recommender features per (code set, mention key); bounded so a long-running service does not grow without
#: limit.
_REC_MEMO: "weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], tuple[float, ...]]]" = weakref.WeakKeyDictionary()
_REC_MEMO_MAX = 50_000  # the training corpus (~31k mentions) fits; a scoring worker fills it within ~2,000 notes
_REC_SHARED: dict[str, Any] = {}


def mention_key(mention: Mention) -> tuple[Any, ...]:
    """What the recommender reads of a mention (its offsets and assertion aside): the memo key."""
    return (mention.text, mention.sentence, mention.section, mention.details)


def _rec_row(mention: Mention, code_set: Any) -> tuple[float, ...]:
    from dataclasses import replace

    from nec_nlp.recommender import recommend
    from nec_nlp.types import Assertion, Details, Specificity

    spec = Specificity("specific", 0.5)
    # the question is the documentation's specificity, whatever the assertion: score the mention as affirmed
    try:
        sm = recommend(replace(mention, assertion=Assertion()), spec, code_set)
    except Exception:  # noqa: BLE001 - a recommender failure on one mention is "no code", not a failed prediction
        logger.debug("recommender failed on a mention", exc_info=True)
        return (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    codes = sm.codes
    kind = codes[0].kind if codes else None
    bare = Mention(text=mention.text, start=0, end=len(mention.text), sentence=mention.text, details=Details())
    try:
        bare_codes = recommend(bare, spec, code_set).codes if codes else ()
    except Exception:  # noqa: BLE001
        bare_codes = ()
    return (float(kind == "exact"), float(kind == "nec"), float(kind == "nos"), float(kind is None),
            float(codes[1].score) if len(codes) > 1 else 0.0, float(bool(sm.missing)),
            float(bool(codes) and bool(bare_codes) and bare_codes[0].code != codes[0].code),
            float(bool(bare_codes) and bare_codes[0].kind == "nos"),
            float(bool(codes) and "unspecified" in (codes[0].title or "").lower()))


def _rec_rows_worker(keys: Sequence[int]) -> list[tuple[float, ...]]:
    mentions, code_set = _REC_SHARED["mentions"], _REC_SHARED["code_set"]
    return [_rec_row(mentions[i], code_set) for i in keys]


def recommender_features(mentions: Sequence[Mention], code_set: Any = None, processes: int = 1) -> np.ndarray:
    """Recommender features (:data:`RECOMMENDER_COLUMNS`) of each mention; zeros without a code set.

    This stacks the classifier on the deterministic, knowledge-based code recommender
    (``nec_nlp.recommender.recommend``, asked as if the documentation were specific): whether the documented
    details lead to an exact/NEC code or only the NOS one depends on the code set's axes, which text features do not
    see. Results are memoised per mention key (:func:`mention_key`) and code set.

    Args:
        mentions: The mentions.
        code_set: A project code set; None gives zeros.
        processes: Worker processes for many distinct mentions (training); results do not depend on it.

    Returns:
        A float array ``(len(mentions), len(RECOMMENDER_COLUMNS))``.
    """
    out = np.zeros((len(mentions), len(RECOMMENDER_COLUMNS)), dtype=np.float64)
    if code_set is None or not mentions:
        return out
    try:
        memo = _REC_MEMO.setdefault(code_set, {})
    except TypeError:
        memo = {}
    keys = [mention_key(m) for m in mentions]
    todo: dict[tuple[Any, ...], int] = {}
    for i, k in enumerate(keys):
        if k not in memo and k not in todo:
            todo[k] = i
    if todo:
        idx = list(todo.values())
        rows: list[tuple[float, ...]] = []
        if processes > 1 and len(idx) >= 2000:
            import multiprocessing as mp

            _REC_SHARED.update(mentions=mentions, code_set=code_set)
            try:
                chunks = [idx[j::processes] for j in range(processes)]
                with mp.get_context("fork").Pool(processes) as pool:
                    parts = pool.map(_rec_rows_worker, chunks)
                by_index = {i: r for chunk, part in zip(chunks, parts) for i, r in zip(chunk, part)}
                rows = [by_index[i] for i in idx]
            finally:
                _REC_SHARED.clear()
        else:
            rows = [_rec_row(mentions[i], code_set) for i in idx]
        fresh = dict(zip(todo, rows))
        for i, k in enumerate(keys):
            out[i] = fresh[k] if k in fresh else memo[k]
        if len(memo) + len(fresh) > _REC_MEMO_MAX:
            memo.clear()
        memo.update(fresh)
        return out
    for i, k in enumerate(keys):
        out[i] = memo[k]
    return out
