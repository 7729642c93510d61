"""Batch I/O machinery: readers, validation, writers, ordering, resume, CLI (with a small fake scorer).

The acceptance runs with the real scorer live in ``test_batch_acceptance.py``.
"""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nec_nlp.batch import read_records, score_file, score_notes
from nec_nlp.types import CodeSuggestion, Mention, NoteResult, ScoredMention, Specificity

KINDS = ("exact", "nec", "nos")


class FakeScorer:
    """Derives one mention and codes from the text, so outputs differ per note and are checkable."""

    def score(self, text: str) -> NoteResult:
        if "BOOM" in text:
            raise ValueError("fake failure")
        word = text.split()[0]
        kind = KINDS[len(text) % 3]
        codes = [CodeSuggestion(f"Z{len(text) % 97:02d}", f"title {kind}", kind, 0.9)]  # type: ignore[arg-type]
        if kind == "nec":
            codes.append(CodeSuggestion(f"Y{len(text) % 89:02d}", "exact alternative", "exact", 0.5))
        sm = ScoredMention(
            Mention(word, 0, len(word)), Specificity("nos" if kind == "nos" else "specific", 0.5), tuple(codes),
            rationale="fake", missing=("laterality",) if kind == "nos" else (), query="Which side?" if kind == "nos"
            else None)
        return NoteResult("fake-2026", {"name": "fake"}, (sm,))

    def score_many(self, texts, batch_size=64):
        for t in texts:
            yield self.score(t)


def fake_factory(**kwargs):
    return FakeScorer()


class CountingScorer(FakeScorer):
    calls = 0

    def score(self, text):
        CountingScorer.calls += 1
        return super().score(text)


def counting_factory(**kwargs):
    return CountingScorer()


def broken_factory(**kwargs):
    raise RuntimeError("no model here")


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["note_id", "specialty", "text"])
        w.writerows(rows)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def bad_export(path: Path) -> dict[int, str]:
    """A CSV with one bad row of each kind; returns {row number: expected reason}."""
    good = [(f"n{i}", "Cardiology", f"Patient {i} has chest pain and hypertension.") for i in range(1, 6)]
    lines = [b"note_id,specialty,text\r\n"]
    for r in good:
        lines.append(f"{r[0]},{r[1]},\"{r[2]}\"\r\n".encode())
    expected = {}
    bad: list[tuple[bytes, str]] = [
        (b'e1,Cardiology,""\r\n', "empty_text"),
        (b'e2,Cardiology,"   "\r\n', "empty_text"),
        (b'u1,Cardiology,"caf\xe9 au lait spots \xff\xfe"\r\n', "undecodable_bytes"),
        (b'l1,Cardiology,"' + b"x" * 5_000 + b'"\r\n', "text_too_long"),
        (b'g1,Cardiology,"abc\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\x0f\x10\x11\x12\x13"\r\n', "binary_content"),
        (b',Cardiology,"A note without an id."\r\n', "missing_id"),
        (b'n1,Cardiology,"Same id as the first row."\r\n', "duplicate_id"),
        (b'm1,Cardiology,"text",extra,fields\r\n', "malformed_row"),
        (b'multi,Cardiology,"line one\r\nline two, with ""quotes"""\r\n', None),
        (b'b1,Cardiology,"BOOM goes the scorer"\r\n', "scoring_failed"),
    ]
    for raw, reason in bad:
        lines.append(raw)
        expected[len(lines) - 1] = reason
    path.write_bytes(b"".join(lines))
    return expected


def test_batch_read_records_reasons(tmp_path):
    path = tmp_path / "bad.csv"
    expected = bad_export(path)
    recs = list(read_records(path, keep=("specialty",), max_chars=1000))
    assert [r.row for r in recs] == list(range(1, 16))
    for row, reason in expected.items():
        if reason != "scoring_failed":
            assert recs[row - 1].error == reason, (row, recs[row - 1])
    assert recs[13].text == 'line one\r\nline two, with "quotes"'
    for r in recs:
        if r.error:
            assert r.text is None
            assert r.message.startswith(f"row {r.row} ")
            assert "caf" not in r.message and "xxxx" not in r.message and "Same id" not in r.message


