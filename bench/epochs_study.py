"""How long must the CPU preset train? Accuracy against training length on real ImageNet features, through the library's
own `fit` and `evaluate_detector` (the study harness, `reproduce.run_study`), on the magnetic-tile dev set and the synthetic set, over several seeds.

    python bench/epochs_study.py [--epochs 1 2 5 10 20 40] [--seeds 0 1] [--skip-mt] [--skip-synth]

Each length is its own run (the cosine schedule spans the whole run). Prints, per dataset and length, the mean and the
spread (max - min over seeds) of AUC-I, AUC-P, AP-P and PRO (x100), and the training time (the epochs' seconds from
the run's history, feature caching and calibration excluded) and the wall time of `fit`. Recorded in
results/epochs.json, which chapter 08b loads and checks."""
import argparse, tempfile
from pathlib import Path

from hlgfa_nb.cli import demo_data
from hlgfa_nb.data import magnetic_tile
from hlgfa_nb.reproduce import run_study
from hlgfa_nb.results import save_result
from hlgfa_nb.runs import preset

KEYS = ('AUC-I', 'AUC-P', 'AP-P', 'PRO')


def study(name, root, epochs, seeds, work):
    "One run per length and seed through `run_study`; per record the metrics, the epochs' seconds and `fit`'s wall time."
    s = run_study(f'epochs_{name}', preset('cpu', root), {str(e): {'epochs': e} for e in epochs}, seeds, work=work/name)
    print(f"\n{name}: cpu preset (tf_efficientnet_lite2 ImageNet, 256 px, batch 8), seeds {list(seeds)}; "
          "mean ± half the range", flush=True)
    print(s.to_markdown(KEYS))
    return dict(seeds=list(seeds), runs={e: [{**{k: r[k] for k in KEYS}, 'train_s': r['train_s'], 'wall_s': r['fit_s']}
                                            for r in rs] for e, rs in s.runs.items()})


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
