"""The command line shared by the studies recorded once per data set (`capacity_study.py`, `scoring_study.py`)."""
import argparse, tempfile
from pathlib import Path


def run_per_dataset(doc: str, record, datasets, prefix: str):
    "Parse --seeds and --only (`datasets` by default), then `record(name, seeds, work)` for each, in one temporary folder."
    p = argparse.ArgumentParser(description=doc.split('\n')[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--only', nargs='+', default=list(datasets), choices=list(datasets))
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix=prefix) as w:
        for name in a.only: record(name, a.seeds, Path(w))
