#!/usr/bin/env python3
"""Native hnswlib (PyPI `hnswlib`) on the data set `index_bench --dump-data` writes, the ceiling
for simil's index in bench/results/index-native.json (engine `hnswlib-native`).

One thread, cosine, M 16, ef_construction 100, as simil's defaults. Two build modes: the whole
set in one `add_items` call (bulk) and batches of 1,000 (`"mode": "batches of 1000"`, as a
collection grows); then recall@10 against the exact top-10s and queries per second, one query
at a time, for each ef of the sweep (see `measure`; the sweep runs twice, keeping each ef's
faster round).

    pip install hnswlib numpy
    python3 bench/index-native.py [--data bench/work/index-clustered.bin] [--ef 16,24,...]

Prints one JSON object ({"runs": [...]}) on stdout.
"""
import argparse
import json
import time

import hnswlib
import numpy as np


def load(path):
    raw = open(path, "rb").read()
    n, nq, dim = np.frombuffer(raw, dtype="<u4", count=3)
    off = 12
    base = np.frombuffer(raw, dtype="<f4", count=n * dim, offset=off).reshape(n, dim)
    off += 4 * n * dim
    queries = np.frombuffer(raw, dtype="<f4", count=nq * dim, offset=off).reshape(nq, dim)
    off += 4 * nq * dim
    truth = np.frombuffer(raw, dtype="<u4", count=nq * 10, offset=off).reshape(nq, 10)
    return base, queries, truth


def measure(index, queries, truth):
    """Recall from a first pass; QPS from the fastest of the passes that follow (at least three,
    repeated for 2 s, at most 10), so that a moment of load on a shared machine does not decide."""
    hits = 0
    for q, want in zip(queries, truth):
        labels, _ = index.knn_query(q, k=10)
        hits += len(set(labels[0].tolist()) & set(want.tolist()))
    passes, fastest, started = 0, float("inf"), time.perf_counter()
    while passes < 3 or (passes < 10 and time.perf_counter() - started < 2.0):
        t = time.perf_counter()
        for q in queries:
            index.knn_query(q, k=10)
        fastest = min(fastest, time.perf_counter() - t)
        passes += 1
    return hits / (10 * len(queries)), len(queries) / fastest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="bench/work/index-clustered.bin")
    ap.add_argument("--ef", default="16,24,32,48,64,100")
    ap.add_argument("--modes", default="bulk,batches")
    args = ap.parse_args()
    base, queries, truth = load(args.data)
    n, dim = base.shape
    runs = []
    for mode in args.modes.split(","):
        index = hnswlib.Index(space="cosine", dim=int(dim))
        index.set_num_threads(1)
        started = time.perf_counter()
        index.init_index(max_elements=int(n), M=16, ef_construction=100, random_seed=100)
        step = n if mode == "bulk" else 1000
        for start in range(0, n, step):
            index.add_items(base[start:start + step], np.arange(start, min(n, start + step)), num_threads=1)
        build_s = time.perf_counter() - started
        # Every width twice, a few seconds apart, keeping the faster round.
        best = {}
        for _ in range(2):
            for ef in [int(e) for e in args.ef.split(",")]:
                index.set_ef(ef)
                recall, qps = measure(index, queries, truth)
                best[ef] = (recall, max(qps, best.get(ef, (0, 0))[1]))
        for ef, (recall, qps) in best.items():
            runs.append({
                "env": "native", "dataset": "clustered", "n": int(n), "dim": int(dim),
                "engine": "hnswlib-native", "mode": "bulk" if mode == "bulk" else "batches of 1000",
                "params": {"m": 16, "ef_construction": 100, "ef_search": ef, "threads": 1},
                "recall_at_10": recall, "qps": qps, "build_s": build_s,
                "hnswlib": hnswlib.__version__ if hasattr(hnswlib, "__version__") else None,
            })
            print(f"{mode} ef {ef}: recall {recall:.4f}, {qps:.0f} q/s, build {build_s:.1f} s", flush=True, file=__import__("sys").stderr)
    print(json.dumps({"runs": runs}))


if __name__ == "__main__":
    main()