def test_batch_long_csv_field_is_too_long_not_malformed(tmp_path):
    # a field over the csv module's default limit (131,072 characters) but under the record cap keeps its id
    path = tmp_path / "long.csv"
    path.write_bytes(b'note_id,text\na,"ok one"\nlong,"' + b"x" * 200_000 + b'"\nc,"ok three"\n')
    recs = list(read_records(path, max_chars=100_000))
    assert [(r.note_id, r.error) for r in recs] == [("a", None), ("long", "text_too_long"), ("c", None)]


def test_batch_unterminated_quote_recovers_following_rows(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b'note_id,text\na,"ok one"\nb,"never closed\nc,"ok three"\nd,ok four\n')
    recs = list(read_records(path))
    assert [(r.note_id, r.error) for r in recs] == [("a", None), ("b", "malformed_row"), ("c", None),
                                                   ("d", None)]
    assert recs[3].text == "ok four"


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_every_row_out_with_reason(tmp_path, workers):
    path = tmp_path / "bad.csv"
    expected = bad_export(path)
    out = tmp_path / "out" / "scored.jsonl"
    summary = score_file(path, out, keep=("specialty",), workers=workers, chunk_size=3, max_chars=1000,
                         progress=False, scorer_factory=fake_factory)
    objs = read_jsonl(out)
    assert len(objs) == summary.rows_in == 15
    assert [o["row"] for o in objs] == list(range(1, 16))
    for row, reason in expected.items():
        assert objs[row - 1]["error"] == reason
    assert summary.scored == 6
    assert summary.errors == {"empty_text": 2, "undecodable_bytes": 1, "text_too_long": 1, "binary_content": 1,
                              "missing_id": 1, "duplicate_id": 1, "malformed_row": 1, "scoring_failed": 1}
    first = objs[0]
    assert list(first)[:3] == ["note_id", "specialty", "row"]
    assert first["codes"] == [FakeScorer().score("Patient 1 has chest pain and hypertension.").codes[0]]
    assert not (tmp_path / "out" / "scored.jsonl.part").exists()


def test_batch_workers_give_same_output(tmp_path):
    path = tmp_path / "notes.csv"
    write_csv(path, [(f"id{i}", "X", "word " * (i % 17 + 1)) for i in range(200)])
    a = score_file(path, tmp_path / "a.jsonl", workers=1, chunk_size=7, progress=False, scorer_factory=fake_factory)
    b = score_file(path, tmp_path / "b.jsonl", workers=2, chunk_size=7, progress=False, scorer_factory=fake_factory)
    assert a.rows_in == b.rows_in == 200
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


class Interrupt(Exception):
    pass


def test_batch_resume_after_interrupt_matches_full_run(tmp_path):
    path = tmp_path / "notes.csv"
    rows = [(f"id{i}", "S", "note text " * (i % 11 + 1)) for i in range(300)]
    rows[50] = ("id10", "S", "duplicate of an earlier id")
    rows[120] = ("id120", "S", "")
    write_csv(path, rows)
    full = tmp_path / "full.jsonl"
    score_file(path, full, keep=("specialty",), workers=1, chunk_size=16, progress=False,
               scorer_factory=fake_factory)

    out = tmp_path / "resumed.jsonl"

    def stop(written: int) -> None:
        if written >= 150:
            raise Interrupt

    with pytest.raises(Interrupt):
        score_file(path, out, keep=("specialty",), workers=1, chunk_size=16, progress=False,
                   scorer_factory=fake_factory, on_chunk=stop)
    assert not out.exists()
    part = out.with_name(out.name + ".part")
    # simulate a torn last line, as a kill in the middle of a write leaves it
    with open(part, "a", encoding="utf-8") as f:
        f.write('{"note_id": "id1')
    n_done = len(part.read_text().splitlines()) - 1
    assert 150 <= n_done < 300
    summary = score_file(path, out, keep=("specialty",), workers=1, chunk_size=16, progress=False,
                         scorer_factory=fake_factory, resume=True)
    assert summary.resumed == n_done
    assert summary.rows_in == 300
    assert summary.errors == {"duplicate_id": 1, "empty_text": 1}
    assert out.read_text() == full.read_text()


