"""Time and peak memory of hlgfa_nb.metrics (all seven metrics) against scikit-learn's pixel AUROC + AP, in one run.

    python bench/bench_metrics.py                      # one 256-px category (150 images) + one 640-px category
    python bench/bench_metrics.py --full-benchmark     # also 15 categories × 113 images at 640 px (~700 M pixels)

Data: a synthetic MVTec-sized category (30 % good images; defective ones carry 1-3 blobs of radius 1-12 % of the side,
some tiny), maps = smoothed noise + a smoothed defect signal, float32. Peak memory is tracemalloc's peak of the call
(numpy and scikit-learn allocations), measured in a separate call from the timing; inputs are not included.
"""
import argparse, gc, time, tracemalloc

import numpy as np
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score

from hlgfa_nb.evaluate import markdown_table
from hlgfa_nb.metrics import METRIC_NAMES, MetricsConfig, PixelMetrics, compute_metrics
from timing import best_seconds


SCORE_RANGE = (-8., 12.)   # binned mode: covers every score of make_batch (unit-variance noise + signal <= 4)


def make_batch(rng, n, size, good_share=0.3):
    "Maps (float32), masks (bool), labels and image scores (max of map) of `n` synthetic test images."
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    labels = rng.random(n) >= good_share
    masks = np.zeros((n, size, size), bool)
    for i in np.flatnonzero(labels):
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0.1, 0.9, 2)
            masks[i] |= np.hypot(yy - cy, xx - cx) < rng.choice([0.01, 0.04, 0.12])
        masks[i, int(cy * size), int(cx * size)] = True          # never empty after rounding
    s = size / 64
    noise = ndimage.gaussian_filter(rng.standard_normal(masks.shape, dtype=np.float32), (0, s, s))
    noise /= noise.std()
    signal = ndimage.gaussian_filter(masks.astype(np.float32), (0, s, s)) * rng.uniform(1, 4, (n, 1, 1)).astype(np.float32)
    maps = noise + signal
    return maps, masks, labels, maps.reshape(n, -1).max(1)


def measure(f, repeat):
    "Best wall time over `repeat` calls (`timing.best_seconds`), then tracemalloc peak (MB) of one more; returns (time, peak, result)."
    best = best_seconds({'f': f}, repeat)['f']
    gc.collect(); tracemalloc.start(); out = f(); peak = tracemalloc.get_traced_memory()[1] / 2**20; tracemalloc.stop()
    return best, peak, out


def stream(batches, cfg):
    "Pixel metrics fed batch by batch."
    acc = PixelMetrics(cfg)
    for maps, masks in batches: acc.update(maps, masks)
    return acc.compute()


def category_256(args):
    rng = np.random.default_rng(0)
    maps, masks, labels, scores = make_batch(rng, args.images, args.size)
    y, s = masks.ravel(), maps.ravel()
    n_px = maps.size
    print(f"\n## One category at {args.size} px: {args.images} images, {n_px / 1e6:.1f} M pixels, "
          f"{y.mean() * 100:.2f} % anomalous, inputs {(maps.nbytes + masks.nbytes) / 2**20:.0f} MB (maps float32 + masks)")
    batches = [(maps[i:i + args.batch], masks[i:i + args.batch]) for i in range(0, len(maps), args.batch)]
    runs = {
        'sklearn roc_auc_score (pixel)': lambda: roc_auc_score(y, s),
        'sklearn roc_auc + average_precision (pixel)': lambda: (roc_auc_score(y, s), average_precision_score(y, s)),
        'ours: all seven, exact, one shot': lambda: compute_metrics(scores, labels, maps, masks),
        f'ours: 4 pixel metrics, exact, batches of {args.batch}': lambda: stream(batches, MetricsConfig()),
        f'ours: 4 pixel metrics, binned {args.bins}, batches of {args.batch}': lambda: stream(batches, MetricsConfig(bins=args.bins, score_range=SCORE_RANGE)),
    }
    res = {name: measure(f, args.repeat) for name, f in runs.items()}
    t0, p0, (sk_auc, sk_ap) = res['sklearn roc_auc + average_precision (pixel)']
    print('\n' + markdown_table([{'method': name, 'time (s)': f"{t:.3f}", '× sklearn AUROC+AP time': f"{t / t0:.3f}",
                                  'peak (MB)': f"{p:.0f}", '× sklearn peak': f"{p / p0:.2f}"} for name, (t, p, _) in res.items()]))
    ours = res['ours: all seven, exact, one shot'][2]
    binned = res[f'ours: 4 pixel metrics, binned {args.bins}, batches of {args.batch}'][2]
    streamed = res[f'ours: 4 pixel metrics, exact, batches of {args.batch}'][2]
    print("\nAgreement:")
    print(f"  |AUC-P − sklearn| = {abs(ours['AUC-P'] - sk_auc):.1e}   |AP-P − sklearn| = {abs(ours['AP-P'] - sk_ap):.1e}")
    print(f"  |AUC-I − sklearn| = {abs(ours['AUC-I'] - roc_auc_score(labels, scores)):.1e}   "
          f"|AP-I − sklearn| = {abs(ours['AP-I'] - average_precision_score(labels, scores)):.1e}")
    print(f"  streamed exact == one shot: {all(streamed[k] == ours[k] for k in streamed)}")
    print(f"  binned ({args.bins} bins) − exact: " + ', '.join(f"{k} {binned[k] - ours[k]:+.1e}" for k in binned))
    print("  metrics (×100): " + ', '.join(f"{k} {100 * ours[k]:.1f}" for k in METRIC_NAMES))
    q = np.round(maps * 8) / 8                                   # a tie-heavy map: ~100 distinct values
    tied = compute_metrics(scores, labels, q, masks)
    print(f"  tie-heavy map ({len(np.unique(q))} distinct scores): |AUC-P − sklearn| = "
          f"{abs(tied['AUC-P'] - roc_auc_score(y, q.ravel())):.1e}, "
          f"|AP-P − sklearn| = {abs(tied['AP-P'] - average_precision_score(y, q.ravel())):.1e}")


