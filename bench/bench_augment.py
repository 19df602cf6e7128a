"""What the noise-aware augmentation (chapter 06) costs at the paper's 640 px: per item, as a data loader would paint it,
against per batch, where training paints it (a CPU paints a batch image by image, a GPU all at once); and why a CPU
paints image by image: the layers of the batch painted one by one against all at once.

    python bench/bench_augment.py [--size 640] [--batch 32] [--p 0.5] [--repeats 5]

The same images and generators (seed, epoch, index) every way, so the results must agree (exactly on the CPU, to float
rounding on a GPU). Prints ms per batch and images/s of each way, best of interleaved rounds, and records
results/augment_speed.json (augment_speed_gpu.json on a machine with a GPU; chapter 06 loads the first)."""
import argparse

import torch

from hlgfa_nb.augment import AugConfig, add_noise, draw_noise, noise_generator, paint_noise
from hlgfa_nb.results import save_result
from timing import best_seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--size', type=int, default=640); p.add_argument('--batch', type=int, default=32)
    p.add_argument('--p', type=float, default=0.5, help='probability that an image is augmented (AugConfig.p)')
    p.add_argument('--repeats', type=int, default=5)
    a = p.parse_args()
    n, s = a.batch, a.size
    cfg, x = AugConfig(p=a.p), torch.rand(n, 3, s, s, generator=torch.Generator().manual_seed(0))
    def generators(): return [noise_generator(0, 0, i) for i in range(n)]
    drawn = [draw_noise(s, s, cfg, g) for g in generators()]
    devices = ['cpu'] + ['cuda'] * torch.cuda.is_available()
    out = {}
    def timed(name, fn, device):
        def run():
            out[name] = fn()
            if device == 'cuda': torch.cuda.synchronize()
        return run
    def items(): return [torch.stack(m) for m in zip(*(add_noise(x[i], cfg, g) for i, g in enumerate(generators())))]
    ways = {'noise per item, cpu': timed('noise per item, cpu', items, 'cpu')}
    for d in devices:
        xs = x.to(d)                                                   # a training batch is on its device already
        ways[f'noise per batch, {d}'] = timed(f'noise per batch, {d}', lambda xs=xs: add_noise(xs, cfg, generators()), d)
        ways[f'layers one by one, {d}'] = timed(f'layers one by one, {d}', lambda d=d: [torch.cat(m) for m in zip(*(paint_noise([e], s, s, d) for e in drawn))], d)
        ways[f'layers at once, {d}'] = timed(f'layers at once, {d}', lambda d=d: paint_noise(drawn, s, s, d), d)
    secs = best_seconds(ways, a.repeats)
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    print(f"{n} images of {s}×{s} px, p = {a.p}, {torch.get_num_threads()} CPU threads{'; GPU: ' + gpu if gpu else ''}\n")
    layers = {k: int((v[1].flatten(1).amax(1) > 0).sum()) if k.startswith('noise') else n for k, v in out.items()}
    print(f"{'way':>24} {'ms/batch':>9} {'images/s':>9} {'layers':>7} {'ms/layer':>9} {'max |diff|':>11}")
    for k, t in secs.items():
        ref = out['noise per item, cpu' if k.startswith('noise') else 'layers one by one, cpu']
        diff = max((mine.cpu() - theirs).abs().max().item() for mine, theirs in zip(out[k], ref))
        print(f"{k:>24} {1e3 * t:9.1f} {n / t:9.0f} {layers[k]:7d} {1e3 * t / layers[k]:9.1f} {diff:11.1e}")
    for way, ref in (('noise per batch, cpu', 'noise per item, cpu'), ('layers at once, cpu', 'layers one by one, cpu')):
        assert all(map(torch.equal, out[way], out[ref])), f"{way} differs from {ref}"
    print('recorded in', save_result('augment_speed' + '_gpu' * bool(gpu), dict(
        size=s, batch=n, p=a.p, threads=torch.get_num_threads(), gpu=gpu, repeats=a.repeats, layers=layers,
        ms_per_batch={k: 1e3 * t for k, t in secs.items()}, images_per_s={k: n / t for k, t in secs.items()})))


if __name__ == '__main__':
    main()
