"""The runs behind the book's verdict page (index) that no other study records, in one script:

    python bench/verdict_runs.py

- the learning check (chapter 09): the untrained module against the trained one on the demo's synthetic set (`demo`
  preset, one model for both categories);
- on the magnetic-tile dev set (`cpu` preset): the untrained module, HLGFA, HLGFA with Eq. 8 (τ at the 5 % quantile of
  the training images' sims, `calibrate_tau`), and HLGFA with the remedy of chapter 15 (typicality 1, margin 16).
Recorded in results/verdict_runs.json (metrics ×100, mean over categories)."""
import tempfile
from dataclasses import replace
from pathlib import Path

from torch.utils.data import DataLoader

from hlgfa_nb.cli import demo_data
from hlgfa_nb.data import MVTecDataset, magnetic_tile
from hlgfa_nb.evaluate import TABLE3_COLUMNS, evaluate_detector
from hlgfa_nb.runs import Run, detector_of, preset
from hlgfa_nb.train import fit_typicality, fit
from hlgfa_nb.results import save_result
from hlgfa_nb.scoring import calibrate_tau


def scores(det, root) -> dict:
    r = evaluate_detector(det, root, examples=0, progress=False)
    return {**{k: 100 * r.mean[k] for k in TABLE3_COLUMNS},
            'per_type': {t: {k: 100 * m[k] for k in ('AUC-I', 'AUC-P')} for c in r.categories.values()
                         for t, m in (c.per_type or {}).items()} if len(r.categories) == 1 else None}


def main():
    out = {}
    with tempfile.TemporaryDirectory() as w:
        work = Path(w)
        learn = preset('demo'); synth = demo_data(work, learn.image_size); learn = replace(learn, root=str(synth))
        out['synthetic'] = dict(data='demo synthetic set (weave, washer)', preset='demo', runs={
            'untrained module': scores(detector_of(learn, device='cpu'), synth),
            'HLGFA': scores(Run.open(fit(learn, work/'learn', progress=False), 'cpu').detector, synth)})
        print('synthetic', {k: round(v['AUC-I'], 1) for k, v in out['synthetic']['runs'].items()}, flush=True)
        mt = magnetic_tile('dev'); cfg = preset('cpu', mt)
        ckpt = fit(cfg, work/'tiles', progress=False)
        det = Run.open(ckpt, 'cpu').detector
        runs = {'untrained module': scores(detector_of(cfg, device='cpu'), mt), 'HLGFA': scores(det, mt)}
        tau = calibrate_tau(det, DataLoader(MVTecDataset(mt, 'train', size=det.geometry), batch_size=8))
        runs['HLGFA + Eq. 8'] = scores(det.with_score(tau), mt)
        run = Run.open(ckpt, 'cpu'); fit_typicality(run, progress=False)
        runs['HLGFA + typicality + margin 16'] = scores(det.with_score(replace(det.score, typicality=1.0, margin=16)), mt)
        out['magnetic_tile_dev'] = dict(data=mt.name, preset='cpu', runs=runs)
        print('tiles', {k: round(v['AUC-I'], 1) for k, v in runs.items()}, flush=True)
    print('recorded in', save_result('verdict_runs', out))


if __name__ == '__main__':
    main()
