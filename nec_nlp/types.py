"""Frozen records passed between the stages: mention -> specificity -> code suggestions -> note result.

The JSON shape produced by :meth:`NoteResult.to_dict` is the contract of ``nec-nlp score --json``, of the
batch outputs and of :func:`nec_nlp.score_text`; it is validated by ``nec_nlp/schemas/note_result.schema.json``.
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

CodeKind = Literal["exact", "nec", "nos"]
Verdict = Literal["specific", "nos"]

ASSERTIONS = ("negated", "historical", "hypothetical", "family", "uncertain")


@dataclass(frozen=True)
class Assertion:
    negated: bool = False
    historical: bool = False
    hypothetical: bool = False
    family: bool = False
    uncertain: bool = False

    @property
    def current_affirmed(self) -> bool:
        """True when the mention is a current, affirmed problem of the patient (drives coding)."""
        return not (self.negated or self.historical or self.hypothetical or self.family or self.uncertain)


@dataclass(frozen=True)
class Details:
    """Specificity details attached to one CONDITION mention (surface strings, in text order)."""

    site: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    cause: tuple[str, ...] = ()
    drug: tuple[str, ...] = ()
    laterality: str | None = None  # "right" | "left" | "bilateral"
    encounter: str | None = None  # "initial" | "subsequent" | "sequela"


@dataclass(frozen=True)
class Mention:
    """One CONDITION mention as the extraction pipeline sees it."""

    text: str
    start: int
    end: int
    section: str | None = None
    assertion: Assertion = field(default_factory=Assertion)
    details: Details = field(default_factory=Details)
    sentence: str = ""  # the sentence holding the mention (features may use it; never logged)


@dataclass(frozen=True)
class Specificity:
    verdict: Verdict
    probability: float  # calibrated P(documentation supports a code beyond "unspecified")


@dataclass(frozen=True)
class CodeSuggestion:
    code: str  # dotted, e.g. "T50.995A"
    title: str
    kind: CodeKind
    score: float


@dataclass(frozen=True)
class ScoredMention:
    mention: Mention
    specificity: Specificity
    codes: tuple[CodeSuggestion, ...] = ()
    rationale: str = ""
    missing: tuple[str, ...] = ()
    query: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        m = self.mention
        return {
            "text": m.text,
            "start": m.start,
            "end": m.end,
            "section": m.section,
            "assertion": asdict(m.assertion),
            "details": {
                "site": list(m.details.site),
                "type": list(m.details.type),
                "cause": list(m.details.cause),
                "drug": list(m.details.drug),
                "laterality": m.details.laterality,
                "encounter": m.details.encounter,
            },
            "specificity": {"verdict": self.specificity.verdict,
                            "probability": round(float(self.specificity.probability), 4)},
            "codes": [{"code": c.code, "title": c.title, "kind": c.kind, "score": round(float(c.score), 4)}
                      for c in self.codes],
            "rationale": self.rationale,
            "missing": list(self.missing),
            "query": self.query,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class NoteResult:
    code_set: str
    model: dict[str, Any]
    mentions: tuple[ScoredMention, ...] = ()

    @property
    def codes(self) -> list[str]:
        """First code of each current, affirmed mention, in text order, without duplicates."""
        seen: dict[str, None] = {}
        for sm in sorted(self.mentions, key=lambda s: s.mention.start):
            if sm.mention.assertion.current_affirmed and sm.codes:
                seen.setdefault(sm.codes[0].code, None)
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code_set": self.code_set,
            "model": dict(self.model),
            "mentions": [sm.to_dict() for sm in self.mentions],
            "codes": self.codes,
        }
