"""Doc -> typed :class:`~nec_nlp.types.Mention` records (the contract the classifier and recommender use)."""

from spacy.tokens import Doc, Span

from nec_nlp.types import Assertion, Details, Mention


def span_assertion(span: Span) -> Assertion:
    """The five ConText booleans of a CONDITION span."""
    return Assertion(
        negated=bool(span._.is_negated),
        historical=bool(span._.is_historical),
        hypothetical=bool(span._.is_hypothetical),
        family=bool(span._.is_family),
        uncertain=bool(span._.is_uncertain),
    )


def span_details(span: Span) -> Details:
    """Attached detail strings of a CONDITION span, in text order (abbreviation qualifiers as types)."""
    types = [s.text for s in span._.type]
    types.extend(q for q in span._.implied_type if q not in types)
    return Details(
        site=tuple(s.text for s in span._.site),
        type=tuple(types),
        cause=tuple(s.text for s in span._.cause),
        drug=tuple(s.text for s in span._.drug),
        laterality=span._.laterality,
        encounter=span._.encounter,
    )


def doc_mentions(doc: Doc) -> list[Mention]:
    """One :class:`Mention` per CONDITION entity of ``doc``, in text order.

    Args:
        doc: A Doc processed by the pipeline of :func:`nec_nlp.pipeline.build_nlp`.

    Returns:
        Mentions with character offsets, section category, assertion, details and sentence text.
    """
    out = []
    for ent in sorted(doc.ents, key=lambda e: e.start):
        if ent.label_ != "CONDITION":
            continue
        sentence = ent.sent.text.strip() if doc.has_annotation("SENT_START") else ""
        out.append(Mention(
            text=ent.text,
            start=ent.start_char,
            end=ent.end_char,
            section=ent._.section_category,
            assertion=span_assertion(ent),
            details=span_details(ent),
            sentence=sentence,
        ))
    return out
