"""Same-backbone PatchCore on the validation set that `bench/validation_study.py` chooses the remedy on (the same share
and split seed: held-out normal training images plus synthetic smooth, line and blob defects; nothing of the test set),
to see whether validation tells the two apart where the test set does.

    python bench/validation_patchcore.py [--data DIR] [--share 0.2] [--seed 0] [--coreset 0.01]

Defaults: the magnetic-tile dev set. Prints PatchCore's validation metrics (per synthetic defect type too) and records
results/validation_patchcore_<data>.json, which chapter 15 sets beside the chosen setting's validation row."""
import argparse, tempfile, time
from pathlib import Path

import torch

from hlgfa_nb.baselines import PatchCoreConfig
from hlgfa_nb.data import MVTecDataset, magnetic_tile, select_categories
from hlgfa_nb.geometry import Pieces
from hlgfa_nb.limits import validation_set
from hlgfa_nb.reproduce import patchcore_like, study_record
from hlgfa_nb.results import save_result
from hlgfa_nb.runs import geometry_of, preset

KEYS = ('AUC-I', 'AP-I', 'AUC-P', 'AP-P', 'PRO')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--share', type=float, default=0.2)
    p.add_argument('--seed', type=int, default=0); p.add_argument('--coreset', type=float, default=0.01)
    a = p.parse_args()
    root = Path(a.data) if a.data else magnetic_tile('dev')
    with tempfile.TemporaryDirectory(prefix='hlgfa_validation_patchcore_') as w:
        val = validation_set(root, Path(w)/'validation', a.share, a.seed)    # the set choose_scoring builds
        cfg = preset('cpu', val)
        cat, = select_categories(val)
        train = torch.utils.data.DataLoader(Pieces(MVTecDataset(val, 'train', cat, size=geometry_of(cfg))), batch_size=8)
        t = time.perf_counter()
        pc = patchcore_like(cfg, PatchCoreConfig(coreset_ratio=a.coreset)).fit(train)
        rec = study_record(pc, val, fit_s=time.perf_counter() - t, coreset_ratio=a.coreset)
    print(f"PatchCore ({a.coreset:.0%} coreset) on {root.name}'s validation set: " + ', '.join(f"{k} {rec[k]:.1f}" for k in KEYS))
    for t, r in rec.get('per_type', {}).items(): print(f"  {t}: AUC-I {r['AUC-I']:.1f}, AUC-P {r['AUC-P']:.1f}")
    print('recorded in', save_result(f'validation_patchcore_{root.name}', dict(data=root.name, share=a.share, seed=a.seed,
                                                                            validation=rec)))


if __name__ == '__main__':
    main()
