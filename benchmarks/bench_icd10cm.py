"""Benchmark of the ICD-10-CM knowledge base: cold vs warm load of a release, and lookups per second.

Cold = no warm-load cache (the shipped gzip JSON is parsed and the flat state built, then cached);
warm = a new process-level load served from the cache file. Printed ratio: warm / cold (lower is better).

    .venv/bin/python benchmarks/bench_icd10cm.py [--release 2026-04] [--n 2000]
"""

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any


def _time(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _rate(label: str, fn: Callable[[Any], Any], items: list[Any]) -> float:
    t0 = time.perf_counter()
    for it in items:
        fn(it)
    dt = time.perf_counter() - t0
    rate = len(items) / dt if dt else float("inf")
    print(f"  {label:<34} {rate:>12,.0f} /s   ({len(items)} in {dt:.3f} s)")
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--release", default="2026-04")
    ap.add_argument("--n", type=int, default=2000, help="items per lookup benchmark")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NEC_NLP_CACHE_DIR"] = tmp
        from nec_nlp.icd10cm import forget_loaded, load_code_set
        from nec_nlp.icd10cm.index import AlphabeticIndex

        print(f"ICD-10-CM release {args.release}  (cache dir: a fresh temporary folder)")
        cold, cs = _time(lambda: load_code_set(args.release))
        forget_loaded()
        warm, cs = _time(lambda: (forget_loaded(), load_code_set(args.release))[1], repeat=5)
        print(f"  tabular load, cold (no cache)      {cold:8.3f} s   ({len(cs):,} codes)")
        print(f"  tabular load, warm (cache)         {warm:8.3f} s   median of 5")
        print(f"  ratio warm / cold                  {warm / cold:8.3f}   ({cold / warm:.1f}x faster warm)")
        icold, _ = _time(lambda: AlphabeticIndex.load(cs))
        iwarm, ix = _time(lambda: AlphabeticIndex.load(cs), repeat=3)
        print(f"  index load, cold / warm            {icold:8.3f} s / {iwarm:.3f} s   ratio {iwarm / icold:.3f}")

        rng = random.Random(args.seed)
        codes = cs.code_strings()
        sample = rng.sample(codes, min(args.n, len(codes)))
        # mix in typed variants: lower case, no dot, a wrong 7th character, an unknown extension
        typed = []
        for i, c in enumerate(sample):
            kind = i % 4
            typed.append(c.lower() if kind == 0 else c.replace(".", "") if kind == 1 else
                         (c[:-1] + "Z") if kind == 2 and len(c) > 5 else c + "9")
        terms = [" ".join(h.path[-2:]) for h in (ix.hit(i) for i in rng.sample(range(len(ix)), args.n // 4))]
        drugs_tab = cs.drugs.entries()
        drug_names = rng.sample(drugs_tab, min(args.n // 2, len(drugs_tab)))
        drug_names += [k for k in rng.sample(sorted(cs.drugs._class_drugs), 200)]
        drug_names += [f"zzq{i}vatrol" for i in range(100)]
        t_build, _ = _time(lambda: cs.search_titles("warm up"))
        print(f"  title search index build (lazy)    {t_build:8.3f} s   (char 3-gram TF-IDF, first use)")
        from nec_nlp.icd10cm.search import TitleSearcher

        t_warm, _ = _time(lambda: TitleSearcher.load(cs), repeat=3)
        print(f"  title search index, warm (cache)   {t_warm:8.3f} s   ratio {t_warm / t_build:.3f}")
        print("lookups")
        _rate("validate (typed codes)", cs.validate, typed)
        _rate("get + kind", lambda c: cs.get(c).kind, sample)
        ix.search("warm up")
        _rate("index search", lambda t: ix.search(t, limit=10), terms)
        _rate("drug lookup (adverse effect)", lambda d: cs.drugs.lookup(d, "adverse_effect"), drug_names)
        _rate("neoplasm lookup", lambda s: cs.neoplasms.lookup(s, "malignant_primary"),
              cs.neoplasms.sites()[: args.n // 4])
        _rate("title search (TF-IDF)", lambda t: cs.search_titles(t, limit=10), terms[:200])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
