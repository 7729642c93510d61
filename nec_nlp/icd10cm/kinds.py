"""The kind rule: is a code ``exact``, ``nec`` ("other") or ``nos`` ("unspecified")?

The rule reads the code's own title first, then its inclusion terms:

1. *Axis words in the title.* The "other" axis is the word ``other`` (not ``other than``, not ``each other``,
   not the manifestation phrase ``in other ... diseases classified elsewhere``), ``not elsewhere classified``
   or the abbreviation ``NEC``. The "unspecified" axis is ``unspecified``,
   ``not specified`` or the abbreviation ``NOS``.
2. A title with words of one axis only takes that axis: ``nec`` or ``nos``.
3. A title with words of both axes ("Other pneumonia, unspecified organism", "Other and unspecified ...")
   takes the axis of the *first* such word as its kind and records the other one as ``secondary_kind``:
   "Other pneumonia, unspecified organism" is ``nec`` (secondary ``nos``): the condition is specified as
   "other" and only the organism axis is unspecified.
4. A title with no axis word is ``nos`` when one of its inclusion terms ends in / contains ``NOS``
   (the code is the classification's default for the unqualified term, e.g. K21.9 "Esophageal reflux NOS"),
   otherwise ``exact``.
   Exception: when every such NOS term is the title's own stem ("Migraine with aura NOS") and the rest of the
   title only states the classification's defaults ("not intractable", "without status migrainosus",
   "without complication"), the code is ``exact``. The NOS term then says which code the stem defaults to on
   axes the classification defaults itself; no detail is missing. G40.109 "Localization-related ... with simple
   partial seizures, not intractable, without status epilepticus" is ``exact``: documenting focal epilepsy goes
   beyond G40.909 "Epilepsy, unspecified".
5. Exception, by the order of the steps: a title on the "other" axis stays ``nec`` even when it carries
   ``... NOS`` inclusion terms. G89.18 "Other acute postprocedural pain" is ``nec`` and carries
   "Postoperative pain NOS" in ``nos_terms``, so a recommender can use it as the default for an
   unqualified "postoperative pain".

A code with a 7th character inherits the kind of the code it extends (T50.995A is ``nec`` like T50.995).
"""

import re
from typing import Literal

Kind = Literal["exact", "nec", "nos"]

# part of every cache key: bump when the rule changes, so cached kinds are recomputed
RULE_VERSION = 3

_OTHER_RE = re.compile(r"\bother\b(?!\s+than\b)", re.IGNORECASE)
_EACH_OTHER_RE = re.compile(r"\beach\s+other\b", re.IGNORECASE)
# the manifestation phrase "in other (chronic) diseases classified elsewhere" names no residual category
_ELSEWHERE_RE = re.compile(r"\bin\s+other\s+(?:[a-z-]+\s+){0,3}?diseases\s+classified\s+elsewhere\b",
                           re.IGNORECASE)
_NEC_RE = re.compile(r"\bnot elsewhere classified\b", re.IGNORECASE)
_NEC_ABBR_RE = re.compile(r"\bNEC\b")
_UNSPEC_RE = re.compile(r"\bunspecified\b|\bnot specified\b", re.IGNORECASE)
_NOS_ABBR_RE = re.compile(r"\bNOS\b")
# the rest of a title after its NOS stem, when it only states defaults: ", not intractable, without status ..."
_DEFAULTS_ONLY_RE = re.compile(
    r"^(?:,?\s*(?:and\s+)?(?:not intractable|without (?:mention of )?[a-z ,'-]+?))+$", re.IGNORECASE)
_NOS_TAIL_RE = re.compile(r"\s*\bNOS\b.*$")


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> int | None:
    positions = [m.start() for p in patterns for m in p.finditer(text)]
    return min(positions) if positions else None


def other_position(title: str) -> int | None:
    """Character offset of the first "other"-axis word in ``title`` (None when there is none)."""
    masked = _EACH_OTHER_RE.sub(lambda m: " " * len(m.group()), title)
    masked = _ELSEWHERE_RE.sub(lambda m: " " * len(m.group()), masked)
    return _first((_OTHER_RE, _NEC_RE, _NEC_ABBR_RE), masked)


def unspecified_position(title: str) -> int | None:
    """Character offset of the first "unspecified"-axis word in ``title`` (None when there is none)."""
    return _first((_UNSPEC_RE, _NOS_ABBR_RE), title)


def nos_terms(inclusion: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The inclusion terms that say ``NOS`` (the unqualified terms this code is the default for)."""
    return tuple(t for t in inclusion if _NOS_ABBR_RE.search(t))


def classify(title: str, inclusion: tuple[str, ...] | list[str] = ()) -> tuple[Kind, Kind | None]:
    """Apply the kind rule of this module.

    Args:
        title: the code's own title (tabular ``desc``).
        inclusion: the code's own inclusion terms.

    Returns:
        ``(kind, secondary_kind)``; ``secondary_kind`` is set only for titles on both axes.
    """
    other = other_position(title)
    unspec = unspecified_position(title)
    if other is not None and unspec is not None:
        return ("nec", "nos") if other < unspec else ("nos", "nec")
    if other is not None:
        return "nec", None
    if unspec is not None:
        return "nos", None
    terms = nos_terms(inclusion)
    if terms and not all(_states_defaults_only(title, t) for t in terms):
        return "nos", None
    return "exact", None


def _states_defaults_only(title: str, nos_term: str) -> bool:
    """True when ``title`` is ``nos_term``'s stem followed only by default axes (see rule 4's exception)."""
    stem = _NOS_TAIL_RE.sub("", nos_term).strip().rstrip(",")
    if not stem or not title.lower().startswith(stem.lower()):
        return False
    rest = title[len(stem):].strip()
    return bool(rest) and _DEFAULTS_ONLY_RE.match(rest) is not None
