"Scoring (Eq. 3, 7, 8): hand-computed Eq. 7/8, the weight's shape, maps and scores of AnomalyDetector, determinism."
import functools, math

import numpy as np
import pytest
import torch

from hlgfa_nb.backbone import FrozenBackbone
from hlgfa_nb.model import HLGFA, ModelConfig
from hlgfa_nb.scoring import (AnomalyDetector, Prediction, ScoreConfig, anomaly_map, calibrate_tau, gaussian_smooth,
                              image_score, reliability_weight, score_maps, stage_distances, structural_consistency,
                              to_image)


@functools.lru_cache(maxsize=None)
def backbone(name): return FrozenBackbone(name, weights=None)


def detector(name='resnet18', cfg=None, seed=0):
    torch.manual_seed(seed)
    bb = backbone(name)
    return AnomalyDetector(bb, HLGFA(bb.channels, ModelConfig(identity_init=False)), cfg)


def test_eq3_distances_by_hand():
    a, b = torch.tensor([3., 0]).view(1, 2, 1, 1), torch.tensor([0., 1]).view(1, 2, 1, 1)
    torch.testing.assert_close(stage_distances([a], [b], 'l2')[0], torch.full((1, 1, 1), math.sqrt(10)))
    torch.testing.assert_close(stage_distances([a], [b], 'l2_normalized')[0], torch.full((1, 1, 1), math.sqrt(2)))
    torch.testing.assert_close(stage_distances([a], [2 * a], 'l2_normalized')[0], torch.zeros(1, 1, 1))
    with pytest.raises(ValueError, match="distance must be 'l2' or 'l2_normalized'"): stage_distances([a], [b], 'cos')
    with pytest.raises(ValueError, match='one per stage'): stage_distances([a, a], [b])


def test_eq3_map_is_sum_over_stages_resized():
    fh = [torch.randn(2, 8, 8, 6), torch.randn(2, 16, 4, 3)]
    fl = [torch.randn(2, 8, 8, 6), torch.randn(2, 16, 4, 3)]
    expected = sum(to_image(stage_distances(fl, fh), (32, 24)))
    torch.testing.assert_close(anomaly_map(fl, fh, (32, 24), ScoreConfig(sigma=0)), expected)
    torch.testing.assert_close(anomaly_map(fl, fh, (32, 24), ScoreConfig(sigma=2)), gaussian_smooth(expected, 2))


def test_eq7_hand_computed():
    # one row a=(1,0), b=(0,2), c=(3,3); normalised (1,0), (0,1), (1,1)/√2; 3×3 window, borders average what exists
    g = torch.tensor([[1., 0., 3.], [0., 2., 3.]]).view(1, 2, 1, 3)
    r2 = 1 / math.sqrt(2)
    torch.testing.assert_close(structural_consistency(g, 3), torch.tensor([[[0.5, (1 + r2) / 3, (1 + r2) / 2]]]))
    torch.testing.assert_close(structural_consistency(g, 1), torch.ones(1, 1, 3))
    # 2×2 grid, k=3: every position sees all four; at (0,0) with a=(1,0): (1 + 0 + 1 + r2) / 4
    g = torch.tensor([[[1., 0.], [1., 1.]], [[0., 1.], [0., 1.]]])[None]
    assert math.isclose(structural_consistency(g, 3)[0, 0, 0].item(), (2 + r2) / 4, rel_tol=1e-6)
    torch.testing.assert_close(structural_consistency(torch.full((1, 4, 5, 5), 3.), 5), torch.ones(1, 5, 5))
    torch.testing.assert_close(structural_consistency(torch.zeros(1, 4, 3, 3)), torch.zeros(1, 3, 3))


