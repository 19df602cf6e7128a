"""Write a synthetic stand-in for long parts with thin cracks (MVTec AD layout), for `geometry_study.py --data`.

    python bench/long_parts.py OUT [--train 60] [--test 20] [--height 500] [--width 1250] [--seed 0]

Each image is a brushed-metal strip (streaks along its length, a lighting gradient, sensor noise), `--height` ×
`--width` px; a defective test image has one crack: a wandering dark line 1–2 px wide and 80–300 px long, its exact
mask beside it. Squashed to 256 × 256 such a crack is thinner than a pixel; at the image's own pixels it is not."""
import argparse, json
from pathlib import Path

import numpy as np
from PIL import Image


def strip(rng, h: int, w: int) -> np.ndarray:
    "A brushed-metal strip: noise smooth along x, sharp along y, a vertical lighting gradient, sensor noise."
    coarse = rng.normal(0, 1, (h, w // 24 + 2))
    x = np.linspace(0, coarse.shape[1] - 1, w)
    streaks = np.stack([np.interp(x, np.arange(coarse.shape[1]), row) for row in coarse])
    light = 0.5 + 0.12 * np.cos(np.linspace(-1.2, 1.2, h))[:, None] + rng.uniform(-0.03, 0.03)
    return light + 0.035 * streaks + rng.normal(0, 0.012, (h, w))


def crack(rng, h: int, w: int) -> np.ndarray:
    "The mask of a wandering line 1–2 px wide, 80–300 px long, away from the border."
    mask, width = np.zeros((h, w), bool), rng.integers(1, 3)
    y, x = rng.uniform(0.15 * h, 0.85 * h), rng.uniform(0.1 * w, 0.9 * w)
    angle = rng.uniform(0, np.pi)
    for _ in range(int(rng.uniform(80, 300))):
        angle += rng.normal(0, 0.15)
        y, x = np.clip(y + np.sin(angle), 2, h - 3), np.clip(x + np.cos(angle), 2, w - 3)
        mask[int(y):int(y) + width, int(x):int(x) + width] = True
    return mask


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('out'); p.add_argument('--train', type=int, default=60); p.add_argument('--test', type=int, default=20)
    p.add_argument('--height', type=int, default=500); p.add_argument('--width', type=int, default=1250)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    root, rng, (h, w) = Path(a.out)/'long_part', np.random.default_rng(a.seed), (a.height, a.width)
    if root.exists(): raise SystemExit(f"{root} exists: give a new folder")
    for d in ('train/good', 'test/good', 'test/crack', 'ground_truth/crack'): (root/d).mkdir(parents=True)
    save = lambda img, path: Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save(path)
    for i in range(a.train): save(strip(rng, h, w), root/f'train/good/{i:03d}.png')
    for i in range(a.test): save(strip(rng, h, w), root/f'test/good/{i:03d}.png')
    for i in range(a.test):
        img, m = strip(rng, h, w), crack(rng, h, w)
        img[m] -= rng.uniform(0.12, 0.22)
        save(img, root/f'test/crack/{i:03d}.png'); save(m.astype(float), root/f'ground_truth/crack/{i:03d}_mask.png')
    (root/'long_parts.json').write_text(json.dumps(vars(a)) + '\n')
    print(root)


if __name__ == '__main__':
    main()
