"""The remedy's choices (chapter 15) made again without the test set, by `reproduce.choose_scoring`: on a validation
set built from the normal training images only (`limits.validation_set`: held-out normal images plus synthetic smooth,
line and blob defects), the `cpu` preset is trained once with feature statistics and re-scored with each feature statistics,
λ and border margin of `REMEDY_GRID`; the setting with the best mean of image and pixel AUROC on the validation set is then trained
on all training images and evaluated on the test set, once (beside the paper's map, trained the same way, for
reference, and with the chosen typicality term alone when it has one).

    python bench/validation_study.py [--data DIR] [--share 0.2] [--seed 0] [--patchcore 0.01]

Defaults: the magnetic-tile dev set. With --patchcore RATIO (one category), same-backbone PatchCore with that coreset
ratio is fitted and tested beside it, and then each tested detector's inference rate is recorded too (images/s on 16
test images, measured one after another: `bench/bench_speed.py` interleaves its rounds and is the steadier measure).
Each trained detector's seconds to fit (training, statistics and thresholds) are recorded as `train_s`. Prints the validation table and
the test rows; records results/validation_<data>.json, which chapters 15 and the index load and check."""
import argparse, tempfile, time
from dataclasses import replace
from pathlib import Path

import torch

from hlgfa_nb.baselines import PatchCoreConfig
from hlgfa_nb.data import MVTecDataset, magnetic_tile, select_categories
from hlgfa_nb.geometry import Pieces
from hlgfa_nb.reproduce import REMEDY_GRID, choose_scoring, inference_throughput, patchcore_like, study_record
from hlgfa_nb.results import save_result
from hlgfa_nb.runs import Run, preset
from hlgfa_nb.train import fit

KEYS = ('AUC-I', 'AP-I', 'AUC-P', 'AP-P', 'PRO')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--share', type=float, default=0.2)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--patchcore', type=float, default=None, help='coreset ratio of a same-backbone PatchCore tested beside it')
    a = p.parse_args()
    root = Path(a.data) if a.data else magnetic_tile('dev')
    with tempfile.TemporaryDirectory(prefix='hlgfa_validation_') as w:
        cfg, work = preset('cpu', root), Path(w)
        chosen_score, study = choose_scoring(cfg, work, share=a.share, seed=a.seed, progress=True)
        chosen = study.setting['chosen']
        print(f"\nvalidation ({root.name}, {a.share:.0%} of the normal training images held out, synthetic defects):\n")
        print(study.to_markdown(KEYS))
        print(f"\nchosen on validation: {chosen}")
        tested, dets = {}, {}
        for name, score in (('chosen', chosen_score), ('paper', replace(cfg.score, typicality=0., margin=0))):  # the paper's map, for reference
            t = time.perf_counter()
            dets[name] = det = Run.open(fit(replace(cfg, score=score), work/f'test_{name}', progress=False)).detector
            tested[name] = study_record(det, root, train_s=time.perf_counter() - t)
            if name == 'chosen' and score.typicality:      # for reference: how much of the chosen map is the typicality term
                tested['term alone'] = study_record(det.with_score(replace(score, typicality=1e6)), root)
        if a.patchcore:
            cat, = select_categories(root)
            train = torch.utils.data.DataLoader(Pieces(MVTecDataset(root, 'train', cat, size=det.geometry)), batch_size=8)
            t = time.perf_counter()
            pc = patchcore_like(cfg, PatchCoreConfig(coreset_ratio=a.patchcore)).fit(train)
            tested['PatchCore'] = study_record(pc, root, train_s=time.perf_counter() - t, coreset_ratio=a.patchcore)
            test = MVTecDataset(root, 'test', cat, size=det.geometry.size)
            images = torch.stack([test[i]['image'] for i in range(min(16, len(test)))])
            for name, d in {**dets, 'PatchCore': pc}.items(): tested[name]['images_per_s'] = inference_throughput(d, images)
        for name, r in tested.items(): print(f"test, once, {name}: " + ', '.join(f"{k} {r[k]:.1f}" for k in KEYS), flush=True)
    print('recorded in', save_result(f'validation_{root.name}', dict(
        data=root.name, share=a.share, seed=a.seed, grid=REMEDY_GRID, validation={k: study.runs[k] for k in REMEDY_GRID},
        chosen=chosen, test=tested['chosen'], test_paper=tested['paper'], test_term_alone=tested.get('term alone'),
        test_patchcore=tested.get('PatchCore'))))


if __name__ == '__main__':
    main()
