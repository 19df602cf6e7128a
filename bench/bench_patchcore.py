"""Inference speed of HLGFA vs PatchCore at equal backbone and resolution, and where the time goes, in one run.

    python bench/bench_patchcore.py                      # CPU, 256 px, resnet18 and wide_resnet50_2
    python bench/bench_patchcore.py --backbones resnet18 --size 128 --repeats 3

For each backbone, on a synthetic MVTec-layout category at --size px (random-init backbone: speed does not depend on the
weights), it times `predict` on one batch of test images for
  HLGFA      the untrained detector (same cost as a trained one): both views through the backbone, the module, Eq. 3 maps;
  PatchCore  with memory banks of several sizes: the bank fitted by greedy coreset on --train images at --coreset, and
             banks the size a 10 % / 1 % coreset would have on an MVTec-sized category (--bank-images training images),
             filled with training patches drawn at random (the search cost depends only on the bank's size).
and splits each call into its parts (each part timed on its own, best of --repeats interleaved rounds, `timing.best_seconds`):
  HLGFA      backbone (HR + LR view) | module (Eq. 4-6) | maps (Eq. 3, resize, smoothing, image score)
  PatchCore  backbone (one view)     | patch features (3x3 pooling, resize, concat) | NN search (cdist) | maps
The ratio column is PatchCore ms/image ÷ HLGFA ms/image, measured side by side in this run. Each backbone's table is
recorded in results/patchcore_speed_<backbone>.json, which chapter 13 loads and checks.
"""
import argparse, tempfile, time
from pathlib import Path

import torch

from hlgfa_nb.backbone import make_views, resize
from hlgfa_nb.baselines import PatchCore, PatchCoreConfig, as_patches, nearest_distance, patch_features
from hlgfa_nb.data import MVTecDataset, make_synthetic_mvtec
from hlgfa_nb.evaluate import markdown_table
from hlgfa_nb.runs import detector_of, preset
from hlgfa_nb.results import save_result
from hlgfa_nb.scoring import gaussian_smooth, image_score, score_maps
from timing import best_seconds


def hlgfa_parts(det, x):
    "The parts of one HLGFA predict call, as closures."
    x_h, x_l = make_views(x, det.lr_scale)
    f_h, f_l, out = det.features(x)
    def maps():
        m = score_maps(out.f_hat, f_h, x.shape[-2:], det.score, out.guidance).map
        return image_score(m, det.score)
    return dict(backbone=lambda: (det.backbone(x_h), det.backbone(x_l)), module=lambda: det.module(f_h, f_l), maps=maps)


def patchcore_parts(pc, x):
    "The parts of one PatchCore predict call, as closures."
    feats = pc.backbone(x)
    f = patch_features(feats, pc.cfg.patch_size)
    q = as_patches(f)
    d = nearest_distance(q, pc.bank, pc.cfg.query_chunk, pc.cfg.bank_chunk).view(len(x), 1, *f.shape[-2:])
    def maps():
        m = gaussian_smooth(resize(d, x.shape[-2:])[:, 0], pc.score.sigma)
        return image_score(m, pc.score)
    return dict(backbone=lambda: pc.backbone(x), features=lambda: patch_features(feats, pc.cfg.patch_size),
                search=lambda: nearest_distance(q, pc.bank, pc.cfg.query_chunk, pc.cfg.bank_chunk), maps=maps)


@torch.inference_mode()
def bench(backbone, size, n_train, batch, coreset, bank_images, repeats, work):
    root = make_synthetic_mvtec(work/f'synth_{size}', categories=('weave',), n_train=n_train, n_test_good=batch,
                                n_test_defect=1, size=size)
    cfg = preset('cpu', root, backbone=backbone, image_size=size, weights=None)   # speed does not depend on the weights
    hl = detector_of(cfg, device='cpu')
    train = torch.stack([s['image'] for s in MVTecDataset(root, 'train', size=size)])
    x = torch.stack([MVTecDataset(root, 'test', size=size)[i]['image'] for i in range(batch)])
    pc_cfg = PatchCoreConfig(backbone=backbone, weights=None, coreset_ratio=coreset, seed=cfg.seed)
    t = time.perf_counter()
    pc = PatchCore(pc_cfg, cfg.score, geometry=hl.geometry).fit(train.split(batch))
    fit_s = time.perf_counter() - t
    patches = torch.cat([as_patches(pc.features(b)) for b in train.split(batch)])
    per_image = patches.shape[0] // len(train)
    banks = {f'coreset {coreset:g} of {n_train} images': pc.bank}
    g = torch.Generator().manual_seed(0)
    for r in (0.01, 0.1):
        k = round(r * bank_images * per_image)
        banks[f'{r:.0%} of {bank_images} images'] = patches[torch.randint(len(patches), (k,), generator=g)]
    methods = {'HLGFA': (hl, hlgfa_parts(hl, x))}
    for name, bank in banks.items():
        m = PatchCore(pc_cfg, cfg.score, backbone=pc.backbone, geometry=hl.geometry); m.bank = bank
        methods[f'PatchCore, {name}'] = (m, patchcore_parts(m, x))
    fns = {(k, 'total'): (lambda det=det: det.predict(x)) for k, (det, _) in methods.items()}
    fns |= {(k, p): fn for k, (_, parts) in methods.items() for p, fn in parts.items()}
    secs = best_seconds(fns, repeats)      # interleaved rounds, the best of each: the benches' one timing rule
    ms = lambda k, p: 1000 * secs[k, p] / batch
    rows = []
    for k, (det, parts) in methods.items():
        bank = len(det.bank) if isinstance(det, PatchCore) else 0
        rows.append((k, bank, ms(k, 'total'), {p: ms(k, p) for p in parts}))
    return rows, fit_s, per_image


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--backbones', nargs='+', default=['resnet18', 'wide_resnet50_2'])
    p.add_argument('--train', type=int, default=32, help='training images for the fitted PatchCore bank')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--coreset', type=float, default=0.1)
    p.add_argument('--bank-images', type=int, default=200, help='training images of the MVTec-sized banks')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads (default 1: on a CPU shared with other jobs, several threads wait on each other at '
                        'every small op and the timings measure the scheduler)')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"CPU, {torch.get_num_threads()} thread(s), {a.size} px, batch {a.batch}, random-init backbones; "
          f"ms per image (best of {a.repeats} interleaved rounds)")
    with tempfile.TemporaryDirectory() as tmp:
        for bb in a.backbones:
            rows, fit_s, per_image = bench(bb, a.size, a.train, a.batch, a.coreset, a.bank_images, a.repeats, Path(tmp))
            hl = rows[0][2]
            print(f"\n{bb}: {per_image} patches per image; PatchCore fit on {a.train} images (coreset {a.coreset:g}): "
                  f"{fit_s:.1f} s")
            print(markdown_table([{'method': name, 'bank': bank or None, 'ms/image': ms,
                                   'PatchCore ÷ HLGFA': None if name == 'HLGFA' else f"{ms / hl:.2f}×",
                                   'parts (ms/image)': ', '.join(f"{k} {v:.1f}" for k, v in parts.items())} for name, bank, ms, parts in rows]))
            print('recorded in', save_result(f'patchcore_speed_{bb}', dict(
                backbone=bb, size=a.size, batch=a.batch, threads=a.threads, repeats=a.repeats, n_train=a.train,
                coreset=a.coreset, bank_images=a.bank_images, patches_per_image=per_image, fit_s=fit_s,
                rows=[dict(method=n, bank=b, ms_per_image=m, parts=pt) for n, b, m, pt in rows])))


if __name__ == '__main__':
    main()
