"""Small defects on an object: how detection depends on a defect's size in pixels at the working resolution, and what
recovers the small ones at what cost, through the study harness.

    python bench/small_defects.py [--source 1024] [--diameters 2 4 8 16] [--contrast 0.15] [--seeds 0]

Synthetic washers (an object) are drawn at --source px; each good test washer is copied once per diameter with one
sharp-edged round spot of that many source pixels (±--contrast in brightness, at a random place on the part), a defect
type per diameter. The `cpu` preset (256 px squashed: a 16-px spot becomes 4 px) is trained and then changed one setting at
a time: the input at 512 px, the shallower stages (0, 1, 2), a smaller LR view (lr_scale 0.25), tiles of 256 px cut
from the image at half its size (tile_scale 0.5, so 512-px detail); the first run is also re-scored with the memory
typicality term (λ 8, margin 16, what `choose_scoring` picked on the tiles). Same-backbone PatchCore (1 % coreset) at
256 px is tested beside it. Prints image AUROC per diameter and each variant's training seconds and inference rate;
records results/small_defects_washer.json, which chapter 15 loads and checks."""
import argparse, shutil, tempfile, time, weakref
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from hlgfa_nb.baselines import PatchCoreConfig
from hlgfa_nb.data import MVTecDataset, make_synthetic_mvtec, read_image
from hlgfa_nb.evaluate import markdown_table
from hlgfa_nb.geometry import Pieces
from hlgfa_nb.reproduce import inference_throughput, patchcore_like, run_study, scored_as, study_record
from hlgfa_nb.runs import Run, geometry_of, preset

VARIANTS = {'256 px (the cpu preset)': {}, '512 px': {'image_size': 512}, 'stages 0, 1, 2': {'stages': (0, 1, 2)},
            'lr_scale 0.25': {'lr_scale': 0.25}, 'tiles of 256 px at tile_scale 0.5': {'geometry': 'tiles', 'tile_scale': 0.5}}
REMEDY = {'statistics': 'memory', 'typicality': 8.0, 'margin': 16}


def spot(image: np.ndarray, diameter: float, contrast: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    "`image` (H×W×3 in [0, 1]) with a round spot of `diameter` px and ±`contrast` on the washer's ring, and its mask."
    h, w, _ = image.shape
    angle, radius = rng.uniform(0, 2 * np.pi), rng.uniform(0.18, 0.30) * min(h, w)   # on the washer's ring (0.14–0.34)
    cy, cx = h / 2 + radius * np.sin(angle), w / 2 + radius * np.cos(angle)
    yy, xx = np.mgrid[:h, :w]
    mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= (diameter / 2) ** 2
    sign = rng.choice([-1., 1.])
    return np.where(mask[..., None], (image + sign * contrast).clip(0, 1), image), mask


def sized_washers(folder: Path, source: int, diameters, contrast: float, seed: int = 0) -> Path:
    "A washer category at `source` px whose defect types are spots of each diameter (source px) on its good test images."
    root = make_synthetic_mvtec(folder, categories=('washer',), n_train=60, n_test_good=16, n_test_defect=1, size=source)
    cat, rng = root/'washer', np.random.default_rng(seed)
    for d in [p for p in (cat/'test').iterdir() if p.name != 'good']: shutil.rmtree(d); shutil.rmtree(cat/'ground_truth'/d.name)
    for dia in diameters:
        kind = f'spot_{dia}px'
        (cat/'test'/kind).mkdir(); (cat/'ground_truth'/kind).mkdir(parents=True)
        for p in sorted((cat/'test'/'good').glob('*.png')):
            image, mask = spot(read_image(p), dia, contrast, rng)
            Image.fromarray((image * 255).round().astype(np.uint8)).save(cat/'test'/kind/p.name)
            Image.fromarray(mask.astype(np.uint8) * 255).save(cat/'ground_truth'/kind/f'{p.stem}_mask.png')
    return root


def test_inputs(root: Path, size) -> torch.Tensor:
    "The first 16 test images of the washers as model inputs of `size`."
    test = MVTecDataset(root, 'test', 'washer', size=size)
    return torch.stack([test[i]['image'] for i in range(16)])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--source', type=int, default=1024); p.add_argument('--diameters', type=int, nargs='+', default=[2, 4, 8, 16])
    p.add_argument('--contrast', type=float, default=0.15, help='brightness change of a spot (the washer noise: 0.02)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix='hlgfa_small_') as w:
        work = Path(w)
        root = sized_washers(work/'data', a.source, a.diameters, a.contrast)
        cfg = preset('cpu', root)
        study = run_study('small_defects_washer', cfg, VARIANTS, a.seeds, work=work/'runs',
                          rescore={'256 px + memory term (λ 8, margin 16)': scored_as(REMEDY, weakref.WeakKeyDictionary())})
        for v, changes in VARIANTS.items():                       # inference rate on 16 test inputs (tiles: n/a)
            if changes.get('geometry') != 'tiles':
                det = Run.open(study.checkpoint(v, a.seeds[0])).detector
                study.runs[v][0]['images_per_s'] = inference_throughput(det, test_inputs(root, det.geometry.size))
        train = torch.utils.data.DataLoader(Pieces(MVTecDataset(root, 'train', 'washer', size=geometry_of(cfg))), batch_size=8)
        t = time.perf_counter()
        pc = patchcore_like(cfg, PatchCoreConfig(coreset_ratio=0.01)).fit(train)
        study.runs['PatchCore, 1 % coreset, 256 px'] = [study_record(pc, root, fit_s=time.perf_counter() - t, seed=a.seeds[0],
                                                                    images_per_s=inference_throughput(pc, test_inputs(root, geometry_of(cfg).size)))]
        study.setting.update(source=a.source, diameters=a.diameters, contrast=a.contrast, remedy=REMEDY)
    kinds = [f'spot_{d}px' for d in a.diameters]
    print(f"\nwashers drawn at {a.source} px; image AUROC per spot diameter (source px; ÷{a.source // 256} at 256 px), ×100\n")
    print(markdown_table([{'variant': v, **{k: float(np.mean([r['per_type'][k]['AUC-I'] for r in rs])) for k in kinds},
                           'AUC-P': float(np.mean([r['AUC-P'] for r in rs])),
                           'fit s': float(np.mean([r['fit_s'] for r in rs])), 'images/s': rs[0].get('images_per_s')}
                          for v, rs in study.runs.items()]))
    print('recorded in', study.save(), flush=True)


if __name__ == '__main__':
    main()
