"""Spark path: ``nec_nlp.spark.score`` on a local[2] session gives the local batch's results."""

import json
import shutil
import sys

import pytest

pyspark = pytest.importorskip("pyspark")

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None:
        pytest.skip("Java is not installed")
    import pyspark.cloudpickle  # send this test module's fake scorer to the workers by value

    pyspark.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    from nec_nlp.spark import local_session

    session = local_session("nec_nlp-tests")
    yield session
    session.stop()


class FakeScorer:
    def score(self, text):
        from nec_nlp.types import CodeSuggestion, Mention, NoteResult, ScoredMention, Specificity

        if "BOOM" in text:
            raise ValueError("fake failure")
        code = CodeSuggestion(f"Z{len(text) % 97:02d}", "t", "exact", 1.0)
        return NoteResult("fake", {"name": "fake"}, (ScoredMention(Mention(text[:3], 0, 3),
                                                                    Specificity("specific", 0.9), (code,)),))

    def score_many(self, texts, batch_size=64):
        return (self.score(t) for t in texts)


def fake_factory(**kwargs):
    return FakeScorer()


def test_spark_score_matches_batch_with_fake(spark, tmp_path):
    from nec_nlp.batch import score_file

    rows = [(f"n{i}", "Ortho" if i % 2 else "Cardio", "word " * (i % 13 + 1)) for i in range(60)]
    rows[7] = ("n7", "Cardio", "")
    rows[9] = ("n9", "Cardio", "BOOM")
    rows[11] = (None, "Cardio", "no id here")
    df = spark.createDataFrame(rows, "note_id string, specialty string, text string").repartition(3)
    from nec_nlp.spark import score

    out = score(df, scorer_factory=fake_factory).collect()
    assert len(out) == 60
    assert out[0].asDict().keys() >= {"note_id", "specialty", "error", "codes", "result"}
    assert "text" not in out[0].asDict()
    by_id = {r["note_id"]: r for r in out if r["note_id"]}

    import csv

    path = tmp_path / "n.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["note_id", "specialty", "text"])
        w.writerows([(i or "", s, t) for i, s, t in rows])
    score_file(path, tmp_path / "o.jsonl", workers=1, progress=False, scorer_factory=fake_factory)
    local = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    for obj in local:
        if obj["note_id"] is None:
            continue
        r = by_id[obj["note_id"]]
        assert r["error"] == obj["error"]
        assert list(r["codes"]) == obj["codes"]
        if obj["error"] is None:
            res = json.loads(r["result"])
            assert res["mentions"] == obj["mentions"]
    assert by_id["n7"]["error"] == "empty_text"
    assert by_id["n9"]["error"] == "scoring_failed"
    assert "BOOM" not in by_id["n9"]["error_message"]
    assert [r["error"] for r in out if r["note_id"] is None] == ["missing_id"]
