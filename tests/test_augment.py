"Noise-aware augmentation: both views alike, seeds, batched painting, range, gray, training data only, config and input errors."
import pytest
import torch
import torch.nn.functional as F

from hlgfa_nb.augment import AugConfig, NoiseAugment, NoisyTrainingSet, add_noise, draw_noise, noise_generator, noise_layer, paint_noise
from hlgfa_nb.data import MVTecDataset

FORCED = AugConfig(p=1.0)


def down(x):
    return F.interpolate(x[None] if x.ndim == 3 else x, scale_factor=0.5, mode='bilinear', antialias=True).squeeze(0)


def images(seed=0, n=None, size=48):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*((n,) if n else ()), 3, size, size, generator=g)


def gray(seed=0, size=48):
    return images(seed, size=size)[:1].expand(3, -1, -1).clone()


@pytest.mark.parametrize('seed', range(4))
def test_identical_corruption_on_both_views(seed):
    x = images(seed, size=64)
    y, alpha = add_noise(x, FORCED, seed)
    assert alpha.max() > 0
    assert torch.allclose(down(y) - down(x), down(y - x), atol=1e-6)   # LR corruption = resampled HR corruption
    # and the layer is not image-dependent: the same draw on another image puts the marks in the same places
    _, alpha2 = add_noise(images(seed + 100, size=64), FORCED, seed)
    assert torch.equal(alpha, alpha2)


def test_reproducible_by_seed_and_generator():
    x = images(1)
    a, _ = add_noise(x, FORCED, 5)
    assert torch.equal(a, add_noise(x, FORCED, 5)[0])
    assert torch.equal(a, add_noise(x, FORCED, torch.Generator().manual_seed(5))[0])
    assert not torch.equal(a, add_noise(x, FORCED, 6)[0])
    g = torch.Generator().manual_seed(5)
    first, second = add_noise(x, FORCED, g)[0], add_noise(x, FORCED, g)[0]
    assert not torch.equal(first, second)                  # a generator advances
    assert torch.equal(noise_layer(40, 30, FORCED, torch.Generator().manual_seed(2))[0],
                       noise_layer(40, 30, FORCED, torch.Generator().manual_seed(2))[0])


def test_a_batch_painted_at_once_equals_each_image_alone():
    x, cfg = images(4, n=6, size=40), AugConfig(p=0.6)
    gens = [noise_generator(7, 1, i) for i in range(6)]
    y, alpha = add_noise(x, cfg, gens)
    for i in range(6):
        yi, ai = add_noise(x[i], cfg, noise_generator(7, 1, i))
        assert torch.equal(y[i], yi) and torch.equal(alpha[i], ai)
    assert 0 < int((alpha.flatten(1).amax(1) > 0).sum()) < 6          # some images left alone, some painted
    with pytest.raises(ValueError, match='one per image'): add_noise(x, cfg, gens[:2])


@pytest.mark.parametrize('radius', [(0.01, 0.2), (0.3, 1.0)])     # windows of mixed sizes; discs as large as the image
def test_paint_noise_paints_each_image_as_if_alone(radius):
    cfg = AugConfig(point_radius=radius, point_count=(0, 12), stripe_count=(0, 3))
    drawn = [draw_noise(40, 36, cfg, noise_generator(0, 0, i)) for i in range(8)]
    assert {len(p) for p, _ in drawn} & {0} and {len(s) for _, s in drawn} & {0}   # some images without points or stripes
    a, c = paint_noise(drawn, 40, 36)
    for i, d in enumerate(drawn):
        ai, ci = paint_noise([d], 40, 36)
        assert torch.equal(a[i], ai[0]) and torch.equal(c[i], ci[0])
    assert bool((c <= a + 1e-6).all()) and 0 <= a.min() and a.max() <= 1
    with pytest.raises(ValueError, match='outside the 20×36 image'): paint_noise(drawn, 20, 36)
    with pytest.raises(ValueError, match='no elements'): paint_noise([], 40, 36)


def test_paint_noise_keeps_to_the_device_it_is_given():
    "On the meta device (shapes, no data) a CPU operand in the painting is an error: a stand-in for a GPU here."
    for radius in ((0.01, 0.1), (0.5, 1.0)):                          # windows, and discs painted as stripes
        drawn = [draw_noise(48, 40, AugConfig(point_radius=radius), noise_generator(0, 0, i)) for i in range(3)]
        alpha, colour = paint_noise(drawn, 48, 40, 'meta')
        assert alpha.is_meta and colour.is_meta and alpha.shape == (3, 48, 40)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_the_gpu_paints_what_the_cpu_paints():
    x, cfg = images(5, n=8, size=96), AugConfig(p=0.7)
    gens = lambda: [noise_generator(1, 2, i) for i in range(8)]
    y, alpha = add_noise(x, cfg, gens())
    y_gpu, alpha_gpu = add_noise(x.cuda(), cfg, gens())
    assert torch.allclose(y_gpu.cpu(), y, atol=1e-5) and torch.allclose(alpha_gpu.cpu(), alpha, atol=1e-5)


@pytest.mark.parametrize('x', [torch.zeros(3, 32, 32), torch.ones(3, 32, 32), images(2), images(3, n=4)])
def test_range_kept_and_only_layer_pixels_change(x):
    y, alpha = add_noise(x, AugConfig(p=1.0, intensity=(1.0, 1.0)), 0)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert 0 <= y.min() and y.max() <= 1
    untouched = (alpha == 0).unsqueeze(-3).expand_as(x)
    assert torch.equal(y[untouched], x[untouched])


