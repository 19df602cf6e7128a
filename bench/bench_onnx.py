"""Inference speed of one exported HLGFA detector: PyTorch eager (`AnomalyDetector.predict`) against onnxruntime.

    python bench/bench_onnx.py                                   # tf_efficientnet_lite2, 256 px, batch 8
    python bench/bench_onnx.py --backbone resnet18 --size 128 --batch 4 --threads 1

A one-epoch run on a synthetic category at --size px gives a checkpoint (the weights do not change the speed), which is
exported with `deploy.export_onnx`; both runtimes then score the same batch, in interleaved rounds, with the same number
of CPU threads. Reported: ms per image (best of --repeats), images/s, the ratio (eager ÷ onnxruntime, measured side by
side in this run), and the largest difference of their maps relative to the maps' range.
"""
import argparse, tempfile
from pathlib import Path

import numpy as np
import torch

from hlgfa_nb.data import MVTecDataset, make_synthetic_mvtec
from hlgfa_nb.deploy import OnnxDetector, Predictor, export_onnx
from hlgfa_nb.train import fit, preset
from timing import best_seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--backbone', default='tf_efficientnet_lite2'); p.add_argument('--size', type=int, default=256)
    p.add_argument('--batch', type=int, default=8); p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=2, help='CPU threads for both runtimes')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as w:
        work = Path(w)
        root = make_synthetic_mvtec(work/'data', categories=('weave',), n_train=a.batch, n_test_good=a.batch, n_test_defect=1,
                                    size=a.size)
        run = fit(preset('cpu', root, backbone=a.backbone, image_size=a.size, epochs=1, batch_size=a.batch), work/'run',
                  progress=False)
        torch_det, onnx_det = Predictor(run).detector, OnnxDetector(export_onnx(run, work/'d.onnx', a.batch), a.threads)
        x = torch.stack([MVTecDataset(root, 'test', size=a.size)[i]['image'] for i in range(a.batch)])
        secs = best_seconds(dict(eager=lambda: torch_det.predict(x), onnxruntime=lambda: onnx_det.predict(x)), a.repeats)
        ref, (maps, _) = torch_det.predict(x).maps.numpy(), onnx_det.predict(x)
    best = {k: v / a.batch for k, v in secs.items()}
    print(f"{a.backbone}, {a.size}×{a.size} px, batch {a.batch}, {a.threads} threads, best of {a.repeats} interleaved rounds\n")
    print(f"{'runtime':>12} {'ms/image':>9} {'images/s':>9}")
    for k, v in best.items(): print(f"{k:>12} {1e3 * v:9.1f} {1 / v:9.1f}")
    print(f"\neager ÷ onnxruntime: {best['eager'] / best['onnxruntime']:.2f}×; "
          f"max |map difference| / map range: {np.abs(maps - ref).max() / (ref.max() - ref.min()):.1e}")


if __name__ == '__main__':
    main()
