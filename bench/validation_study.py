"""The remedy's choices (chapter 15) made again without the test set: on a validation set built from the normal training
images only (`limits.validation_set`: held-out normal images plus synthetic smooth, line and blob defects), the
`cpu` preset is trained once with feature statistics and re-scored with each λ and border margin (the study harness,
`reproduce.run_study`); the setting with the best mean of image and pixel AUROC on the validation set is then trained on
all training images and evaluated on the test set, once (beside the paper's map, trained the same way, for reference).

    python bench/validation_study.py [--data DIR] [--share 0.2] [--seed 0]

Defaults: the magnetic-tile dev set. Prints the validation table and the test row; records
results/validation_<data>.json, which chapter 15 loads and checks."""
import argparse, tempfile
from dataclasses import replace
from pathlib import Path

from hlgfa_nb.data import magnetic_tile
from hlgfa_nb.limits import validation_set
from hlgfa_nb.reproduce import run_study, study_record
from hlgfa_nb.results import save_result
from hlgfa_nb.runs import Run, override, preset
from hlgfa_nb.train import fit

KEYS = ('AUC-I', 'AP-I', 'AUC-P', 'AP-P', 'PRO')
GRID = {f"λ {lam:g}, margin {m}": dict(typicality=lam, margin=m) for lam in (0, 0.5, 1, 2) for m in (0, 16)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--share', type=float, default=0.2)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    root = Path(a.data) if a.data else magnetic_tile('dev')
    work = Path(tempfile.mkdtemp(prefix='hlgfa_validation_'))
    val = validation_set(root, work/'validation', a.share, a.seed)
    base = override(preset('cpu', val), **{'score.typicality': 1.0})        # trained once, with feature statistics
    first = next(iter(k for k, v in GRID.items() if v['typicality'] == 1 and v['margin'] == 0))
    study = run_study(f'validation_{root.name}', base, {first: {}}, (a.seed,),
                      rescore={k: replace(base.score, **v) for k, v in GRID.items() if k != first}, work=work/'runs')
    score = lambda v: (study.values(v, 'AUC-I').mean() + study.values(v, 'AUC-P').mean()) / 2
    chosen = max(study.runs, key=score)
    print(f"\nvalidation ({root.name}, {a.share:.0%} of the normal training images held out, synthetic defects):\n")
    print(study.to_markdown(KEYS))
    print(f"\nchosen on validation: {chosen} (mean of AUC-I and AUC-P {score(chosen):.1f})")
    tested = {}
    for name, change in (('chosen', GRID[chosen]), ('paper', dict(typicality=0., margin=0))):   # the paper's map, for reference
        cfg = replace(preset('cpu', root), score=replace(preset('cpu').score, **change))
        tested[name] = study_record(Run.open(fit(cfg, work/f'test_{name}', progress=False)).detector, root)
        print(f"test, once, {name}: " + ', '.join(f"{k} {tested[name][k]:.1f}" for k in KEYS))
    print('recorded in', save_result(f'validation_{root.name}', dict(
        data=root.name, share=a.share, seed=a.seed, grid=GRID, validation=study.runs, chosen=chosen,
        test=tested['chosen'], test_paper=tested['paper'])))


if __name__ == '__main__':
    main()
