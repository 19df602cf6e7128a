"Tests of hlgfa_nb.metrics: agreement with scikit-learn and with a brute-force PRO, edge cases, errors."
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from hlgfa_nb.metrics import (METRIC_NAMES, MetricsConfig, PixelMetrics, as_percent, best_f1, compute_metrics,
                              image_metrics, pixel_metrics, tally_scores)


def random_case(rng, n=5, size=20, levels=None):
    masks = np.zeros((n, size, size), bool)
    for i in range(1, n):
        for _ in range(rng.integers(1, 4)):
            y0, x0 = rng.integers(0, size - 2, 2); h, w = rng.integers(1, 6, 2)
            masks[i, y0:y0 + h, x0:x0 + w] = True
    maps = (rng.normal(size=masks.shape) + masks * rng.uniform(0.3, 2)).astype(np.float32)
    if levels: maps = np.round(maps * levels / 4).astype(np.float32)
    return maps, masks


def brute_f1(y, s):
    return max(2 * (y & (s >= c)).sum() / ((s >= c).sum() + y.sum()) for c in np.unique(s))


@pytest.mark.parametrize('ties', [False, True])
def test_image_metrics_match_sklearn(ties):
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(2, 200))
        y = rng.random(n) < rng.uniform(0.05, 0.95); y[:2] = [True, False]
        s = rng.normal(size=n) + y * rng.uniform(0, 2)
        if ties: s = np.round(s).clip(-1, 1)
        got = image_metrics(s, y.astype(int))
        assert abs(got['AUC-I'] - roc_auc_score(y, s)) < 1e-6
        assert abs(got['AP-I'] - average_precision_score(y, s)) < 1e-6
        assert abs(got['F1-I'] - brute_f1(y, s)) < 1e-12


@pytest.mark.parametrize('ties', [False, True])
def test_pixel_metrics_match_sklearn(ties):
    rng = np.random.default_rng(1)
    for _ in range(8):
        maps, masks = random_case(rng, n=6, size=32, levels=8 if ties else None)
        got = pixel_metrics(maps, masks)
        y, s = masks.ravel(), maps.ravel()
        assert abs(got['AUC-P'] - roc_auc_score(y, s)) < 1e-6
        assert abs(got['AP-P'] - average_precision_score(y, s)) < 1e-6
        assert abs(got['F1-P'] - brute_f1(y, s)) < 1e-12


def test_pro_perfect_and_random():
    maps, masks = random_case(np.random.default_rng(4))
    assert all(abs(v - 1) < 1e-12 for v in pixel_metrics(masks.astype(np.float32), masks).values())
    g = np.random.default_rng(5)
    masks = g.random((40, 64, 64)) < 0.05
    assert abs(pixel_metrics(g.random(masks.shape, dtype=np.float32), masks)['PRO'] - 0.15) < 0.01


def test_pro_regions_touching_and_single_pixel():
    "Region A (two 2x2 squares touching at a corner) above every normal pixel, single-pixel region B below all."
    mask = np.zeros((1, 10, 10), bool)
    mask[0, 0:2, 0:2] = mask[0, 2:4, 2:4] = True   # one region with 8-connectivity, two with 4
    mask[0, 8, 8] = True                           # a single-pixel region
    maps = np.random.default_rng(6).random(mask.shape).astype(np.float32)
    maps[0, :4, :4][mask[0, :4, :4]] = 2.; maps[0, 8, 8] = -1.
    assert abs(pixel_metrics(maps, mask)['PRO'] - 1 / 2) < 1e-12
    assert abs(pixel_metrics(maps, mask, MetricsConfig(connectivity=4))['PRO'] - 2 / 3) < 1e-12


