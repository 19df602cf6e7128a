"Reproduction harness (13_reproduce): the paper's tables as data, the side-by-side table, the loss ablation, the CLI."
import numpy as np
import pytest
import torch

from hlgfa_nb.baselines import PatchCore, PatchCoreConfig
from hlgfa_nb.evaluate import TABLE3_COLUMNS
from hlgfa_nb.losses import LOSS_PRESETS
from hlgfa_nb.reproduce import (PAPER_SOURCE, PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3, TABLE1_METHODS, TABLE2_COLUMNS,
                                loss_ablation, paper_mean_gaps, patchcore_config, peak_memory_mb, reproduce,
                                inference_throughput)
from hlgfa_nb.runs import preset

MVTEC = {'bottle', 'cable', 'capsule', 'carpet', 'grid', 'hazelnut', 'leather', 'metal_nut', 'pill', 'screw', 'tile',
         'toothbrush', 'transistor', 'wood', 'zipper'}


def test_paper_tables_shape():
    assert 'HLGFA' in PAPER_SOURCE and 'Tables 1-3' in PAPER_SOURCE
    assert set(PAPER_TABLE1) == set(TABLE1_METHODS) == {'RD4AD', 'AnomalyCLIP', 'CRAD', 'NAGL', 'HLGFA'}
    for rows in (*PAPER_TABLE1.values(), PAPER_TABLE3): assert set(rows) == MVTEC | {'Average'}
    assert all(list(r) == list(TABLE3_COLUMNS) for r in PAPER_TABLE3.values())
    assert list(PAPER_TABLE2) == list(LOSS_PRESETS)
    assert all(list(r) == list(TABLE2_COLUMNS) for r in PAPER_TABLE2.values())
    values = [v for t in (*PAPER_TABLE1.values(), PAPER_TABLE2, PAPER_TABLE3) for r in t.values() for v in r.values()]
    assert all(0 <= v <= 100 for v in values)


def test_paper_values_spot_checks():
    "A few numbers read off the paper, one per table, to catch a shifted column."
    assert PAPER_TABLE1['RD4AD']['zipper'] == {'ROC-I': 35.2, 'ROC-P': 96.1, 'AP-P': 21.9}
    assert PAPER_TABLE1['NAGL']['Average'] == {'ROC-I': 94.5, 'ROC-P': 96.1, 'AP-P': 58.8}
    assert PAPER_TABLE2['cos+js'] == {'AUC-I': 92.7, 'AP-I': 97.0, 'AUC-P': 97.8, 'AP-P': 58.4, 'PRO': 87.9}
    assert PAPER_TABLE3['grid'] == {'AUC-I': 95.0, 'AP-I': 98.3, 'F1-I': 93.0, 'AUC-P': 99.2, 'AP-P': 46.0, 'PRO': 87.8,
                                    'F1-P': 47.5}


def test_paper_means_consistent():
    "Each reported Average is the mean of its 15 rows within one-decimal rounding; the tables agree with each other."
    gaps = paper_mean_gaps()
    assert len(gaps) == 6 and all(abs(v) <= 0.1 for g in gaps.values() for v in g.values())
    cats = [c for c in PAPER_TABLE3 if c != 'Average']
    for k in TABLE3_COLUMNS:
        assert np.mean([PAPER_TABLE3[c][k] for c in cats]) == pytest.approx(PAPER_TABLE3['Average'][k], abs=0.1)
    for c in PAPER_TABLE3:
        h = PAPER_TABLE1['HLGFA'][c]
        assert (h['ROC-I'], h['ROC-P'], h['AP-P']) == tuple(PAPER_TABLE3[c][k] for k in ('AUC-I', 'AUC-P', 'AP-P'))
    assert PAPER_TABLE2['full'] == {k: PAPER_TABLE3['Average'][k] for k in TABLE2_COLUMNS}


def test_patchcore_follows_the_hlgfa_backbone():
    cfg = preset('cpu', seed=7)
    pc = patchcore_config(cfg, PatchCoreConfig(coreset_ratio=0.05))
    assert (pc.backbone, pc.weights, pc.seed, pc.coreset_ratio, pc.stages) == ('tf_efficientnet_lite2', 'imagenet', 7, 0.05, (2, 3))