def category_640(args, n_categories=1, n_images=None, label=''):
    "Categories at 640 px streamed in batches generated on the fly; metrics time excludes data generation."
    n_images = n_images or args.images
    print(f"\n## {label or 'One category'} at 640 px: {n_categories} × {n_images} images, "
          f"{n_categories * n_images * 640 * 640 / 1e6:.0f} M pixels, batches of {args.batch}")
    batch_mb = args.batch * 640 * 640 * 5 / 2**20
    out, rows = {}, []
    for name, cfg in (('exact', MetricsConfig()), (f'binned {args.bins}', MetricsConfig(bins=args.bins, score_range=SCORE_RANGE))):
        rng = np.random.default_rng(1)
        spent, peak, results = 0., 0., []
        gc.collect(); tracemalloc.start()

        def timed(f, *a):
            "Run f, adding its time to `spent` and its tracemalloc peak (store + current batch + transients) to `peak`."
            nonlocal spent, peak
            tracemalloc.reset_peak(); t = time.perf_counter(); r = f(*a); spent += time.perf_counter() - t
            peak = max(peak, tracemalloc.get_traced_memory()[1] / 2**20)
            return r

        for c in range(n_categories):
            acc = PixelMetrics(cfg)
            for i in range(0, n_images, args.batch):
                maps, masks, *_ = make_batch(rng, min(args.batch, n_images - i), 640)
                timed(acc.update, maps, masks)
                del maps, masks
            results.append(timed(acc.compute))
            del acc
        tracemalloc.stop()
        out[name] = results
        err = '' if name == 'exact' else f"{max(abs(b[k] - e[k]) for b, e in zip(results, out['exact']) for k in e):.1e}"
        rows.append({'mode': name, 'metrics time (s)': spent, f'peak (MB, incl. one {batch_mb:.0f} MB input batch)': f"{peak:.0f}",
                     'max abs(binned − exact)': err})
    print('\n' + markdown_table(rows))
    print("  exact metrics (×100, first category): " + ', '.join(f"{k} {100 * v:.1f}" for k, v in out['exact'][0].items()))


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--images', type=int, default=150, help='test images per category')
    p.add_argument('--size', type=int, default=256, help='side of the first category (scikit-learn comparison)')
    p.add_argument('--batch', type=int, default=16, help='images per update() in the streaming runs')
    p.add_argument('--bins', type=int, default=10_000, help='bins of the binned mode')
    p.add_argument('--repeat', type=int, default=2, help='timing repeats (best is kept)')
    p.add_argument('--skip-640', action='store_true', help='skip the 640-px category')
    p.add_argument('--full-benchmark', action='store_true', help='also 15 categories × 113 images at 640 px')
    args = p.parse_args()
    category_256(args)
    if not args.skip_640: category_640(args)
    if args.full_benchmark: category_640(args, 15, 113, 'Whole benchmark (per-category metrics)')
