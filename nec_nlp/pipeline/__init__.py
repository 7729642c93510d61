"""The extraction pipeline: a note -> CONDITION mentions with site/type/cause/drug details and assertions.

    from nec_nlp.pipeline import build_nlp, load_nlp, doc_mentions
    nlp = build_nlp()
    mentions = doc_mentions(nlp("Assessment: acute cystitis without hematuria."))
"""

import re
from pathlib import Path
from typing import Optional, Union

import spacy
from spacy.language import Language
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex

from nec_nlp.errors import ModelError
from nec_nlp.pipeline import components as _components  # noqa: F401  (registers the factories)
from nec_nlp.pipeline.mentions import doc_mentions

PIPE_NAMES = ("nec_sectionizer", "nec_sentencizer", "nec_lexicon", "nec_linker", "nec_context")
# MTSamples writes line breaks as commas ("Clear.,ASSESSMENT:,  Allergic"): split , : ; off words (not in numbers).
EXTRA_INFIXES = (r"(?<=[^0-9])[,;:]", r"[,;:](?=[^0-9])", r"(?<=[A-Za-z])\.(?=[,;:])", r"[\)\]](?=[.,;:])")
SPECIAL_CASES = ("s/p", "S/P", "h/o", "H/O", "r/o", "R/O", "N/V", "n/v", "A/P", "w/o", "W/O", "w/", "c/o", "C/O")


# Plain ASCII-centred affix rules: half the tokenizer time of spaCy's English defaults (which cover every
# Unicode currency and unit) and the same split of clinical text.
PREFIXES = (r"""[\(\[\{"'`*<>,.;:!?#$%&+=~/\\\-“‘…]""",)
SUFFIXES = (r"""[\)\]\}"'`*<>,.;:!?%”’…]""", r"'[sS]", r"’[sS]",
            r"(?<=[0-9])(?:cm|mm|kg|mg|ml|mL|mcg|g|lb|lbs|cc|x|h|hrs)")
NEVER = r"(?!x)x"  # url_match off: saved with the tokenizer, so a loaded pipeline splits the same way


def customize_tokenizer(nlp: Language) -> None:
    """Simpler affix rules, MTSamples-friendly infixes and clinical special cases (saved with the tokenizer)."""
    infixes = list(nlp.Defaults.infixes or []) + list(EXTRA_INFIXES)
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    nlp.tokenizer.prefix_search = compile_prefix_regex(PREFIXES).search
    nlp.tokenizer.suffix_search = compile_suffix_regex(SUFFIXES).search
    nlp.tokenizer.url_match = re.compile(NEVER).match
    for case in SPECIAL_CASES:
        nlp.tokenizer.add_special_case(case, [{"ORTH": case}])


def build_nlp() -> Language:
    """A blank English pipeline with the nec_nlp components, rules loaded from the package resources.

    Cheap enough to call once per worker process (medspaCy components cannot be pickled).
    """
    nlp = spacy.blank("en")
    customize_tokenizer(nlp)
    for name in PIPE_NAMES:
        nlp.add_pipe(name)
    for _, proc in nlp.pipeline:
        init = getattr(proc, "initialize", None)
        if init is not None:
            init(nlp=nlp)
    return nlp


def load_nlp(path: Optional[Union[str, Path]] = None) -> Language:
    """``spacy.load`` of a pipeline saved with ``nlp.to_disk``, or :func:`build_nlp` when ``path`` is None."""
    if path is None:
        return build_nlp()
    p = Path(path)
    if not (p / "config.cfg").is_file():
        raise ModelError(f"no saved pipeline at {p} (config.cfg missing); save one with nlp.to_disk(path)")
    return spacy.load(p)


__all__ = ["build_nlp", "load_nlp", "doc_mentions", "customize_tokenizer", "PIPE_NAMES"]
