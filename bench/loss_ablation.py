"""Table 2 measured: one HLGFA model per loss preset and seed through the library's `loss_ablation` (the same run as
chapter 13's slow cell), recorded in results/loss_ablation_<data>.json for the book's verdict.

    python bench/loss_ablation.py [--data DIR] [--epochs 10] [--seeds 0 1 2]

Default data: the magnetic-tile dev set; the `cpu` preset (EfficientNet-Lite2 ImageNet, 256 px)."""
import argparse
from pathlib import Path

from hlgfa_nb.data import magnetic_tile
from hlgfa_nb.reproduce import TABLE2_COLUMNS, loss_ablation
from hlgfa_nb.results import save_result
from hlgfa_nb.runs import preset


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    a = p.parse_args()
    root = Path(a.data) if a.data else magnetic_tile('dev')
    abl = loss_ablation(root, None, preset('cpu', epochs=a.epochs), seeds=a.seeds)
    print(abl.to_markdown())
    runs = {k: [{m: r[m] for m in TABLE2_COLUMNS} for r in rs] for k, rs in abl.results.items()}
    print('recorded in', save_result(f'loss_ablation_{root.name}', dict(data=root.name, preset='cpu', epochs=a.epochs,
                                                                       seeds=a.seeds, runs=runs)))


if __name__ == '__main__':
    main()
