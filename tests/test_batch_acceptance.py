"""Acceptance of ``nec-nlp batch`` with the REAL scorer, as a user runs it (a subprocess of the CLI).

A 10,000-row CSV export with bad rows of every kind (empty, non-UTF-8 bytes, a 5 MB note, binary garbage,
missing id, duplicate id, malformed CSV lines): rows out == rows in, each bad row has its reason, exit 0 with
the summary. Then a second run is killed with SIGKILL halfway and resumed: the output equals the
uninterrupted run's byte for byte.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

N_ROWS = 10_000

# short notes so that 10,000 rows stay quick; varied so that exact, NEC and NOS codes all occur
TEMPLATES = (
    "ASSESSMENT: Type 2 diabetes mellitus with diabetic chronic kidney disease.",
    "IMPRESSION: Congestive heart failure.",
    "Assessment: Essential hypertension. Plan: continue lisinopril.",
    "DIAGNOSIS: Closed fracture of the left distal radius, initial encounter.",
    "Patient denies chest pain. Assessment: pneumonia.",
    "ASSESSMENT: Acute on chronic systolic heart failure.",
    "History of breast cancer. Assessment: anemia.",
    "IMPRESSION: Osteoarthritis of the right knee.",
    "Assessment: Asthma.",
    "DIAGNOSIS: Urinary tract infection.",
    "ASSESSMENT: Major depressive disorder, recurrent, moderate.",
    "Impression: Migraine without aura.",
)

_CLI = [sys.executable, "-c", "from nec_nlp.cli import main; main()"]


def _real_scorer_ready() -> None:
    try:
        from nec_nlp.api import load  # noqa: F401
        from nec_nlp.pipeline import build_nlp  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the real scorer is not importable yet ({exc})")


def build_export(path) -> dict[int, str]:
    """Write the 10,000-row export; return {row number: expected error reason} for the bad rows."""
    rng = random.Random(7)
    bad_at = {  # row number -> (raw CSV line, reason)
        101: (b'bad-empty,Cardiology,""\n', "empty_text"),
        1234: (b'bad-utf8,Cardiology,"Assessment: caf\xe9 \xff\xfe anemia."\n', "undecodable_bytes"),
        2500: (b'bad-big,Cardiology,"' + b"Assessment: pneumonia. " * (5 * 2**20 // 23) + b'"\n', "text_too_long"),
        3333: (b'bad-bin,Cardiology,"' + bytes(rng.choice([0, 1, 2, 3, 7, 8, 14, 15, 16, 27, 31]) for _ in range(400))
               + b'"\n', "binary_content"),
        4000: (b'bad-garbage,Cardiology,"' + bytes(rng.choice([b for b in range(256) if b not in (10, 13, 34)])
                                                   for _ in range(2000)) + b'"\n', "undecodable_bytes"),
        4321: (b',Cardiology,"Assessment: asthma."\n', "missing_id"),
        5555: (b'n00000007,Cardiology,"Assessment: asthma."\n', "duplicate_id"),
        6000: (b'bad-fields,Cardiology,"Assessment: asthma.",extra,"more"\n', "malformed_row"),
        7000: (b'bad-quote,Cardiology,"Assessment: asthma. the quote is never closed\n', "malformed_row"),
    }
    lines = [b"note_id,specialty,text\n"]
    for row in range(1, N_ROWS + 1):
        if row in bad_at:
            lines.append(bad_at[row][0])
        else:
            spec = ("Cardiology", "Endocrinology", "Orthopedic")[row % 3]
            lines.append(f'n{row:08d},{spec},"{TEMPLATES[row % len(TEMPLATES)]} Seen {row % 5} days ago."\n'
                         .encode())
    path.write_bytes(b"".join(lines))
    return {row: reason for row, (_, reason) in bad_at.items()}


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    _real_scorer_ready()
    path = tmp_path_factory.mktemp("accept") / "export.csv"
    return path, build_export(path)


@pytest.fixture(scope="module")
def full_run(export):
    path, _ = export
    out = path.with_name("full.jsonl")
    proc = subprocess.run([*_CLI, "batch", str(path), str(out), "--keep", "specialty", "--workers", "2",
                           "--quiet"], capture_output=True, text=True, timeout=900)
    return proc, out


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_batch_acceptance_every_row_accounted_for(export, full_run):
    path, expected = export
    proc, out = full_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rows in" in proc.stdout and "10,000" in proc.stdout and "scored" in proc.stdout
    objs = read_jsonl(out)
    assert len(objs) == N_ROWS
    assert [o["row"] for o in objs] == list(range(1, N_ROWS + 1))
    errors = {o["row"]: o["error"] for o in objs if o["error"]}
    assert errors == expected
    for o in objs:
        if o["error"]:
            assert o["mentions"] == [] and o["error_message"].startswith(f"row {o['row']} ")
            assert "Assessment" not in o["error_message"] and "asthma" not in o["error_message"]
        else:
            assert o["code_set"] and isinstance(o["codes"], list)
    assert objs[4320]["note_id"] is None
    kinds = {m["codes"][0]["kind"] for o in objs for m in o["mentions"] if m["codes"]}
    assert len(kinds) >= 2  # the export exercises more than one kind of code
    for reason in set(expected.values()):
        assert reason in proc.stdout
    assert not os.path.exists(str(out) + ".part")


def test_batch_acceptance_sigkill_then_resume_matches(export, full_run):
    path, _ = export
    proc_full, full = full_run
    assert proc_full.returncode == 0
    out = path.with_name("killed.jsonl")
    part = path.with_name("killed.jsonl.part")
    proc = subprocess.Popen([*_CLI, "batch", str(path), str(out), "--keep", "specialty", "--workers", "2",
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            if part.exists() and part.stat().st_size > 0:
                with open(part, "rb") as f:
                    if sum(1 for _ in f) >= N_ROWS // 2:
                        break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its scoring workers, as a crash would
        proc.wait(timeout=60)
    assert not out.exists()
    with open(part, "rb") as f:
        n_done = sum(1 for line in f if line.endswith(b"\n"))
    assert N_ROWS // 2 <= n_done < N_ROWS
    resumed = subprocess.run([*_CLI, "batch", str(path), str(out), "--keep", "specialty", "--workers", "2",
                              "--quiet", "--resume"], capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed" in resumed.stdout
    assert out.read_bytes() == full.read_bytes()
