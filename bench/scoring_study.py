"""Chapter 04's scoring study over seeds, through the study harness: one module trained per seed with the default
scoring, then re-scored with each of `scoring.scoring_variants` (distance, smoothing, image score, Eq. 8 with τ at
quantiles of the training images' sims, δ, k, per-stage weighting).

    python bench/scoring_study.py [--seeds 0 1 2] [--only synthetic_128 magnetic_tile_dev]

`synthetic_128` is the chapter's own synthetic set (the same call, `demo` preset for 25 epochs); `magnetic_tile_dev`
the dev tiles with the `cpu` preset. Each record of the reference also keeps the mean Eq. 7 sim at the test images'
normal and defect pixels. Prints one table per dataset (mean ± half the range over seeds, ×100) and records
results/scoring_<data>.json, which chapter 04 loads and checks."""
from pathlib import Path

from datasets_cli import run_per_dataset
from hlgfa_nb.data import MVTecDataset, magnetic_tile, make_synthetic_mvtec
from hlgfa_nb.reproduce import run_study
from hlgfa_nb.runs import Run, preset
from hlgfa_nb.scoring import REFERENCE, scoring_variants, sims_and_masks


def setting(name: str, work: Path):
    if name == 'magnetic_tile_dev': return preset('cpu', magnetic_tile('dev'))
    synth = make_synthetic_mvtec(work/'synth_128', n_train=32, n_test_good=8, n_test_defect=4, size=128)
    return preset('demo', synth, epochs=25)


def main():
    run_per_dataset(__doc__, record, ('synthetic_128', 'magnetic_tile_dev'), 'hlgfa_scoring_')


def record(name: str, seeds, work: Path):
    "Run and record the study on data set `name`; print its table."
    cfg = setting(name, work)
    study = run_study(f'scoring_{name}', cfg, {REFERENCE: {}}, seeds, rescore=scoring_variants(cfg.root), work=work/name)
    for rec in study.runs[REFERENCE]:
        det = Run.open(study.checkpoint(REFERENCE, rec['seed']), 'cpu').detector
        sim, masks = sims_and_masks(det, MVTecDataset(cfg.root, 'test', size=det.geometry))
        rec.update(sim_normal=float(sim[~masks].mean()), sim_defect=float(sim[masks].mean()))
    print(f"\n{name}: {cfg.backbone}, {cfg.image_size} px, {cfg.epochs} epochs, seeds {list(seeds)}; "
          "mean ± half the range over seeds, ×100\n")
    print(study.to_markdown())
    print('recorded in', study.save(), flush=True)


if __name__ == '__main__':
    main()