def test_gray_stays_gray_and_rgb_noise_is_achromatic():
    y, alpha = add_noise(gray(1), FORCED, 3)
    assert torch.equal(y[0], y[1]) and torch.equal(y[1], y[2]) and alpha.max() > 0
    x = images(2)
    y, alpha = add_noise(x, FORCED, 3)
    d = y - x
    # the same opacity and value on every channel: x' = (1-α)x + c, so d + αx is channel-independent
    c = d + alpha * x
    assert torch.allclose(c[0], c[1], atol=1e-6) and torch.allclose(c[1], c[2], atol=1e-6)


def test_probability_and_batches():
    x = torch.full((400, 3, 8, 8), 0.5)
    _, alpha = add_noise(x, AugConfig(p=0.3, point_count=(3, 3), point_radius=(0.2, 0.2)), 0)
    hit = (alpha.flatten(1).amax(1) > 0).float().mean().item()
    assert 0.22 < hit < 0.38
    y, _ = add_noise(x[:5], AugConfig(p=0.0), 0)
    assert torch.equal(y, x[:5])


def test_orientation_and_sizes():
    cfg = AugConfig(p=1.0, point_count=(0, 0), stripe_count=(1, 1), stripe_orientation='horizontal',
                    stripe_length=(1.0, 1.0), stripe_width=(0.1, 0.1))
    alpha = noise_layer(50, 50, cfg, torch.Generator().manual_seed(0))[0]
    rows = (alpha > 0.5).any(1).nonzero().flatten()
    assert 3 <= len(rows) <= 7 and (alpha > 0.5).sum(1).max() > 20      # ~5 px tall, long across
    cfg = AugConfig(p=1.0, point_count=(0, 0), stripe_count=(0, 0))
    assert noise_layer(20, 20, cfg, torch.Generator())[0].max() == 0
    # sizes are relative: the covered share is about the same at two resolutions
    share = [torch.stack([(noise_layer(s, s, AugConfig(), torch.Generator().manual_seed(k))[0] > 0.1).float().mean()
                          for k in range(20)]).mean() for s in (128, 512)]
    assert 0.5 < share[0] / share[1] < 2


def test_training_data_only(synth):
    train, test = MVTecDataset(synth, 'train', size=32), MVTecDataset(synth, 'test', size=32)
    before = [(d['image'].clone(), d['mask'].clone()) for d in (test[i] for i in range(len(test)))]
    with pytest.raises(ValueError, match="training data only.*split='test'"):
        NoisyTrainingSet(test)
    with pytest.raises(ValueError, match="split=None"):
        NoisyTrainingSet([train[0]])
    aug = NoiseAugment(FORCED)
    for i in range(len(test)):                      # good and defective test items alike
        with pytest.raises(ValueError, match='refusing to augment'):
            aug(test[i], 0)
    with pytest.raises(KeyError, match=r"lacks \['path'\]"):
        aug({k: v for k, v in train[0].items() if k != 'path'}, 0)
    noisy = NoisyTrainingSet(train, FORCED, seed=1)
    for i in range(len(train)):
        a, b = noisy[i], train[i]
        assert torch.equal(a['mask'], b['mask']) and a['path'] == b['path'] and a['category_id'] == b['category_id']
        assert not torch.equal(a['image'], b['image'])
    after = [(d['image'], d['mask']) for d in (test[i] for i in range(len(test)))]
    for (i0, m0), (i1, m1) in zip(before, after):
        assert torch.equal(i0, i1) and torch.equal(m0, m1)


def test_training_set_reproducible_per_item_and_epoch(synth):
    train = MVTecDataset(synth, 'train', size=32)
    a, b = NoisyTrainingSet(train, FORCED, seed=4), NoisyTrainingSet(train, FORCED, seed=4)
    assert torch.equal(a[3]['image'], b[3]['image'])
    assert torch.equal(a[3]['image'], (a[2], a[3])[1]['image'])    # independent of access order
    assert not torch.equal(a[3]['image'], NoisyTrainingSet(train, FORCED, seed=5)[3]['image'])
    b.set_epoch(1)
    assert not torch.equal(a[3]['image'], b[3]['image'])
    dl = lambda w: [x['image'] for x in torch.utils.data.DataLoader(a, batch_size=4, num_workers=w)]
    for x, y in zip(dl(0), dl(2)):
        assert torch.equal(x, y)


def test_real_gray_tiles_stay_gray(dev_tiles):
    if dev_tiles is None: pytest.skip('the magnetic-tile dev set is not in the data home')
    ds = NoisyTrainingSet(MVTecDataset(dev_tiles, 'train', size=64), FORCED, seed=0)
    for i in range(3):
        x = ds[i]['image']
        assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2]) and 0 <= x.min() and x.max() <= 1


def test_bad_input_named():
    with pytest.raises(ValueError, match=r'expected an image 3×H×W or a batch N×3×H×W, got \(1, 8, 8\)'):
        add_noise(torch.zeros(1, 8, 8), FORCED, 0)
    x255 = torch.zeros(3, 4, 4); x255[0, 0, 0] = 255
    with pytest.raises(ValueError, match=r'values span \[0, 255\].*before the backbone'):
        add_noise(x255, FORCED, 0)
    with pytest.raises(TypeError, match='torch.Generator or an int seed'):
        add_noise(torch.zeros(3, 8, 8), FORCED, None)
    with pytest.raises(ValueError, match=r'AugConfig.point_radius=\(0.1, 0.05\)'):
        AugConfig(point_radius=(0.1, 0.05))
    with pytest.raises(ValueError, match=r'AugConfig.p=1.5'):
        AugConfig(p=1.5)
    with pytest.raises(ValueError, match="stripe_orientation='diagonal'"):
        AugConfig(stripe_orientation='diagonal')
