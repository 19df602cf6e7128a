"Widgets (10_widgets): the explorers driven programmatically; the precomputed parts reproduce the detector."
import subprocess, sys

import numpy as np
import pytest
import torch

from hlgfa_nb.backbone import FrozenBackbone
from hlgfa_nb.data import MVTecDataset
from hlgfa_nb.metrics import pixel_metrics
from hlgfa_nb.model import HLGFA, ModelConfig
from hlgfa_nb.scoring import AnomalyDetector, ScoreConfig, image_score
from hlgfa_nb.widgets import (ExplorerData, anomaly_map_explorer, explorer_data, final_maps, pixel_scores,
                              reliability_explorer)

pytest.importorskip('ipywidgets')


def _detector(cfg):
    torch.manual_seed(0)
    bb = FrozenBackbone('resnet18', weights=None)
    return AnomalyDetector(bb, HLGFA(bb.channels, ModelConfig(identity_init=False)).eval(), cfg)


@pytest.fixture(scope='module')
def test_set(synth):
    return MVTecDataset(synth, 'test', size=64)                             # washer + weave, 11 images each


@pytest.fixture(scope='module')
def data(test_set):
    return explorer_data(_detector(ScoreConfig(reliability=True, tau=0.5, delta=0.1, sigma=2)), test_set, ks=(1, 3))


def test_import_does_not_need_jupyter():
    code = "import sys, hlgfa_nb.widgets; assert 'ipywidgets' not in sys.modules"
    subprocess.run([sys.executable, '-c', code], check=True)


@pytest.mark.parametrize('cfg', [ScoreConfig(reliability=True, tau=0.5, delta=0.1, sigma=2), ScoreConfig(sigma=4)])
def test_parts_reproduce_the_detector(test_set, cfg):
    det = _detector(cfg)
    d = explorer_data(det, test_set, ks=(cfg.neighbourhood,), batch_size=5)
    batch = torch.stack([test_set[i]['image'] for i in range(len(test_set))])
    pred = det.predict(batch)
    idx = list(range(len(test_set)))
    assert torch.allclose(final_maps(d, idx), pred.maps, atol=1e-4)
    assert torch.allclose(image_score(final_maps(d, idx), cfg), pred.scores, atol=1e-4)
    assert d.categories == [s.category for s in test_set.samples] and d.labels.tolist() == [bool(s.label) for s in test_set.samples]


def test_save_load_and_missing_k(data, tmp_path):
    back = ExplorerData.load(data.save(tmp_path/'d.pt'))
    assert back.guidance is None and back.neighbourhoods() == [1, 3] and back.score == data.score
    assert torch.equal(final_maps(back, [0, 5]), final_maps(data, [0, 5]))
    with pytest.raises(ValueError, match='k=5'): back.stage_sims(5)
    assert data.neighbourhoods() == [1, 3, 5, 7, 9]                         # with the guidance: any k, on demand
    assert len(data.stage_sims(7)) == 3 and 7 in data.sims


def test_bad_input_names_the_problem(data):
    with pytest.raises(ValueError, match='uint8'):
        ExplorerData(data.images.float(), data.masks, data.defects, data.categories, data.stage_maps)
    with pytest.raises(ValueError, match='categories has 2 entries'):
        ExplorerData(data.images, data.masks, data.defects, ['a', 'b'], data.stage_maps)
    with pytest.raises(ValueError, match='unknown category'): data.indices('carpet')



def test_images_of_other_sizes_are_refused(synth):
    from hlgfa_nb.geometry import Geometry
    with pytest.raises(ValueError, match="'keep_aspect' geometry"):
        explorer_data(_detector(ScoreConfig()), MVTecDataset(synth, 'test', size=Geometry('keep_aspect', 64)))


def test_pixel_scores():
    pred, mask = np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool)
    assert pixel_scores(pred, mask) == {'F1': 0.5, 'IoU': 1 / 3}
    assert np.isnan(pixel_scores(~mask & mask, ~mask & mask)['F1'])


