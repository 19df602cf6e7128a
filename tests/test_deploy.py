"Deployment (14_deploy): held-out calibration, normalised scores, Predictor on any size, predict_files, ONNX parity, CLI."
import csv, json

import numpy as np
import pytest
import torch
from PIL import Image

from hlgfa_nb.cli import main
from hlgfa_nb.data import MVTecDataset, find_images
from hlgfa_nb.deploy import Predictor, export_onnx, predict_files
from hlgfa_nb.runs import Thresholds, normalise, load_checkpoint
from hlgfa_nb.train import calibrate_run, holdout_split
from hlgfa_nb.evaluate import evaluate


def test_holdout_split_is_seeded_per_category_and_keeps_some(synth):
    samples = MVTecDataset(synth, 'train').samples
    kept, held = holdout_split(samples, 0.34, seed=0)
    assert len(held) == 4 and {s.category for s in held} == {'washer', 'weave'} and not set(kept) & set(held)
    assert holdout_split(samples, 0.34, seed=0) == (kept, held) != holdout_split(samples, 0.34, seed=1)
    assert holdout_split(samples, 0., seed=0) == (samples, [])
    with pytest.raises(ValueError, match='leaves no training image of category washer'): holdout_split(samples, 0.95, 0)


def test_fit_calibrates_on_the_held_out_images(run):
    s = load_checkpoint(run)
    th = Thresholds(**s['calibration'])
    assert len(s['held_out']) == 4 and s['n_train'] == 8 and th.n_images == 4 and th.method == 'fpr'
    assert th.image_normal <= th.image and th.pixel_normal <= th.pixel and 'held out' in th.source


def test_normalise_is_monotone_with_threshold_at_half():
    x = np.linspace(-3, 9, 101)
    y = normalise(x, 1., 3.)
    assert (np.diff(y) >= 0).all() and y.min() == 0 and y.max() == 1
    assert normalise(3., 1., 3.) == 0.5 and normalise(1., 1., 3.) == 0
    assert torch.equal(normalise(torch.tensor([1., 3.]), 1., 3.), torch.tensor([0., 0.5]))


def test_predictor_any_size_and_bad_tensors(run, synth):
    pred = Predictor(run)
    img = MVTecDataset(synth, 'test', size=64)[0]['image']
    res = pred([img, torch.rand(3, 40, 100), img[:, :, :30]])
    assert [r.map.shape for r in res] == [(64, 64), (40, 100), (64, 30)] and all(r.mask.shape == r.map.shape for r in res)
    assert all(0 <= r.normalised <= 1 and r.defect == (r.score >= pred.thresholds.image) for r in res)
    assert pred([str(MVTecDataset(synth, 'test').samples[0].path)])[0].map.shape == (64, 64)   # a path, read by chapter 00
    for bad, text in [(torch.full((3, 8, 8), float('inf')), 'NaN or infinite'), (torch.rand(3, 8, 8) + 1, r'not \[0, 1\]'),
                      (torch.randint(0, 255, (3, 8, 8), dtype=torch.uint8), 'divide by 255'), (torch.rand(1, 8, 8), '3×H×W')]:
        with pytest.raises(ValueError, match=text): pred([bad])


def test_uncalibrated_checkpoint_is_refused(run, tmp_path):
    s = load_checkpoint(run); del s['calibration']
    torch.save(s, tmp_path/'c.pt')
    with pytest.raises(ValueError, match='has no thresholds: run `hlgfa calibrate'): Predictor(tmp_path/'c.pt')


