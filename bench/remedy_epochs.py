"""How long must the module train when the memory term carries the map? On validation data only (`limits.validation_set`
from the normal training images: held-out images plus synthetic smooth, line and blob defects), the `cpu` preset
scored with the tiles' choice (memory statistics, λ 8, margin 16) is trained for each length, and the untrained module
beside it, through the study harness.

    python bench/remedy_epochs.py [--data DIR] [--epochs 3 10 30] [--seeds 0]

Defaults: the magnetic-tile dev set. Prints the validation metrics and each run's seconds to fit (training, statistics
and thresholds); records results/remedy_epochs_<data>.json, which chapter 15 loads and checks."""
import argparse, tempfile
from pathlib import Path

from hlgfa_nb.data import magnetic_tile
from hlgfa_nb.limits import validation_set
from hlgfa_nb.reproduce import run_study
from hlgfa_nb.runs import override, preset

REMEDY = {'score.statistics': 'memory', 'score.typicality': 8.0, 'score.margin': 16}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--epochs', type=int, nargs='+', default=[3, 10, 30])
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    a = p.parse_args()
    root = Path(a.data) if a.data else magnetic_tile('dev')
    with tempfile.TemporaryDirectory(prefix='hlgfa_remedy_epochs_') as w:
        val = validation_set(root, Path(w)/'validation')
        base = override(preset('cpu', val), **REMEDY)
        study = run_study(f'remedy_epochs_{root.name}', base, {'untrained module': None, **{f'{e} epochs': {'epochs': e} for e in a.epochs}},
                          a.seeds, work=Path(w)/'runs')
    study.setting.update(data=root.name, remedy=REMEDY)
    print(f"\n{root.name}, validation set (20 % of the normal training images held out, synthetic defects), memory λ 8, margin 16\n")
    print(study.to_markdown(('AUC-I', 'AUC-P', 'AP-P', 'PRO')))
    print('recorded in', study.save(), flush=True)


if __name__ == '__main__':
    main()
