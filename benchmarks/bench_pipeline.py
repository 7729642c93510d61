"""Throughput of the nec_nlp extraction pipeline vs medspaCy's default pipeline, in one process.

    python benchmarks/bench_pipeline.py            # first 1,000 MTSamples notes; baseline on the first 100
    python benchmarks/bench_pipeline.py --n 200 --baseline-n 50

The baseline is ``medspacy.load()`` (PyRuSH sentence splitter, TargetMatcher, ConText) given the same lexicon
as TargetRules. Both run single-process on the same notes (the baseline on a prefix: it is slow); the printed
ratio compares notes per second. Building each pipeline is timed separately and not counted.

The primary ratio is *paired*: the baseline notes are taken in chunks of 25, and each chunk is run through the
baseline and then through nec_nlp right after, so a change in machine load hits both sides alike.
"""

import argparse
import sys
import time
from pathlib import Path

from _common import DEFAULT_NOTES, read_notes  # noqa: E402




def rate(nlp, texts: list[str], batch_size: int = 32) -> tuple[float, int]:
    t0 = time.perf_counter()
    n_ents = 0
    for doc in nlp.pipe(texts, batch_size=batch_size):
        n_ents += len(doc.ents)
    return len(texts) / (time.perf_counter() - t0), n_ents


def paired_rates(ours, base, texts: list[str], chunk: int = 25) -> tuple[float, float]:
    """Notes/s of ``ours`` and ``base`` on the same texts, timed chunk by chunk back to back."""
    t_ours = t_base = 0.0
    for i in range(0, len(texts), chunk):
        part = texts[i:i + chunk]
        t0 = time.perf_counter()
        for _ in base.pipe(part, batch_size=8):
            pass
        t1 = time.perf_counter()
        for _ in ours.pipe(part, batch_size=32):
            pass
        t_base += t1 - t0
        t_ours += time.perf_counter() - t1
    return len(texts) / t_ours, len(texts) / t_base


def build_baseline():
    from loguru import logger  # PyRuSH logs DEBUG lines through loguru: keep them out of the output

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    import medspacy
    from medspacy.target_matcher import TargetRule

    from nec_nlp.pipeline.rules import default_abbreviations, default_lexicon

    nlp = medspacy.load()  # medspacy_pyrush, medspacy_target_matcher, medspacy_context
    rules = [TargetRule(t.term, t.label) for t in default_lexicon()]
    rules += [TargetRule(a.abbr, a.label, pattern=[{"ORTH": a.abbr}]) for a in default_abbreviations()]
    nlp.get_pipe("medspacy_target_matcher").add(rules)
    return nlp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=Path, default=DEFAULT_NOTES)
    ap.add_argument("--n", type=int, default=1000, help="notes for nec_nlp (default 1000)")
    ap.add_argument("--baseline-n", type=int, default=100, help="notes for the medspaCy default (default 100)")
    args = ap.parse_args()
    texts = read_notes(args.notes, max(args.n, args.baseline_n))
    ours_texts, base_texts = texts[: args.n], texts[: args.baseline_n]
    chars = sum(map(len, ours_texts)) / max(1, len(ours_texts))

    from nec_nlp.pipeline import build_nlp

    t0 = time.perf_counter()
    nlp = build_nlp()
    build_s = time.perf_counter() - t0
    rate(nlp, ours_texts[:20])  # warm-up
    ours, ours_ents = rate(nlp, ours_texts)
    print(f"nec_nlp pipeline   : {ours:8.1f} notes/s on {len(ours_texts)} notes (mean {chars:,.0f} chars; "
          f"{ours_ents} CONDITIONs; built in {build_s:.2f} s)")

    t0 = time.perf_counter()
    base = build_baseline()
    base_build_s = time.perf_counter() - t0
    theirs, base_ents = rate(base, base_texts, batch_size=8)
    print(f"medspaCy default   : {theirs:8.1f} notes/s on the first {len(base_texts)} notes "
          f"(PyRuSH + TargetMatcher + ConText, same lexicon; {base_ents} targets; built in {base_build_s:.2f} s)")
    ours_same, _ = rate(nlp, base_texts)
    print(f"nec_nlp on the same {len(base_texts)} notes: {ours_same:8.1f} notes/s")
    base_chars = sum(map(len, base_texts)) / max(1, len(base_texts))
    ours_cps, theirs_cps = ours * chars, theirs * base_chars
    print(f"characters/s       : nec_nlp {ours_cps:,.0f} (all {len(ours_texts)} notes), "
          f"medspaCy default {theirs_cps:,.0f} (first {len(base_texts)}, mean {base_chars:,.0f} chars)")
    paired_ours, paired_base = paired_rates(nlp, base, base_texts)
    print(f"paired, chunks of 25: nec_nlp {paired_ours:8.1f} notes/s, medspaCy default {paired_base:8.1f} notes/s")
    print(f"speed-up           : {paired_ours / paired_base:8.1f}x notes/s paired on identical notes (primary); "
          f"{ours_same / theirs:.1f}x unpaired on identical notes; "
          f"{ours_cps / theirs_cps:.1f}x chars/s with all {len(ours_texts)} notes; "
          f"{ours / theirs:.1f}x raw notes/s ({len(ours_texts)} notes vs the subset)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
