"""Inference cost of the full HLGFA path against one high-resolution backbone pass, measured side by side in one run.

    python bench/bench_inference.py                                   # CPU, 256 px, wide_resnet50_2 and resnet18
    python bench/bench_inference.py --size 128 --backbones resnet18 --repeats 3
    python bench/bench_inference.py --threads 2 --model '{"guide_dim": 32, "hidden_ratio": 0.125}'

For each backbone (random init: speed does not depend on the weights) it times, on the same images:
  HR pass    the frozen backbone on the HR view alone (what any single-pass feature method pays)
  full path  AnomalyDetector.predict: HR and LR views, two backbone passes, the HLGFA module, scoring (maps + scores)
and, to see where the time goes, the LR pass, the module and the scoring alone on precomputed features (put in
channels-last order, as predict does).
Latency is batch 1, the fastest of --repeats rounds (each round runs every part in turn, so that load from
other processes falls on all alike), throughput images/s at --batch. The ratio column is full path ÷ HR pass
(target: <= 1.5).
"""
import argparse, json

import torch

from hlgfa_nb.backbone import FrozenBackbone, make_views
from hlgfa_nb.model import HLGFA, ModelConfig
from hlgfa_nb.scoring import AnomalyDetector, ScoreConfig, image_score, score_maps
from timing import best_seconds


@torch.inference_mode()
def bench(name, size, batch, repeats, model_cfg, score_cfg):
    bb = FrozenBackbone(name, weights=None)
    module = HLGFA(bb.channels, model_cfg).eval()
    det = AnomalyDetector(bb, module, score_cfg)
    rows = {}
    for n in (1, batch):
        x = torch.rand(n, 3, size, size)
        xh, xl = make_views(x)
        fh, fl, out = det.features(x)                       # the features predict works on

        def scoring():
            maps = score_maps(out.f_hat, fh, (size, size), score_cfg, out.guidance).map
            return image_score(maps, score_cfg)
        parts = dict(hr=lambda: bb(xh), lr=lambda: bb(xl), module=lambda: module(fh, fl), scoring=scoring,
                     full=lambda: det.predict(x))
        rows[n] = best_seconds(parts, repeats)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--backbones', nargs='+', default=['wide_resnet50_2', 'resnet18'])
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=1,
                   help='torch CPU threads (0: torch default); 1 keeps the timings steady on a shared machine')
    p.add_argument('--model', type=json.loads, default={},
                   help='ModelConfig fields as JSON, e.g. \'{"guide_dim": 32, "hidden_ratio": 0.125}\' for a lighter module')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    model_cfg, score_cfg = ModelConfig(**a.model), ScoreConfig()
    print(f"CPU, {torch.get_num_threads()} threads, {a.size}×{a.size} px, best of {a.repeats} interleaved rounds; "
          f"{model_cfg}\n{score_cfg}\n")
    head = (f"{'backbone':>16} {'batch':>5} {'HR pass ms/img':>14} {'LR pass':>8} {'module':>8} {'scoring':>8} "
            f"{'full ms/img':>11} {'HR img/s':>9} {'full img/s':>10} {'full ÷ HR':>9}")
    print(head); print('-' * len(head))
    for name in a.backbones:
        for n, r in bench(name, a.size, a.batch, a.repeats, model_cfg, score_cfg).items():
            ms = {k: 1e3 * v / n for k, v in r.items()}
            print(f"{name:>16} {n:>5} {ms['hr']:14.1f} {ms['lr']:8.1f} {ms['module']:8.1f} {ms['scoring']:8.1f} "
                  f"{ms['full']:11.1f} {1e3 / ms['hr']:9.1f} {1e3 / ms['full']:10.1f} {r['full'] / r['hr']:9.2f}",
                  flush=True)
    print("\nLR pass, module and scoring are timed alone on precomputed inputs (ms per image); they need not sum to "
          "the full path exactly.")


if __name__ == '__main__':
    main()
