"""nec_nlp: for every diagnosis in a provider note, is the documentation specific enough, and which
ICD-10-CM code (exact, NEC "other specified", or NOS "unspecified") does it support?

Public API (imported lazily, so ``import nec_nlp`` is cheap and has no side effects)::

    nec_nlp.load(...)          -> Scorer (pipeline + model + code set)
    nec_nlp.score_text(text)   -> dict in the ``nec-nlp score --json`` shape
    nec_nlp.score_notes(texts) -> iterator of those dicts
    nec_nlp.train(corpus)      -> fitted specificity model
    nec_nlp.evaluate(model, corpus) -> metrics dict
"""

import logging
from importlib import import_module
from typing import Any

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "load": "nec_nlp.api",
    "score_text": "nec_nlp.api",
    "score_notes": "nec_nlp.api",
    "Scorer": "nec_nlp.api",
    "train": "nec_nlp.classifier",
    "evaluate": "nec_nlp.classifier",
    "load_code_set": "nec_nlp.icd10cm",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nec_nlp' has no attribute {name!r}")
