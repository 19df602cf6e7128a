"""Chapter 03's copy-trap study over seeds, through the study harness: one module per rung of `model.CAPACITY_LADDER`
(the untrained module, then guidance of growing capacity up to a copy-prone one), trained on normal images and scored.

    python bench/capacity_study.py [--seeds 0 1 2] [--only synthetic magnetic_tile_dev]

`synthetic`: the chapter's synthetic set (the same call) with the `demo` preset (128 px, 100 epochs), every rung;
`magnetic_tile_dev`: the dev tiles with the `cpu` preset (256 px, 30 epochs), the rungs that carry the argument.
Prints one table per dataset (mean ± half the range over seeds, ×100) and records results/capacity_<data>.json, which
chapter 03 loads and checks."""
from pathlib import Path

from datasets_cli import run_per_dataset
from hlgfa_nb.data import magnetic_tile, make_synthetic_mvtec
from hlgfa_nb.evaluate import markdown_table
from hlgfa_nb.model import CAPACITY_LADDER
from hlgfa_nb.reproduce import run_study
from hlgfa_nb.runs import preset

TILE_RUNGS = ('untrained module (= raw HR–LR discrepancy)', 'no guidance (g = 0)', 'structure + detail 8',
              'structure + detail full, no gate', 'copy-prone: detail from stage s, full, hidden ×1, no gate')


def setting(name: str, work: Path):
    "The base config and the rungs of data set `name`."
    if name == 'magnetic_tile_dev': return preset('cpu', magnetic_tile('dev')), TILE_RUNGS
    synth = make_synthetic_mvtec(work/'synth_128', n_train=32, n_test_good=8, n_test_defect=4, size=128)
    return preset('demo', synth), tuple(CAPACITY_LADDER)


def main():
    run_per_dataset(__doc__, record, ('synthetic', 'magnetic_tile_dev'), 'hlgfa_capacity_')


def record(name: str, seeds, work: Path):
    "Run and record the ladder of data set `name`; print its table."
    cfg, rungs = setting(name, work)
    ladder = {r: None if CAPACITY_LADDER[r] is None else {'model': CAPACITY_LADDER[r]} for r in rungs}
    study = run_study(f'capacity_{name}', cfg, ladder, seeds, work=work/name)
    print(f"\n{name}: {cfg.backbone}, {cfg.image_size} px, {cfg.epochs} epochs, seeds {list(seeds)}; "
          "mean ± half the range over seeds, ×100\n")
    print(markdown_table([{'rung': v, 'params': f"{rs[0]['params'] / 1e3:.0f}k", 'loss': study.cell(v, 'loss', 4),
                           **{k: study.cell(v, k) for k in ('AUC-I', 'AUC-P', 'AP-P', 'PRO')}} for v, rs in study.runs.items()]))
    print('recorded in', study.save(), flush=True)


if __name__ == '__main__':
    main()
