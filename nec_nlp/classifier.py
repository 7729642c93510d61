"""The specificity classifier: does a mention's documentation support a code beyond "unspecified"?

Label definition: **specific** when the documentation supports an exact or NEC ("other specified") ICD-10-CM code,
**nos** when it supports only the NOS ("unspecified") code. The model is a scikit-learn ``Pipeline``: a
``ColumnTransformer`` (word and character TF-IDF of the mention text and its details, scaled numeric detail/shape
features) feeding a class-balanced logistic regression inside ``CalibratedClassifierCV`` (isotonic, folds grouped by
ICD-10-CM category so calibration reflects unseen categories).

Corpora (see corpora/specificity/DATASHEET.md) are JSONL records ``{id, text, start, end, label, category, chapter,
...}``; the hand-labelled statements (corpora/statements/statements.jsonl: ``{id, text, target, kind, chapter, split,
...}``) are read too, with label = specific if kind in {exact, nec} else nos.
"""

import gzip
import hashlib
import json
import logging
import platform
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nec_nlp.errors import InputError, ModelError
from nec_nlp.features import NUMERIC_COLUMNS, RECOMMENDER_COLUMNS, TEXT_COLUMN, features_frame
from nec_nlp.types import Mention, Specificity

logger = logging.getLogger(__name__)

LABELS = ("nos", "specific")
LABEL_DEFINITION = ("specific = the documentation supports an exact or NEC ('other specified') ICD-10-CM code; "
                    "nos = it supports only the NOS ('unspecified') code. Statements: specific if kind in "
                    "{exact, nec} else nos.")
CODE_SET_RELEASE = "2026-04"
#: Weight of the text TF-IDF blocks; chosen on the statements' dev split (0.79 accuracy at 0.05 vs 0.75 at 1.0 and
#: 0.2, with the statements left out of training), never on a test split.
TEXT_WEIGHT = 0.05
#: Words the keyword baseline reads as "not specified".
KEYWORD_RE = re.compile(r"\b(unspecified|nos|not otherwise specified|not specified|unknown|not known|unclear)\b",
                        re.I)
_SPLIT_FILES = {"train": "train.jsonl.gz", "dev": "dev.jsonl.gz", "test": "test.jsonl.gz"}


# ------------------------------------------------------------------------------------------------ corpora
def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        out = []
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path.name}: line {lineno} is not valid JSON ({exc.msg}).") from None
        return out


def normalize_record(rec: dict[str, Any], n: int = 0) -> dict[str, Any]:
    """One corpus or statement record in the common shape ``{id, text, start, end, label, chapter, category}``.

    Args:
        rec: A specificity-corpus record (has ``label``, ``start``, ``end``) or a hand-labelled statement
            (has ``kind`` and ``target``; the target is looked up in the text, else the whole text is the target).
        n: Position of the record, used in error messages.

    Returns:
        A new dict; the input is not changed.

    Raises:
        InputError: when the record has no text or no label/kind.
    """
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"corpus record {rec.get('id', n)!s} has no text.")
    out = dict(rec)
    label = rec.get("label")
    if label is None:
        kind = rec.get("kind")
        if kind not in ("exact", "nec", "nos"):
            raise InputError(f"corpus record {rec.get('id', n)!s} has neither a label nor a kind.")
        label = "specific" if kind in ("exact", "nec") else "nos"
    if label not in LABELS:
        raise InputError(f"corpus record {rec.get('id', n)!s}: label must be one of {LABELS}.")
    out["label"] = label
    if "start" not in rec or "end" not in rec:
        target = str(rec.get("target") or "").strip()
        start = text.lower().find(target.lower()) if target else -1
        if start < 0:
            start, target = 0, text.rstrip(" .")
        out["start"], out["end"] = start, start + len(target)
    out.setdefault("id", str(n))
    out["chapter"] = str(rec.get("chapter", "") or "")
    code = rec.get("code") or ""
    accepted = rec.get("accepted")
    if not code and isinstance(accepted, list) and accepted:
        code = accepted[0]
    code = str(code)
    out.setdefault("category", code.replace(".", "")[:3] if code else "")
    return out


