"""Features of one mention: phrase widening, detail strings, shape counts and code-set candidate matching."""

import pickle
from dataclasses import dataclass

import numpy as np
import pytest

from nec_nlp.features import (CANDIDATE_COLUMNS, NUMERIC_COLUMNS, TEXT_COLUMN, CandidateMatcher, content_words,
                              features_frame, mention_features, mention_phrase, mention_text)
from nec_nlp.types import Details, Mention


# A ten-code code set read from the simple-icd-10-cm package data (never hand-typed): titles and inclusion terms
# from the April 2026 tabular, kinds from the project's kind rule.
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


def _mention(sentence: str, text: str, **details) -> Mention:
    start = sentence.find(text)
    return Mention(text=text, start=start, end=start + len(text), sentence=sentence, details=Details(**details))


@pytest.fixture(scope="module")
def code_set() -> FixtureCodeSet:
    return FixtureCodeSet()


@pytest.mark.parametrize("sentence,text,phrase", [
    ("MRSA sepsis.", "sepsis", "MRSA sepsis"),
    ("Patient is a 50-year-old male with pneumonia.", "pneumonia", "pneumonia"),
    ("Diabetes mellitus with hypoglycemia, no coma.", "Diabetes mellitus", "Diabetes mellitus with hypoglycemia"),
    ("Extremely large basal cell carcinoma, right lower lid", "carcinoma",
     "Extremely large basal cell carcinoma, right lower lid"),
    ("ASSESSMENT: Pneumonia, stable; continue antibiotics.", "Pneumonia", "Pneumonia"),
    ("History of atrial fibrillation", "atrial fibrillation", "atrial fibrillation"),
])
def test_features_phrase_widens_to_the_diagnosis(sentence, text, phrase):
    assert mention_phrase(_mention(sentence, text)) == phrase


def test_features_phrase_without_sentence_is_the_mention():
    assert mention_phrase(Mention(text="Pneumonia", start=0, end=9)) == "Pneumonia"


def test_features_text_adds_details_not_in_the_phrase():
    m = _mention("Fracture of femur.", "Fracture", site=("femur",), laterality="left", encounter="initial")
    text = mention_text(m)
    assert text.startswith("fracture of femur")
    assert text.count("femur") == 1
    assert "left" in text and "initial" in text


def test_features_dict_has_every_column_and_counts_details():
    m = _mention("Acute cystitis with hematuria.", "cystitis", type=("acute",), cause=("hematuria",))
    feats = mention_features(m)
    assert set(feats) == {TEXT_COLUMN, *NUMERIC_COLUMNS}
    assert feats["n_type"] == 1.0 and feats["n_cause"] == 1.0 and feats["n_details"] == 2.0
    assert feats["n_linkers"] >= 1.0
    assert all(feats[c] == 0.0 for c in CANDIDATE_COLUMNS)  # no code set: no candidate features


def test_features_frame_matches_single_rows(code_set):
    ms = [_mention("Seizures.", "Seizures"), _mention("Crushing injury of left great toe.", "Crushing injury")]
    frame = features_frame(ms, code_set)
    assert list(frame.columns) == [TEXT_COLUMN, *NUMERIC_COLUMNS]
    assert len(frame) == 2
    for i, m in enumerate(ms):
        single = mention_features(m, code_set)
        for col in NUMERIC_COLUMNS:
            assert frame.loc[i, col] == pytest.approx(single[col]), col
    assert len(features_frame([], code_set)) == 0


def test_features_candidates_tell_unspecified_from_specified(code_set):
    cols = list(CANDIDATE_COLUMNS)
    bare, left = features_frame([_mention("Crushing injury of great toe.", "Crushing injury"),
                                 _mention("Crushing injury of left great toe.", "Crushing injury")], code_set
                                )[cols].to_numpy()
    row = dict(zip(cols, bare))
    assert row["full_nos"] == 1.0 and row["full_exact"] == 0.0
    row = dict(zip(cols, left))
    assert row["full_exact"] == 1.0
    assert row["nos_extra_axis"] == 1.0 and row["nos_extra_free"] == 0.0  # "left" is an axis of S97


def test_features_free_modifier_is_not_an_axis(code_set):
    row = dict(zip(CANDIDATE_COLUMNS, features_frame([_mention("Severe anxiety.", "anxiety")], code_set)
                   [list(CANDIDATE_COLUMNS)].to_numpy()[0]))
    assert row["nos_extra_free"] == 1.0 and row["nos_extra_axis"] == 0.0


