"PatchCore baseline (12_baselines): coreset properties, exact block-wise NN search, fit inputs, the evaluation harness (the toy case is the chapter's)."
import pytest
import torch

from hlgfa_nb.baselines import (PatchCore, PatchCoreConfig, as_patches, coverage_radius, greedy_coreset,
                                nearest_distance, patch_features, random_projection)
from hlgfa_nb.data import MVTecDataset
from hlgfa_nb.evaluate import evaluate_detector
from hlgfa_nb.geometry import Geometry


def test_coreset_is_a_subset_of_the_requested_size():
    x = torch.randn(500, 16)
    idx = greedy_coreset(x, 40, projection_dim=8, seed=3)
    assert len(idx) == 40 and len(set(idx.tolist())) == 40
    assert int(idx.min()) >= 0 and int(idx.max()) < 500
    assert torch.equal(idx, greedy_coreset(x, 40, projection_dim=8, seed=3))        # seeded
    with pytest.raises(ValueError, match='coreset size'): greedy_coreset(x, 0)
    with pytest.raises(ValueError, match='coreset size'): greedy_coreset(x, 501)


def test_coreset_is_greedy_max_min():
    "Each new point is the farthest from those chosen before it (in the space the coreset works in)."
    x = torch.randn(300, 5)
    idx = greedy_coreset(x, 20, projection_dim=None)
    for i in range(1, 20):
        d = torch.cdist(x, x[idx[:i]]).amin(1)
        assert d[idx[i]] == pytest.approx(float(d.max()), rel=1e-5)


def test_coreset_covers_better_than_random():
    torch.manual_seed(0)
    x = torch.cat([torch.randn(3000, 8) * 0.2, torch.randn(100, 8) + 3])            # a dense and a rare cluster
    core = greedy_coreset(x, 60, projection_dim=None)
    rand = [coverage_radius(x, torch.randperm(len(x))[:60]) for _ in range(5)]
    assert coverage_radius(x, core) < min(rand)


def test_projection_keeps_distances_roughly():
    x = torch.randn(200, 512)
    z = random_projection(x, 128, seed=0)
    ratio = torch.pdist(z) / torch.pdist(x)
    assert 0.7 < float(ratio.median()) < 1.3 and float(ratio.std()) < 0.15
    assert torch.equal(random_projection(x[:, :64], 128), x[:, :64])               # dim >= C: identity


def test_blockwise_search_equals_brute_force():
    q, b = torch.randn(101, 12) * 3, torch.randn(67, 12)
    brute = (q[:, None] - b[None]).norm(dim=2).amin(1)
    for qc, bc in ((1, 1), (7, 13), (4096, 16384)):
        assert torch.allclose(nearest_distance(q, b, qc, bc), brute, atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError, match='equal widths'): nearest_distance(q, b[:, :3])
    with pytest.raises(ValueError, match='empty'): nearest_distance(q, b[:0])


def test_patch_features_shape_and_order():
    f = [torch.randn(2, 4, 8, 8), torch.randn(2, 6, 4, 4)]
    p = patch_features(f, 3)
    assert p.shape == (2, 10, 8, 8)
    assert torch.equal(as_patches(p)[64 + 8 * 2 + 5], p[1, :, 2, 5])


def test_fit_inputs_and_errors(synth):
    ds = MVTecDataset(synth, 'train', 'weave', size=64)
    cfg = PatchCoreConfig(backbone='resnet18', weights=None, coreset_ratio=0.5, max_train_patches=100)
    pc = PatchCore(cfg).fit(torch.utils.data.DataLoader(ds, batch_size=4))                # dicts with 'image'
    assert pc.n_train_patches == len(ds) * 64 and len(pc.bank) == 50
    with pytest.raises(RuntimeError, match='call fit'): PatchCore(cfg).predict(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match='iterable'): PatchCore(cfg).fit([torch.rand(2, 64, 64)])
    with pytest.raises(ValueError, match='no training images'): PatchCore(cfg).fit([])
    with pytest.raises(ValueError, match='coreset_ratio'): PatchCoreConfig(coreset_ratio=1.5)


def test_runs_in_the_evaluation_harness(synth):
    ds = MVTecDataset(synth, 'train', 'washer', size=64)
    pc = PatchCore(PatchCoreConfig(backbone='resnet18', weights=None, coreset_ratio=0.2), geometry=Geometry('squash', 64)).fit(
        torch.utils.data.DataLoader(ds, batch_size=6))
    res = evaluate_detector(pc, synth, 'washer', examples=1, progress=False)
    assert set(res.categories) == {'washer'} and 0 <= res.mean['AUC-P'] <= 1
