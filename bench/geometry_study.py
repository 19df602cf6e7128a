"""The three geometries side by side on one category, HLGFA and PatchCore in the same harness (`reproduce`): the seven
metrics, per-type pixel AUROC, fit time, model inputs and images per second, and peak memory.

    python bench/geometry_study.py [--data DIR] [--epochs 30] [--size 256] [--tile-scale 2] [--out DIR]

Defaults: the magnetic-tile dev set (`magnetic_tile('dev', required=False)`), the `cpu` preset (EfficientNet-Lite2, ImageNet weights, 256 px,
30 epochs), PatchCore with a 10 % coreset of at most as many training patches as the squashed images give (so that
tiles, which give more patches, get the same bank budget). Pixel metrics are computed at each geometry's working size,
or with `--original` at each image's own size, the same for all (a thin mask squashed to 256 px grows relatively wider,
which makes pixel AP easier at the coarser size). `--tile-scale` sets the tiles' image scale: 1 cuts the
images at their own pixels, 2 at twice their size (more pixels on a thin defect, four times the inputs). Recorded in
results/geometry_<data>.json, which chapter 16 loads and checks."""
import argparse, tempfile
from dataclasses import replace
from pathlib import Path

from hlgfa_nb.baselines import PatchCoreConfig
from hlgfa_nb.data import MVTecDataset, magnetic_tile
from hlgfa_nb.evaluate import TABLE3_COLUMNS, markdown_table
from hlgfa_nb.geometry import Pieces
from hlgfa_nb.reproduce import reproduce
from hlgfa_nb.results import save_result
from hlgfa_nb.runs import geometry_of, preset


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--epochs', type=int, default=30)
    p.add_argument('--size', type=int, default=256); p.add_argument('--tile-scale', type=float, default=2.0)
    p.add_argument('--geometries', default='squash,keep_aspect,tiles'); p.add_argument('--out', default=None)
    p.add_argument('--original', action='store_true', help="pixel metrics at each image's own size, the same for every "
                   "geometry (default: at each geometry's working size)")
    a = p.parse_args()
    root = Path(a.data) if a.data else magnetic_tile('dev', required=False)
    if root is None: raise SystemExit("no data: pass --data <folder in MVTec AD layout> (the dev set was not found)")
    out = Path(a.out or tempfile.mkdtemp(prefix='geometry_study_'))
    base = preset('cpu', root, image_size=a.size, epochs=a.epochs)
    n_train = len(MVTecDataset(root, 'train', size=a.size))
    stride = 8                                                 # PatchCore's first stage (timm index 2) on EfficientNet
    budget = n_train * (a.size // stride) ** 2
    rows = {}
    for kind in a.geometries.split(','):
        cfg = replace(base, geometry=kind, tile_scale=a.tile_scale if kind == 'tiles' else 1.0)
        test = MVTecDataset(root, 'test', size=geometry_of(cfg))
        per_image = len(Pieces(test)) / len(test)
        rep = reproduce(root, cfg=cfg, patchcore=PatchCoreConfig(coreset_ratio=0.1, max_train_patches=budget),
                        out_dir=out/kind, progress=False, original=a.original)
        for method, res in rep.results.items():
            r = next(iter(res.categories.values()))
            s = rep.speed[method]
            rows[f"{kind} / {method}"] = dict(
                metrics={k: 100 * r.metrics[k] for k in TABLE3_COLUMNS},
                per_type={t: 100 * m['AUC-P'] for t, m in (r.per_type or {}).items()},
                fit_s=s['fit_s'], inputs_per_image=per_image, inputs_per_s=s['images_per_s'],
                images_per_s=s['images_per_s'] / per_image, peak_mb=s['peak_mb'])
        print(f"done: {kind} ({cfg.backbone}, {geometry_of(cfg).describe()})", flush=True)
    print('recorded in', save_result(f"geometry_{root.name}" + ('_original' if a.original else ''), dict(
        data=root.name, backbone=base.backbone, size=a.size, epochs=a.epochs, tile_scale=a.tile_scale, patch_budget=budget,
        original=a.original, n_train=n_train, runs=rows)))
    print(f"\n{root.name}: {base.backbone} (ImageNet), input {a.size} px, {a.epochs} epochs; tiles at scale {a.tile_scale:g}; "
          f"PatchCore coreset 10 % of at most {budget} patches; pixel metrics at "
          + ("each image's own size" if a.original else "each geometry's working size") + "\n")
    print(markdown_table([{'geometry / method': name, **r['metrics'], 'fit s': f"{r['fit_s']:.0f}", 'inputs/image': r['inputs_per_image'],
                           'images/s': r['images_per_s'], 'peak MiB': f"{r['peak_mb']:.0f}"} for name, r in rows.items()]))
    types = sorted({t for r in rows.values() for t in r['per_type']})
    if types:                                                  # categories of several defect types
        print('\npixel AUROC per defect type\n\n' + markdown_table([{'geometry / method': name, **{t: r['per_type'].get(t) for t in types}}
                                                                    for name, r in rows.items()]))
    print(f"\nfiles: {out}")


if __name__ == '__main__':
    main()
