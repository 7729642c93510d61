"""Duplicate-id index of the batch reader: memory and speed of ``SeenIds`` against a plain dict, same process.

Usage:
    python benchmarks/bench_seen_ids.py            # 1,000,000 ids
    python benchmarks/bench_seen_ids.py --n 5000000
"""

import argparse
import time
import tracemalloc
from collections.abc import Iterator


def read_ids(n: int) -> Iterator[str]:
    """Ids as a reader makes them: a new string per row (MRN plus encounter, ~21 characters)."""
    for i in range(n):
        yield f"MRN{i:09d}-ENC{i * 7919 % 100000:05d}"


def fill(container: object, n: int) -> tuple[float, int]:
    """Look up then insert every id like the batch reader does; return (seconds, traced bytes held)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    for row, note_id in enumerate(read_ids(n), 1):
        if container.get(note_id) is None:  # type: ignore[attr-defined]
            container[note_id] = row  # type: ignore[index]
    seconds = time.perf_counter() - t0
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return seconds, held


def main() -> None:
    from nec_nlp.batch import SeenIds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()
    print(f"duplicate-id index, {args.n:,} distinct ids (~21 characters each)")
    base_s, base_b = fill({}, args.n)
    s, b = fill(SeenIds(), args.n)
    print(f"{'index':<10}{'ids/s':>12}{'MB held':>10}{'bytes/id':>10}")
    for name, sec, held in (("dict", base_s, base_b), ("SeenIds", s, b)):
        print(f"{name:<10}{args.n / sec:>12,.0f}{held / 2**20:>10.1f}{held / args.n:>10.1f}")
    print(f"memory ratio SeenIds / dict: {b / base_b:.2f}; time ratio SeenIds / dict: {s / base_s:.1f}")


if __name__ == "__main__":
    main()
