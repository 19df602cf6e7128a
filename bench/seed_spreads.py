"""The book's headline comparisons over seeds, through the study harness (`reproduce.run_study`): the untrained module
against the trained one (chapter 09's learning check) and HLGFA against PatchCore with the same backbone (chapters 12
and 13), on the demo's synthetic set (`demo` preset) and on the magnetic-tile dev set (`cpu` preset).

    python bench/seed_spreads.py [--seeds 0 1 2] [--coreset 0.1] [--only synthetic magnetic_tile_dev]

A seed sets the module's initialisation and the data order (HLGFA) or the coreset's first patch and projection
(PatchCore). Prints one table per dataset (mean ± half the range over seeds, ×100) and records
results/seed_spreads_<data>.json, which chapters 09 and 12 load and check."""
import argparse, tempfile, time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from hlgfa_nb.baselines import PatchCoreConfig
from hlgfa_nb.cli import demo_data
from hlgfa_nb.data import MVTecDataset, list_categories, magnetic_tile
from hlgfa_nb.geometry import Pieces
from hlgfa_nb.reproduce import STUDY_KEYS, patchcore_like, run_study, study_record
from hlgfa_nb.runs import geometry_of, preset


def patchcore_records(cfg, root, seeds, coreset) -> list[dict]:
    "One record per seed: PatchCore (one bank per category) evaluated per category, the metrics averaged over categories."
    out = []
    for s in seeds:
        t, per = time.perf_counter(), []
        for c in list_categories(root):
            pc = patchcore_like(replace(cfg, seed=s), PatchCoreConfig(coreset_ratio=coreset)).fit(
                torch.utils.data.DataLoader(Pieces(MVTecDataset(root, 'train', c, size=geometry_of(cfg))), batch_size=8))
            per.append(study_record(pc, root, [c]))
        keys = [k for k in per[0] if k != 'per_type']
        out.append({**{k: float(np.mean([r[k] for r in per])) for k in keys}, 'seed': s, 'fit_s': time.perf_counter() - t,
                    **({'per_type': per[0]['per_type']} if len(per) == 1 and 'per_type' in per[0] else {})})
        print(f"  PatchCore seed {s}: " + ', '.join(f"{k} {out[-1][k]:.1f}" for k in STUDY_KEYS), flush=True)
    return out


def setting(name: str, work: Path):
    "The base config of data set `name`: the demo's synthetic set with the `demo` preset, or the tiles with `cpu`."
    if name == 'magnetic_tile_dev': return preset('cpu', magnetic_tile('dev'))
    cfg = preset('demo')
    return replace(cfg, root=str(demo_data(work, cfg.image_size)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2]); p.add_argument('--coreset', type=float, default=0.1)
    p.add_argument('--only', nargs='+', default=['synthetic', 'magnetic_tile_dev'])
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix='hlgfa_seed_spreads_'))
    for name in a.only:
        cfg = setting(name, work)
        study = run_study(f'seed_spreads_{name}', cfg, {'untrained module': None, 'HLGFA': {}}, a.seeds,
                          work=work/name)
        study.runs[f'PatchCore ({a.coreset:.0%} coreset)'] = patchcore_records(cfg, cfg.root, a.seeds, a.coreset)
        study.setting['patchcore_coreset'] = a.coreset
        print(f"\n{name}: {cfg.backbone}, {cfg.image_size} px, {cfg.epochs} epochs, seeds {a.seeds}; "
              "mean ± half the range over seeds, ×100\n")
        print(study.to_markdown(('AUC-I', 'AP-I', 'AUC-P', 'AP-P', 'PRO')))
        print('recorded in', study.save(), flush=True)


if __name__ == '__main__':
    main()
