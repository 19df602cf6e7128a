"""Where a cached training step's time goes on a CPU, and what channels-last memory order and bf16 autocast do to it.

    python bench/bench_step.py [--size 256] [--batch 8] [--steps 10] [--repeats 3]

A `Trainer` of the `cpu` preset (EfficientNet-Lite2 ImageNet) on a synthetic category builds its feature cache; the same
cached batch then goes through `Trainer.train_step` under four settings, interleaved, best of --repeats rounds of
--steps steps each (`timing.best_seconds`): float32 in the default (NCHW) memory order; channels-last (module and
features); bf16 autocast; both. Reported: ms per step, images/s, the ratio to float32 NCHW (measured side by side in this run), and how far each
setting's loss after the same steps is from float32's (bf16 rounds every product to 8 bits of mantissa). Recorded in
results/train_step.json, which chapter 08b loads and checks."""
import argparse, copy, tempfile
from pathlib import Path

import torch

from hlgfa_nb.data import make_synthetic_mvtec
from hlgfa_nb.results import save_result
from hlgfa_nb.train import Trainer
from hlgfa_nb.runs import preset
from timing import best_seconds


def variant(base: Trainer, channels_last: bool, dtype) -> Trainer:
    "A copy of `base` (same weights, optimiser state and cache) with another memory order and autocast dtype."
    t = copy.copy(base)
    t.trainable, t.cache = copy.deepcopy(base.trainable), base.cache
    t.module, t.head = t.trainable.module, t.trainable.head
    t.net = t.trainable
    t.trainable.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    t.channels_last, t.dtype, t.step = channels_last, dtype, 0
    t._optimiser()                    # the trainer's own optimiser, schedule and gradient scaler, over the copy
    return t


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--size', type=int, default=256); p.add_argument('--batch', type=int, default=8)
    p.add_argument('--steps', type=int, default=10); p.add_argument('--repeats', type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as w:
        root = make_synthetic_mvtec(Path(w)/'data', categories=('weave',), n_train=a.batch, n_test_good=1, n_test_defect=1,
                                    size=a.size)
        base = Trainer(preset('cpu', root, image_size=a.size, batch_size=a.batch), Path(w)/'run', progress=False)
        base.cache = base.make_cache()
        f_h, f_l, idx = next(base.features([torch.arange(a.batch)]))
        settings = {'float32 NCHW': (False, None), 'channels-last': (True, None), 'bf16 autocast': (False, torch.bfloat16),
                    'channels-last + bf16': (True, torch.bfloat16)}
        runs = {k: variant(base, *v) for k, v in settings.items()}
        steps = lambda t: [t.train_step(f_h, f_l, idx) for _ in range(a.steps)]       # it sets the memory order
        best = {k: v / a.steps for k, v in best_seconds({k: (lambda t=t: steps(t)) for k, t in runs.items()},
                                                        a.repeats).items()}
        losses = {k: t.train_step(f_h, f_l, idx)['total'] for k, t in runs.items()}   # after the same steps each
    ref = best['float32 NCHW']
    print(f"cached training step, tf_efficientnet_lite2 features, {a.size} px, batch {a.batch}, {torch.get_num_threads()} "
          f"threads; best of {a.repeats} rounds of {a.steps} steps\n")
    print(f"{'setting':>22} {'ms/step':>8} {'images/s':>9} {'÷ float32':>10} {'loss vs float32':>16}")
    for k, v in best.items():
        print(f"{k:>22} {1e3 * v:8.1f} {a.batch / v:9.1f} {v / ref:9.2f}× {losses[k] - losses['float32 NCHW']:+16.2e}")
    print('recorded in', save_result('train_step', dict(size=a.size, batch=a.batch, threads=torch.get_num_threads(),
          steps=a.steps, repeats=a.repeats, ms_per_step={k: 1e3 * v for k, v in best.items()},
          loss_vs_float32={k: float(losses[k] - losses['float32 NCHW']) for k in best})))


if __name__ == '__main__':
    main()
