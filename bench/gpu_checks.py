"""The GPU checks in one run, on a machine with a CUDA device: chapters 08b and 13 executed with their `#| gpu` cells (the
paper's training run; the Table 3 harness and the loss ablation), the training benchmark and the augmentation's cost at the paper's 640 px, and the
test suite on a machine where `device='auto'` means the GPU.

    HLGFA_GPU_EPOCHS=3 python bench/gpu_checks.py OUT [--only NAME ...] [--scale 1]

Each check runs in its own process under a time limit (a hung or failed check does not stop the others); its log, and
each executed notebook (every cell but the `#| slow` ones, outputs kept), go to OUT, and the `#| gpu` cells' outputs are
printed. Without MVTec AD (`HLGFA_MVTEC`) the GPU cells fall back as chapter 08a's `paper_setting` says. The time limits
fit a timing run of a few epochs; `--scale` multiplies them (a full 100-epoch run needs hours)."""
import argparse, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKS = {  # name: (command, seconds it may run)
    'device': ([sys.executable, '-c', "import torch, timm; print(torch.__version__, timm.__version__, "
                "torch.cuda.get_device_name(), f'{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB')"], 60),
    'nb08': ([sys.executable, __file__, '--notebook', 'nbs/08b_train.ipynb'], 150),
    'bench_train': ([sys.executable, 'bench/bench_train.py', '--device', 'cuda', '--size', '640', '--batch', '32',
                     '--steps', '4', '--backbones', 'tf_efficientnet_lite2', 'wide_resnet50_2'], 150),
    'bench_augment': ([sys.executable, 'bench/bench_augment.py'], 120),
    'nb13': ([sys.executable, __file__, '--notebook', 'nbs/13_reproduce.ipynb'], 300),
    'pytest': ([sys.executable, '-m', 'pytest', '-v', '-p', 'no:cacheprovider', 'tests'], 150),
}


def flag(cell) -> str | None:
    "'slow' or 'gpu' for a cell flagged so on its first line, else None."
    lines = cell.source.lstrip().splitlines() if cell.cell_type == 'code' else []
    first = lines[0].replace(' ', '') if lines else ''
    return first[3:] if first in ('#|slow', '#|gpu') else None


def execute(path: Path, out: Path) -> int:
    """Run every cell of notebook `path` but the `#| slow` ones, in its folder (a failing cell does not stop the rest); save
    it with outputs to `out`; print the GPU cells' outputs and every failure. Returns the number of failed cells."""
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    nb = read_nb(path)
    CaptureShell(path.parent).run_all(nb, preproc=lambda c: flag(c) == 'slow')
    write_nb(nb, out/path.name)
    failed = 0
    for i, c in enumerate(nb.cells):
        errors = [o for o in c.get('outputs', []) if o.get('output_type') == 'error']
        failed += bool(errors)
        if flag(c) == 'gpu' or errors: print(f"--- cell {i}{' FAILED' if errors else ''}:\n{c.source}\n--- output:")
        if flag(c) == 'gpu':
            for o in c.get('outputs', []): print(o.get('text') or o.get('data', {}).get('text/plain', ''))
        for e in errors: print(f"{e['ename']}: {e['evalue']}")
    return failed


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('out', type=Path); p.add_argument('--only', nargs='*', default=list(CHECKS), choices=list(CHECKS))
    p.add_argument('--scale', type=float, default=1., help="multiplies each check's time limit"); p.add_argument('--notebook')
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.notebook: return execute(ROOT/a.notebook, a.out)
    for name in a.only:
        cmd, limit = CHECKS[name]
        cmd = cmd + (['--', str(a.out)] if name.startswith('nb') else [])
        t = time.perf_counter()
        with open(a.out/f'{name}.log', 'w') as log:
            try: rc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=limit * a.scale).returncode
            except subprocess.TimeoutExpired: rc = 'timed out'
        text = (a.out/f'{name}.log').read_text()
        print(f"== {name}: rc {rc}, {time.perf_counter() - t:.0f} s\n{text[-4000:]}", flush=True)


if __name__ == '__main__':
    sys.exit(main())
