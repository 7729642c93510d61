"""Where should the hand-labelled statements enter the specificity model? 5-fold CV over the DEV statements only.

Variants (argument names):
    bW  the statements join the text model's training data at sample weight W (b0: left out); stacked model on the
        corpus dev split only (the placement before this comparison, with W = 10);
    aR  the text model is trained on the corpus alone; the stacked model is fitted on the corpus dev split plus the
        statements, each repeated R times (their text-model logits are then out of sample).
Each fold's statements are predicted by a model fitted without them; prints accuracy on all dev statements and on
the real-note (MTSamples) ones. The test split is never read.

Usage:
    python scripts/tune_statement_placement.py                 # b10 b0 a1 a3 a10 (about 15 min on 2 busy cores)
    python scripts/tune_statement_placement.py a10 --cache /tmp/frames.pkl
"""
import argparse
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from nec_nlp import classifier as C
from nec_nlp.features import features_frame
from nec_nlp.icd10cm import open_code_set

ROOT = Path(__file__).resolve().parents[1]
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("variants", nargs="*", default=["b10", "b0", "a1", "a3", "a10"])
ap.add_argument("--cache", default=None, help="pickle the feature frames here and reuse them on the next run")
args = ap.parse_args()
t0 = time.time()
cache = Path(args.cache) if args.cache else None
cs = open_code_set("2026-04")
corpus = ROOT / "corpora" / "specificity"
train = C.load_corpus(corpus, "train")
dev = C.load_corpus(corpus / "dev.jsonl.gz", "dev")
st = C.load_corpus(ROOT / "corpora" / "statements" / "statements.jsonl", "dev")
if cache is not None and cache.is_file():
    d = pickle.load(open(cache, "rb"))
else:
    nlp = C.default_nlp()
    tr_m, _ = C.record_mentions(train, nlp)
    st_m, _ = C.record_mentions(st, nlp)
    dv_m, _ = C.record_mentions(dev, nlp)
    print("mentions", time.time() - t0, flush=True)
    hide_all = C._hidden_codes(train + st, 0.5, 0)
    f_text = features_frame(tr_m + st_m, cs, hide_all)
    f_text_nost = features_frame(tr_m, cs, C._hidden_codes(train, 0.5, 0))
    f_dev = features_frame(dv_m, cs, recommender=True, processes=2)
    f_st = features_frame(st_m, cs, recommender=True, processes=2)
    d = dict(f_text=f_text, f_text_nost=f_text_nost, f_dev=f_dev, f_st=f_st)
    if cache is not None:
        pickle.dump(d, open(cache, "wb"))
    print("frames", time.time() - t0, flush=True)
y_tr = np.array([r["label"] for r in train]); y_st = np.array([r["label"] for r in st]); y_dv = np.array([r["label"] for r in dev])
real = np.array([not r.get("source", "written").startswith("written") for r in st])
print("source field present:", sum(real), "real of", len(st))
g_dv = [r.get("category") or r["id"] for r in dev]
folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(st)), y_st))


def stack_predict(text_model, fit_frame, fit_y, groups, pred_frame):
    meta = C.build_stack(text_model, 0, groups).fit(fit_frame, fit_y)
    p_thr = meta.predict_proba(d["f_dev"])[:, list(meta.classes_).index("specific")]
    thr = C._best_threshold((y_dv == "specific").astype(int), p_thr)
    p = meta.predict_proba(pred_frame)[:, list(meta.classes_).index("specific")]
    return np.where(p >= thr, "specific", "nos"), thr


def report(name, pred):
    ok = pred == y_st
    print(f"{name:<40} acc {ok.mean():.3f}  real {ok[real].mean():.3f} (n={real.sum()})  written {ok[~real].mean():.3f}", flush=True)


variants = args.variants
n_tr = len(train)
for v in variants:
    pred = np.empty(len(st), dtype=object)
    for k, (tr_i, te_i) in enumerate(folds):
        if v.startswith("b"):
            w = float(v[1:])
            rows = list(range(n_tr)) + [n_tr + i for i in tr_i]
            X = d["f_text"].iloc[rows]
            y = np.concatenate([y_tr, y_st[tr_i]])
            sw = np.array([1.0] * n_tr + [w] * len(tr_i))
            if w == 0:
                X, y, sw = d["f_text_nost"], y_tr, np.ones(n_tr)
            fitted = C.build_pipeline(0, calibrate=False).fit(X, y, classifier__sample_weight=sw)
            pr, thr = stack_predict(fitted, d["f_dev"], y_dv, g_dv, d["f_st"].iloc[te_i])
        else:
            rep = int(v[1:])
            if k == 0 or "fitted_a" not in globals():
                fitted_a = C.build_pipeline(0, calibrate=False).fit(d["f_text_nost"], y_tr, classifier__sample_weight=np.ones(n_tr))
            sf = d["f_st"].iloc[np.repeat(tr_i, rep)]
            Xs = pd.concat([d["f_dev"], sf], ignore_index=True)
            ys = np.concatenate([y_dv, np.repeat(y_st[tr_i], rep)])
            gs = g_dv + [f"st{i}" for i in np.repeat(tr_i, rep)]
            pr, thr = stack_predict(fitted_a, Xs, ys, gs, d["f_st"].iloc[te_i])
        pred[te_i] = pr
    report(v, pred)
print("done", time.time() - t0)