def load_corpus(corpus: "str | Path | Iterable[dict[str, Any]]", split: str | None = None) -> list[dict[str, Any]]:
    """Read a corpus into normalized records.

    Args:
        corpus: A directory holding ``train/dev/test.jsonl.gz`` (``split`` picks the file), a ``.jsonl`` or
            ``.jsonl.gz`` file (records whose ``split`` field differs from ``split`` are left out when ``split`` is
            given and the records carry one), or an iterable of record dicts.
        split: ``"train"``, ``"dev"`` or ``"test"``.

    Returns:
        Normalized records (see :func:`normalize_record`).

    Raises:
        InputError: for a missing path or split file, or a malformed record.
    """
    if isinstance(corpus, (str, Path)):
        path = Path(corpus)
        if path.is_dir():
            if split is None or split not in _SPLIT_FILES:
                raise InputError(f"corpus folder {path}: give a split ({', '.join(_SPLIT_FILES)}).")
            path = path / _SPLIT_FILES[split]
            if not path.is_file():
                raise InputError(f"corpus split file {path} not found: run `python scripts/build_corpora.py`.")
            raw = _read_jsonl(path)
        elif path.is_file():
            raw = _read_jsonl(path)
            if split is not None and any("split" in r for r in raw):
                raw = [r for r in raw if r.get("split") == split]
        else:
            raise InputError(f"corpus {path} not found.")
    else:
        raw = list(corpus)
    return [normalize_record(r, n) for n, r in enumerate(raw)]


def corpus_checksum(records: Sequence[dict[str, Any]]) -> str:
    """sha256 of the records (canonical JSON lines of id, text, span and label): same data, same checksum."""
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps([r["id"], r["text"], r["start"], r["end"], r["label"]], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------ mentions
def default_nlp() -> Any:
    """The project's extraction pipeline, or None when it cannot be built (mentions then come from the spans)."""
    try:
        from nec_nlp.pipeline import build_nlp
    except ImportError:
        logger.warning("nec_nlp.pipeline is not available: mentions are taken from the corpus spans")
        return None
    return build_nlp()


def _sentence_of(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start))
    right_candidates = [i for i in (text.find(". ", end), text.find("\n", end)) if i >= 0]
    right = min(right_candidates) if right_candidates else len(text)
    return text[left + 1 if left >= 0 else 0: right + 1].strip()


def span_mention(rec: dict[str, Any]) -> Mention:
    """A mention built from a record's target span alone (no extracted details)."""
    text, start, end = rec["text"], int(rec["start"]), int(rec["end"])
    return Mention(text=text[start:end], start=start, end=end, sentence=_sentence_of(text, start, end))


def _overlapping(mentions: Sequence[Mention], start: int, end: int) -> Mention | None:
    best, best_overlap = None, 0
    for m in mentions:
        overlap = min(m.end, end) - max(m.start, start)
        if overlap > best_overlap:
            best, best_overlap = m, overlap
    return best


def record_mentions(records: Sequence[dict[str, Any]], nlp: Any = None,
                    batch_size: int = 256) -> tuple[list[Mention], int]:
    """The CONDITION mention overlapping each record's target span.

    Args:
        records: Normalized records.
        nlp: The extraction pipeline (``nec_nlp.pipeline.build_nlp()``); None: every mention is the bare span.
        batch_size: ``nlp.pipe`` batch size.

    Returns:
        ``(mentions, n_fallback)``: one mention per record, and how many had no overlapping pipeline mention (those
        use the bare target span, without details).
    """
    if nlp is None:
        return [span_mention(r) for r in records], len(records)
    from nec_nlp.pipeline import doc_mentions

    out: list[Mention] = []
    fallback = 0
    texts = (r["text"] for r in records)
    for rec, doc in zip(records, nlp.pipe(texts, batch_size=batch_size)):
        found = _overlapping(doc_mentions(doc), int(rec["start"]), int(rec["end"]))
        if found is None:
            fallback += 1
            found = span_mention(rec)
        out.append(found)
    return out, fallback