def test_no_anomalous_or_no_normal_pixels():
    maps = np.random.default_rng(7).random((3, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match='no anomalous pixels'): pixel_metrics(maps, np.zeros(maps.shape, bool))
    with pytest.raises(ValueError, match='no normal pixels'): pixel_metrics(maps, np.ones(maps.shape, bool))
    with pytest.raises(ValueError, match='no normal pixels'):
        pixel_metrics(maps, np.ones(maps.shape, bool), MetricsConfig(bins=16))


def test_degenerate_inputs():
    maps = np.random.default_rng(8).random((2, 8, 8)).astype(np.float32)
    masks = np.zeros((2, 8, 8), bool); masks[1, 2:5, 2:5] = True
    with pytest.raises(ValueError, match='no normal images'): image_metrics([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match='no anomalous images'): image_metrics([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match='NaN or infinite'): image_metrics([0.1, np.nan], [0, 1])
    with pytest.raises(ValueError, match='NaN or infinite'): image_metrics([0.1, np.inf], [0, 1])
    with pytest.raises(ValueError, match='empty input'): image_metrics([], [])
    with pytest.raises(ValueError, match='same length'): image_metrics([0.1, 0.2], [0, 1, 1])
    with pytest.raises(ValueError, match='binary'): image_metrics([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match='do not match'): pixel_metrics(maps, masks[:, :4])
    with pytest.raises(ValueError, match='do not match'): pixel_metrics(maps, masks[:1])
    with pytest.raises(ValueError, match='N×H×W'): pixel_metrics(maps[0], masks[0])
    with pytest.raises(ValueError, match='empty input'): pixel_metrics(maps[:0], masks[:0])
    with pytest.raises(ValueError, match='NaN or infinite'): pixel_metrics(np.where(masks, np.nan, maps), masks)
    with pytest.raises(ValueError, match='NaN or infinite'): pixel_metrics(np.where(masks, -np.inf, maps), masks)
    with pytest.raises(ValueError, match='mask > 0'): pixel_metrics(maps, masks.astype(np.uint8) * 255)
    with pytest.raises(ValueError, match='labelled good'): compute_metrics([0.1, 0.9], [0, 0], maps, masks)
    with pytest.raises(ValueError, match='one score per map'): compute_metrics([0.1, 0.9, 0.5], [0, 1, 1], maps, masks)
    with pytest.raises(ValueError, match='update'): PixelMetrics().compute()
    for bad in (dict(pro_fpr_limit=0), dict(connectivity=6), dict(bins=1), dict(score_range=(1, 0))):
        with pytest.raises(ValueError): MetricsConfig(**bad)


def test_streaming_torch_and_blocks_equal_one_shot():
    maps, masks = random_case(np.random.default_rng(9), n=20, size=40)
    whole = pixel_metrics(maps, masks)
    acc = PixelMetrics(MetricsConfig(block_pixels=3000))
    for i in range(0, 20, 3): acc.update(torch.from_numpy(maps[i:i + 3])[:, None], torch.from_numpy(masks[i:i + 3])[:, None])
    assert len(acc.store.blocks) > 1 and acc.compute() == whole
    half = pixel_metrics(torch.from_numpy(maps).half(), torch.from_numpy(masks))
    ref = pixel_metrics(torch.from_numpy(maps).half().float().numpy(), masks)
    assert half == ref


def test_binned_close_to_exact_and_warns_outside_range():
    rng = np.random.default_rng(10)
    maps, masks = random_case(rng, n=30, size=48)
    exact = pixel_metrics(maps, masks)
    binned = pixel_metrics(maps, masks, MetricsConfig(bins=20_000))
    assert all(abs(binned[k] - exact[k]) < 2e-3 for k in exact)
    acc = PixelMetrics(MetricsConfig(bins=1000, score_range=(-1., 1.))).update(maps, masks)
    with pytest.warns(UserWarning, match='outside the bins'): acc.compute()
    acc = PixelMetrics(MetricsConfig(bins=1000, score_range=(-10., 10.))).update(maps, masks)
    with warnings.catch_warnings():
        warnings.simplefilter('error'); acc.compute()


def test_compute_metrics_order_percent_and_threshold():
    maps, masks = random_case(np.random.default_rng(11), n=8)
    labels = masks.reshape(8, -1).any(1)
    scores = maps.reshape(8, -1).max(1)
    res = compute_metrics(scores, labels, maps, masks)
    assert tuple(res) == METRIC_NAMES and all(0 <= v <= 1 for v in res.values())
    assert as_percent({'PRO': 0.12345}) == {'PRO': 12.3}
    y, s = masks.ravel(), maps.ravel()
    f1, thr = best_f1(tally_scores(s[y], [np.sort(s[~y])]))
    pred = s >= thr
    assert abs(2 * (pred & y).sum() / (pred.sum() + y.sum()) - f1) < 1e-12
