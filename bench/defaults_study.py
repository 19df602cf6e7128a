"""Which module and scoring defaults do real ImageNet features favour? One factor at a time, through the library's own
`fit` and `evaluate_detector` (the study harness, `reproduce.run_study`), on the magnetic-tile dev set and the synthetic set, over several seeds.

    python bench/defaults_study.py [--seeds 0 1] [--mt-epochs 30] [--synth-epochs 100] [--only NAME ...]

Prints one table per dataset: mean and spread (max - min over seeds) of AUC-I, AUC-P, AP-P and PRO (x100), and the
training time. Scoring variants re-score the baseline model (no retraining). Recorded in results/defaults.json, which
chapter 08a loads and checks."""
import argparse, tempfile
from dataclasses import replace
from pathlib import Path

from torch.utils.data import DataLoader

from hlgfa_nb.data import magnetic_tile, make_synthetic_mvtec, MVTecDataset
from hlgfa_nb.model import ModelConfig
from hlgfa_nb.reproduce import run_study
from hlgfa_nb.results import load_result, save_result
from hlgfa_nb.runs import preset
from hlgfa_nb.scoring import calibrate_tau

MODELS = {  # name: Config overrides, one factor changed from the baseline (the library's defaults before this study)
    'baseline (Lite0, zeros, C/4, stages 1-3)': {},
    'reflect padding': dict(padding='reflect'),
    'residual width C': dict(model=ModelConfig(hidden_ratio=1.0)),
    'stages 1-4': dict(stages=(1, 2, 3, 4)),
    'stages 2-3': dict(stages=(2, 3)),
    'EfficientNet-Lite2': dict(backbone='tf_efficientnet_lite2'),
    'reflect + width C': dict(padding='reflect', model=ModelConfig(hidden_ratio=1.0)),
    'EfficientNet-Lite2 + width C': dict(backbone='tf_efficientnet_lite2', model=ModelConfig(hidden_ratio=1.0)),
}
BASELINE = dict(backbone='tf_efficientnet_lite0', padding='zeros', stages=(1, 2, 3), model=ModelConfig(hidden_ratio=0.25))
SCORES = {  # name: ScoreConfig changes applied to the baseline model
    'sigma 2': dict(sigma=2.0), 'sigma 8': dict(sigma=8.0), 'top-1% mean': dict(image_score='topk'),
    'Eq. 8, tau at 5% of training sims': 'calibrate',
}
KEYS = ('AUC-I', 'AUC-P', 'AP-P', 'PRO')

def study(name, root, size, epochs, seeds, only):
    "The variants (and, re-scoring the baseline, the scoring variants) named in `only` (default: all) through `run_study`."
    base = preset('cpu', root, **{**BASELINE, 'image_size': size, 'epochs': epochs})
    models = {m: over for m, over in MODELS.items()
              if not only or m in only or (m.startswith('baseline') and any(s in SCORES for s in only))}
    tau = lambda det, cfg: calibrate_tau(det, DataLoader(MVTecDataset(root, 'train', size=det.geometry), batch_size=16))
    rescore = {s: tau if change == 'calibrate' else replace(base.score, **change) for s, change in SCORES.items()
               if not only or s in only}
    s = run_study(f'defaults_{name}', base, models, seeds, rescore, root=root)
    print(f"\n{name}: the baseline unless named, {size} px, {epochs} epochs, seeds {list(seeds)}; "
          "mean ± half the range over seeds, x100\n")
    print(s.to_markdown(KEYS))
    return dict(size=size, epochs=epochs, seeds=list(seeds), runs=s.runs)

def record(name, table):
    "Add one dataset's table to results/defaults.json (the other dataset's, if recorded, is kept)."
    try: data = {k: v for k, v in load_result('defaults').items() if k != '_made'}
    except FileNotFoundError: data = {}
    print('recorded in', save_result('defaults', {**data, name: table}))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--mt-epochs', type=int, default=30); p.add_argument('--synth-epochs', type=int, default=100)
    p.add_argument('--only', nargs='*', default=None, help='variant names to run (default: all)')
    p.add_argument('--skip-synthetic', action='store_true'); p.add_argument('--skip-mt', action='store_true')
    a = p.parse_args()
    if (mt := magnetic_tile('dev', required=False)) and not a.skip_mt:
        record('magnetic_tile_dev', study('magnetic_tile_dev', mt, 256, a.mt_epochs, a.seeds, a.only))
    if not a.skip_synthetic:
        synth = make_synthetic_mvtec(Path(tempfile.gettempdir())/'hlgfa_study_synth', n_train=32, n_test_good=8,
                                     n_test_defect=4, size=128)
        record('synthetic', study('synthetic (weave + washer, one model)', synth, 128, a.synth_epochs, a.seeds, a.only))
