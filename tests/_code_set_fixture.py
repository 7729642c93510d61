"""A ten-code code set for unit tests, read from the simple-icd-10-cm package data (never hand-typed): titles and
inclusion terms from the April 2026 tabular, kinds from the project's kind rule."""

from dataclasses import dataclass

CODES = ("S97.111A", "S97.112A", "S97.119A", "F41.0", "F41.1", "F41.8", "F41.9", "J18.9", "J15.0", "R56.9")


@dataclass(frozen=True)
class FixtureCode:
    code: str
    title: str
    kind: str
    billable: bool
    inclusion: tuple[str, ...]


class FixtureCodeSet:
    """The slice of the ``nec_nlp.icd10cm.CodeSet`` interface the features use: ``codes()`` and ``kind()``."""

    release = "fixture"

    def __init__(self, codes: tuple[str, ...] = CODES) -> None:
        import simple_icd_10_cm as cm

        from nec_nlp.icd10cm.kinds import classify

        self._codes = {}
        for code in codes:
            title = cm.get_description(code)
            inclusion = tuple(cm.get_inclusion_term(code))
            if len(code.replace(".", "")) == 7:  # 7th character: the kind of the code it extends
                parent = cm.get_parent(code)
                kind = classify(cm.get_description(parent), tuple(cm.get_inclusion_term(parent)))[0]
            else:
                kind = classify(title, inclusion)[0]
            self._codes[code] = FixtureCode(code, title, kind, cm.is_leaf(code), inclusion)

    def codes(self):
        return iter(self._codes.values())

    def kind(self, code: str) -> str:
        return self._codes[code].kind
