"""§3.4 measured where it can be: the three EfficientNet-Lite backbones whose ImageNet weights ship offline, each with
the `demo` preset on the demo's synthetic set, over seeds, through the study harness (`reproduce.run_study`).

    python bench/backbones_study.py [--seeds 0 1 2] [--backbones tf_efficientnet_lite0 tf_efficientnet_lite1 tf_efficientnet_lite2]

Prints mean ± half the range over seeds (×100) and records results/backbones_synthetic.json, which chapter 01 loads and
checks. The paper's own comparison (Wide-ResNet against DenseNet and ConvNeXt) needs weights from the network: chapter
01 has the cell that runs it for a reader who has one."""
import argparse, tempfile
from dataclasses import replace
from pathlib import Path

from hlgfa_nb.cli import demo_data
from hlgfa_nb.reproduce import run_study
from hlgfa_nb.runs import preset


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--backbones', nargs='+', default=[f'tf_efficientnet_lite{k}' for k in range(3)])
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix='hlgfa_backbones_'))
    base = preset('demo')
    base = replace(base, root=str(demo_data(work, base.image_size)))
    study = run_study('backbones_synthetic', base, {b: {'backbone': b} for b in a.backbones}, a.seeds, work=work/'runs')
    print(f"\n{base.image_size} px, {base.epochs} epochs, seeds {a.seeds}; mean ± half the range over seeds, ×100\n")
    print(study.to_markdown(('AUC-I', 'AP-I', 'AUC-P', 'AP-P', 'PRO')))
    print('recorded in', study.save())


if __name__ == '__main__':
    main()