def test_eq8_hand_computed_half_at_tau_and_monotone():
    assert reliability_weight(torch.tensor(0.3), 0.3, 0.1).item() == 0.5
    assert reliability_weight(torch.tensor(0.9), 0.9, 0.05).item() == 0.5
    torch.testing.assert_close(reliability_weight(torch.tensor([0.4, 0.2]), 0.3, 0.1),
                               torch.tensor([1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1))]))
    sim = torch.linspace(-1, 1, 401)
    for tau, delta in ((0.3, 0.1), (0.9, 0.02), (-0.5, 1.0)):
        w = reliability_weight(sim, tau, delta)
        assert (w.diff() >= 0).all() and ((w >= 0) & (w <= 1)).all()
    with pytest.raises(ValueError, match='delta must be > 0'): reliability_weight(sim, 0.3, 0)


def test_eq8_in_the_map():
    fh, fl = [torch.randn(2, 8, 8, 6)], [torch.randn(2, 8, 8, 6)]
    g = [torch.randn(2, 4, 8, 6)]
    out = score_maps(fl, fh, (16, 12), ScoreConfig(sigma=0, reliability=True, tau=0.2, delta=0.1), g)
    sim = to_image([structural_consistency(g[0], 3)], (16, 12))[0]
    torch.testing.assert_close(out.sim, sim)
    torch.testing.assert_close(out.weight, reliability_weight(sim, 0.2, 0.1))
    torch.testing.assert_close(out.map, out.weight * out.stage_maps[0])
    with pytest.raises(ValueError, match='needs the guidance'): score_maps(fl, fh, (16, 12), ScoreConfig(reliability=True))


def test_smoothing_and_image_score():
    m = torch.zeros(1, 20, 30); m[0, 10, 15] = 1.
    s = gaussian_smooth(m, 2)
    torch.testing.assert_close(s.sum(), m.sum(), rtol=0, atol=1e-4)
    assert s[0].argmax() == 10 * 30 + 15
    assert gaussian_smooth(m, 0) is m
    m = torch.arange(100.).view(1, 10, 10)
    assert image_score(m).item() == 99.
    assert image_score(m, ScoreConfig(image_score='topk', topk=0.05)).item() == 97.


@pytest.mark.parametrize('sigma,shape', [(0.7, (3, 20, 31)), (4., (2, 64, 64)), (4., (1, 5, 7)), (30., (2, 37, 50))])
def test_gaussian_smooth_equals_scipy(sigma, shape):
    "The matrix form is scipy's gaussian_filter (mode='mirror', truncate=4), with the kernel clipped on tiny maps."
    from scipy.ndimage import gaussian_filter
    x = torch.rand(shape, dtype=torch.float64)
    radius = min(int(4 * sigma + 0.5), shape[1] - 1, shape[2] - 1)
    want = np.stack([gaussian_filter(a, sigma, mode='mirror', truncate=radius / sigma) for a in x.numpy()])
    torch.testing.assert_close(gaussian_smooth(x, sigma), torch.from_numpy(want), rtol=0, atol=1e-12)
    assert gaussian_smooth(x.float(), sigma).dtype == torch.float32


@pytest.mark.parametrize('name, size, cfg', [
    ('resnet18', (64, 64), ScoreConfig()),
    ('resnet18', (72, 100), ScoreConfig(reliability=True, image_score='topk')),
    ('resnet18', (100, 60), ScoreConfig(reliability=True, combine='per_stage', distance='l2')),
    ('wide_resnet50_2', (48, 80), ScoreConfig(reliability=True))])
def test_predict_shapes_and_dtypes(name, size, cfg):
    p = detector(name, cfg).predict(torch.rand(2, 3, *size))
    assert isinstance(p, Prediction)
    assert (p.maps.shape, p.maps.dtype, p.scores.shape, p.scores.dtype) == ((2, *size), torch.float32, (2,), torch.float32)
    assert [m.shape for m in p.stage_maps] == [(2, *size)] * 3
    assert (p.sim is not None) == (cfg.reliability and cfg.combine == 'mean')
    assert not p.maps.requires_grad and torch.isfinite(p.maps).all()


