"""Build the Magnetic-Tile layouts from the real source archive and compare the `dev` layout, pixel for pixel, with a
copy of it (the one the chapters were first written on); the comparison is recorded in results/dev_layout_check.json.

    python bench/dev_layout_check.py --against DIR [--url URL]

URL is where the source archive is (default: the library's; a `file://` URL for a local copy); everything is built in a
temporary data home, so nothing of the user's is touched."""
import argparse, tempfile, time
from pathlib import Path

import numpy as np
from PIL import Image

from hlgfa_nb.data import MAGNETIC_TILE_COMMIT, MAGNETIC_TILE_URL, magnetic_tile
from hlgfa_nb.results import save_result


def compare(built: Path, copy: Path) -> dict:
    "Files of `built` and `copy` (relative paths) and how many differ in pixels or are missing on either side."
    a = {p.relative_to(built) for p in built.rglob('*.png')}
    b = {p.relative_to(copy) for p in copy.rglob('*.png')}
    differ = sorted(str(p) for p in a & b if not np.array_equal(np.asarray(Image.open(built/p)), np.asarray(Image.open(copy/p))))
    counts = {f"{p.parts[0]}/{p.parts[1]}": 0 for p in a if p.parts[0] != 'ground_truth'}
    for p in a:
        if p.parts[0] != 'ground_truth': counts[f"{p.parts[0]}/{p.parts[1]}"] += 1
    return {'images': sum(p.parts[0] != 'ground_truth' for p in a), 'masks': sum(p.parts[0] == 'ground_truth' for p in a),
            'differing_files': len(differ) + len(a ^ b), 'only_built': sorted(map(str, a - b)),
            'only_copy': sorted(map(str, b - a)), 'differing': differ, 'counts': dict(sorted(counts.items()))}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--against', required=True, help='the copy of the dev layout to compare with')
    p.add_argument('--url', default=MAGNETIC_TILE_URL, help='the source archive (default: %(default)s)')
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as home:
        t = time.perf_counter()
        full = magnetic_tile('full', home, a.url)
        dev = magnetic_tile('dev', home)
        seconds = time.perf_counter() - t
        full_counts = {f"{d.parent.name}/{d.name}": len(list(d.glob('*.png'))) for d in sorted(full.glob('*/*')) if d.parent.name != 'ground_truth'}
        r = {'commit': MAGNETIC_TILE_COMMIT, 'url': a.url, 'build_seconds': round(seconds, 1), 'full_counts': full_counts,
             **compare(dev, Path(a.against))}
    print({k: v for k, v in r.items() if k not in ('only_built', 'only_copy', 'differing')})
    print('recorded in', save_result('dev_layout_check', r))


if __name__ == '__main__':
    main()