def test_batch_resume_refuses_other_settings(tmp_path):
    from nec_nlp.errors import InputError

    path = tmp_path / "notes.csv"
    write_csv(path, [(f"id{i}", "S", "text here") for i in range(40)])
    out = tmp_path / "o.jsonl"

    def stop(written: int) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        score_file(path, out, workers=1, chunk_size=8, progress=False, scorer_factory=fake_factory, on_chunk=stop)
    with pytest.raises(InputError, match="cannot resume"):
        score_file(path, out, keep=("specialty",), workers=1, progress=False, scorer_factory=fake_factory,
                   resume=True)


def test_batch_jsonl_and_parquet_inputs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    jl = tmp_path / "in.jsonl"
    jl.write_bytes(
        b'{"note_id": "a", "text": "Chest pain."}\n'
        b'{"note_id": "b", "text": "Unterminated\n'
        b'\n'
        b'[1, 2]\n'
        b'{"note_id": "c", "text": "Ok again."}'
    )
    objs_in = list(read_records(jl))
    assert [(r.note_id, r.error) for r in objs_in] == [("a", None), (None, "malformed_row"),
                                                      (None, "malformed_row"), ("c", None)]
    pq_path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"note_id": ["p1", "p2", None, "p4"], "site": ["A", "B", "C", "D"],
                             "text": ["Asthma.", None, "Gout.", "Left knee pain."]}), pq_path)
    recs = list(read_records(pq_path, keep=("site",)))
    assert [(r.note_id, r.error, r.kept["site"]) for r in recs] == [
        ("p1", None, "A"), ("p2", "empty_text", "B"), (None, "missing_id", "C"), ("p4", None, "D")]


