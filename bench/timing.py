"""The one timing rule of the benches: interleaved rounds, best of each, so that load from other processes falls on every
variant alike. Imported by the scripts beside it (`python bench/<script>.py` puts this folder on the path)."""
import time


def best_seconds(fns: dict, repeats: int) -> dict:
    "Fastest wall time of each of `fns` (a dict of callables) over `repeats` interleaved rounds, after one warm-up round."
    for fn in fns.values(): fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter(); fn(); times[k].append(time.perf_counter() - t)
    return {k: min(v) for k, v in times.items()}
