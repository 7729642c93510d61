"""Batch scoring throughput and memory: 1 and 2 local workers, the Spark path, and flat memory with size.

Builds a CSV export by cycling MTSamples notes (``../shared/data/mtsamples/notes.csv``), then runs every
configuration in a fresh child process while sampling the RSS of the child's whole process tree (parent +
scoring workers; for Spark: driver, JVM and Python workers) with psutil. Prints notes/s (steady state, after
the scorers are loaded, and overall wall time), peak RSS, and the ratio to one worker.

Usage:
    python benchmarks/bench_batch.py              # 2,000 notes; memory check at 1,000 and 20,000 notes
    python benchmarks/bench_batch.py --quick      # 300 notes; memory check at 300 and 3,000 notes
    python benchmarks/bench_batch.py --n 5000 --no-spark --sizes 1000,10000
    python benchmarks/bench_batch.py --memory-only          # only the memory check at 1,000 and 20,000 notes
"""

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NOTES = ROOT.parent / "shared" / "data" / "mtsamples" / "notes.csv"


def make_export(notes: Path, n: int, out: Path) -> Path:
    """Write ``n`` notes cycling the MTSamples texts, with unique ids."""
    with open(notes, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if (r["text"] or "").strip()]
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["note_id", "specialty", "text"])
        for k, r in zip(range(n), itertools.cycle(rows)):
            w.writerow([f"{r['note_id']}-{k // len(rows)}", r["specialty"].strip(), r["text"]])
    return out


class TreeRss:
    """Samples the summed RSS of a process and all its descendants."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_child(args: list[str]) -> dict:
    """Run this script as a child with ``args``; return its JSON result plus the tree's peak RSS."""
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    sampler = TreeRss(proc.pid)
    out, err = proc.communicate()
    peak = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 2**20
    return result


class FakeScorer:
    """Scorer stand-in for --fake (checks the I/O machinery alone)."""

    def score(self, text: str):
        from nec_nlp.types import NoteResult

        return NoteResult("fake", {"name": "fake"}, ())

    def score_many(self, texts, batch_size=64):
        return (self.score(t) for t in texts)


def fake_factory(**kwargs):
    return FakeScorer()


def child_local(path: str, workers: int, fake: bool, chunk_size: int, recycle_after: int | None) -> dict:
    from nec_nlp.batch import score_file

    marks: list[tuple[float, int]] = []
    out = Path(tempfile.mkdtemp(prefix="bench_out_")) / "scored.jsonl"
    extra = {} if recycle_after is None else {"recycle_after": recycle_after}
    summary = score_file(path, out, workers=workers, progress=False, keep=("specialty",), chunk_size=chunk_size, **extra,
                         scorer_factory=fake_factory if fake else None,
                         on_chunk=lambda n: marks.append((time.perf_counter(), n)))
    steady = None
    if len(marks) >= 3:
        (t0, n0), (t1, n1) = marks[0], marks[-1]
        steady = (n1 - n0) / (t1 - t0) if t1 > t0 else None
    out.unlink()
    return {"rows": summary.rows_in, "scored": summary.scored, "seconds": summary.seconds,
            "overall_notes_per_s": summary.rows_in / summary.seconds, "steady_notes_per_s": steady}


