"Training losses (Eq. 9-10, Table 2): minima, hand-computed values, symmetry, invariances, numerics, config, errors."
import math

import pytest
import torch

from hlgfa_nb.losses import (LOSS_PRESETS, CategoryHead, LossConfig, category_loss, cosine_loss, focal_l1_loss,
                             focal_weights, gram, gram_loss, hlgfa_loss, js_loss)
from hlgfa_nb.backbone import cosine_map

TERMS = {'cos': cosine_loss, 'l1': focal_l1_loss, 'js': js_loss, 'gram': gram_loss}


def feats(seed, n=2, shapes=((8, 6, 6), (16, 3, 3))):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, *s, generator=g).relu() + 0.1 for s in shapes]


def px(*v):
    return torch.tensor(v, dtype=torch.float32).view(1, -1, 1, 1)


@pytest.mark.parametrize('name', TERMS)
def test_zero_for_identical_and_non_negative(name):
    fn = TERMS[name]
    a, b = feats(0), feats(1)
    assert abs(fn(a, a).item()) < 1e-6
    for seed in range(5):
        assert fn(feats(seed), feats(seed + 10)).item() >= 0


def test_cosine_known_values_and_scale_invariance():
    assert cosine_loss(px(1., 0.), px(1., 1.)).item() == pytest.approx(1 - 1 / math.sqrt(2), abs=1e-6)
    assert cosine_loss(px(1., 0.), px(0., 1.)).item() == pytest.approx(1.)
    assert cosine_loss(px(1., 0.), px(-1., 0.)).item() == pytest.approx(2.)
    a, b = feats(0), feats(1)
    ref = cosine_loss(a, b).item()
    for k in (1e-30, 1e-6, 3.0, 1e6, 1e30):
        assert cosine_loss([k * x for x in a], b).item() == pytest.approx(ref, abs=1e-6)
        assert cosine_loss(a, [k * x for x in b]).item() == pytest.approx(ref, abs=1e-6)
    assert cosine_map(a[0], b[0]).shape == (2, 6, 6)


def test_cosine_per_stage_and_combined():
    a, b = feats(0), feats(1)
    per = cosine_loss(a, b, per_stage=True)
    assert per.shape == (2,)
    assert per[0].item() == pytest.approx(cosine_loss(a[0], b[0]).item())
    assert cosine_loss(a, b).item() == pytest.approx(per.mean().item())


def test_focal_l1_known_values():
    tgt = torch.ones(1, 1, 2, 2)
    off = tgt + torch.tensor([0.1, 0.1, 0.1, 0.9]).view(1, 1, 2, 2)
    assert focal_l1_loss(off, tgt, gamma=0).item() == pytest.approx(0.3)
    assert focal_l1_loss(off, tgt, gamma=1).item() == pytest.approx(0.84 / 1.2)
    assert focal_l1_loss(off, tgt, gamma=2).item() == pytest.approx(0.732 / 0.84)
    w = focal_weights(torch.tensor([[[0.1, 0.1], [0.1, 0.9]]]), 1.)
    assert torch.allclose(w, torch.tensor([[[1 / 3, 1 / 3], [1 / 3, 3.]]]))
    assert torch.equal(focal_weights(torch.zeros(2, 3, 3), 1.), torch.ones(2, 3, 3))
    # relative to the target's magnitude: a common rescaling changes nothing
    a, b = feats(0), feats(1)
    assert focal_l1_loss([7 * x for x in a], [7 * x for x in b]).item() == pytest.approx(focal_l1_loss(a, b).item(), rel=1e-5)


def test_focal_weights_are_detached():
    # e = (1, 3) at two positions: weights e/ē = (0.5, 1.5) act as constants, so dL/df̂ = w/HW = (0.25, 0.75);
    # differentiating through them would give 2e/Σe − Σe²/(Σe)² = (−0.125, 0.875)
    tgt = torch.ones(1, 1, 1, 2)
    f = (tgt + torch.tensor([1., 3.]).view(1, 1, 1, 2)).requires_grad_()
    loss = focal_l1_loss(f, tgt, gamma=1, eps=0)
    loss.backward()
    assert loss.item() == pytest.approx(10 / 4)
    assert torch.allclose(f.grad.flatten(), torch.tensor([0.25, 0.75]))


