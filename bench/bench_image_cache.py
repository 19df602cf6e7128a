"""What decoding costs an epoch, with and without the image cache (`Config.image_cache`), on this machine.

    python bench/bench_image_cache.py                       # synthetic 1024-px images, trained at 256 px, augmented
    python bench/bench_image_cache.py --source 640 --size 640 --epochs 3

Where the features cannot be cached (augmentation on, or a GPU), every epoch reads its images again. This writes a
synthetic category of --source-px PNGs, and for image_cache='off', 'ram' and 'disk' measures, side by side: the seconds one
epoch of training inputs takes to read (decode and resize; the noise is painted later, where training runs), best of --repeats interleaved rounds, and
the training rate of a short augmented run (images/s of its last epoch, backbone and module included), whose weights
must be equal.
"""
import argparse, tempfile, time
from dataclasses import replace
from pathlib import Path

import torch

from hlgfa_nb.data import make_synthetic_mvtec
from hlgfa_nb.train import Trainer, _loader, epoch_batches, fit
from hlgfa_nb.runs import load_checkpoint, preset
from timing import best_seconds

MODES = ('off', 'ram', 'disk')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--source', type=int, default=1024, help='side of the image files, px')
    p.add_argument('--size', type=int, default=256, help='model input size, px')
    p.add_argument('--images', type=int, default=32); p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--batch', type=int, default=8); p.add_argument('--repeats', type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as w:
        work = Path(w)
        root = make_synthetic_mvtec(work/'data', categories=('weave',), n_train=a.images, n_test_good=2, n_test_defect=1,
                                    size=a.source)
        cfg = preset('cpu', root, image_size=a.size, epochs=a.epochs, batch_size=a.batch, augment=True)
        readers = {}
        for mode in MODES:
            t = Trainer(replace(cfg, image_cache=mode), work/f'reader_{mode}', progress=False)
            t0 = time.perf_counter(); t.cache_images(); fill = time.perf_counter() - t0
            batches = epoch_batches(len(t.train), a.batch, cfg.seed, 0)
            readers[mode] = (lambda t=t, b=batches: sum(1 for _ in _loader(t.data, b, t.workers)), fill)
        secs = best_seconds({k: f for k, (f, _) in readers.items()}, a.repeats)
        runs = {mode: fit(replace(cfg, image_cache=mode), work/mode, progress=False) for mode in MODES}
        rate = {mode: load_checkpoint(r)['history'][-1]['images_per_s'] for mode, r in runs.items()}
        weights = [list(load_checkpoint(r)['module'].values()) for r in runs.values()]
        same = all(torch.equal(x, y) for w in weights[1:] for x, y in zip(weights[0], w))
    print(f"{a.images} synthetic {a.source}-px PNGs → {a.size} px inputs, augmented, {torch.get_num_threads()} threads; "
          f"read time best of {a.repeats} interleaved rounds\n")
    print(f"{'image_cache':>11} {'fill s':>7} {'read s/epoch':>13} {'train images/s':>15}")
    for mode in MODES:
        print(f"{mode:>11} {readers[mode][1]:7.2f} {secs[mode]:13.3f} {rate[mode]:15.1f}")
    for mode in MODES[1:]:
        print(f"\nreading an epoch: {secs['off'] / secs[mode]:.1f}× faster with the cache in {mode}; training "
              f"{rate[mode] / rate['off']:.2f}×", end='')
    print(f"\nweights equal in all three: {same}")


if __name__ == '__main__':
    main()
