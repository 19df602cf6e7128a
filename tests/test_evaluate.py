"Evaluation (09_evaluate): Table 3 files and layout, figures, per-category models (the streaming check is the chapter's)."
import csv

import numpy as np
import pytest

from hlgfa_nb.data import MVTecDataset
from hlgfa_nb.evaluate import evaluate, evaluate_category, evaluate_detector, pick_examples, plot_examples
from hlgfa_nb.runs import Run, detector_of, preset
from hlgfa_nb.train import fit, fit_per_category


@pytest.fixture(scope='module')
def ckpt(synth, tmp_path_factory):
    return fit(preset('cpu', synth, image_size=64, epochs=1, batch_size=4), tmp_path_factory.mktemp('run'), progress=False)


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


def test_examples_and_figure(ckpt, synth):
    test = MVTecDataset(synth, 'test', 'weave', size=64)
    idx = pick_examples(test, 5)
    assert len(idx) == 5 and all(test.samples[i].label for i in idx)
    assert len({test.samples[i].defect for i in idx[:4]}) == 4                 # defect types taken in turn
    r = evaluate_category(Run.open(ckpt).detector, test, 4, examples=idx[:2], progress=False)
    assert [e['index'] for e in r.examples] == idx[:2]
    fig = plot_examples(r)
    assert len(fig.axes) == 2 * 4 + 2                                          # and a colour bar per row


def test_untrained_detector_and_per_category(synth, tmp_path):
    cfg = preset('cpu', synth, image_size=64, epochs=1, batch_size=4)
    base = evaluate_detector(detector_of(cfg), synth, examples=0, progress=False)
    assert set(base.categories) == {'washer', 'weave'} and all(0 <= v <= 1 for v in base.mean.values())
    per = fit_per_category(cfg, tmp_path, progress=False)
    res = evaluate(per, examples=0, progress=False)
    assert sorted(res.categories) == ['washer', 'weave']
    with pytest.raises(ValueError, match='no checkpoint for categories'):
        evaluate({'weave': per['weave']}, categories='washer', progress=False)


def test_markdown_table_formats_every_float_alike():
    from hlgfa_nb.evaluate import markdown_table
    table = markdown_table([{'a': np.float32(97.125), 'b': float('nan'), 'c': None, 'd': 3, 'e': 'x'}], digits=1)
    assert table.splitlines()[-1] == '| 97.1 | n/a | – | 3 | x |'