def test_js_known_value_symmetry_and_bound():
    P, Q, M = torch.tensor([.5, .5]), torch.tensor([.75, .25]), torch.tensor([.625, .375])
    by_hand = (0.5 * (P * (P / M).log()).sum() + 0.5 * (Q * (Q / M).log()).sum()).item()
    assert js_loss(px(0., 0.), px(math.log(3), 0.)).item() == pytest.approx(by_hand, abs=1e-6)
    a, b = feats(0), feats(1)
    assert js_loss(a, b).item() == pytest.approx(js_loss(b, a).item(), abs=1e-7)
    assert js_loss(px(100., -100.), px(-100., 100.)).item() == pytest.approx(math.log(2), abs=1e-6)
    assert js_loss(a, b, temperature=10.).item() < js_loss(a, b).item()   # a softer softmax sees less


def test_gram_known_values():
    assert torch.allclose(gram(px(1., 2.)), torch.tensor([[[1., 2.], [2., 4.]]]))
    x = torch.arange(8.).view(1, 2, 2, 2)
    assert torch.allclose(gram(x), (x.view(2, 4) @ x.view(2, 4).T / 4)[None])
    g0 = torch.randn(2, 8, 5, 5, generator=torch.Generator().manual_seed(0))
    assert gram_loss(2 * g0, g0).item() == pytest.approx(9., rel=1e-5)
    assert gram_loss(0.5 * g0, g0).item() == pytest.approx(0.5625, rel=1e-5)
    assert gram_loss(torch.zeros_like(g0), g0).item() == pytest.approx(1.)
    perm = torch.randperm(25, generator=torch.Generator().manual_seed(1))
    assert gram_loss(g0.flatten(2)[..., perm].view_as(g0), g0).item() < 1e-6   # blind to positions
    # normalised by H·W: the same statistics on a larger grid give the same Gram matrix
    assert torch.allclose(gram(g0.repeat(1, 1, 2, 2)), gram(g0), atol=1e-5)


@pytest.mark.parametrize('name', TERMS)
@pytest.mark.parametrize('case', ['zeros', 'huge', 'zero_vs_huge', 'huge_vs_zero', 'tiny'])
def test_finite_values_and_gradients(name, case):
    fn = TERMS[name]
    b = feats(1)
    a = {'zeros': [torch.zeros_like(x) for x in b], 'huge': [1e30 * x for x in feats(0)],
         'zero_vs_huge': [torch.zeros_like(x) for x in b], 'huge_vs_zero': [1e30 * x for x in b],
         'tiny': [1e-30 * x for x in feats(0)]}[case]
    if case == 'zeros': b = [torch.zeros_like(x) for x in b]
    if case in ('huge', 'zero_vs_huge'): b = [1e30 * x for x in b]
    if case == 'huge_vs_zero': b = [torch.zeros_like(x) for x in b]
    if case == 'tiny': b = [1e-30 * x for x in b]
    a = [x.clone().requires_grad_() for x in a]
    loss = fn(a, b)
    loss.backward()
    assert torch.isfinite(loss) and loss >= 0
    assert all(torch.isfinite(x.grad).all() for x in a)


def test_huge_identical_inputs_still_zero():
    a = [1e30 * x for x in feats(0)]
    for name, fn in TERMS.items():
        assert fn(a, a).item() < 1e-5, name


@pytest.mark.parametrize('name', TERMS)
def test_batch_size_independence(name):
    fn = TERMS[name]
    a, b = feats(0, n=3), feats(1, n=3)
    whole = fn(a, b).item()
    singles = [fn([x[i:i + 1] for x in a], [x[i:i + 1] for x in b]).item() for i in range(3)]
    assert whole == pytest.approx(sum(singles) / 3, rel=1e-5)
    copies = fn([x[:1].repeat(4, 1, 1, 1) for x in a], [x[:1].repeat(4, 1, 1, 1) for x in b]).item()
    assert copies == pytest.approx(singles[0], rel=1e-5)