# ------------------------------------------------------------------------------------------------ model
class SpecificityModel:
    """A fitted specificity pipeline with its decision threshold and model card.

    Attributes:
        pipeline: The fitted scikit-learn ``Pipeline`` (feature frame -> calibrated P(specific)).
        threshold: P(specific) at or above which the verdict is "specific".
        card: Model card metadata (versions, corpus checksum, metrics, label definition).
        uses_code_set: Whether the features include title-search candidate kinds (then a code set is needed).
        uses_recommender: Whether the features include the code recommender's verdict (stacking; needs a code set).
    """

    def __init__(self, pipeline: Any, *, threshold: float = 0.5, card: dict[str, Any] | None = None,
                 uses_code_set: bool = False, uses_recommender: bool = False) -> None:
        self.pipeline = pipeline
        self.threshold = float(threshold)
        self.card: dict[str, Any] = dict(card or {})
        self.uses_code_set = uses_code_set
        self.uses_recommender = uses_recommender
        self._code_set: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_code_set"] = None  # never pickle the code set
        return state

    def __repr__(self) -> str:
        return f"SpecificityModel(name={self.card.get('name')!r}, threshold={self.threshold:.3f})"

    def _resolve_code_set(self, code_set: Any) -> Any:
        if not self.uses_code_set:
            return None
        if code_set is not None:
            return code_set
        if self._code_set is None:
            from nec_nlp.icd10cm import load_code_set

            self._code_set = load_code_set(self.card.get("code_set", CODE_SET_RELEASE))
        return self._code_set

    def predict_proba(self, mentions: Sequence[Mention], code_set: Any = None) -> np.ndarray:
        """Calibrated P(specific) for each mention, in one batch.

        Args:
            mentions: CONDITION mentions.
            code_set: Code set for the candidate features (only used when the model was trained with one).

        Returns:
            A float array of shape ``(len(mentions),)``.
        """
        if len(mentions) == 0:
            return np.zeros(0, dtype=float)
        frame = features_frame(mentions, self._resolve_code_set(code_set),
                               recommender=getattr(self, "uses_recommender", False))
        proba = self.pipeline.predict_proba(frame)
        classes = list(self.pipeline.classes_)
        return np.asarray(proba[:, classes.index("specific")], dtype=float)

    def predict(self, mentions: Sequence[Mention], code_set: Any = None) -> list[Specificity]:
        """Verdict and probability for each mention (verdict "specific" when P >= threshold)."""
        proba = self.predict_proba(mentions, code_set)
        return [Specificity("specific" if p >= self.threshold else "nos", float(p)) for p in proba]


def build_pipeline(seed: int = 0, groups: Sequence[str] | None = None, n_folds: int = 3, *,
                   calibrate: bool = True, C: float = 4.0, text_weight: float = TEXT_WEIGHT,
                   recommender: bool = False) -> Any:
    """The unfitted scikit-learn pipeline (feature frame -> calibrated logistic regression).

    Args:
        seed: Random state of the classifier.
        groups: Category of each training row; calibration folds are then grouped by it (unseen categories).
        n_folds: Calibration folds.
        C: Inverse regularisation strength of the logistic regression.
        text_weight: Weight of the TF-IDF blocks against the numeric block (``transformer_weights``). A small weight
            regularises the corpus vocabulary harder than the code-set features, which carry over to notes better.
        calibrate: False: the classifier step is the bare logistic regression (calibrate it afterwards, e.g. on
            held-out data with ``CalibratedClassifierCV(FrozenEstimator(pipeline))``).
        recommender: Include the code-recommender columns (:data:`nec_nlp.features.RECOMMENDER_COLUMNS`).

    Returns:
        A ``Pipeline`` with steps ``features`` (ColumnTransformer) and ``classifier`` (CalibratedClassifierCV, or
        LogisticRegression when ``calibrate`` is False).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    features = ColumnTransformer([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"(?u)\b\w[\w/-]*\b",
                                  dtype=np.float32), TEXT_COLUMN),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, max_features=80000,
                                  sublinear_tf=True, dtype=np.float32), TEXT_COLUMN),
        ("numeric", StandardScaler(), [*NUMERIC_COLUMNS, *(RECOMMENDER_COLUMNS if recommender else ())]),
    ], transformer_weights={"words": text_weight, "chars": text_weight, "numeric": 1.0})
    base = LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed)
    if not calibrate:
        return Pipeline([("features", features), ("classifier", base)])
    if groups is not None and len(set(groups)) >= n_folds:
        cv: Any = list(GroupKFold(n_splits=n_folds).split(np.zeros(len(groups)), None, list(groups)))
    else:
        cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return Pipeline([("features", features),
                     ("classifier", CalibratedClassifierCV(base, method="isotonic", cv=cv))])


class StackedFeatures:
    """Meta-features of the stacked model: the fitted text model's logit beside the recommender columns.

    Attributes:
        base: The fitted text model (a ``FrozenEstimator`` around the ``Pipeline`` of :func:`build_pipeline`, so that
            cloning inside ``CalibratedClassifierCV`` keeps it fitted).
    """

    def __init__(self, base: Any) -> None:
        self.base = base

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"base": self.base}

    def set_params(self, **params: Any) -> "StackedFeatures":
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, X: Any, y: Any = None) -> "StackedFeatures":
        return self

    def transform(self, X: Any) -> np.ndarray:
        logit = self.base.decision_function(X[[TEXT_COLUMN, *NUMERIC_COLUMNS]])
        return np.column_stack([logit, X[list(RECOMMENDER_COLUMNS)].to_numpy(dtype=float)])

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        return self.transform(X)


#: Stacked model: inverse regularisation of the meta logistic regression and calibration folds. Stacking was chosen on
#: the statements' dev split with the statements left out of the text model's training (accuracy 0.933, real-note
#: 0.912, against 0.790 / 0.676 without; the recommender's rules were developed on that split, so these are
#: optimistic), never on a test split.
STACK_C = 1.0
STACK_FOLDS = 5


def build_stack(fitted: Any, seed: int, groups: Sequence[str]) -> Any:
    """The unfitted stacked model over a fitted text model (fit it on held-out records with recommender columns).

    ``CalibratedClassifierCV(Pipeline(StackedFeatures -> StandardScaler -> LogisticRegression), isotonic)`` with
    folds grouped by category, so calibration reflects unseen categories.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    meta = Pipeline([("stack", StackedFeatures(FrozenEstimator(fitted))), ("scale", StandardScaler()),
                     ("classifier", LogisticRegression(C=STACK_C, class_weight="balanced", max_iter=2000,
                                                       random_state=seed))])
    if len(set(groups)) >= STACK_FOLDS:
        cv: Any = list(GroupKFold(n_splits=STACK_FOLDS).split(np.zeros(len(groups)), None, list(groups)))
    else:
        cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return CalibratedClassifierCV(meta, method="isotonic", cv=cv)


