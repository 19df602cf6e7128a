"""Training and evaluation throughput of hlgfa_nb on this machine: `hlgfa bench` (same options, same table).

    python bench/bench_train.py                                  # 256 px, tf_efficientnet_lite2 and wide_resnet50_2
    python bench/bench_train.py --size 128 --backbones resnet18 --steps 8

For each backbone, on a synthetic MVTec-layout category at --size px (random-init backbone: speed does not depend on the
weights), it times:
  cache      building the feature cache (both views through the frozen backbone), images/s
  cached     training steps on cached features (augmentation off), images/s
  uncached   training steps with the backbone on every batch, augmentation off, images/s
  augmented  the same with noise-aware augmentation on (the paper's setting; features cannot be cached), images/s
  eval       inference + streaming metrics on the test images, images/s
Training rates are those of the last epoch of a 2-epoch run (the first one includes warm-up); each rate counts images of
the global batch. The speed-up column is cached ÷ uncached, measured side by side in this run.
"""
import sys

from hlgfa_nb.cli import main

if __name__ == '__main__': sys.exit(main(['bench', *sys.argv[1:]]))
