"""The committed specificity corpora: category splits, spans, no leaked label wording, and rebuilt by the script."""

import gzip
import hashlib
import json
import re
import subprocess
import sys

import pytest

SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="module")
def corpus(project_root):
    folder = project_root / "corpora" / "specificity"
    if not (folder / "manifest.json").is_file():
        pytest.skip("corpora/specificity not built")
    data = {}
    for split in SPLITS:
        with gzip.open(folder / f"{split}.jsonl.gz", "rt", encoding="utf-8") as fh:
            data[split] = [json.loads(line) for line in fh]
    return folder, data


def test_corpora_no_category_crosses_splits(corpus):
    _, data = corpus
    cats = {split: {r["category"] for r in recs} for split, recs in data.items()}
    assert not cats["train"] & cats["test"]
    assert not cats["train"] & cats["dev"]
    assert not cats["dev"] & cats["test"]
    for split, recs in data.items():
        assert all(r["split"] == split and r["code"].replace(".", "")[:3] == r["category"] for r in recs)


def test_corpora_spans_labels_and_both_classes(corpus):
    _, data = corpus
    for split, recs in data.items():
        assert len(recs) > 100
        labels = {r["label"] for r in recs}
        assert labels == {"specific", "nos"}, split
        for r in recs:
            assert r["text"][r["start"]:r["end"]] == r["target"]
            assert r["label"] == ("nos" if r["kind"] == "nos" else r["label"])  # nos codes are never "specific"
    ids = [r["id"] for recs in data.values() for r in recs]
    assert len(ids) == len(set(ids))


def test_corpora_targets_do_not_leak_the_label_wording(corpus):
    _, data = corpus
    leak = re.compile(r"\b(unspecified|NOS|NEC|not elsewhere classified)\b", re.I)
    offenders = [r["id"] for recs in data.values() for r in recs if leak.search(r["target"])]
    assert offenders == []


def test_corpora_manifest_checksums_match_files(corpus):
    folder, data = corpus
    manifest = json.loads((folder / "manifest.json").read_text())
    for split in SPLITS:
        entry = manifest["splits"][split]
        assert hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
        assert entry["n"] == len(data[split])
    assert manifest["code_source"] == "nec_nlp.icd10cm"


def test_corpora_datasheet_states_counts(corpus):
    folder, data = corpus
    sheet = (folder / "DATASHEET.md").read_text()
    for split in SPLITS:
        assert f"{len(data[split]):,}" in sheet, split


@pytest.mark.slow
def test_corpora_script_rebuilds_the_committed_files(project_root, shared_dir, corpus, tmp_path):
    folder, _ = corpus
    index = shared_dir / "data/icd10cm/fy2025/ICD10CM_2025_Index.csv"
    subprocess.run([sys.executable, str(project_root / "scripts/build_corpora.py"), "--index", str(index),
                    "--out", str(tmp_path)], check=True, capture_output=True)
    for split in SPLITS:
        name = f"{split}.jsonl.gz"
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name


def test_corpora_statements_follow_the_label_rule(project_root):
    from nec_nlp.classifier import load_corpus

    path = project_root / "corpora/statements/statements.jsonl"
    if not path.is_file():
        pytest.skip("statements not written yet")
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    recs = load_corpus(path)
    assert len(recs) == len(raw)
    for r, s in zip(recs, raw):
        assert r["label"] == ("specific" if s["kind"] in ("exact", "nec") else "nos")
        assert r["text"][r["start"]:r["end"]].lower() == s["target"].lower() or r["start"] == 0