def test_speed_and_memory_helpers():
    pc = PatchCore(PatchCoreConfig(backbone='resnet18', weights=None, coreset_ratio=0.5)).fit(torch.rand(2, 3, 64, 64))
    assert inference_throughput(pc, torch.rand(4, 3, 64, 64), batch_size=2, repeats=1) > 0
    mb = peak_memory_mb(lambda: torch.ones(64, 1 << 20).sum(), torch.device('cpu'))     # 256 MiB
    assert np.isnan(mb) or 100 < mb < 1000


@pytest.fixture(scope='module')
def rep(synth, tmp_path_factory):
    cfg = preset('cpu', image_size=64, epochs=1, batch_size=4)
    return reproduce(synth, ['weave', 'washer'], cfg, PatchCoreConfig(coreset_ratio=0.2),
                     out_dir=tmp_path_factory.mktemp('rep'), batch_size=4, speed_images=4, repeats=1)


def test_harness_output_columns(rep):
    md = rep.to_markdown()
    assert '| Category | Method | AUC-I | AP-I | F1-I | AUC-P | AP-P | PRO-P | F1-P |' in md
    assert '| Method | fit (s) | inference (images/s) | peak inference memory (MiB) | stored state (MiB) |' in md
    assert 'HLGFA / PatchCore inference throughput' in md and 'tf_efficientnet_lite2, weights imagenet' in md
    rows = rep.rows()
    assert [(c, m) for c, m, _ in rows[:3]] == [('washer', 'HLGFA'), ('washer', 'PatchCore'),
                                               ('washer', 'HLGFA paper (Table 3)')]
    assert [c for c, _, _ in rows[-3:]] == ['Average'] * 3 and rows[-1][2] is None
    for _, m, v in rows:
        if v is not None: assert list(v) == list(TABLE3_COLUMNS) and all(0 <= x <= 100 for x in v.values())
    for m in ('HLGFA', 'PatchCore'):
        s = rep.speed[m]
        assert s['fit_s'] > 0 and s['images_per_s'] > 0 and s['state_mb'] > 0


def test_paper_column_for_mvtec_names(rep):
    "A category named like an MVTec one gets Table 3's values beside it; the average is over the categories run."
    from dataclasses import replace
    renamed = {m: replace(r, categories={'grid' if c == 'weave' else c: v for c, v in r.categories.items()})
               for m, r in rep.results.items()}
    r2 = replace(rep, results=renamed)
    paper = {c: v for c, m, v in r2.rows() if m.startswith('HLGFA paper')}
    assert paper['grid'] == PAPER_TABLE3['grid'] and paper['washer'] is None
    assert paper['Average'] == PAPER_TABLE3['grid']


def test_loss_ablation_columns(synth, tmp_path):
    abl = loss_ablation(synth, 'weave', preset('cpu', image_size=64, epochs=1, batch_size=4), presets=('cos', 'full'),
                        seeds=(0, 1), out_dir=tmp_path)
    md = abl.to_markdown()
    assert len(abl.results['full']) == 2 and ' ±' in abl.study.cell('full', 'AUC-I')
    assert '| Cos | JS | Gram | L1 | source | AUROC-I | AP-I | AUROC-P | AP-P | PRO-P |' in md
    assert '| ✓ | ✓ | ✓ | ✓ | here |' in md and '|  |  |  |  | paper | 97.5 | 99.2 | 97.9 | 65.0 | 91.7 |' in md
    assert (tmp_path/'ablation.md').is_file() and (tmp_path/'full'/'seed1'/'checkpoint.pt').is_file()
    with pytest.raises(ValueError, match='unknown loss presets'): loss_ablation(synth, presets=('cos', 'mse'))


def test_cli_errors(tmp_path, capsys):
    from hlgfa_nb.cli import main
    assert main(['reproduce', '--data', str(tmp_path)]) == 2
    assert 'no category' in capsys.readouterr().err
