"""Shipped model folders (installed as the ``nec_nlp_models`` package; read with importlib.resources).

Each sub-folder is one versioned model written by ``nec-nlp train``: ``model.joblib`` beside ``model_card.json`` and
``MODEL_CARD.md``. ``DEFAULT`` names the folder used when no model is given.
"""
