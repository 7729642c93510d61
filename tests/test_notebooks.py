"""Both notebooks run end to end on a small sample (NEC_NLP_NOTEBOOK_SAMPLE), outputs written to a temp dir."""

import os

import pytest

NOTEBOOKS = ("01_retrain.ipynb", "02_error_analysis.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_execute_on_a_sample(name, project_root, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if not (project_root / "corpora/specificity/test.jsonl.gz").is_file():
        pytest.skip("corpora/specificity not built")
    monkeypatch.setenv("NEC_NLP_NOTEBOOK_SAMPLE", "200")
    monkeypatch.setenv("NEC_NLP_PROJECT_ROOT", str(project_root))
    monkeypatch.setenv("NEC_NLP_NOTEBOOK_OUT", str(tmp_path / "out"))
    source = project_root / "notebooks" / name
    before = source.read_bytes()
    nb = nbformat.read(source, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    nbformat.write(nb, tmp_path / name)  # the executed copy stays out of the repository
    assert source.read_bytes() == before
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    produced = {p.name for p in (tmp_path / "out").rglob("*")}
    if name.startswith("01"):
        assert "model.joblib" in produced and "model_card.json" in produced
    else:
        assert {"confusion_matrix.png", "calibration.png", "precision_recall.png", "errors_by_chapter.png",
                "misclassified_corpus.html"} <= produced


def test_notebooks_are_committed_without_large_outputs(project_root):
    nbformat = pytest.importorskip("nbformat")
    for name in NOTEBOOKS:
        nb = nbformat.read(project_root / "notebooks" / name, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert "NEC_NLP_NOTEBOOK_SAMPLE" in first.source
        size = sum(len(str(c.get("outputs", ""))) for c in nb.cells if c.cell_type == "code")
        assert size < 50_000, name
        assert os.path.getsize(project_root / "notebooks" / name) < 200_000
