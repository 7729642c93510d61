"""Save and load specificity models: ``model.joblib`` beside ``model_card.json`` and ``MODEL_CARD.md``.

The card records the artifact's sha256; :func:`load_model` checks it *before* unpickling, so a tampered or
mismatched file is refused with :class:`~nec_nlp.errors.ModelError` instead of being executed. The shipped models
live in the ``nec_nlp_models`` package (the repository's ``models/`` folder); ``models/DEFAULT`` names the default.
"""

import hashlib
import json
import logging
import warnings
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from nec_nlp.errors import ModelError, NecNlpWarning

logger = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.json"
CARD_MD = "MODEL_CARD.md"
MODELS_PACKAGE = "nec_nlp_models"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model(model: Any, folder: "str | Path") -> Path:
    """Write a model folder: ``model.joblib``, ``model_card.json`` (with the artifact checksum), ``MODEL_CARD.md``.

    Args:
        model: A :class:`nec_nlp.classifier.SpecificityModel`.
        folder: Target folder (created; existing model files in it are replaced).

    Returns:
        The folder path.
    """
    import joblib

    from nec_nlp.classifier import SpecificityModel

    if not isinstance(model, SpecificityModel):
        raise ModelError("save_model() needs a SpecificityModel.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / MODEL_FILE
    card = dict(model.card)
    card["version"] = folder.name
    card["threshold"] = model.threshold
    model.card = card
    joblib.dump(model, artifact, compress=3)
    card = dict(card)
    card["artifact"] = {"file": MODEL_FILE, "sha256": sha256_file(artifact), "bytes": artifact.stat().st_size}
    model.card = card
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    (folder / CARD_MD).write_text(render_card(card), encoding="utf-8")
    logger.info("saved model %s", folder.name)
    return folder


def default_model_name() -> str:
    """The folder name in ``models/DEFAULT`` (the shipped default model)."""
    try:
        return files(MODELS_PACKAGE).joinpath("DEFAULT").read_text(encoding="utf-8").strip()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ModelError("the shipped models package (nec_nlp_models) is not installed: reinstall nec-nlp.") from exc


def models_dir() -> Path:
    """The folder of the installed ``nec_nlp_models`` package (the repository's ``models/`` in an editable install)."""
    root = files(MODELS_PACKAGE)
    return Path(str(root))


def load_model(path: "str | Path | None" = None) -> Any:
    """Load a model folder (or its ``model.joblib``) after checking the artifact against its card.

    Args:
        path: A model folder, a ``model.joblib`` path, the name of a shipped model (``"specificity-v1"``), or
            None for the shipped default (``models/DEFAULT``).

    Returns:
        The :class:`nec_nlp.classifier.SpecificityModel`, its ``card`` taken from ``model_card.json``.

    Raises:
        ModelError: when the folder, artifact or card is missing, the checksum does not match the card, or the file
            does not hold a specificity model.
    """
    if path is None:
        name = default_model_name()
        resource = files(MODELS_PACKAGE).joinpath(name)
        with as_file(resource) as folder:
            return _load_folder(Path(folder), label=f"shipped model {name!r}")
    p = Path(path)
    if not p.exists() and "/" not in str(path) and "\\" not in str(path):
        resource = files(MODELS_PACKAGE).joinpath(str(path))
        with as_file(resource) as folder:
            if Path(folder).is_dir():
                return _load_folder(Path(folder), label=f"shipped model {path!s}")
    if p.is_file():
        return _load_folder(p.parent, label=str(p.parent), artifact_name=p.name)
    return _load_folder(p, label=str(p))


def _load_folder(folder: Path, *, label: str, artifact_name: str = MODEL_FILE) -> Any:
    import joblib

    from nec_nlp.classifier import SpecificityModel

    if not folder.is_dir():
        raise ModelError(f"model folder {label} not found: train one with `nec-nlp train` or give another path.")
    card_path = folder / CARD_FILE
    artifact = folder / artifact_name
    if not card_path.is_file():
        raise ModelError(f"{label}: {CARD_FILE} is missing; a model is only loaded beside its card.")
    if not artifact.is_file():
        raise ModelError(f"{label}: {artifact_name} is missing: retrain with `nec-nlp train`.")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        expected = card["artifact"]["sha256"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"{label}: {CARD_FILE} is unreadable or has no artifact checksum.") from exc
    actual = sha256_file(artifact)
    if actual != expected:
        raise ModelError(f"{label}: {artifact_name} does not match its model card (sha256 {actual[:12]}... != "
                         f"{str(expected)[:12]}...): the file was changed or belongs to another model. "
                         "Refusing to load it; retrain with `nec-nlp train` or restore the file.")
    try:
        model = joblib.load(artifact)
    except Exception as exc:  # unpickling errors of many kinds
        raise ModelError(f"{label}: {artifact_name} could not be loaded ({type(exc).__name__}).") from exc
    if not isinstance(model, SpecificityModel):
        raise ModelError(f"{label}: {artifact_name} does not hold a specificity model.")
    model.card = card
    _check_versions(card, label)
    return model


def _check_versions(card: dict[str, Any], label: str) -> None:
    trained = card.get("versions", {}).get("scikit_learn")
    try:
        installed = dist_version("scikit-learn")
    except PackageNotFoundError:  # pragma: no cover
        return
    if trained and trained.split(".")[:2] != installed.split(".")[:2]:
        warnings.warn(f"{label} was trained with scikit-learn {trained}, {installed} is installed: predictions may "
                      "differ; retrain with `nec-nlp train`.", NecNlpWarning, stacklevel=3)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "n/a" if value is None else str(value)


def render_card(card: dict[str, Any]) -> str:
    """The Markdown model card of a card dict."""
    lines = [f"# Model card: {card.get('version', card.get('name', 'specificity'))}", ""]
    lines += [card.get("task", ""), "", f"**Label definition.** {card.get('label_definition', '')}", ""]
    lines += [f"Decision threshold on calibrated P(specific): {_fmt(card.get('threshold'))}", ""]
    lines += ["## Versions", "", "| component | version |", "| --- | --- |"]
    for k, v in card.get("versions", {}).items():
        lines.append(f"| {k} | {v} |")
    lines.append(f"| ICD-10-CM code set | {card.get('code_set')} |")
    lines.append("")
    corpus = card.get("corpus", {})
    lines += ["## Training data", "",
              f"- corpus: `{corpus.get('source')}` (sha256 `{corpus.get('sha256')}`)",
              f"- training records: {corpus.get('n_train')} {corpus.get('labels')}; dev records: {corpus.get('n_dev')}",
              ]
    st = corpus.get("statements") or {}
    if st.get("n_train"):
        lines.append(f"- plus {st['n_train']} hand-labelled statements (dev split of `{st.get('source')}`, weight "
                     f"{st.get('weight')}, sha256 `{st.get('sha256')}`)")
    lines.append("")
    training = card.get("training", {})
    lines += ["## Model", ""]
    if card.get("feature_description"):
        lines += [f"**Features.** {card['feature_description']}", ""]
    if card.get("recommender_sha256"):
        lines += [f"Recommender used for the stacked features: `nec_nlp/recommender.py` sha256 "
                  f"`{card['recommender_sha256']}`.", ""]
    lines += [f"- {training.get('estimator', '')}", f"- calibration: {training.get('calibration')}",
              f"- seed {training.get('seed')}, sample {training.get('sample')}, "
              f"extraction pipeline used: {training.get('pipeline')}, "
              f"training mentions without a pipeline match: {training.get('mentions_without_pipeline_match')}", ""]
    metrics = card.get("metrics", {})
    if metrics:
        lines += ["## Evaluation", "", "| data | n | macro-F1 | accuracy | ECE | Brier | majority macro-F1 / acc |"
                  " keyword macro-F1 / acc |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, m in metrics.items():
            if not isinstance(m, dict) or "macro_f1" not in m:
                continue
            b = m.get("baselines", {})
            maj, kw = b.get("majority", {}), b.get("keyword", {})
            lines.append(f"| {name} | {m.get('n')} | {_fmt(m.get('macro_f1'))} | {_fmt(m.get('accuracy'))} | "
                         f"{_fmt(m.get('ece'))} | {_fmt(m.get('brier'))} | {_fmt(maj.get('macro_f1'))} / "
                         f"{_fmt(maj.get('accuracy'))} | {_fmt(kw.get('macro_f1'))} / {_fmt(kw.get('accuracy'))} |")
        dev_role = ("fitted the stacked recommender model, the calibration and the threshold"
                    if card.get("uses_recommender") else "picked the calibration and the threshold")
        lines += ["", "Held out: `test` (ICD-10-CM categories unseen in training) and `statements_test`. `dev` "
                  f"{dev_role}; `statements_dev` is part of the training data.", ""]
    art = card.get("artifact", {})
    lines += ["## Artifact", "", f"`{art.get('file')}` sha256 `{art.get('sha256')}` ({art.get('bytes')} bytes). "
              "Loading refuses a file whose checksum differs.", "", f"Created {card.get('created')}.", ""]
    return "\n".join(lines)