def test_batch_equals_one_at_a_time_and_deterministic():
    det = detector(cfg=ScoreConfig(reliability=True))
    x = torch.rand(3, 3, 64, 80)
    batch = det.predict(x)
    single = [det.predict(x[i:i + 1]) for i in range(3)]
    torch.testing.assert_close(batch.maps, torch.cat([p.maps for p in single]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(batch.scores, torch.cat([p.scores for p in single]), rtol=1e-5, atol=1e-5)
    again = det.predict(x)
    assert torch.equal(again.maps, batch.maps) and torch.equal(again.scores, batch.scores)


def test_channels_last_changes_only_rounding():
    det = detector(cfg=ScoreConfig(reliability=True))
    x = torch.rand(2, 3, 64, 96)
    fast = det.predict(x)
    det.channels_last = False
    torch.testing.assert_close(det.predict(x).maps, fast.maps, rtol=1e-4, atol=1e-4)


def test_no_memory_bank():
    det = detector()
    assert {n.split('.')[0] for n in det.state_dict()} == {'backbone', 'module'}


def test_bad_input():
    det = detector()
    with pytest.raises(ValueError, match=r'expected images N×3×H×W'): det.predict(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match=r'expected images N×3×H×W'): det.predict(torch.rand(1, 1, 64, 64))


@pytest.mark.parametrize('kwargs, text', [
    (dict(distance='cos'), 'distance'), (dict(sigma=-1), 'sigma'), (dict(image_score='mean'), 'image_score'),
    (dict(topk=0), 'topk'), (dict(delta=0), 'delta'), (dict(neighbourhood=4), 'odd'), (dict(combine='max'), 'combine')])
def test_bad_config(kwargs, text):
    with pytest.raises(ValueError, match=text): ScoreConfig(**kwargs)


def test_bad_neighbourhood():
    with pytest.raises(ValueError, match='odd size'): structural_consistency(torch.randn(1, 2, 3, 3), 2)


def test_calibrate_tau_places_tau_at_the_quantile():
    "calibrate_tau: Eq. 8 on, τ at the q quantile of the normal images' sims; other fields kept; clear errors."
    torch.manual_seed(0)
    bb = FrozenBackbone('resnet18', weights=None)
    det = AnomalyDetector(bb, HLGFA(bb.channels, ModelConfig(identity_init=False)), ScoreConfig(sigma=2.0))
    train = [torch.rand(2, 3, 64, 64) for _ in range(2)]
    cal = calibrate_tau(det, train, q=0.1)
    sims = torch.cat([det.with_score(cal).predict(x).sim.flatten() for x in train])
    assert abs(float((sims < cal.tau).float().mean()) - 0.1) < 0.01
    assert cal.reliability and cal.sigma == 2.0 and cal.delta == det.score.delta and not det.score.reliability
    with pytest.raises(ValueError, match='no images'): calibrate_tau(det, [])
    with pytest.raises(ValueError, match='quantile'): calibrate_tau(det, train, q=0)


def test_scoring_variants_place_tau_from_the_sims_they_weight_with(run, synth):
    from dataclasses import replace
    from torch.utils.data import DataLoader
    from hlgfa_nb.data import MVTecDataset
    from hlgfa_nb.runs import Run
    from hlgfa_nb.scoring import scoring_variants
    det = Run.open(run, 'cpu').detector
    variants = scoring_variants(synth)
    train = DataLoader(MVTecDataset(synth, 'train', size=det.geometry), batch_size=16)
    run_cfg = Run.open(run, 'cpu').cfg
    k5 = variants['Eq. 8, τ at q5 %, k = 5'](det, run_cfg)
    assert (k5.reliability, k5.neighbourhood) == (True, 5)
    assert k5.tau == calibrate_tau(det.with_score(replace(det.score, neighbourhood=5)), train, 0.05).tau
    assert variants['σ = 8'](det, run_cfg) == replace(det.score, sigma=8.)