def test_half_precision_inputs_computed_in_float32():
    a, b = feats(0), feats(1)
    loss = hlgfa_loss([x.half() for x in a], [x.half() for x in b])[0]
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(hlgfa_loss(a, b)[0].item(), rel=1e-2)


def test_presets_and_combination():
    assert set(LOSS_PRESETS) == {'cos', 'cos+js', 'cos+gram', 'cos+l1', 'full'}
    assert LossConfig() == LossConfig.preset('full') == LossConfig(l1=0.5, js=0.5, gram=0.5, cls=0.0)
    assert LossConfig.preset('cos+js').js == 0.1 and LossConfig.preset('cos+js').l1 == 0
    assert LossConfig.preset('Cos + Gram') == LossConfig(l1=0, js=0, gram=0.5)
    assert LossConfig.preset('cos', focal_gamma=2.).focal_gamma == 2.
    a, b = feats(0), feats(1)
    for name, w in LOSS_PRESETS.items():
        total, terms = hlgfa_loss(a, b, LossConfig.preset(name))
        expect = cosine_loss(a, b) + w['l1'] * focal_l1_loss(a, b) + w['js'] * js_loss(a, b) + w['gram'] * gram_loss(a, b)
        assert total.item() == pytest.approx(expect.item(), rel=1e-6)
        assert set(terms) == {'total', 'cos'} | {k for k, v in w.items() if v}
        assert not any(v.requires_grad for v in terms.values())
    assert total.requires_grad is False  # no input needed grad
    a = [x.requires_grad_() for x in a]
    total, _ = hlgfa_loss(a, b)
    total.backward()
    assert all(torch.isfinite(x.grad).all() for x in a)


def test_category_head_and_loss():
    a = feats(0, n=4)
    head = CategoryHead([8, 16], 3)
    logits = head(a)
    assert logits.shape == (4, 3)
    labels = torch.tensor([0, 1, 2, 1])
    cfg = LossConfig(cls=0.2)
    total, terms = hlgfa_loss(a, a, cfg, logits=logits, labels=labels)
    assert terms['cls'].item() == pytest.approx(category_loss(logits, labels).item())
    assert total.item() == pytest.approx(terms['cos'].item() + 0.2 * terms['cls'].item(), abs=1e-5)
    total.backward()
    assert head.fc.weight.grad is not None and head.fc.weight.grad.abs().sum() > 0
    # skipped when its weight is 0 or there are no labels
    assert 'cls' not in hlgfa_loss(a, a, LossConfig(), logits=logits, labels=labels)[1]
    assert 'cls' not in hlgfa_loss(a, a, cfg, logits=logits)[1]
    with pytest.raises(ValueError, match='no logits'):
        hlgfa_loss(a, a, cfg, labels=labels)
    with pytest.raises(ValueError, match='at least 2 categories'):
        CategoryHead([8, 16], 1)
    with pytest.raises(ValueError, match=r'built for stage channels \[8, 16\] but got \[8\]'):
        head(a[:1])


def test_bad_inputs_named():
    a, b = feats(0), feats(1)
    with pytest.raises(ValueError, match='2 refined and 1 HR feature stages'):
        cosine_loss(a, b[:1])
    with pytest.raises(ValueError, match=r'stage 1: refined features \(2, 16, 3, 3\) vs HR features \(2, 16, 6, 6\)'):
        hlgfa_loss(a, [b[0], torch.zeros(2, 16, 6, 6)])
    with pytest.raises(ValueError, match='N×C×H×W'):
        gram_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="unknown loss preset 'l2'; choose one of"):
        LossConfig.preset('l2')
    with pytest.raises(ValueError, match='LossConfig.l1=-0.5'):
        LossConfig(l1=-0.5)
    with pytest.raises(ValueError, match='js_temperature must be > 0'):
        LossConfig(js_temperature=0)
    with pytest.raises(ValueError, match='eps must be > 0'):
        LossConfig(eps=0)
