"HLGFA module (Eq. 1–6): shapes and dtypes for several backbones and sizes, identity at init, bad input."
import functools

import pytest
import torch

from hlgfa_nb.backbone import FrozenBackbone, hr_lr_discrepancy, make_views, resize
from hlgfa_nb.model import HLGFA, HLGFAOutput, ModelConfig


@pytest.fixture
def resnet18(): return backbone('resnet18')


@functools.lru_cache(maxsize=None)
def backbone(name): return FrozenBackbone(name, weights=None)


def features(bb, n, h, w):
    xh, xl = make_views(torch.rand(n, 3, h, w))
    with torch.no_grad(): return bb(xh), bb(xl)


@pytest.mark.parametrize('name', ['resnet18', 'wide_resnet50_2'])
@pytest.mark.parametrize('size', [(64, 64), (96, 72), (100, 164)])
def test_shapes_and_dtypes(name, size):
    torch.manual_seed(0)
    bb = backbone(name)
    fh, fl = features(bb, 2, *size)
    with torch.no_grad(): out = HLGFA(bb.channels, ModelConfig(identity_init=False))(fh, fl)
    assert isinstance(out, HLGFAOutput)
    assert [t.shape for t in out.f_hat] == [t.shape for t in fh] == [t.shape for t in out.upsampled]
    assert [t.shape for t in out.modulated] == [t.shape for t in fh]
    assert [t.shape for t in out.guidance] == [(2, 64, *t.shape[-2:]) for t in fh]
    assert [t.shape for t in out.gate] == [(2, 1, *t.shape[-2:]) for t in fh]
    assert all(t.dtype == torch.float32 for t in out.f_hat + out.guidance + out.gate)
    assert all(((m >= 0) & (m <= 1)).all() for m in out.gate)          # a sigmoid (float32 saturates at |x| > 17)


def test_other_stage_sets():
    "Any number of stages and channel widths (e.g. a two-stage or four-stage backbone)."
    for channels in ([32, 64], [16, 32, 64, 128]):
        fh = [torch.randn(1, c, 32 // 2 ** i, 24 // 2 ** i) for i, c in enumerate(channels)]
        fl = [torch.randn(1, c, 16 // 2 ** i, 12 // 2 ** i) for i, c in enumerate(channels)]
        with torch.no_grad(): out = HLGFA(channels)(fh, fl)
        assert [t.shape for t in out.f_hat] == [t.shape for t in fh]


def test_identity_at_init(resnet18):
    fh, fl = features(resnet18, 2, 96, 64)
    with torch.no_grad(): out = HLGFA(resnet18.channels)(fh, fl)
    for a, b, h in zip(out.f_hat, fl, fh): assert torch.equal(a, resize(b, h.shape[-2:]))
    for a, b in zip(hr_lr_discrepancy(fh, out.f_hat), hr_lr_discrepancy(fh, fl)): torch.testing.assert_close(a, b)


def test_switches():
    fh = [torch.randn(1, c, 16 // 2 ** i, 16 // 2 ** i) for i, c in enumerate([8, 16, 32])]
    fl = [torch.randn(1, c, 8 // 2 ** i, 8 // 2 ** i) for i, c in enumerate([8, 16, 32])]
    with torch.no_grad(): out = HLGFA([8, 16, 32], ModelConfig(structure=False, detail_dim=0, gate=False))(fh, fl)
    assert all(t is None for t in out.structure + out.detail + out.gate)
    assert all((g == 0).all() for g in out.guidance)
    assert [s.detail.down.out_channels for s in HLGFA([8, 16, 32], ModelConfig(detail_dim=None)).stages] == [8, 8, 16]
    m = HLGFA([8, 16, 32], ModelConfig(structure_source='same', detail_source='same'))
    assert (m.structure_from, m.detail_from) == ([0, 1, 2], [0, 1, 2])
    m = HLGFA([8, 16, 32])
    assert (m.structure_from, m.detail_from) == ([1, 2, 2], [0, 0, 1])


def test_resize():
    f = torch.randn(2, 4, 25, 13)
    assert resize(f, (7, 5), 'area').shape == (2, 4, 7, 5)
    torch.testing.assert_close(resize(f, (1, 1), 'area'), f.mean((2, 3), keepdim=True))
    assert resize(f, (25, 13)) is f
    assert resize(f, (50, 26), 'nearest').shape == (2, 4, 50, 26)


@pytest.mark.parametrize('kwargs, text', [
    (dict(guide_dim=0), 'guide_dim'), (dict(structure_source='deepest'), 'structure_source'),
    (dict(detail_source='deeper'), 'detail_source'), (dict(detail_align='max'), 'detail_align'),
    (dict(upsample='cubic'), 'upsample'), (dict(detail_dim=-1), 'detail_dim'), (dict(hidden_ratio=0), 'hidden_ratio'),
    (dict(structure_kernels=(3, 4)), 'odd')])
def test_bad_config(kwargs, text):
    with pytest.raises(ValueError, match=text): ModelConfig(**kwargs)


def test_bad_input():
    m = HLGFA([8, 16, 32])
    fh = [torch.randn(1, c, 16 // 2 ** i, 16 // 2 ** i) for i, c in enumerate([8, 16, 32])]
    with pytest.raises(ValueError, match='built for 3 stages; got 2 HR'): m(fh[:2], fh[:2])
    with pytest.raises(ValueError, match=r'stage 1: expected N×16×H×W'): m([fh[0], fh[2], fh[2]], fh)
    with pytest.raises(ValueError, match='at least one stage'): HLGFA([])
