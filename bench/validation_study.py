"""The remedy's choices (chapter 15) made again without the test set, by `reproduce.choose_scoring`: on a validation
set built from the normal training images only (`limits.validation_set`: held-out normal images plus synthetic smooth,
line and blob defects), the `cpu` preset is trained once with feature statistics and re-scored with each λ and border
margin of `REMEDY_GRID`; the setting with the best mean of image and pixel AUROC on the validation set is then trained
on all training images and evaluated on the test set, once (beside the paper's map, trained the same way, for
reference).

    python bench/validation_study.py [--data DIR] [--share 0.2] [--seed 0]

Defaults: the magnetic-tile dev set. Prints the validation table and the test rows; records
results/validation_<data>.json, which chapter 15 loads and checks."""
import argparse, tempfile
from dataclasses import replace
from pathlib import Path

from hlgfa_nb.data import magnetic_tile
from hlgfa_nb.reproduce import REMEDY_GRID, choose_scoring, study_record
from hlgfa_nb.results import save_result
from hlgfa_nb.runs import Run, preset
from hlgfa_nb.train import fit

KEYS = ('AUC-I', 'AP-I', 'AUC-P', 'AP-P', 'PRO')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--share', type=float, default=0.2)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    root = Path(a.data) if a.data else magnetic_tile('dev')
    with tempfile.TemporaryDirectory(prefix='hlgfa_validation_') as w:
        cfg, work = preset('cpu', root), Path(w)
        chosen_score, study = choose_scoring(cfg, work, share=a.share, seed=a.seed, progress=True)
        chosen = study.setting['chosen']
        print(f"\nvalidation ({root.name}, {a.share:.0%} of the normal training images held out, synthetic defects):\n")
        print(study.to_markdown(KEYS))
        print(f"\nchosen on validation: {chosen}")
        tested = {}
        for name, score in (('chosen', chosen_score), ('paper', replace(cfg.score, typicality=0., margin=0))):  # the paper's map, for reference
            tested[name] = study_record(Run.open(fit(replace(cfg, score=score), work/f'test_{name}', progress=False)).detector, root)
            print(f"test, once, {name}: " + ', '.join(f"{k} {tested[name][k]:.1f}" for k in KEYS), flush=True)
    print('recorded in', save_result(f'validation_{root.name}', dict(
        data=root.name, share=a.share, seed=a.seed, grid=REMEDY_GRID, validation={k: study.runs[k] for k in REMEDY_GRID},
        chosen=chosen, test=tested['chosen'], test_paper=tested['paper'])))


if __name__ == '__main__':
    main()