def test_predict_files_folders_globs_unreadable(run, synth, tmp_path):
    src = tmp_path/'in'; (src/'deep').mkdir(parents=True)
    paths = [s.path for s in MVTecDataset(synth, 'test').samples[:5]]
    for i, p in enumerate(paths): Image.open(p).save(src/'deep'/f'{i}.png')
    (src/'bad.png').write_bytes(b'\x89PNG broken')
    Image.fromarray(np.full((30, 90), 0.5, np.float32)).save(src/'float.tif')              # float gray: read by its rules
    s = predict_files(Predictor(run), [src, str(src/'deep'/'*.png')], tmp_path/'out', batch_size=2, progress=False)
    assert s['images'] == 6 and [u['image'] for u in s['unreadable']] == [str(src/'bad.png')]
    rows = list(csv.DictReader(open(tmp_path/'out'/'predictions.csv')))
    assert len(rows) == 7 and {r['decision'] for r in rows} <= {'good', 'defect', ''}
    assert json.loads((tmp_path/'out'/'predictions.json').read_text())['summary']['images'] == 6
    masks = sorted((tmp_path/'out'/'maps').glob('*_mask.png'))
    assert len(masks) == 6 and Image.open(next(m for m in masks if 'float' in m.name)).size == (90, 30)
    with pytest.raises(FileExistsError, match='is not empty'): predict_files(Predictor(run), src, tmp_path/'out')
    with pytest.raises(FileNotFoundError, match='no image found'): find_images([tmp_path/'nothing*.png'])


def test_calibrate_from_a_folder_and_from_a_labelled_set(run, synth, tmp_path):
    normal = [str(s.path) for s in MVTecDataset(synth, 'train').samples]
    th = calibrate_run(run, normal, target_fpr=0.5, progress=False)
    assert th.n_images == 12 and th.target_fpr == 0.5
    assert th.image <= calibrate_run(run, normal, target_fpr=0.01, progress=False).image
    (tmp_path/'bad.png').write_bytes(b'not an image')
    with pytest.raises(ValueError, match='calibration image unreadable: cannot read image'):
        calibrate_run(run, normal + [str(tmp_path/'bad.png')], progress=False)   # never calibrated on a blank
    f1 = calibrate_run(run, labelled=synth, progress=False)
    assert f1.method == 'f1' and load_checkpoint(run)['calibration']['method'] == 'f1'
    calibrate_run(run, progress=False)                                           # back to the held-out images


def test_eval_reports_decisions_at_the_stored_thresholds(run, synth):
    res = evaluate(run, synth, examples=0, progress=False)
    at = res.categories['weave'].at_threshold
    assert set(at) == {'image', 'pixel', 'good_pixels', 'target_fpr'} and at['target_fpr'] == 0.005 and set(at['image']) == {'precision', 'recall', 'F1', 'FPR'}
    assert 0 <= at['image']['FPR'] <= 1 and '**At the stored thresholds**' in res.to_markdown()


def onnx_images(synth, dev_tiles):
    "Real images when the magnetic-tile dev set is in the data home, else the synthetic ones."
    root = dev_tiles or synth
    ds = MVTecDataset(root, 'test', size=64)
    return torch.stack([ds[i]['image'] for i in range(0, len(ds), max(1, len(ds) // 2))][:2])


def test_cli_predict_calibrate_export(run, synth, tmp_path, capsys):
    assert main(['predict', '--checkpoint', str(run.parent), str(synth/'weave'/'test'), '--out', str(tmp_path/'p'),
                 '--no-maps']) == 0
    out = capsys.readouterr().out
    assert '11 images' in out and 'flagged as defective' in out and not list((tmp_path/'p'/'maps').glob('*.png'))
    assert main(['calibrate', '--checkpoint', str(run), '--target-fpr', '0.1']) == 0
    assert 'target FPR 10.00%' in capsys.readouterr().out
    assert main(['export', '--checkpoint', str(run), '--out', str(tmp_path/'m.onnx')]) == 0
    assert (tmp_path/'m.onnx').is_file() and (tmp_path/'m.onnx.json').is_file()
    calibrate_run(run, progress=False)


def test_a_failed_openvino_conversion_leaves_the_onnx_export_whole(run, tmp_path, monkeypatch):
    import hlgfa_nb.deploy as D
    monkeypatch.setattr(D, '_to_openvino', lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError): export_onnx(run, tmp_path/'d.onnx', openvino=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['d.onnx', 'd.onnx.json']
    with pytest.raises(ValueError, match='name the ONNX file'): export_onnx(run, tmp_path/'d.xml', openvino=True)
