"""Chapter 15's runs on real tiles, through the study harness: what the feature-typicality term and the image score's
border margin do, per defect type, in both geometries; which image scores look past the border; and whether
noise-aware augmentation (§3.3) lowers the normal peaks.

    python bench/limits_study.py [--data DIR] [--seeds 0]

On one category (default: the magnetic-tile dev set), the `cpu` preset: the untrained module; one module trained with
`ScoreConfig.typicality = 1` (the weight fixed in chapter 15; training then fits the feature statistics), re-scored
without the term (the paper's map), with other image scores (top 1 % mean, σ = 8, Eq. 8, a 16-px margin) and with the
term and the margin; one trained with augmentation; and one in `keep_aspect` geometry with the term, re-scored without
it and with the margin. Recorded beside the metrics: the share of each defect type's contrast the LR view removes, the
share of the good test maps' maxima within 16 px of the border (the paper's map, with and without augmentation), the statistics' size and fitting time,
and images/s with and without the term (bench/timing.py). Prints the table and records results/limits_<data>.json,
which chapter 15 loads and checks."""
import argparse, tempfile, time
from dataclasses import replace
from pathlib import Path

import torch

from timing import best_seconds
from hlgfa_nb.data import MVTecDataset, magnetic_tile
from hlgfa_nb.limits import peak_positions, removed_share
from hlgfa_nb.reproduce import Study, run_study
from hlgfa_nb.runs import Run, preset
from hlgfa_nb.train import training_statistics

TYPICALITY = {'score.typicality': 1.0}


def scored(**changes):
    "A re-scoring of the trained run: its score with `changes`."
    return lambda det, cfg: replace(det.score, **changes)


def good_maps(det, test) -> torch.Tensor:
    good = [test[i]['image'] for i, s in enumerate(test.samples) if s.defect == 'good']
    with torch.inference_mode():
        return torch.cat([det.predict(torch.stack(good[k:k + 8])).maps for k in range(0, len(good), 8)])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--seeds', type=int, nargs='+', default=[0])
    a = p.parse_args()
    root = Path(a.data) if a.data else magnetic_tile('dev', required=False)
    if root is None: raise SystemExit("no data: pass --data <folder in MVTec AD layout> (the dev set was not found)")
    with tempfile.TemporaryDirectory(prefix='hlgfa_limits_') as w: measure(root, a.seeds, Path(w))


def measure(root, seeds, work):
    "The runs of the docstring, their extra measurements, the table; recorded."
    cfg = preset('cpu', root)
    squash = run_study('limits_squash', cfg, {'untrained module': None, 'HLGFA + typicality': TYPICALITY,
                                              'HLGFA + augmentation': {'augment': True}}, seeds, work=work/'squash',
                       rescore={'HLGFA': scored(typicality=0.), 'top 1 % mean': scored(typicality=0., image_score='topk'),
                                'σ = 8': scored(typicality=0., sigma=8.), 'Eq. 8 on': scored(typicality=0., reliability=True),
                                'margin 16': scored(typicality=0., margin=16),
                                'HLGFA + typicality + margin 16': scored(margin=16)})
    keep = run_study('limits_keep_aspect', replace(cfg, geometry='keep_aspect'), {'keep_aspect + typicality': TYPICALITY},
                     seeds, work=work/'keep', rescore={'keep_aspect': scored(typicality=0.),
                                                         'keep_aspect + typicality + margin 16': scored(margin=16)})
    test = MVTecDataset(root, 'test', size=cfg.image_size)
    types = sorted({s.defect for s in test.samples} - {'good'})
    removed = {t: float(removed_share(*map(torch.stack, zip(*[(test[i]['image'], test[i]['mask'][0])
                                                           for i, s in enumerate(test.samples) if s.defect == t]))).nanmean())
               for t in types}
    extra = {}
    for seed in seeds:
        run = Run.open(squash.checkpoint('HLGFA + typicality', seed), 'cpu')
        typ, plain = run.detector, run.detector.with_score(replace(run.detector.score, typicality=0.))
        aug = Run.open(squash.checkpoint('HLGFA + augmentation', seed), 'cpu').detector
        t = time.perf_counter(); stats = training_statistics(typ, run.cfg, progress=False); stats_s = time.perf_counter() - t
        x = torch.stack([test[i]['image'] for i in range(min(16, len(test)))])
        with torch.inference_mode(): s = best_seconds({'HLGFA': lambda: plain.predict(x), 'HLGFA + typicality': lambda: typ.predict(x)}, 5)
        extra[seed] = {'HLGFA': dict(border_share=peak_positions(good_maps(plain, test)), images_per_s=len(x) / s['HLGFA']),
                       'HLGFA + augmentation': dict(border_share=peak_positions(good_maps(aug, test))),
                       'HLGFA + typicality': dict(images_per_s=len(x) / s['HLGFA + typicality'], statistics_s=stats_s,
                                                  statistics_mb=sum(b.numel() * b.element_size() for b in stats.buffers()) / 2**20,
                                                  module_mb=sum(q.numel() * q.element_size() for q in typ.module.parameters()) / 2**20)}
    study = Study(f'limits_{root.name}', dict(squash=squash.setting, keep_aspect=keep.setting, removed_share=removed),
                  {**squash.runs, **keep.runs})
    for v, recs in study.runs.items():
        for r in recs: r.update(extra.get(r['seed'], {}).get(v, {}))
    print(f"{root.name}, cpu preset, seeds {seeds}; ×100; removed share per type: "
          + ', '.join(f"{t} {v:.3f}" for t, v in removed.items()) + '\n')
    print(study.to_markdown(('AUC-I', 'AP-I', 'AUC-P', 'AP-P', 'PRO')))
    print('\n', {s: {v: {k: round(x, 3) for k, x in d.items()} for v, d in e.items()} for s, e in extra.items()})
    print('recorded in', study.save(), flush=True)


if __name__ == '__main__':
    main()
