"""HLGFA against PatchCore on time, in one run: inference next to one high-resolution backbone pass, and training next to
PatchCore's fit, on a 200-image category at 256 px with the `cpu` preset (EfficientNet-Lite2, ImageNet weights).

    python bench/bench_speed.py [--train 200] [--size 256] [--coreset 0.1] [--epochs 30]

Both methods are trained on a synthetic category with the library's own `fit` and `PatchCore.fit`; the same test
batch then goes through: the HR backbone pass alone (the floor: any method that looks at the image at this size pays
it), the full HLGFA path (`predict`: both views, module, maps, score), the same detector exported to ONNX and run by
onnxruntime, HLGFA with the memory typicality term (the tiles' choice, chapter 15), and PatchCore with a --coreset
memory bank and with a 1 % one. Reported: ms/image, images/s and the ratios, measured
side by side (best of --repeats interleaved rounds), peak memory, and the wall time of each method's training.
Recorded in results/speed.json, which chapter 08b loads and checks."""
import argparse, tempfile, time
from dataclasses import replace
from pathlib import Path

import torch

from hlgfa_nb.baselines import PatchCoreConfig
from hlgfa_nb.data import MVTecDataset, make_synthetic_mvtec
from hlgfa_nb.deploy import OnnxDetector, export_onnx
from hlgfa_nb.runs import Run, preset
from hlgfa_nb.reproduce import patchcore_like, peak_memory_mb, state_mb
from hlgfa_nb.train import fit, training_statistics
from hlgfa_nb.results import save_result
from timing import best_seconds

MEMORY = lambda score: replace(score, statistics='memory', typicality=8., margin=16)   # the tiles' choice (chapter 15)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--train', type=int, default=200); p.add_argument('--size', type=int, default=256)
    p.add_argument('--coreset', type=float, default=0.1); p.add_argument('--epochs', type=int, default=None)
    p.add_argument('--batch', type=int, default=8); p.add_argument('--repeats', type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as w:
        work = Path(w)
        root = make_synthetic_mvtec(work/'data', categories=('weave',), n_train=a.train, n_test_good=a.batch,
                                    n_test_defect=1, size=a.size)
        cfg = preset('cpu', root, image_size=a.size, **({'epochs': a.epochs} if a.epochs else {}))
        t = time.perf_counter(); ckpt = fit(cfg, work/'hlgfa', progress=False); fit_h = time.perf_counter() - t
        train = torch.utils.data.DataLoader(MVTecDataset(root, 'train', size=a.size), batch_size=a.batch)
        t = time.perf_counter()
        pc = patchcore_like(cfg, PatchCoreConfig(coreset_ratio=a.coreset)).fit(train)
        fit_p = time.perf_counter() - t
        t = time.perf_counter()
        pc1 = patchcore_like(cfg, PatchCoreConfig(coreset_ratio=0.01)).fit(train)
        fit_p1 = time.perf_counter() - t
        hl, onnx = Run.open(ckpt, 'cpu').detector, OnnxDetector(export_onnx(ckpt, work/'d.onnx', a.batch), torch.get_num_threads())
        t = time.perf_counter()
        memory = training_statistics(hl, replace(cfg, score=MEMORY(cfg.score)), progress=False)
        fit_m, hm = time.perf_counter() - t, hl.with_score(MEMORY(cfg.score), memory)
        x = torch.stack([MVTecDataset(root, 'test', size=a.size)[i]['image'] for i in range(a.batch)])
        with torch.inference_mode():
            s = best_seconds(dict(hr=lambda: hl.backbone(x), hlgfa=lambda: hl.predict(x), hlgfa_memory=lambda: hm.predict(x),
                                  onnx=lambda: onnx.predict(x), patchcore=lambda: pc.predict(x), patchcore_1=lambda: pc1.predict(x)),
                             a.repeats)
            peak = {m: peak_memory_mb(lambda: d.predict(x), torch.device('cpu')) for m, d in
                    (('HLGFA', hl), ('HLGFA + memory term', hm), ('PatchCore', pc))}
        state = {m: state_mb(d) for m, d in (('HLGFA', hl), ('HLGFA + memory term', hm), ('PatchCore', pc), ('PatchCore 1 %', pc1))}
    ms = {k: 1e3 * v / a.batch for k, v in s.items()}
    print(f"\n{cfg.backbone} (ImageNet), {a.size} px, batch {a.batch}, {torch.get_num_threads()} threads; "
          f"{a.train} training images, PatchCore coreset {a.coreset:.0%}; best of {a.repeats} interleaved rounds\n")
    print(f"{'path':>28} {'ms/image':>9} {'images/s':>9} {'÷ HR pass':>10}")
    for k, name in (('hr', 'HR backbone pass (floor)'), ('hlgfa', 'HLGFA predict (PyTorch)'),
                    ('hlgfa_memory', 'HLGFA + memory term'), ('onnx', 'HLGFA (onnxruntime)'),
                    ('patchcore', f'PatchCore predict, {a.coreset:.0%}'), ('patchcore_1', 'PatchCore predict, 1%')):
        print(f"{name:>28} {ms[k]:9.1f} {1e3 / ms[k]:9.1f} {ms[k] / ms['hr']:9.2f}×")
    print(f"\nPatchCore ÷ HLGFA, ms/image: {ms['patchcore'] / ms['hlgfa']:.2f}× (PyTorch), "
          f"{ms['patchcore'] / ms['onnx']:.2f}× (onnxruntime)")
    print(f"PatchCore 1 % ÷ HLGFA + memory term, ms/image: {ms['patchcore_1'] / ms['hlgfa_memory']:.2f}×")
    print(f"training: HLGFA fit {fit_h:.0f} s ({cfg.epochs} epochs, with feature caching and calibration), its memory "
          f"statistics {fit_m:.0f} s more; PatchCore fit {fit_p:.0f} s ({a.coreset:.0%}), {fit_p1:.0f} s (1 %); "
          f"PatchCore ÷ HLGFA {fit_p / fit_h:.2f}×")
    print("peak inference memory, batch of " + str(a.batch) + " (MiB): " + ', '.join(f"{m} {v:.0f}" for m, v in peak.items()) +
          "; stored state (MiB): " + ', '.join(f"{m} {v:.2f}" for m, v in state.items()))
    print('recorded in', save_result('speed', dict(backbone=cfg.backbone, size=a.size, batch=a.batch, threads=torch.get_num_threads(),
          n_train=a.train, coreset=a.coreset, epochs=cfg.epochs, repeats=a.repeats, ms_per_image=ms, fit_s={'HLGFA': fit_h,
          'PatchCore': fit_p, 'HLGFA memory statistics': fit_m, 'PatchCore 1 %': fit_p1}, peak_mb=peak, state_mb=state)))



if __name__ == '__main__':
    main()
