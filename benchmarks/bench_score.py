"""Throughput of ``Scorer.score`` (pipeline + specificity model + recommender) with and without the
recommendation memo, in one process.

    python benchmarks/bench_score.py            # first 200 MTSamples notes
    python benchmarks/bench_score.py --n 50 --model rules

Three passes over the same N notes with one scorer: memo off; memo on, starting empty (the gain from diagnoses
repeated across distinct notes); memo on, warm (a second pass: the ceiling when every mention was seen before).
The scorer is built and one note scored before timing (loading and word caches are not counted). Only counts are
printed, never note text.
"""

import argparse
import time
from pathlib import Path

from _common import DEFAULT_NOTES, read_notes  # noqa: E402




def rate(scorer, texts: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    n_mentions = 0
    for t in texts:
        n_mentions += len(scorer.score(t).mentions)
    return len(texts) / (time.perf_counter() - t0), n_mentions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=Path, default=DEFAULT_NOTES)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--model", default=None, help="specificity model folder or 'rules' (default: the shipped one)")
    args = ap.parse_args()

    from nec_nlp import recommender
    from nec_nlp.api import load

    texts = read_notes(args.notes, args.n)
    scorer = load(model=args.model)
    # warm-up on a note outside the measured set would need one more note; warm the per-word caches on all notes
    # with the memo off so that the three passes differ only by the memo
    recommender.set_memo_size(0)
    for t in texts:
        scorer.score(t)
    off, m = rate(scorer, texts)
    recommender.set_memo_size(20_000)
    recommender.clear_memo()
    cold, _ = rate(scorer, texts)
    info_cold = recommender.memo_info()
    warm, _ = rate(scorer, texts)
    print(f"notes: {len(texts)}  mentions: {m}")
    print(f"memo off:          {off:8.2f} notes/s")
    print(f"memo on, cold:     {cold:8.2f} notes/s  x{cold / off:.2f}  "
          f"(hits {info_cold['hits']}, misses {info_cold['misses']})")
    print(f"memo on, warm:     {warm:8.2f} notes/s  x{warm / off:.2f}")


if __name__ == "__main__":
    main()
