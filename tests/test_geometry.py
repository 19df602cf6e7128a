"Geometry (16_geometry): squash, keep_aspect and tiles through train, eval, calibrate, predict and export; bad settings."
import json

import numpy as np
import pytest
import torch
from PIL import Image

from hlgfa_nb.cli import size_arg
from hlgfa_nb.data import MVTecDataset
from hlgfa_nb.deploy import OnnxDetector, Predictor, export_onnx
from hlgfa_nb.evaluate import evaluate
from hlgfa_nb.geometry import Geometry, Pieces, blended_maps, tile_starts
from hlgfa_nb.scoring import Detector, Prediction, score_images, ScoreConfig
from hlgfa_nb.runs import Config, config_from_dict, config_to_dict, geometry_of, load_checkpoint, preset
from hlgfa_nb.train import fit

H, W = 40, 100          # the long parts' size (width / height 2.5)


@pytest.fixture(scope='module')
def parts(tmp_path_factory):
    "MVTec-layout long parts: striped 40×100 images; test images with a thin dark scratch or a bright blob."
    root, rng = tmp_path_factory.mktemp('geometry')/'rail', np.random.default_rng(0)
    for d in ('train/good', 'test/good', 'test/scratch', 'test/blob', 'ground_truth/scratch', 'ground_truth/blob'):
        (root/d).mkdir(parents=True)
    def stripes(): return 0.5 + 0.2 * np.sin(np.arange(H)[:, None] / 3 + rng.uniform(0, 6)) + rng.normal(0, .02, (H, W))
    def save(a, p): Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8)).save(p)
    for i in range(6): save(stripes(), root/f'train/good/{i}.png')
    for i in range(2): save(stripes(), root/f'test/good/{i}.png')
    for kind in ('scratch', 'blob'):
        for i in range(2):
            img, mask = stripes(), np.zeros((H, W), bool)
            if kind == 'scratch': mask[H // 2, 10 + 20 * i:70 + 20 * i] = True
            else: mask[10:20, 30 + 40 * i:40 + 40 * i] = True
            img[mask] = 0.05 if kind == 'scratch' else 0.95
            save(img, root/f'test/{kind}/{i}.png'); save(mask.astype(float), root/f'ground_truth/{kind}/{i}_mask.png')
    return root


GEOMETRIES = dict(squash=dict(image_size=64), keep_aspect=dict(image_size=64),
                  tiles=dict(image_size=48, tile_scale=1.0, tile_overlap=0.25))


@pytest.fixture(scope='module')
def runs(parts, tmp_path_factory):
    "One short run per geometry (ImageNet Lite2, 1 epoch), calibrated by `fit`."
    out = tmp_path_factory.mktemp('geometry_runs')
    return {k: fit(preset('cpu', parts, geometry=k, epochs=1, batch_size=4, **o), out/k, progress=False)
            for k, o in GEOMETRIES.items()}


def test_tile_starts_cover_with_overlap():
    for n in (1, 47, 48, 100, 4000):
        s = tile_starts(n, 48, 0.25)
        assert s[0] == 0 and s[-1] == max(0, n - 48) and all(48 - (b - a) >= 12 for a, b in zip(s, s[1:]))


def test_config_geometry_fields_are_checked_and_round_trip():
    for bad, text in [(dict(geometry='crop'), "geometry='crop'"), (dict(tile_overlap=1.0), 'tile_overlap'),
                      (dict(tile_scale=0), 'tile_scale'), (dict(image_size=(0, 64)), 'image_size'),
                      (dict(image_size=(64, 64, 3)), 'image_size')]:
        with pytest.raises(ValueError, match=text): Config(**bad)
    cfg = Config(image_size=(128, 320), geometry='keep_aspect')
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg
    assert geometry_of(cfg).size == (128, 320) and geometry_of(cfg).fill == pytest.approx((0.485, 0.456, 0.406))
    assert size_arg('256') == 256 and size_arg('128x320') == (128, 320)
    with pytest.raises(Exception, match='height x width'): size_arg('big')


def test_pieces_cover_each_image_with_inputs_of_one_shape(parts):
    for kind, o in GEOMETRIES.items():
        g = Geometry(kind, o['image_size'], o.get('tile_scale', 1.), o.get('tile_overlap', .25))
        pieces = Pieces(MVTecDataset(parts, 'test', size=g))
        assert all(pieces[k]['image'].shape == (3, *g.size) for k in range(len(pieces)))
        assert len(pieces) == 6 * {'squash': 1, 'keep_aspect': 1, 'tiles': 3}[kind]
        masked = sum(int(pieces[k]['mask'].sum()) for k in range(len(pieces)))
        assert masked >= sum(int(d['mask'].sum()) for d in pieces.images)     # tiles overlap: each defect pixel at least once


def test_the_padding_never_scores():
    "An image darker than the padding: its map (its own red channel here) and score come from the image alone."
    class Red:
        score, geometry = ScoreConfig(sigma=0), Geometry('keep_aspect', 64, fill=(1., 1., 1.))
        def predict(self, x): return Prediction(x[:, 0], x[:, 0].amax((1, 2)))
    assert isinstance(Red(), Detector)
    x = torch.full((3, *Red.geometry.working_size(H, W)), 0.1)
    [(_, m, s)] = list(score_images(Red(), [x]))
    assert m.shape == (26, 64) and s == pytest.approx(0.1)


def test_train_eval_predict_in_each_geometry(runs, parts):
    for kind, ckpt in runs.items():
        state = load_checkpoint(ckpt)
        assert state['config']['geometry'] == kind and 'calibration' in state
        assert state['n_train'] == 6 * (3 if kind == 'tiles' else 1)                 # inputs: tiles count one by one
        res = evaluate(ckpt, examples=2, progress=False).categories['rail']
        work = MVTecDataset(parts, 'test', size=geometry_of(config_from_dict(state['config'])))[0]['image'].shape[-2:]
        assert res.examples[0]['map'].shape == tuple(work) == res.examples[0]['mask'].shape
        assert np.isfinite([res.metrics[k] for k in ('AUC-I', 'AUC-P', 'PRO')]).all() and set(res.per_type) == {'scratch', 'blob'}
        r = Predictor(ckpt)([str(p) for p in sorted((parts/'test'/'scratch').iterdir())] )
        assert [x.map.shape for x in r] == [(H, W)] * 2                         # maps back at each image's own size
        t = Predictor(ckpt)([torch.rand(3, 30, 90)])[0]
        assert t.map.shape == (30, 90)


def test_exported_geometry_matches_the_predictor(runs, parts, tmp_path):
    ckpt = runs['tiles']
    onnx = OnnxDetector(export_onnx(ckpt, tmp_path/'tiles.onnx', batch_size=2))
    assert onnx.geometry == geometry_of(config_from_dict(load_checkpoint(ckpt)['config']))
    assert onnx.meta['input']['shape'] == [2, 3, 48, 48]
    images = [torch.rand(3, H, W), torch.rand(3, 60, 70), torch.rand(3, 20, 130)]
    ours = Predictor(ckpt)(images)
    for (m, s), r in zip(onnx.predict_images(images), ours):
        assert m.shape == r.map.shape and np.abs(m - r.map).max() < 1e-3 * max(1., np.abs(r.map).max())
        assert s == pytest.approx(r.score, rel=1e-3, abs=1e-4)


def test_blending_is_exact_for_a_position_free_model():
    g = Geometry('tiles', 32, overlap=0.4)
    items = [torch.rand(3, h, w) for h, w in ((32, 32), (20, 77), (101, 45))]
    for item, m in blended_maps(lambda x: x[:, 1], items, g, batch_size=5):
        assert torch.allclose(m, item['image'][1], atol=1e-6)


def test_metrics_at_the_original_size(runs, parts):
    "The same pixel grid for every geometry: maps resized to each image's own size, masks as drawn."
    from hlgfa_nb.evaluate import _at_original
    ds = MVTecDataset(parts, 'test', size=64)
    for i, defective in ((2, False), (4, True)):                      # a good image, then a scratch
        m, mask = _at_original(ds, i, torch.rand(64, 64))
        assert m.shape == mask.shape == (H, W) and bool(mask.any()) == defective
    for kind in ('squash', 'tiles'):
        r = evaluate(runs[kind], examples=1, progress=False, original=True).categories['rail']
        assert np.isfinite(r.metrics['AUC-P']) and r.examples[0]['map'].shape == r.examples[0]['image'].shape[-2:]