def test_anomaly_map_explorer(data):
    ex = anomaly_map_explorer(data, 'weave')
    n = len(data.indices('weave'))
    assert ex.defect.value == 'all' and ex.image.max == n - 1 and ex.defect.options[:2] == ('all', 'good')
    first = ex.view.value
    ex.defect.value = 'scratch'
    assert ex.image.max == 1 and data.defects[ex.shown['index']] == 'scratch' and ex.view.value != first
    assert 1 <= ex.stats['rank'] <= n and ex.stats['of'] == n
    # the score shown is the image's final map's score, and the map is on the category's colour scale
    i = ex.shown['index']
    assert ex.stats['score'] == pytest.approx(float(image_score(final_maps(data, [i]), data.score)[0]), abs=1e-5)
    lo, hi = ex._category('weave')['range']
    assert lo <= ex.shown['map'].min() and ex.shown['map'].max() <= hi
    ex.threshold.value = ex.threshold.min                                   # every pixel flagged
    assert ex.shown['prediction'].all() and ex.stats['IoU'] == pytest.approx(ex.shown['mask'].mean())
    ex.threshold.value = ex.threshold.max
    assert ex.shown['prediction'].sum() <= 1
    assert ex.shown['stage_maps'] is None
    ex.stages.value = True
    assert len(ex.shown['stage_maps']) == 3 and ex.shown['stage_maps'][0].shape == data.size
    ex.category.value = 'washer'                                            # new category: filter reset, new range
    assert ex.defect.value == 'all' and ex.image.max == len(data.indices('washer')) - 1
    assert data.categories[ex.shown['index']] == 'washer'
    assert (ex.threshold.min, ex.threshold.max) == pytest.approx(ex._category('washer')['range'])


def test_rank_follows_scores(data):
    ex = anomaly_map_explorer(data, 'washer')
    ranks = {}
    for j in range(ex.image.max + 1):
        ex.image.value = j; ranks[ex.stats['rank']] = ex.stats['score']
    assert sorted(ranks) == list(range(1, ex.image.max + 2))
    assert [ranks[r] for r in sorted(ranks)] == sorted(ranks.values(), reverse=True)


def test_reliability_explorer_limits(data):
    rel = reliability_explorer(data, 'weave', tau=0.5, delta=0.1, k=3)
    raw = rel._category('weave')['smooth']
    view, m0 = rel.view.value, dict(rel.metrics['weighted'])
    # very low τ: weight 1, the weighted map and its metrics are the raw ones
    rel.tau.value = -1.0; rel.delta.value = 0.01
    assert torch.allclose(rel.weight, torch.ones_like(rel.weight)) and torch.allclose(rel.weighted, raw, atol=1e-5)
    assert rel.metrics['weighted'] == pytest.approx(rel.metrics['raw'], abs=1e-9)
    assert rel.view.value != view
    # δ → 0: a hard mask, 1 exactly where sim > τ
    sim = rel._sim('weave', 3)
    rel.tau.value = round(float(sim.median()), 3); rel.delta.value = 1e-4
    w = rel.weight
    hard = (sim > rel.tau.value).float()
    far = (sim - rel.tau.value).abs() > 2e-3
    assert torch.equal((w[far] > 0.5).float(), hard[far]) and ((w[far] < 1e-4) | (w[far] > 1 - 1e-4)).all()
    assert np.array_equal(rel.shown['weight'], w[0].numpy())
    # τ = 1, at or above every sim (a mean cosine): every weight at most 1/2, and the metrics move
    rel.tau.value = 1.0; rel.delta.value = 0.01
    assert rel.weight.max() <= 0.5 + 1e-4 and rel.metrics['weighted'] != pytest.approx(m0)
    # the raw map's metrics are the category's own
    ref = pixel_metrics(raw, data.masks[data.indices('weave')])
    assert rel.metrics['raw']['AUC-P'] == pytest.approx(ref['AUC-P']) and rel.metrics['raw']['PRO'] == pytest.approx(ref['PRO'])


def test_reliability_explorer_k_image_category(data):
    rel = reliability_explorer(data, 'weave', tau=0.5, delta=0.1, k=1)
    assert np.allclose(rel.shown['sim'], 1, atol=1e-5)                      # k = 1: each position with itself
    rel.k.value = 3
    assert not np.allclose(rel.shown['sim'], 1) and rel.shown['sim'].max() <= 1 + 1e-5
    weighted = rel.shown['weighted'].copy()
    rel.image.value = 4
    assert rel.shown['index'] == data.indices('weave')[4] and not np.array_equal(rel.shown['weighted'], weighted)
    rel.category.value = 'washer'
    assert rel.image.value == 0 and data.categories[rel.shown['index']] == 'washer'
    assert set(rel.timing) == {'cache_s', 'update_s', 'draw_s'}
    assert 'washer' in rel.table.value and 'AUC-I' in rel.table.value


def test_any_model_via_single_stage_maps(data):
    "A detector that is not HLGFA: its final maps as the only stage; the map explorer works, the reliability one says why not."
    maps = final_maps(data, list(range(len(data.images))))
    other = ExplorerData(data.images, data.masks, data.defects, data.categories, [maps], score=ScoreConfig(sigma=0))
    ex = anomaly_map_explorer(other, 'washer')
    i = ex.shown['index']
    assert np.allclose(ex.shown['map'], maps[i].numpy())
    with pytest.raises(ValueError, match='no sims and no guidance'): reliability_explorer(other)
