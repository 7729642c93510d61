"""Shared fixtures. ``shared_dir`` is the workplace's ../shared/ beside the project root (also in CI)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = ROOT.parent / "shared"
    if not (path / "data").is_dir():
        pytest.skip("../shared/data is not beside the project root")
    return path


@pytest.fixture(scope="module")
def isolated_code_set_cache(tmp_path_factory: pytest.TempPathFactory):
    """A fresh, empty code-set cache dir (NEC_NLP_CACHE_DIR) for one test module; loaded releases forgotten."""
    import os

    from nec_nlp.icd10cm import forget_loaded

    old = os.environ.get("NEC_NLP_CACHE_DIR")
    os.environ["NEC_NLP_CACHE_DIR"] = str(tmp_path_factory.mktemp("necnlp-cache"))
    forget_loaded()
    yield
    forget_loaded()
    if old is None:
        os.environ.pop("NEC_NLP_CACHE_DIR", None)
    else:
        os.environ["NEC_NLP_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def cs():
    """The April 2026 code set (test modules that need an isolated cache define their own ``cs``)."""
    from nec_nlp.icd10cm import load_code_set

    return load_code_set("2026-04")


@pytest.fixture(scope="session")
def specificity_corpus() -> Path:
    """The classifier's corpus folder (built by scripts/build_corpora.py and committed)."""
    path = ROOT / "corpora" / "specificity"
    if not (path / "train.jsonl.gz").is_file():
        pytest.skip("corpora/specificity not built (python scripts/build_corpora.py)")
    return path


@pytest.fixture(scope="session")
def rules_score():
    """``rules_score(text)``: the note result as a dict, scored with the rule-based verdict (no trained model) on
    the April 2026 release."""
    from nec_nlp.api import load

    scorer = load(model="rules", code_set="2026-04")
    return lambda text: scorer.score(text).to_dict()


@pytest.fixture(scope="session")
def rules_top(rules_score):
    """``rules_top(text, head)``: the first code of the mention whose text holds ``head``; "" when it has none."""

    def top(text: str, head: str) -> str:
        m = next(m for m in rules_score(text)["mentions"] if head.lower() in m["text"].lower())
        return m["codes"][0]["code"] if m["codes"] else ""

    return top