def test_features_hiding_a_code_removes_its_entries(code_set):
    from nec_nlp.features import candidate_features

    full = candidate_features(["crushing injury of great toe"], code_set)
    hidden = candidate_features(["crushing injury of great toe"], code_set, hide=["S97.119A"])
    j = CANDIDATE_COLUMNS.index("full_nos")
    assert full[0, j] == 1.0 and hidden[0, j] == 0.0


def test_features_content_words_normalise_abbreviations():
    assert content_words("L great toe w/ medication reaction") == {"left", "great", "toe", "drug", "effect"}


def test_features_matcher_is_picklable_free():
    # the fitted pipeline references only module-level functions: the features module pickles by reference
    import nec_nlp.features as f

    assert pickle.loads(pickle.dumps(f.features_frame)) is f.features_frame
    m = CandidateMatcher([({"pneumonia"}, set(), "nos", "J18.9")])
    out = m.match(["pneumonia", "lobar pneumonia"])
    assert out.shape == (2, len(CANDIDATE_COLUMNS))
    assert np.all(out[:, CANDIDATE_COLUMNS.index("full_nos")] == [1.0, 0.0])


def test_recommender_features_are_zero_without_a_code_set_and_memoised_per_mention_key(monkeypatch):
    import nec_nlp.features as f
    import nec_nlp.recommender as rec
    from nec_nlp.features import RECOMMENDER_COLUMNS, recommender_features
    from nec_nlp.types import CodeSuggestion, ScoredMention

    ms = [_mention("Right renal stone.", "renal stone"), _mention("Right renal stone.", "renal stone")]
    assert recommender_features(ms, None).shape == (2, len(RECOMMENDER_COLUMNS))
    assert not recommender_features(ms, None).any()
    calls = []

    def fake(mention, specificity, code_set, **kw):
        calls.append(mention.text)
        detailed = bool(mention.details.site) or mention.sentence != mention.text
        code = CodeSuggestion("N20.0", "Calculus of kidney", "nos", 1.0) if detailed else \
            CodeSuggestion("N20.9", "Urinary calculus, unspecified", "nos", 1.0)
        return ScoredMention(mention, specificity, (code,), "", ("laterality",))

    monkeypatch.setattr(rec, "recommend", fake)

    class CS:  # any weak-referenceable object stands for a code set here
        pass

    cs = CS()
    out = recommender_features(ms, cs)
    row = dict(zip(RECOMMENDER_COLUMNS, out[0]))
    assert row["rec_nos"] == 1.0 and row["rec_exact"] == 0.0 and row["rec_missing"] == 1.0
    assert row["rec_bare_differs"] == 1.0 and row["rec_bare_nos"] == 1.0
    assert row["rec_title_unspecified"] == 0.0  # NOS by its inclusion term, not by its title
    assert np.array_equal(out[0], out[1])
    assert len(calls) == 2  # one detailed + one bare call for the one distinct mention key
    recommender_features(ms, cs)
    assert len(calls) == 2  # memoised
    frame = features_frame(ms[:1], None, recommender=True)
    assert list(frame.columns) == [TEXT_COLUMN, *NUMERIC_COLUMNS, *RECOMMENDER_COLUMNS]
    assert f.mention_key(ms[0]) == f.mention_key(ms[1])


def test_recommender_features_survive_a_recommender_failure(monkeypatch):
    import nec_nlp.recommender as rec
    from nec_nlp.features import RECOMMENDER_COLUMNS, recommender_features

    def broken(*a, **kw):
        raise AttributeError("boom")

    monkeypatch.setattr(rec, "recommend", broken)

    class CS:
        pass

    row = dict(zip(RECOMMENDER_COLUMNS, recommender_features([_mention("Odd thing.", "thing")], CS())[0]))
    assert row["rec_none"] == 1.0 and row["rec_exact"] == 0.0


def test_candidate_matcher_state_round_trip_matches_a_fresh_build():
    from nec_nlp.features import CandidateMatcher

    entries = [({"cystitis"}, {"acute"}, "exact", "N30.00"), ({"cystitis"}, set(), "nos", "N30.90"),
               ({"pain", "postoperative"}, {"other"}, "nec", "G89.18"), ({"epilepsy", "focal"}, set(), "exact", "G40.109")]
    fresh = CandidateMatcher(entries)
    back = CandidateMatcher.from_state(fresh.state())
    queries = ["acute cystitis", "cystitis", "postoperative pain of ear", "focal epilepsy", "nothing here"]
    assert np.array_equal(fresh.match(queries, [None] * 5), back.match(queries, [None] * 5))
    assert back.vocab == fresh.vocab and back.matrix.shape == fresh.matrix.shape