FEATURE_DESCRIPTION = (
    "Text model: word 1-2-gram and char 2-5-gram TF-IDF of the mention widened to its diagnosis phrase plus its "
    "extracted detail strings; counts of site/type/cause/drug/laterality/encounter details and the phrase shape; "
    "code-set candidate features (best exact/NEC/NOS title, inclusion-term, index and table match, left-over words "
    "that are or are not an axis of the category).")
STACK_DESCRIPTION = (
    " Stacking on a deterministic, knowledge-based component: the code recommender "
    "(nec_nlp.recommender.recommend, asked as if the documentation were specific) gives, per mention, the kind "
    "(exact / NEC / NOS / none) of the code it ranks first, the runner-up's score, whether it reports details missing "
    "for a more specific code, whether the bare condition (the mention words alone, without details or sentence) "
    "gets another code and whether that one is NOS (do the documented details change the code?), and whether the "
    "first code's title says 'unspecified' (NOS by title, not only by a '... NOS' inclusion term). A logistic "
    "regression over the text model's logit and these columns is fitted on the dev split (categories unseen by the "
    "text model), so the recommender's verdict is weighed against held-out data. The recommender does not see the "
    "labels, but its rules were developed on the statements' dev split, and it changes as the recommender does "
    "(recommender_sha256 records the version used): retrain after recommender changes.")


def _recommender_checksum() -> str | None:
    try:
        import nec_nlp.recommender as rec

        return hashlib.sha256(Path(rec.__file__).read_bytes()).hexdigest()
    except (ImportError, OSError, TypeError):  # pragma: no cover
        return None


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist, key in (("nec-nlp", "nec_nlp"), ("scikit-learn", "scikit_learn"), ("spacy", "spacy"),
                      ("numpy", "numpy"), ("joblib", "joblib")):
        try:
            out[key] = dist_version(dist)
        except PackageNotFoundError:
            out[key] = "unknown"
    return out


def _hidden_codes(records: Sequence[dict[str, Any]], fraction: float, seed: int) -> list[str | None]:
    rng = random.Random(seed + 1)
    return [r.get("code") if r.get("code") and rng.random() < fraction else None for r in records]


