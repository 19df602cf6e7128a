"Evaluation (09_evaluate): streamed metrics = all-at-once metrics, Table 3 files and layout, figures, per-category models."
import csv

import numpy as np
import pytest
import torch

from hlgfa_nb.data import MVTecDataset
from hlgfa_nb.metrics import METRIC_NAMES, MetricsConfig, compute_metrics
from hlgfa_nb.evaluate import (CategoryResult, EvalResult, evaluate, evaluate_category, evaluate_detector,
                               load_detector, pick_examples, plot_examples, untrained_detector)
from hlgfa_nb.train import fit, fit_per_category, preset


@pytest.fixture(scope='module')
def ckpt(synth, tmp_path_factory):
    return fit(preset('cpu', synth, image_size=64, epochs=1, batch_size=4), tmp_path_factory.mktemp('run'), progress=False)


def test_streamed_equals_all_at_once(ckpt, synth):
    det = load_detector(ckpt)
    test = MVTecDataset(synth, 'test', 'washer', size=64)
    r = evaluate_category(det, test, batch_size=3, progress=False)          # 11 images in batches of 3
    batch = torch.utils.data.default_collate([test[i] for i in range(len(test))])
    pred = det.predict(batch['image'])
    maps, scores = pred.maps.cpu(), pred.scores.cpu()      # on the detector's device (a GPU where there is one)
    ref = compute_metrics(scores, batch['label'], maps, batch['mask'][:, 0])
    for k in METRIC_NAMES: assert r.metrics[k] == pytest.approx(ref[k], abs=1e-6)
    assert np.allclose(r.scores, scores.numpy(), rtol=1e-5)
    assert r.map_range == pytest.approx((float(maps.min()), float(maps.max())), rel=1e-5)
    binned = evaluate_category(det, test, 4, metrics_cfg=MetricsConfig(bins=4096, score_range=r.map_range), progress=False)
    assert binned.metrics['AUC-P'] == pytest.approx(r.metrics['AUC-P'], abs=2e-3)


def test_report_files(ckpt, tmp_path):
    res = evaluate(ckpt, out_dir=tmp_path, examples=2, progress=False)
    assert sorted(res.categories) == ['washer', 'weave']
    names = {p.name for p in tmp_path.iterdir()}
    assert {'metrics.csv', 'metrics.md', 'scores.csv', 'examples_washer.png', 'examples_weave.png'} <= names
    rows = list(csv.DictReader(open(tmp_path/'metrics.csv')))
    assert [r['category'] for r in rows] == ['washer', 'weave', 'Average']
    for k in ('AUC-I', 'AUC-P', 'PRO'):
        assert float(rows[-1][k]) == pytest.approx(100 * np.mean([res.categories[c].metrics[k] for c in res.categories]), abs=1e-3)
    md = (tmp_path/'metrics.md').read_text()
    assert '| Category | AUC-I | AP-I | F1-I | AUC-P | AP-P | PRO-P | F1-P |' in md and '**Average**' in md
    assert 'tf_efficientnet_lite2, weights imagenet' in md
    assert len(list(csv.DictReader(open(tmp_path/'scores.csv')))) == 2 * 11
    with pytest.raises(FileExistsError, match='already holds an evaluation'): evaluate(ckpt, out_dir=tmp_path)
    (tmp_path/'file').write_text('x')
    with pytest.raises(FileExistsError, match='is a file'): evaluate(ckpt, out_dir=tmp_path/'file')   # before any work


def test_table3_grouping():
    fake = lambda c: CategoryResult(c, {k: 0.5 for k in METRIC_NAMES}, np.zeros(0), [], [], (0., 1.))
    res = EvalResult({c: fake(c) for c in ('zipper', 'wood', 'bottle', 'carpet', 'tiles')})
    assert [c for _, c, _ in res.rows()] == ['carpet', 'wood', 'bottle', 'zipper', 'tiles', 'Average']
    lines = res.to_markdown().splitlines()
    assert lines[0].startswith('|  | Category') and lines[2].startswith('| Textures | carpet')
    assert lines[3].startswith('|  | wood') and lines[4].startswith('| Objects | bottle')


def test_examples_and_figure(ckpt, synth):
    test = MVTecDataset(synth, 'test', 'weave', size=64)
    idx = pick_examples(test, 5)
    assert len(idx) == 5 and all(test.samples[i].label for i in idx)
    assert len({test.samples[i].defect for i in idx[:4]}) == 4                 # defect types taken in turn
    r = evaluate_category(load_detector(ckpt), test, 4, examples=idx[:2], progress=False)
    assert [e['index'] for e in r.examples] == idx[:2]
    fig = plot_examples(r)
    assert len(fig.axes) == 2 * 4


def test_untrained_detector_and_per_category(synth, tmp_path):
    cfg = preset('cpu', synth, image_size=64, epochs=1, batch_size=4)
    base = evaluate_detector(untrained_detector(cfg), synth, size=64, examples=0, progress=False)
    assert set(base.categories) == {'washer', 'weave'} and all(0 <= v <= 1 for v in base.mean.values())
    per = fit_per_category(cfg, tmp_path, progress=False)
    res = evaluate(per, examples=0, progress=False)
    assert sorted(res.categories) == ['washer', 'weave']
    with pytest.raises(ValueError, match='no checkpoint for categories'):
        evaluate({'weave': per['weave']}, categories='washer', progress=False)
