"""The scoring API: text -> :class:`~nec_nlp.types.NoteResult` (pipeline -> specificity model -> recommender).

A :class:`Scorer` holds the spaCy pipeline, the specificity model and the code set; build it once per process
with :func:`load` and reuse it. :func:`score_text` / :func:`score_notes` use a cached default scorer per
(code set, service date, model) and return the ``nec-nlp score --json`` dict.
"""

import logging
import warnings
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

from nec_nlp.errors import InputError, ModelError, NecNlpWarning
from nec_nlp.recommender import annotate_note, recommend, rule_specificity
from nec_nlp.types import Mention, NoteResult, Specificity

logger = logging.getLogger(__name__)

__all__ = ["Scorer", "RuleModel", "load", "score_text", "score_notes"]

RULES = "rules"


class RuleModel:
    """Transparent fallback specificity model: documented details present -> ``specific``."""

    def __init__(self) -> None:
        self.card = {"name": "rules", "version": _dist_version("nec-nlp"), "checksum": None,
                     "description": "specific when documented details take the code beyond the index's "
                                    "unspecified/NOS default, else nos"}

    def predict(self, mentions: Sequence[Mention], code_set: Any = None) -> list[Specificity]:
        """One :class:`Specificity` per mention."""
        return [rule_specificity(m, code_set) for m in mentions]


def _model_info(model: Any) -> dict[str, Any]:
    card = dict(getattr(model, "card", {}) or {})
    info = {k: card.get(k) for k in ("name", "version", "checksum")}
    if info["checksum"] is None:
        artifact = card.get("artifact") if isinstance(card.get("artifact"), dict) else {}
        info["checksum"] = artifact.get("sha256") or card.get("sha256")
    if info["name"] is None:
        info["name"] = type(model).__name__
    return info


def _resolve_model(model: Any) -> Any:
    if model is None or isinstance(model, (str, Path)):
        if isinstance(model, str) and model == RULES:
            return RuleModel()
        try:
            from nec_nlp.persistence import load_model
        except ImportError:
            if model is not None:
                raise ModelError("the specificity model package is not available; use model='rules'") from None
            warnings.warn("no specificity model available: using the documented-details rule", NecNlpWarning,
                          stacklevel=3)
            return RuleModel()
        try:
            return load_model(None if model is None else Path(model))
        except ModelError:
            if model is not None:
                raise
            warnings.warn("the default specificity model could not be loaded: using the documented-details rule",
                          NecNlpWarning, stacklevel=3)
            return RuleModel()
    if not hasattr(model, "predict"):
        raise ModelError("model must be a path, 'rules', or an object with predict(mentions, code_set)")
    return model


class Scorer:
    """Pipeline + specificity model + code set, built once per process.

    Args:
        nlp: The spaCy extraction pipeline (``nec_nlp.pipeline.build_nlp()``).
        model: An object with ``predict(mentions, code_set) -> list[Specificity]`` and a ``card`` dict.
        code_set: A loaded :class:`nec_nlp.icd10cm.CodeSet`.
    """

    def __init__(self, nlp: Any, model: Any, code_set: Any) -> None:
        self.nlp = nlp
        self.model = model
        self.code_set = code_set
        self.model_info = _model_info(model)

    def _result(self, doc: Any) -> NoteResult:
        from nec_nlp.pipeline import doc_mentions

        mentions = list(doc_mentions(doc))
        specs = list(self.model.predict(mentions, self.code_set)) if mentions else []
        scored = [recommend(m, s, self.code_set, note_mentions=mentions) for m, s in zip(mentions, specs,
                                                                                         strict=True)]
        scored = annotate_note(scored, self.code_set)
        return NoteResult(code_set=self.code_set.release, model=dict(self.model_info), mentions=tuple(scored))

    def score(self, text: str) -> NoteResult:
        """Score one note: every CONDITION mention with its verdict, ranked codes and rationale."""
        if not isinstance(text, str):
            raise InputError(f"a note must be a string, not {type(text).__name__}")
        return self._result(self.nlp(text))

    def score_dict(self, text: str) -> dict[str, Any]:
        """:meth:`score` as the ``nec-nlp score --json`` dict."""
        return self.score(text).to_dict()

    def score_many(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[NoteResult]:
        """Score notes in order, streaming them through ``nlp.pipe``."""
        def checked(it: Iterable[str]) -> Iterator[str]:
            for i, t in enumerate(it):
                if not isinstance(t, str):
                    raise InputError(f"note {i} is not a string ({type(t).__name__})")
                yield t

        for doc in self.nlp.pipe(checked(texts), batch_size=batch_size):
            yield self._result(doc)


def load(model: Any = None, code_set: Any = None, service_date: str | None = None) -> Scorer:
    """Build a :class:`Scorer`.

    Args:
        model: None (the shipped default model; the documented-details rule if none is available), ``"rules"``,
            a model folder path, or a model object with ``predict`` and ``card``.
        code_set: A release id (``"2026-04"``), a loaded CodeSet, or None for the default / ``service_date``.
        service_date: ``YYYY-MM-DD``: the release in force on that date (when ``code_set`` is None).

    Returns:
        A ready :class:`Scorer`.
    """
    from nec_nlp.icd10cm import load_code_set
    from nec_nlp.pipeline import build_nlp

    if code_set is None or isinstance(code_set, str):
        cs = load_code_set(code_set, service_date=service_date) if service_date else load_code_set(code_set)
    else:
        cs = code_set
    return Scorer(build_nlp(), _resolve_model(model), cs)


@lru_cache(maxsize=4)
def _cached(code_set: str | None, service_date: str | None, model: Any) -> Scorer:
    return load(model=model, code_set=code_set, service_date=service_date)


def _default(code_set: Any, service_date: str | None, model: Any) -> Scorer:
    if (code_set is None or isinstance(code_set, str)) and (model is None or isinstance(model, (str, Path))):
        return _cached(code_set, service_date, None if model is None else str(model))
    return load(model=model, code_set=code_set, service_date=service_date)


def score_text(text: str, *, code_set: Any = None, service_date: str | None = None, model: Any = None
               ) -> dict[str, Any]:
    """Score one note with a cached default scorer; returns the ``NoteResult.to_dict()`` shape."""
    return _default(code_set, service_date, model).score_dict(text)


def score_notes(texts: Iterable[str], **kw: Any) -> Iterator[dict[str, Any]]:
    """Score many notes (streamed, in order); keyword arguments as for :func:`score_text` plus ``batch_size``."""
    batch_size = int(kw.pop("batch_size", 64))
    scorer = _default(kw.pop("code_set", None), kw.pop("service_date", None), kw.pop("model", None))
    if kw:
        raise InputError(f"unknown arguments: {', '.join(sorted(kw))}")
    for result in scorer.score_many(texts, batch_size=batch_size):
        yield result.to_dict()
