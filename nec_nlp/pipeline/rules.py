"""Rule records of the extraction pipeline, read from and written to JSONL.

Every record is a frozen dataclass with ``from_dict`` (rejecting unknown keys) and ``to_dict``, so the rules a
component holds are data: loaded from ``nec_nlp/pipeline/resources/`` by ``initialize()`` and written by the
component's ``to_disk``.
"""

import json
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from nec_nlp.errors import NecNlpError

LABELS = ("CONDITION", "SITE", "TYPE", "CAUSE", "DRUG")
DETAIL_LABELS = ("SITE", "TYPE", "CAUSE", "DRUG")
LEXICON_FILES = {
    "CONDITION": "conditions.jsonl",
    "SITE": "sites.jsonl",
    "TYPE": "types.jsonl",
    "CAUSE": "causes.jsonl",
    "DRUG": "drugs.jsonl",
}
RESOURCE_PACKAGE = "nec_nlp.pipeline"


class RuleError(NecNlpError):
    """A rule file holds a record that is not valid."""

    code = "E101"


T = TypeVar("T", bound="_Record")
_FIELD_NAMES: dict[type, frozenset[str]] = {}


class _Record:
    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
        unknown = set(d) - names
        if unknown:
            raise RuleError(f"{cls.__name__}: unknown keys {sorted(unknown)}; allowed: {sorted(names)}")
        try:
            return cls(**d)
        except TypeError as exc:
            raise RuleError(f"{cls.__name__}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], ())}  # type: ignore[call-overload]


@dataclass(frozen=True)
class LexiconTerm(_Record):
    """One lexicon entry: a lower-case term matched on token LOWER."""

    label: str
    term: str
    source: str = ""
    canonical: str | None = None
    classes: list[str] = field(default_factory=list)
    #: a multiword CONDITION that is itself a main term of the ICD-10-CM Index ("carpal tunnel syndrome"): a
    #: lexicalised name whose body words are no SITE of their own (gold guideline, revision 2, test T1)
    main_term: bool | None = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise RuleError(f"LexiconTerm: label {self.label!r} is not one of {LABELS}")


@dataclass(frozen=True)
class Abbreviation(_Record):
    """A case-sensitive abbreviation standing for a lexicon term ("CHF" -> "congestive heart failure").

    ``qualifier`` is the part of the expansion that is a TYPE or laterality ("type 2" in T2DM, "right" in RLQ).
    """

    abbr: str
    label: str
    expansion: str
    qualifier: str | None = None


@dataclass(frozen=True)
class PatternRule(_Record):
    """A spaCy ``Matcher`` token pattern for a detail ("stage 3", "type 2", "initial encounter")."""

    label: str
    pattern: list[dict[str, Any]]

    def __post_init__(self) -> None:
        if self.label not in (*LABELS, "ENCOUNTER"):
            raise RuleError(f"PatternRule: label {self.label!r} is not one of {(*LABELS, 'ENCOUNTER')}")


@dataclass(frozen=True)
class SectionRule(_Record):
    """A header keyword and the section category it opens ("FAMILY HISTORY" -> "family_history")."""

    keyword: str
    category: str


@dataclass(frozen=True)
class ContextRuleSpec(_Record):
    """A ConText modifier rule as data (the keys of medspaCy's ``ConTextRule.from_dict``)."""

    literal: str
    category: str
    direction: str = "BIDIRECTIONAL"
    pattern: Any = None
    max_scope: int | None = None
    max_targets: int | None = None
    allowed_types: list[str] | None = None
    excluded_types: list[str] | None = None
    terminated_by: list[str] | None = None
    metadata: dict[str, Any] | None = None


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def write_jsonl(path: Path, records: Iterable[_Record]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")


def resource_lines(name: str) -> Iterator[dict[str, Any]]:
    """Records of a packaged resource file (``nec_nlp/pipeline/resources/<name>``)."""
    text = resources.files(RESOURCE_PACKAGE).joinpath("resources", name).read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def default_lexicon() -> list[LexiconTerm]:
    return [LexiconTerm.from_dict(d) for name in LEXICON_FILES.values() for d in resource_lines(name)]


def default_abbreviations() -> list[Abbreviation]:
    return [Abbreviation.from_dict(d) for d in resource_lines("abbreviations.jsonl")]


def default_patterns() -> list[PatternRule]:
    return [PatternRule.from_dict(d) for d in resource_lines("patterns.jsonl")]


def default_section_rules() -> list[SectionRule]:
    return [SectionRule.from_dict(d) for d in resource_lines("section_headers.jsonl")]


def expand_pattern(pattern: Any, limit: int = 500) -> list[str] | None:
    """All literal strings a simple token pattern matches, or None when it is not simple.

    Simple: every token is ``{"LOWER": str}`` or ``{"LOWER": {"IN": [...]}}``, optionally with ``"OP": "?"``.
    Matching literals with a phrase matcher is much faster than spaCy's Matcher with set predicates.
    """
    if not isinstance(pattern, list):
        return None
    options: list[list[str]] = []
    for tok in pattern:
        if not isinstance(tok, dict) or set(tok) - {"LOWER", "OP"} or tok.get("OP", "?") != "?":
            return None
        low = tok.get("LOWER")
        if isinstance(low, str):
            words = [low]
        elif isinstance(low, dict) and set(low) == {"IN"}:
            words = list(low["IN"])
        else:
            return None
        options.append(words + ([""] if tok.get("OP") == "?" else []))
    out = [""]
    for words in options:
        out = [f"{a} {w}".strip() for a in out for w in words]
        if len(out) > limit:
            return None
    return sorted({o for o in out if o})


def _literal_rules(spec: ContextRuleSpec) -> list[ContextRuleSpec]:
    """A pattern rule as phrase rules (same category, direction and scope), when the pattern is simple."""
    if spec.pattern is None:
        return [spec]
    literals = expand_pattern(spec.pattern)
    if literals is None:
        return [spec]
    base = spec.to_dict()
    base.pop("pattern", None)
    return [ContextRuleSpec.from_dict({**base, "literal": lit}) for lit in literals]


def default_context_rules() -> list[ContextRuleSpec]:
    """medspaCy's packaged English ConText rules followed by the project's own (``context_rules.jsonl``)."""
    import medspacy.context.context as mc

    path = Path(mc.__file__).resolve().parents[2] / "resources" / "en" / "context_rules.json"
    own = [ContextRuleSpec.from_dict(d) for d in resource_lines("context_rules.jsonl")]
    own_literals = {r.literal.lower() for r in own}
    out: list[ContextRuleSpec] = []
    if path.exists():  # a project rule with the same literal replaces medspaCy's
        with open(path, encoding="utf-8") as fh:
            for d in json.load(fh)["context_rules"]:
                if d["literal"].lower() not in own_literals:
                    out.extend(_literal_rules(ContextRuleSpec.from_dict(d)))
    seen: set[tuple[str, str]] = set()
    rules = []
    for r in out + own:  # one rule per (literal, category); later (project) rules win
        key = (r.literal.lower(), r.category)
        if r.pattern is None and key in seen:
            rules = [x for x in rules if (x.literal.lower(), x.category) != key or x.pattern is not None]
        seen.add(key)
        rules.append(r)
    return rules