def child_spark(path: str, fake: bool) -> dict:
    from nec_nlp.spark import local_session, score

    t0 = time.perf_counter()
    spark = local_session("nec_nlp-bench")
    factory = fake_factory if fake else None
    if fake:
        import pyspark.cloudpickle

        pyspark.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    df = (spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(path)
          .repartition(2).cache())
    n = df.count()
    # warm-up: load one scorer in each Python worker (workers are reused across jobs)
    score(df.limit(4).repartition(2), scorer_factory=factory).count()
    t1 = time.perf_counter()
    rows = score(df, scorer_factory=factory).select("note_id", "error", "codes").collect()
    t2 = time.perf_counter()
    spark.stop()
    return {"rows": len(rows), "input_rows": n, "scored": sum(1 for r in rows if r["error"] is None),
            "seconds": t2 - t0, "overall_notes_per_s": len(rows) / (t2 - t0),
            "steady_notes_per_s": len(rows) / (t2 - t1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="notes for the throughput runs (default 2,000)")
    ap.add_argument("--quick", action="store_true", help="300 notes; memory check at 300 and 3,000")
    ap.add_argument("--sizes", default=None, help="export sizes for the memory check (default 1000,20000)")
    ap.add_argument("--notes", default=str(DEFAULT_NOTES))
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--memory-only", action="store_true", help="skip the throughput runs")
    ap.add_argument("--recycle-after", type=int, default=None,
                    help="notes per worker process before it is replaced (default: the batch default)")
    ap.add_argument("--fake", action="store_true", help="fake scorer: measure the I/O machinery alone")
    ap.add_argument("--chunk-size", type=int, default=8, help="notes per worker task (default 8)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="local", help=argparse.SUPPRESS)
    ap.add_argument("--path", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = child_spark(args.path, args.fake) if args.mode == "spark" else child_local(
            args.path, args.workers, args.fake, args.chunk_size, args.recycle_after)
        print(json.dumps(res))
        return
    n = args.n or (300 if args.quick else 2000)
    sizes = [int(s) for s in (args.sizes or ("300,3000" if args.quick else "1000,20000")).split(",")]
    extra = [*(["--fake"] if args.fake else []), "--chunk-size", str(args.chunk_size),
             *(["--recycle-after", str(args.recycle_after)] if args.recycle_after is not None else [])]
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        export = make_export(Path(args.notes), n, Path(tmp) / f"notes_{n}.csv")
        import nec_nlp

        print(f"nec_nlp batch benchmark: {n:,} MTSamples notes (cycled), {os.cpu_count()} cores"
              f"{' [fake scorer]' if args.fake else ''} ({Path(nec_nlp.__file__).parent})")
        print(f"{'configuration':<22}{'notes':>8}{'steady n/s':>12}{'overall n/s':>13}{'wall s':>9}"
              f"{'peak RSS MB':>13}{'ratio vs 1w':>13}")
        results = {}
        configs = [("local, 1 worker", ["--mode", "local", "--workers", "1"]),
                   ("local, 2 workers", ["--mode", "local", "--workers", "2"])]
        if not args.no_spark:
            configs.append(("spark local[2]", ["--mode", "spark"]))
        for name, cargs in ([] if args.memory_only else configs):
            r = run_child([*cargs, "--path", str(export), *extra])
            results[name] = r
            base = results["local, 1 worker"]
            rate = r["steady_notes_per_s"] or r["overall_notes_per_s"]
            base_rate = base["steady_notes_per_s"] or base["overall_notes_per_s"]
            print(f"{name:<22}{r['rows']:>8,}{rate:>12.1f}{r['overall_notes_per_s']:>13.1f}{r['seconds']:>9.1f}"
                  f"{r['peak_rss_mb']:>13.0f}{rate / base_rate:>13.2f}")
        print("\nmemory vs export size (local, 2 workers, chunked streaming):")
        peaks = []
        for size in sizes:
            path = make_export(Path(args.notes), size, Path(tmp) / f"mem_{size}.csv")
            r = run_child(["--mode", "local", "--workers", "2", "--path", str(path), *extra])
            peaks.append(r["peak_rss_mb"])
            print(f"  {size:>7,} notes ({path.stat().st_size / 2**20:7.1f} MB CSV): peak RSS {r['peak_rss_mb']:7.0f} MB,"
                  f" {r['overall_notes_per_s']:.1f} notes/s overall")
            path.unlink()
        print(f"  peak RSS ratio {sizes[-1]:,} / {sizes[0]:,} notes: {peaks[-1] / peaks[0]:.2f} "
              f"(input grew {sizes[-1] / sizes[0]:.0f}x)")


if __name__ == "__main__":
    main()
