"""Inference speed of one exported HLGFA detector: PyTorch eager (`AnomalyDetector.predict`) against onnxruntime and OpenVINO.

    python bench/bench_onnx.py                                   # tf_efficientnet_lite2, 256 px, batch 8
    python bench/bench_onnx.py --backbone resnet18 --size 128 --batch 4 --threads 1

A one-epoch run on a synthetic category at --size px gives a checkpoint (the weights do not change the speed), which is
exported with `deploy.export_onnx(..., openvino=True)`; the three runtimes then score the same batch, in interleaved
rounds, with the same number of CPU threads. Reported: ms per image (best of --repeats), images/s, the speed-up over
eager (measured side by side in this run), and the largest difference of each runtime's maps from eager's, relative to
the maps' range.
"""
import argparse, tempfile
from pathlib import Path

import numpy as np
import torch

from hlgfa_nb.data import MVTecDataset, make_synthetic_mvtec
from hlgfa_nb.deploy import OnnxDetector, OpenVinoDetector, Predictor, export_onnx
from hlgfa_nb.train import fit
from hlgfa_nb.runs import preset
from timing import best_seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--backbone', default='tf_efficientnet_lite2'); p.add_argument('--size', type=int, default=256)
    p.add_argument('--batch', type=int, default=8); p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=2, help='CPU threads for every runtime')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as w:
        work = Path(w)
        root = make_synthetic_mvtec(work/'data', categories=('weave',), n_train=a.batch, n_test_good=a.batch, n_test_defect=1,
                                    size=a.size)
        run = fit(preset('cpu', root, backbone=a.backbone, image_size=a.size, epochs=1, batch_size=a.batch), work/'run',
                  progress=False)
        path = export_onnx(run, work/'d.onnx', a.batch, openvino=True)
        dets = dict(eager=Predictor(run).detector, onnxruntime=OnnxDetector(path, a.threads),
                    openvino=OpenVinoDetector(path.with_suffix('.xml'), a.threads))
        x = torch.stack([MVTecDataset(root, 'test', size=a.size)[i]['image'] for i in range(a.batch)])
        secs = best_seconds({k: (lambda d=d: d.predict(x)) for k, d in dets.items()}, a.repeats)
        ref = dets['eager'].predict(x).maps.numpy()
        gaps = {k: np.abs(d.predict(x).maps.numpy() - ref).max() / (ref.max() - ref.min()) for k, d in dets.items() if k != 'eager'}
    best = {k: v / a.batch for k, v in secs.items()}
    print(f"{a.backbone}, {a.size}×{a.size} px, batch {a.batch}, {a.threads} threads, best of {a.repeats} interleaved rounds\n")
    print(f"{'runtime':>12} {'ms/image':>9} {'images/s':>9} {'× eager':>8} {'max map diff':>13}")
    for k, v in best.items():
        print(f"{k:>12} {1e3 * v:9.1f} {1 / v:9.1f} {best['eager'] / v:7.2f}× {gaps.get(k, 0):13.1e}")


if __name__ == '__main__':
    main()
