"Limits (15_limits): what down-sampling removes, the feature-typicality remedy end to end, per-defect-type metrics."
from dataclasses import replace

import pytest
import torch

from hlgfa_nb.data import MVTecDataset
from hlgfa_nb.evaluate import evaluate
from hlgfa_nb.runs import Run, load_checkpoint, preset
from hlgfa_nb.scoring import FeatureGaussian
from hlgfa_nb.train import fit_typicality, fit
from hlgfa_nb.limits import peak_positions, removed_share, smooth_defects


@pytest.fixture(scope='module')
def run(synth, tmp_path_factory):
    cfg = preset('cpu', synth, categories='weave', image_size=64, epochs=1, batch_size=2)
    return fit(replace(cfg, score=replace(cfg.score, typicality=1.0)), tmp_path_factory.mktemp('limits')/'run', progress=False)


def test_removed_share_orders_sharp_and_smooth():
    x = torch.full((1, 3, 48, 48), 0.5)
    (a, ma), (b, mb) = smooth_defects(x, 0.7), smooth_defects(x, 8)
    r = removed_share(torch.cat([a, b]), torch.cat([ma, mb]))
    assert r[0] > 5 * r[1] and torch.isnan(removed_share(x, torch.zeros(1, 48, 48, dtype=torch.bool)))[0]


def test_fit_stores_statistics_and_the_score_uses_them(run, synth):
    s = load_checkpoint(run)
    g = FeatureGaussian.from_state(s['typicality'])
    assert len(g.channels) == 3 and all(float(getattr(g, f'scale{i}')) > 0 for i in range(3))
    assert g.k == 3 and FeatureGaussian.from_state({k: v for k, v in s['typicality'].items() if k != 'k'}).k == 1  # 0.3.0's
    det = Run.open(run, 'cpu').detector
    x = torch.stack([d['image'] for d in MVTecDataset(synth, 'test', 'weave', size=64)][:4])
    with_t = det.predict(x).maps
    without = det.with_score(replace(det.score, typicality=0.)).predict(x).maps
    assert with_t.shape == without.shape and (with_t > without).all()        # a positive term is added everywhere
    det.typicality = None
    with pytest.raises(ValueError, match='no feature statistics'): det.predict(x)


def test_memory_statistics_fit_store_and_must_match_the_score(run, synth, tmp_path):
    from hlgfa_nb.baselines import FeatureMemory
    from hlgfa_nb.train import fit_feature_memory
    cfg = replace(preset('cpu', synth, categories='weave', image_size=64, epochs=1, batch_size=2),
                  score=replace(preset('cpu').score, typicality=1.0, statistics='memory'))
    det = Run.open(fit(cfg, tmp_path/'m', progress=False), 'cpu').detector
    assert isinstance(det.typicality, FeatureMemory) and det.typicality.kind == 'memory'   # stored, and read back as a memory
    images = [{'image': d['image']} for d in MVTecDataset(synth, 'train', 'weave', size=64)][:6]
    small = fit_feature_memory(det, images, size=20, progress=False)
    assert [len(b) for b in small.banks] == [20, 20, 20] and float(small.scale2) > 0       # the coreset's size, per stage
    assert [len(b) for b in fit_feature_memory(det, images, size=500, progress=False).banks][2] == 48   # 3 images × 4×4
    with pytest.raises(ValueError, match='two or more normal images'): fit_feature_memory(det, images[:1], progress=False)
    from hlgfa_nb.geometry import Geometry, Pieces
    tiled = MVTecDataset(synth, 'train', 'weave', size=Geometry('tiles', (32, 32)))
    tiled.samples = tiled.samples[:2]
    tiles = Pieces(tiled)                                           # two images, several tiles each: one image per side
    assert len(tiles) > 2 and len({i for i, _ in tiles.index}) == 2
    assert all(len(b) > 0 for b in fit_feature_memory(det, tiles, size=8, progress=False).banks)
    x = torch.stack([d['image'] for d in MVTecDataset(synth, 'test', 'weave', size=64)][:4])
    assert torch.isfinite(det.predict(x).maps).all()
    gaussian = Run.open(run, 'cpu').detector
    with pytest.raises(ValueError, match="statistics='memory' but this detector's feature statistics are 'gaussian'"):
        gaussian.with_score(replace(gaussian.score, statistics='memory')).predict(x)


def test_fit_typicality_on_a_plain_run(synth, tmp_path):
    plain = fit(preset('cpu', synth, categories='weave', image_size=64, epochs=1, batch_size=2), tmp_path/'p', progress=False)
    assert 'typicality' not in load_checkpoint(plain)
    fit_typicality(plain, progress=False)
    assert Run.open(plain, 'cpu').detector.typicality is not None


def test_per_type_metrics_and_peaks(run, synth):
    r = evaluate(run, synth, examples=0, progress=False)
    per = r.categories['weave'].per_type
    assert set(per) == {'missing', 'scratch', 'spot', 'contamination'} and all(len(m) == 7 for m in per.values())
    assert '**Per defect type**' in r.to_markdown()
    m = torch.zeros(2, 64, 64); m[0, 0, 5] = 1; m[1, 32, 32] = 1
    assert peak_positions(m, margin=8) == 0.5


def test_validation_set_refuses_what_it_cannot_hold_out(tmp_path):
    from hlgfa_nb.data import make_synthetic_mvtec
    from hlgfa_nb.limits import validation_set
    few = make_synthetic_mvtec(tmp_path/'few', categories=('weave',), n_train=2, n_test_good=1, n_test_defect=1, size=32)
    with pytest.raises(ValueError, match='too few normal training images'): validation_set(few, tmp_path/'v1')
    with pytest.raises(ValueError, match='not found'): validation_set(few, tmp_path/'v2', categories=['carpet'])
    with pytest.raises(ValueError, match='share'): validation_set(few, tmp_path/'v3', share=1.5)