def _best_threshold(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    grid = np.round(np.arange(0.2, 0.81, 0.02), 2)
    scores = [f1_score(y, (proba >= t).astype(int), average="macro") for t in grid]
    return float(grid[int(np.argmax(scores))])


def sample_records(records: list[dict[str, Any]], sample: int | None, seed: int = 0) -> list[dict[str, Any]]:
    """``sample`` records drawn at random with ``seed``, in their original order (all of them when None)."""
    if sample is None or sample >= len(records):
        return records
    if sample <= 0:
        raise InputError("sample must be a positive number of records.")
    rng = random.Random(seed)
    idx = sorted(rng.sample(range(len(records)), sample))
    return [records[i] for i in idx]


def train(corpus: "str | Path | Iterable[dict[str, Any]]", *, code_set: Any = None, seed: int = 0,
          sample: int | None = None, nlp: Any = None, dev: "str | Path | Iterable[dict[str, Any]] | None" = None,
          hide_fraction: float = 0.5, statements: "str | Path | Iterable[dict[str, Any]] | None" = None,
          statements_weight: float = 20.0, C: float = 4.0, recommender: bool = True,
          text_weight: float = TEXT_WEIGHT, processes: int = 2, statements_in: str = "stack") -> SpecificityModel:
    """Train a specificity model.

    Args:
        corpus: The corpus folder (its ``train`` split is used, and its ``dev`` split picks the threshold), a JSONL
            file, or an iterable of records.
        code_set: A code set; when given, title-search candidate kinds become features (and prediction needs one).
        seed: Random seed (sampling and classifier): same data and seed give the same model.
        sample: Train on this many records drawn at random (and as many dev records), for quick runs.
        nlp: The extraction pipeline used to find each example's mention; None builds the project's default
            pipeline (``nec_nlp.pipeline.build_nlp``); ``False`` uses the bare target spans.
        dev: Records to pick the decision threshold on (default: the corpus folder's ``dev`` split, if any).
        statements: Hand-labelled statements (their ``dev`` split when the records carry a split; the ``test`` split
            stays held out). With recommender stacking they join the stacked model's fitting data (the text model
            never sees them, so their text-model logits are out of sample); without it they join the text model's
            training data.
        statements_weight: How much a statement counts: it is repeated this many times in the stacked model's data
            (or weighted so in the text model's); corpus records count 1. A 5-fold cross-validation over the dev
            statements chose this placement (accuracy 0.951 vs 0.922 in the text model) and, rerun on the 324 dev
            statements of the second round, 30 copies (0.914, against 0.904 for 10 and 0.910 for 20 and 50); on the
            434 dev statements of the third round 20, 30 and 50 tie (0.922, 10: 0.915) and 20 is best on the dev
            real-note statements (0.937 vs 0.931 for 30), so 20; on the 793 dev statements of the seventh round
            10 led (0.921, real-note 0.916; 20 and 30: 0.919, 0.912), but on all 913 of that round 20 and 30 tie
            (0.911 / 0.912; 10: 0.904, 5: 0.897) and 20 is best on the real-note ones (0.909 vs 0.906), so 20 stays
            (notes in ``docs/classifier.md``).
        C: Inverse regularisation strength of the logistic regression.
        recommender: Stack on the code recommender: its verdict for each mention becomes features
            (:data:`nec_nlp.features.RECOMMENDER_COLUMNS`; only with a code set).
        text_weight: Weight of the TF-IDF blocks (:data:`TEXT_WEIGHT`).
        statements_in: ``"stack"``: the statements join the stacked model's data when there is one; ``"text"``:
            they always join the text model's training data.
        processes: Worker processes for the recommender features of the training mentions (same result for any).
        hide_fraction: Share of training records whose own code's titles and index entries are hidden from the
            candidate features, so the model also learns from phrases no code-set entry spells out (as in notes).

    Returns:
        The fitted :class:`SpecificityModel`; its ``card`` holds versions, corpus checksum and training counts
        (``metrics`` is filled by the CLI or by :func:`nec_nlp.persistence.save_model` callers).

    Raises:
        InputError: for an unreadable corpus or one with a single label.
    """
    is_folder = isinstance(corpus, (str, Path)) and Path(corpus).is_dir()
    records = load_corpus(corpus, "train" if is_folder else None)
    checksum_all = corpus_checksum(records)
    records = sample_records(records, sample, seed)
    labels = Counter(r["label"] for r in records)
    if len(labels) < 2:
        raise InputError("the training corpus needs examples of both labels (specific and nos).")
    if dev is None and is_folder and (Path(corpus) / _SPLIT_FILES["dev"]).is_file():
        dev = Path(corpus) / _SPLIT_FILES["dev"]
    dev_records = sample_records(load_corpus(dev, "dev"), sample, seed) if dev is not None else []
    if nlp is None:
        nlp = default_nlp()
    elif nlp is False:
        nlp = None
    statement_records = load_corpus(statements, "dev") if statements is not None else []
    n_corpus = len(records)
    # stacking on the recommender needs a code set and held-out dev records (the meta-model is fitted there)
    recommender = bool(recommender and code_set is not None and dev_records
                       and len({r["label"] for r in dev_records}) == 2)
    if statements_in not in ("stack", "text"):
        raise InputError("statements_in must be 'stack' or 'text'.")
    stacked_statements = statement_records if recommender and statements_in == "stack" else []
    records = records + ([] if stacked_statements else statement_records)
    mentions, fallback = record_mentions(records, nlp)
    hide = _hidden_codes(records, hide_fraction, seed) if code_set is not None else None
    frame = features_frame(mentions, code_set, hide)
    y = np.array([r["label"] for r in records])
    weights = np.array([1.0] * n_corpus + [float(statements_weight)] * (len(records) - n_corpus))
    groups = [r.get("category") or r["id"] for r in records]
    threshold, dev_fallback, calibration = 0.5, 0, "isotonic, 3 folds of the training data grouped by category"
    if dev_records and len({r["label"] for r in dev_records}) == 2:
        # fit on train, calibrate on dev (unseen categories, full candidate features: as at prediction time)
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.frozen import FrozenEstimator

        fitted = build_pipeline(seed, calibrate=False, C=C, text_weight=text_weight).fit(
            frame, y, classifier__sample_weight=weights)
        dev_mentions, dev_fallback = record_mentions(dev_records, nlp)
        dev_frame = features_frame(dev_mentions, code_set, recommender=recommender, processes=processes)
        dev_labels = np.array([r["label"] for r in dev_records])
        if recommender:
            stack_frame, stack_labels = dev_frame, dev_labels
            stack_groups = [r.get("category") or r["id"] for r in dev_records]
            times = max(1, int(round(statements_weight)))  # each statement's copies in the stacked model's data
            if stacked_statements:
                st_mentions, _ = record_mentions(stacked_statements, nlp)
                st_frame = features_frame(st_mentions, code_set, recommender=True, processes=processes)
                rep = np.repeat(np.arange(len(stacked_statements)), times)
                stack_frame = pd.concat([dev_frame, st_frame.iloc[rep]], ignore_index=True)
                stack_labels = np.concatenate([dev_labels, np.array([r["label"] for r in stacked_statements])[rep]])
                stack_groups = stack_groups + [f"statement:{stacked_statements[i]['id']}" for i in rep]
            pipeline = build_stack(fitted, seed, stack_groups).fit(stack_frame, stack_labels)
            calibration = (f"stacked: logistic regression (C={STACK_C}) over the text model's logit and the "
                           f"recommender columns, isotonic, {STACK_FOLDS} folds grouped by category, fitted on the "
                           f"dev split" + (f" and the {len(stacked_statements)} dev statements (each repeated "
                                           f"{times} times)"
                                           if stacked_statements else ""))
        else:
            pipeline = CalibratedClassifierCV(FrozenEstimator(fitted), method="isotonic").fit(dev_frame, dev_labels)
            calibration = "isotonic, on the dev split (categories unseen in training)"
        model = SpecificityModel(pipeline, uses_code_set=code_set is not None, uses_recommender=recommender)
        threshold = _best_threshold((dev_labels == "specific").astype(int), model.predict_proba(dev_mentions, code_set))
    else:
        pipeline = build_pipeline(seed, groups, C=C, text_weight=text_weight, recommender=recommender).fit(
            frame, y, classifier__sample_weight=weights)
        model = SpecificityModel(pipeline, uses_code_set=code_set is not None, uses_recommender=recommender)
    model.threshold = threshold
    source = str(corpus) if isinstance(corpus, (str, Path)) else "<records>"
    model.card = {
        "name": "specificity",
        "task": "Does the documentation of a diagnosis mention support an ICD-10-CM code beyond 'unspecified'?",
        "label_definition": LABEL_DEFINITION,
        "labels": list(LABELS),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": _versions(),
        "code_set": getattr(code_set, "release", None) or CODE_SET_RELEASE,
        "uses_code_set": code_set is not None,
        "uses_recommender": recommender,
        "corpus": {"source": source, "sha256": checksum_all, "sha256_used": corpus_checksum(records),
                   "n_train": n_corpus, "labels": dict(sorted(labels.items())), "n_dev": len(dev_records),
                   "statements": {"source": str(statements) if isinstance(statements, (str, Path)) else None,
                                  "n_train": len(statement_records), "weight": statements_weight,
                                  "used_in": "stacked model" if stacked_statements else "text model",
                                  "sha256": corpus_checksum(statement_records)}},
        "training": {"seed": seed, "sample": sample, "threshold": threshold, "hide_fraction": hide_fraction,
                     "pipeline": nlp is not None, "mentions_without_pipeline_match": fallback,
                     "dev_mentions_without_pipeline_match": dev_fallback,
                     "calibration": calibration,
                     "estimator": "ColumnTransformer(word 1-2gram TF-IDF, char_wb 2-5gram TF-IDF, scaled numeric) -> "
                                  f"LogisticRegression(C={C}, class_weight='balanced'), text blocks weighted "
                                  f"{text_weight}"
                                  + (f"; stacked with the code recommender's columns "
                                     f"({', '.join(RECOMMENDER_COLUMNS)}) in a LogisticRegression(C={STACK_C}) "
                                     "fitted on the dev split" if recommender else "")
                                  + ", calibrated with CalibratedClassifierCV"},
        "features": [TEXT_COLUMN, *NUMERIC_COLUMNS, *(RECOMMENDER_COLUMNS if recommender else ())],
        "feature_description": FEATURE_DESCRIPTION + (STACK_DESCRIPTION if recommender else ""),
        "recommender_sha256": _recommender_checksum() if recommender else None,
        "metrics": {},
    }
    return model


# ------------------------------------------------------------------------------------------------ metrics
def expected_calibration_error(y: np.ndarray, proba: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error of P(specific): bin-size-weighted |observed rate - mean probability|.

    Args:
        y: 1 for specific, 0 for nos.
        proba: Predicted P(specific).
        n_bins: Equal-width bins over [0, 1].

    Returns:
        The ECE (0 is perfect).
    """
    y = np.asarray(y, dtype=float)
    proba = np.asarray(proba, dtype=float)
    if len(y) == 0:
        return 0.0
    bins = np.minimum((proba * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(y[mask].mean() - proba[mask].mean())
    return float(ece)


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro", labels=[0, 1], zero_division=0))}


def keyword_baseline(texts: Sequence[str]) -> np.ndarray:
    """The keyword baseline: nos (0) when the raw text has an "unspecified"-type word, else specific (1)."""
    return np.array([0 if KEYWORD_RE.search(t) else 1 for t in texts], dtype=int)


def evaluate(model: SpecificityModel, corpus: "str | Path | Iterable[dict[str, Any]]", *,
             plots_dir: "str | Path | None" = None, split: str = "test", nlp: Any = None, code_set: Any = None,
             return_predictions: bool = False) -> dict[str, Any]:
    """Score a model on labelled records, beside a majority-class and a keyword baseline.

    Args:
        model: A :class:`SpecificityModel`.
        corpus: Corpus folder (``split`` picks the file), JSONL file (records of another ``split`` are skipped when
            they carry one), or records.
        plots_dir: When given, writes ``confusion_matrix.png``, ``calibration.png``, ``precision_recall.png`` and
            ``errors_by_chapter.png`` there (needs matplotlib).
        split: Which split to read from a folder or split-tagged file.
        nlp: Extraction pipeline (None: the project's default; ``False``: bare spans).
        code_set: Code set for models trained with candidate features.
        return_predictions: Add ``predictions`` (id, chapter, label, p_specific, predicted) per record.

    Returns:
        ``{n, macro_f1, accuracy, ece, brier, roc_auc, average_precision, threshold, per_class, confusion_matrix,
        baselines: {majority, keyword}, by_chapter, mentions_without_pipeline_match, plots}``.

    Raises:
        InputError: for an unreadable or empty corpus.
    """
    from sklearn.metrics import (average_precision_score, brier_score_loss, confusion_matrix,
                                 precision_recall_fscore_support, roc_auc_score)

    if not isinstance(model, SpecificityModel):
        raise ModelError("evaluate() needs a SpecificityModel (from nec_nlp.train or nec_nlp.persistence.load_model).")
    records = load_corpus(corpus, split)
    if not records:
        raise InputError(f"no records to evaluate (split {split!r}).")
    if nlp is None:
        nlp = default_nlp()
    elif nlp is False:
        nlp = None
    mentions, fallback = record_mentions(records, nlp)
    proba = model.predict_proba(mentions, code_set)
    y = np.array([r["label"] == "specific" for r in records], dtype=int)
    pred = (proba >= model.threshold).astype(int)
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=[0, 1], zero_division=0)
    both = len(set(y.tolist())) == 2
    out: dict[str, Any] = {
        "n": len(records),
        **_scores(y, pred),
        "ece": expected_calibration_error(y, proba),
        "brier": float(brier_score_loss(y, proba, pos_label=1)) if both else None,
        "roc_auc": float(roc_auc_score(y, proba)) if both else None,
        "average_precision": float(average_precision_score(y, proba)) if both else None,
        "threshold": model.threshold,
        "per_class": {label: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                              "support": int(support[i])} for i, label in enumerate(LABELS)},
        "confusion_matrix": {"labels": list(LABELS),
                             "matrix": confusion_matrix(y, pred, labels=[0, 1]).tolist()},
        "mentions_without_pipeline_match": fallback,
    }
    train_labels = model.card.get("corpus", {}).get("labels") or dict(Counter(r["label"] for r in records))
    majority = max(sorted(train_labels), key=lambda k: train_labels[k])
    out["baselines"] = {
        "majority": {"predicts": majority, **_scores(y, np.full(len(y), int(majority == "specific")))},
        "keyword": _scores(y, keyword_baseline([r["text"] for r in records])),
    }
    by_chapter: dict[str, dict[str, Any]] = {}
    for r, yi, pi in zip(records, y, pred):
        entry = by_chapter.setdefault(r.get("chapter") or "?", {"n": 0, "errors": 0})
        entry["n"] += 1
        entry["errors"] += int(yi != pi)
    for entry in by_chapter.values():
        entry["error_rate"] = entry["errors"] / entry["n"]
    out["by_chapter"] = dict(sorted(by_chapter.items(), key=lambda kv: _chapter_key(kv[0])))
    if plots_dir is not None:
        out["plots"] = _plots(Path(plots_dir), y, proba, pred, out)
    if return_predictions:
        out["predictions"] = [{"id": r["id"], "chapter": r.get("chapter"), "label": r["label"],
                               "p_specific": float(p), "predicted": LABELS[int(k)]}
                              for r, p, k in zip(records, proba, pred)]
    return out


def _chapter_key(chapter: str) -> tuple[int, str]:
    return (int(chapter), "") if chapter.isdigit() else (10**6, chapter)


def _plots(folder: Path, y: np.ndarray, proba: np.ndarray, pred: np.ndarray, metrics: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(4, 4))
    ConfusionMatrixDisplay.from_predictions(y, pred, labels=[0, 1], display_labels=list(LABELS), ax=ax,
                                            colorbar=False)
    ax.set_title("Confusion matrix")
    paths["confusion_matrix"] = _save(fig, folder / "confusion_matrix.png")

    fig, ax = plt.subplots(figsize=(4, 4))
    if len(set(y.tolist())) == 2:
        frac, mean = calibration_curve(y, proba, n_bins=10, strategy="uniform")
        ax.plot(mean, frac, marker="o", label=f"model (ECE {metrics['ece']:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.set_xlabel("mean P(specific)")
    ax.set_ylabel("observed fraction specific")
    ax.set_title("Calibration")
    ax.legend(loc="upper left")
    paths["calibration"] = _save(fig, folder / "calibration.png")

    fig, ax = plt.subplots(figsize=(4, 4))
    if len(set(y.tolist())) == 2:
        PrecisionRecallDisplay.from_predictions(y, proba, pos_label=1, ax=ax, name="specific")
    ax.set_title("Precision-recall (specific)")
    paths["precision_recall"] = _save(fig, folder / "precision_recall.png")

    fig, ax = plt.subplots(figsize=(7, 3))
    chapters = list(metrics["by_chapter"])
    ax.bar(chapters, [metrics["by_chapter"][c]["error_rate"] for c in chapters])
    ax.set_xlabel("ICD-10-CM chapter")
    ax.set_ylabel("error rate")
    ax.set_title("Errors by chapter")
    paths["errors_by_chapter"] = _save(fig, folder / "errors_by_chapter.png")
    return paths


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return str(path)
