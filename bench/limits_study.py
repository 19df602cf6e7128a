"""The issue-18 measurements cited in chapter 15 that no cell runs: does noise-aware augmentation lower the normal
peaks, and what the feature-typicality term and the image score's border margin do on a run whose images keep their
aspect ratio.

    python bench/limits_study.py [--data DIR]

Five runs of the `cpu` preset on one category (default: the magnetic-tile dev set), each trained by `fit` and
evaluated by `evaluate_category`: squash, squash with augmentation (§3.3), keep_aspect, keep_aspect with
`ScoreConfig.typicality = 1` (the weight fixed in chapter 15), and that with `ScoreConfig.margin = 16` (the deepest
stage's stride). Printed: the seven metrics ×100, image and pixel AUROC per defect type, and for the squash runs the
share of the good test images' map maxima within 16 px of the border. Recorded in results/limits_<data>.json, which
chapter 15 loads and checks."""
import argparse, tempfile
from pathlib import Path

import torch

from hlgfa_nb.data import MVTecDataset, magnetic_tile
from hlgfa_nb.evaluate import TABLE3_COLUMNS, evaluate_category
from hlgfa_nb.runs import Run, geometry_of, preset
from hlgfa_nb.limits import peak_positions
from hlgfa_nb.results import save_result
from hlgfa_nb.scoring import ScoreConfig
from hlgfa_nb.train import fit


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None)
    a = p.parse_args()
    root = Path(a.data) if a.data else magnetic_tile('dev', required=False)
    if root is None: raise SystemExit("no data: pass --data <folder in MVTec AD layout> (the dev set was not found)")
    runs = {'squash': {}, 'squash + augmentation': dict(augment=True), 'keep_aspect': dict(geometry='keep_aspect'),
            'keep_aspect + typicality': dict(geometry='keep_aspect', score=ScoreConfig(typicality=1.0)),
            'keep_aspect + typicality + margin 16': dict(geometry='keep_aspect', score=ScoreConfig(typicality=1.0, margin=16))}
    print(f"{root.name}, cpu preset; metrics ×100\n")
    print('| run | ' + ' | '.join(TABLE3_COLUMNS) + ' | image AUROC per type | pixel AUROC per type | normal maxima at the border |')
    print('|' + '---|' * (len(TABLE3_COLUMNS) + 4))
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name, overrides in runs.items():
            cfg = preset('cpu', root, **overrides)
            det = Run.open(fit(cfg, Path(work)/name.replace(' ', '_'), progress=False), 'cpu').detector
            test = MVTecDataset(root, 'test', size=geometry_of(cfg))
            r = evaluate_category(det, test, progress=False)
            border = None
            if cfg.geometry == 'squash':                           # one canvas: the maxima's positions compare
                good = [test[i]['image'] for i, s in enumerate(test.samples) if s.defect == 'good']
                with torch.inference_mode():
                    maps = torch.cat([det.predict(torch.stack(good[k:k + 8])).maps for k in range(0, len(good), 8)])
                border = float(peak_positions(maps))
            rows.append({'run': name, **{k: 100 * r.metrics[k] for k in TABLE3_COLUMNS},
                         'per_type': {t: {k: 100 * m[k] for k in ('AUC-I', 'AUC-P')} for t, m in (r.per_type or {}).items()},
                         'border_share': border})
            types = {k: ', '.join(f"{t} {v[k]:.1f}" for t, v in rows[-1]['per_type'].items()) for k in ('AUC-I', 'AUC-P')}
            print(f"| {name} | " + ' | '.join(f"{rows[-1][k]:.1f}" for k in TABLE3_COLUMNS) +
                  f" | {types['AUC-I']} | {types['AUC-P']} | {'' if border is None else f'{border:.2f}'} |", flush=True)
    print('recorded in', save_result(f'limits_{root.name}', {'data': root.name, 'preset': 'cpu', 'runs': rows}))


if __name__ == '__main__':
    main()
