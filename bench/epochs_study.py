"""How long must the CPU preset train? Accuracy against training length on real ImageNet features, through the library's
own `fit` and `evaluate_detector`, on the magnetic-tile dev set and the synthetic set, over several seeds.

    python bench/epochs_study.py [--epochs 1 2 5 10 20 40] [--seeds 0 1] [--skip-mt] [--skip-synth]

Each length is its own run (the cosine schedule spans the whole run). Prints, per dataset and length, the mean and the
spread (max - min over seeds) of AUC-I, AUC-P, AP-P and PRO (x100), and the training time (the epochs' seconds from
the run's history, feature caching and calibration excluded) and the wall time of `fit`. Recorded in
results/epochs.json, which chapter 08b loads and checks."""
import argparse, tempfile, time
from pathlib import Path

import numpy as np

from hlgfa_nb.cli import demo_data
from hlgfa_nb.data import magnetic_tile
from hlgfa_nb.evaluate import evaluate_detector
from hlgfa_nb.runs import Run, load_checkpoint, preset
from hlgfa_nb.results import save_result
from hlgfa_nb.train import fit

KEYS = ('AUC-I', 'AUC-P', 'AP-P', 'PRO')


def run(root, epochs, seed, work):
    cfg = preset('cpu', root, epochs=epochs, seed=seed)
    t = time.perf_counter(); ckpt = fit(cfg, work, progress=False); wall = time.perf_counter() - t
    train_s = sum(h['seconds'] for h in load_checkpoint(ckpt)['history'])
    m = evaluate_detector(Run.open(ckpt, 'cpu').detector, root, examples=0, progress=False).mean
    return {**{k: 100 * m[k] for k in KEYS}, 'train_s': train_s, 'wall_s': wall}


def study(name, root, epochs, seeds, work):
    print(f"\n{name}: cpu preset (tf_efficientnet_lite2 ImageNet, 256 px, batch 8), seeds {seeds}; mean (spread)", flush=True)
    print(f"{'epochs':>6} " + ' '.join(f"{k:>12}" for k in KEYS) + f" {'train s':>8} {'fit s':>7}", flush=True)
    table = {}
    for e in epochs:
        table[e] = rows = [run(root, e, s, work/f'{name}_{e}_{s}') for s in seeds]
        cell = lambda k: f"{np.mean([r[k] for r in rows]):5.1f} ({np.ptp([r[k] for r in rows]):4.1f})"
        print(f"{e:>6} " + ' '.join(f"{cell(k):>12}" for k in KEYS) +
              f" {np.mean([r['train_s'] for r in rows]):8.0f} {np.mean([r['wall_s'] for r in rows]):7.0f}", flush=True)
    return dict(seeds=list(seeds), runs={str(e): rs for e, rs in table.items()})


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--epochs', type=int, nargs='+', default=[1, 2, 5, 10, 20, 40])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--skip-mt', action='store_true'); p.add_argument('--skip-synth', action='store_true')
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as w:
        work = Path(w)
        out = {}
        if (mt := magnetic_tile('dev', required=False)) and not a.skip_mt: out['magnetic_tile_dev'] = study('magnetic_tile_dev', mt, a.epochs, a.seeds, work)
        if not a.skip_synth: out['synthetic'] = study('synthetic', demo_data(work, 256), a.epochs, a.seeds, work)
    print('recorded in', save_result('epochs', out))


if __name__ == '__main__':
    main()