def test_batch_parquet_and_csv_outputs(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "bad.csv"
    bad_export(path)
    s1 = score_file(path, tmp_path / "o.parquet", keep=("specialty",), workers=1, max_chars=1000, progress=False,
                    scorer_factory=fake_factory)
    table = pq.read_table(tmp_path / "o.parquet").to_pylist()
    assert len({r["row"] for r in table}) == s1.rows_in == 15
    coded = [r for r in table if r["code"]]
    assert len(coded) == s1.scored
    for r in coded:
        assert r["candidate_codes"].split(";")[0] == r["code"]
        assert (r["candidate_kinds"] == "nec;exact") == (r["code_kind"] == "nec")
    assert {"note_id", "specialty", "mention_text", "code", "missing", "verdict"} <= set(table[0])
    score_file(path, tmp_path / "o.csv", keep=("specialty",), workers=1, max_chars=1000, progress=False,
               scorer_factory=fake_factory)
    with open(tmp_path / "o.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15
    assert rows[5]["error"] == "empty_text" and rows[0]["error"] == ""
    assert json.loads(rows[0]["mentions_json"])[0]["codes"][0]["code"] == rows[0]["codes"]


def test_batch_score_notes_generator_keeps_order():
    from nec_nlp.batch import NoteRecord

    recs = [NoteRecord(i + 1, f"n{i}", "x " * (i + 1)) for i in range(10)]
    recs[3] = NoteRecord(4, "n3", None, error="empty_text", message="row 4 (id 'n3'): empty text")
    out = list(score_notes(recs, workers=1, chunk_size=4, scorer_factory=fake_factory))
    assert [o["row"] for o in out] == list(range(1, 11))
    assert out[3]["error"] == "empty_text" and out[3]["mentions"] == []


def test_batch_broken_factory_fails_fast(tmp_path):
    from nec_nlp.errors import ModelError

    path = tmp_path / "n.csv"
    write_csv(path, [("a", "S", "text")])
    with pytest.raises(ModelError, match="RuntimeError"):
        score_file(path, tmp_path / "o.jsonl", workers=2, progress=False, scorer_factory=broken_factory)


def test_batch_cli_summary(tmp_path):
    from nec_nlp.cli import app

    path = tmp_path / "bad.csv"
    bad_export(path)
    out = tmp_path / "new" / "o.jsonl"
    result = CliRunner().invoke(app, ["batch", str(path), str(out), "--keep", "specialty", "--workers", "1",
                                      "--max-chars", "1000", "--quiet",
                                      "--scorer-factory", f"{__name__}:fake_factory"])
    assert result.exit_code == 0, result.output
    assert "rows in" in result.output and "15" in result.output
    assert "duplicate_id" in result.output and "malformed_row" in result.output
    assert len(read_jsonl(out)) == 15


def test_batch_result_cache_same_output_fewer_calls(tmp_path):
    path = tmp_path / "notes.csv"
    write_csv(path, [(f"id{i}", "S", f"templated note number {i % 5}") for i in range(100)])
    outs = []
    for size in (0, 16):
        CountingScorer.calls = 0
        out = tmp_path / f"c{size}.jsonl"
        score_file(path, out, workers=1, chunk_size=8, cache_size=size, progress=False,
                   scorer_factory=counting_factory)
        outs.append((out.read_text(), CountingScorer.calls))
    assert outs[0][0] == outs[1][0]
    assert outs[0][1] == 100 and outs[1][1] == 5


def test_batch_refuses_reserved_column_names(tmp_path):
    from nec_nlp.errors import InputError

    path = tmp_path / "n.csv"
    path.write_text("note_id,error,text\na,x,Asthma.\n", encoding="utf-8")
    with pytest.raises(InputError, match="used by the output"):
        score_file(path, tmp_path / "o.jsonl", keep=("error",), workers=1, progress=False,
                   scorer_factory=fake_factory)


def test_batch_jsonl_with_bom_and_missing_columns(tmp_path):
    from nec_nlp.errors import InputError

    jl = tmp_path / "bom.jsonl"
    jl.write_bytes(b'\xef\xbb\xbf{"note_id": "a", "text": "Asthma."}\n')
    assert [(r.note_id, r.error) for r in read_records(jl)] == [("a", None)]
    path = tmp_path / "n.csv"
    path.write_text("id,text\na,Asthma.\n", encoding="utf-8")
    with pytest.raises(InputError, match="note_id"):
        list(read_records(path))


class DyingScorer(FakeScorer):
    def score(self, text):
        if "DIE" in text:
            import os

            os._exit(1)  # a worker killed mid-task (e.g. by the OOM killer)
        return super().score(text)


def dying_factory(**kwargs):
    return DyingScorer()


def test_batch_dead_worker_stops_with_resumable_error(tmp_path):
    from nec_nlp.batch import ScoringError

    path = tmp_path / "n.csv"
    write_csv(path, [(f"id{i}", "S", "DIE" if i == 150 else f"note {i}") for i in range(200)])
    out = tmp_path / "o.jsonl"
    with pytest.raises(ScoringError, match="--resume"):
        score_file(path, out, workers=2, chunk_size=10, progress=False, scorer_factory=dying_factory)
    assert not out.exists()
    written = read_jsonl(out.with_name(out.name + ".part"))
    assert [o["row"] for o in written] == list(range(1, len(written) + 1))
    assert len(written) < 200


def test_batch_unterminated_quote_to_end_of_file_loses_no_row(tmp_path):
    from nec_nlp import batch

    lines = [b"note_id,text\n", b'a,"never closed\n'] + [f"r{i},plain note {i}\n".encode() for i in range(50)]
    path = tmp_path / "q.csv"
    path.write_bytes(b"".join(lines))
    recs = list(read_records(path))
    assert [(r.row, r.note_id, r.error) for r in recs[:2]] == [(1, "a", "malformed_row"), (2, "r0", None)]
    assert len(recs) == 51 and all(r.error is None for r in recs[1:])
    # the same with the swallowed part over the in-memory limit (spilled to a temporary file)
    big = [b"note_id,text\n", b'a,"never closed\n'] + [f"r{i},{'word ' * 40}\n".encode() for i in range(3000)]
    path.write_bytes(b"".join(big))
    recs = list(batch._validate(raw, "note_id", "text", (), 10**6, {})
                for raw in batch._read_csv(path, ["note_id", "text"], record_cap=100_000))
    assert len(recs) == 3001 and recs[0].error == "malformed_row"
    assert all(r.error is None for r in recs[1:]) and recs[-1].note_id == "r2999"


def test_batch_oversized_multiline_note_is_one_row(tmp_path):
    from nec_nlp import batch

    body = ("line of a very long note, with commas\n" * 5000).encode()
    path = tmp_path / "big.csv"
    path.write_bytes(b'note_id,text\nbig,"' + body + b'"\nsmall,"ok"\n')
    raws = list(batch._read_csv(path, ["note_id", "text"], record_cap=50_000))
    assert [(r.row, r.fields.get("note_id"), r.error) for r in raws] == [(1, "big", "text_too_long"),
                                                                         (2, "small", None)]


class PidScorer(FakeScorer):
    """Reports the worker process it ran in as the result's code set."""

    def score(self, text):
        import os

        return NoteResult(f"pid-{os.getpid()}", {"name": "fake"}, super().score(text).mentions)


def pid_factory(**kwargs):
    return PidScorer()


def test_batch_recycles_workers_without_losing_rows():
    from nec_nlp.batch import NoteRecord

    recs = [NoteRecord(i + 1, f"n{i}", "x " * (i + 1)) for i in range(24)]
    out = list(score_notes(recs, workers=2, chunk_size=2, recycle_after=4, scorer_factory=pid_factory))
    assert [o["row"] for o in out] == list(range(1, 25))
    assert all(o["error"] is None and len(o["mentions"]) == 1 for o in out)
    # 12 chunks of 2 notes, a new pool of 2 processes after every 8 notes: 3 pools scored them (1 without recycling)
    pids = [o["code_set"] for o in out]
    assert len(set(pids)) >= 3
    assert not set(pids[:8]) & set(pids[8:16]) and not set(pids[8:16]) & set(pids[16:])
    never = list(score_notes(recs, workers=2, chunk_size=2, recycle_after=0, scorer_factory=pid_factory))
    assert len({o["code_set"] for o in never}) <= 2
    assert [o["codes"] for o in never] == [o["codes"] for o in out]


def test_seen_ids_behaves_like_a_dict_across_merges():
    import random

    from nec_nlp.batch import SeenIds

    rng = random.Random(7)
    ids = [f"id-{rng.randrange(5000)}" for _ in range(6000)] + ["", " x", "é\u2028", "\ud800"]
    seen, ref = SeenIds(buffer=100), {}
    for row, note_id in enumerate(ids, 1):
        assert (note_id in seen) == (note_id in ref)
        if note_id in ref:
            assert seen[note_id] == ref[note_id]
        seen[note_id] = row
        ref.setdefault(note_id, row)
    assert len(seen) == len(ref) and len(seen._keys) > 0  # merged into the arrays at least once
    assert all(seen[k] == v for k, v in ref.items())
    assert "never-seen" not in seen and 12 not in seen
    with pytest.raises(KeyError):
        seen["never-seen"]


def test_seen_ids_finds_digests_ending_in_nul_bytes():
    from nec_nlp.batch import SeenIds

    seen = SeenIds(buffer=1)
    # find ids whose digest ends with a NUL byte (numpy strips those in S16 arrays)
    odd = [f"k{i}" for i in range(3000) if SeenIds._digest(f"k{i}").endswith(b"\x00")][:3]
    assert odd
    for row, note_id in enumerate([*odd, "other"], 1):
        seen[note_id] = row
    assert [seen[k] for k in odd] == [1, 2, 3] and seen["other"] == 4
