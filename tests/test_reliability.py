"""A hostile or careless user, case by case: each bad input ends in a one-line error naming the file or flag, a warning,
or the right numbers; never a traceback, a hang, a NaN model or a lost file."""
import os, shutil

import numpy as np
import pytest
import torch
from PIL import Image

from hlgfa_nb import cli
from hlgfa_nb.cli import main
from hlgfa_nb.data import MVTecDataset, mask_pixels, read_image, find_images
from hlgfa_nb.deploy import Predictor, predict_files
from hlgfa_nb.train import calibrate, calibrate_run, fit
from hlgfa_nb.evaluate import evaluate
from hlgfa_nb.runs import Run, load_checkpoint, preset, save_checkpoint
from hlgfa_nb.geometry import Geometry


def cli_error(argv, capsys) -> str:
    "The one line `hlgfa argv` prints on stderr, after checking it exits with status 2."
    try: code = main(argv)
    except SystemExit as e: code = e.code                      # argparse refuses a flag this way
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err and 'Traceback' not in '\n'.join(err), (code, err)
    return err[-1]


def copy_run(run, tmp_path):
    "A copy of the shared run's checkpoint, to damage or change freely."
    shutil.copy(run, tmp_path/'checkpoint.pt')
    return tmp_path/'checkpoint.pt'


# --- a model that cannot be trusted is never stored or used ---

@pytest.mark.parametrize('flag,value', [('--typicality', 'inf'), ('--lr', 'inf'), ('--lr', '1e38'), ('--lr', 'nan'), ('--tile-scale', 'inf'),
                                        ('--seed', '-1'), ('--epochs', '0'), ('--holdout', '1'), ('--target-fpr', 'nan')])
def test_flags_out_of_range_are_named(flag, value, synth, tmp_path, capsys):
    err = cli_error(['train', '--data', str(synth), '--out', str(tmp_path/'r'), flag, value], capsys)
    assert f"argument {flag}: {value!r}: must be" in err and not (tmp_path/'r').exists()


def test_an_unknown_statistics_kind_is_named(synth, tmp_path, capsys):
    err = cli_error(['train', '--data', str(synth), '--out', str(tmp_path/'r'), '--statistics', 'mixture'], capsys)
    assert "argument --statistics: 'mixture': choose one of gaussian, memory" in err and not (tmp_path/'r').exists()


@pytest.mark.parametrize('fields,text', [({'lr': float('inf')}, 'lr_min ≤ lr ≤ 1'), ({'lr': 1e38}, 'lr_min ≤ lr ≤ 1'),
                                         ({'score.typicality': float('inf')}, 'typicality must be finite'),
                                         ({'stages': ()}, 'at least one'), ({'stages': (2, 1)}, 'increasing'),
                                         ({'image_size': 64, 'score.margin': 40}, 'margin=40 leaves nothing'),
                                         ({'seed': -1}, 'Config.seed=-1')])
def test_config_refuses_what_cannot_train(fields, text):
    with pytest.raises(ValueError, match=text): preset('cpu', **fields)


def test_a_diverged_run_is_not_calibrated_and_never_predicts(synth, run, tmp_path, monkeypatch):
    from hlgfa_nb.train import Trainer
    step = Trainer.train_step
    def diverging(self, *a, **k):                                  # the last step sends the weights to NaN
        out = step(self, *a, **k)
        for p in self.module.parameters(): p.data.fill_(float('nan'))
        return out
    monkeypatch.setattr(Trainer, 'train_step', diverging)
    with pytest.raises(FloatingPointError, match='training ended with NaN or infinite weights'):
        fit(preset('cpu', synth, image_size=64, epochs=1, batch_size=8, categories=['weave']), tmp_path/'r', progress=False)
    monkeypatch.undo()
    assert 'calibration' not in load_checkpoint(tmp_path/'r'/'checkpoint.pt')
    state = load_checkpoint(run)
    bad = copy_run(run, tmp_path)
    save_checkpoint({**state, 'calibration': {**state['calibration'], 'image': float('nan')}}, bad)
    with pytest.raises(ValueError, match='non-finite thresholds'): Predictor(bad)
    det = Run.open(run).detector
    for p in det.module.parameters(): p.data.fill_(float('nan'))
    normal = MVTecDataset(synth, 'train', 'weave', 64)
    with pytest.raises(FloatingPointError, match='NaN or infinite values on the calibration images'):
        calibrate(det, [normal[i] for i in range(2)], progress=False)


def test_target_fpr_zero_is_refused_not_replaced(run):
    with pytest.raises(ValueError, match=r'target_fpr=0: a false-positive rate in \(0, 1\)'):
        calibrate_run(run, target_fpr=0, progress=False)


# --- files are read by the rules, or refused by name ---

def test_mask_with_alpha_or_palette_is_read_by_what_it_shows():
    gray = np.zeros((8, 8), np.uint8); gray[2:4, 2:4] = 255
    la = Image.fromarray(np.stack([gray, np.full_like(gray, 255)], 2), 'LA')     # opaque alpha everywhere
    assert mask_pixels(la).sum() == 4
    pal = Image.fromarray(np.where(gray > 0, 0, 1).astype(np.uint8), 'P')     # index 0 drawn white, 1 black
    pal.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    assert mask_pixels(pal).sum() == 4


def test_images_over_the_pixel_limit_are_unreadable_not_fatal(run, tmp_path, monkeypatch):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path/'big.png')
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path/'small.png')
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 1000)
    with pytest.raises(ValueError, match=f"image {tmp_path/'big.png'} is larger than 0 Mpx"): read_image(tmp_path/'big.png')
    s = predict_files(Predictor(run), tmp_path, tmp_path/'out', progress=False)
    assert s['images'] == 1 and 'larger than' in s['unreadable'][0]['error']


def test_exif_orientation_is_named(tmp_path):
    im = Image.fromarray(np.zeros((20, 10, 3), np.uint8))
    exif = im.getexif(); exif[0x0112] = 6
    im.save(tmp_path/'phone.jpg', exif=exif)
    with pytest.warns(UserWarning, match='EXIF orientation tag: it is read as stored'):
        assert read_image(tmp_path/'phone.jpg').shape == (20, 10, 3)


def test_degenerate_images_are_refused_up_front(synth, run, tmp_path):
    data = tmp_path/'data'; shutil.copytree(synth/'weave', data/'weave')
    Image.fromarray(np.zeros((10, 1000, 3), np.uint8)).save(data/'weave'/'train'/'good'/'thin.png')   # 100 : 1
    with pytest.raises(ValueError, match=r"thin.png is 1000×10 px, which becomes 64×1 px"):
        fit(preset('cpu', data, image_size=64, epochs=1, geometry='keep_aspect'), tmp_path/'r1', progress=False)
    (data/'weave'/'train'/'good'/'thin.png').unlink()
    with pytest.raises(ValueError, match=r"is 64×64 px, which becomes 1×1 px"):
        fit(preset('cpu', data, image_size=64, epochs=1, geometry='tiles', tile_scale=0.01), tmp_path/'r2', progress=False)
    assert not (tmp_path/'r1').exists() and not (tmp_path/'r2').exists()
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path/'dot.png')
    with pytest.raises(ValueError, match='dot.png is 1×1 px: too small'): Predictor(run)(str(tmp_path/'dot.png'))


def test_one_resizer_for_files_and_tensors(run, tmp_path):
    "A large image scores the same read from its file as handed over as a tensor (what the ONNX path resizes)."
    rng = np.random.default_rng(0)
    big = (np.kron(rng.random((60, 90, 3)), np.ones((10, 10, 1))) * 255).astype(np.uint8)    # 600×900, blocky
    Image.fromarray(big).save(tmp_path/'big.png')
    pred = Predictor(run)
    from_file = pred(str(tmp_path/'big.png'))[0].score
    from_tensor = pred([torch.from_numpy(big).permute(2, 0, 1).float() / 255])[0].score
    assert from_tensor == pytest.approx(from_file, rel=2e-3)
    g = Geometry('squash', 64)
    x = g.resize(torch.from_numpy(big).permute(2, 0, 1).float() / 255)
    assert (x.permute(1, 2, 0).numpy() - read_image(tmp_path/'big.png', g)).__abs__().max() <= 1 / 255 + 1e-6


# --- searches end, and count each file once ---

@pytest.mark.skipif(os.name == 'nt', reason='POSIX links, pipes and /dev/full')
def test_globs_and_folders_through_symlink_loops(tmp_path):
    src = tmp_path/'in'; (src/'a').mkdir(parents=True)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(src/'a'/'x.png')
    os.symlink('..', src/'a'/'up'); os.symlink(str(src), src/'a'/'again')       # two loops
    os.symlink(str(src/'a'/'x.png'), src/'link.png')                              # the same file twice
    os.symlink(str(src/'gone.png'), src/'broken.png')                             # a link whose target is gone
    assert find_images([str(src/'**'/'*.png')]) == find_images(src) == find_images([src, str(src/'**'/'*.png')])
    assert sorted(p.name for p in find_images(src)) == ['broken.png', 'x.png']


@pytest.mark.skipif(os.name == 'nt', reason='POSIX links, pipes and /dev/full')
def test_a_pipe_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path/'pipe.png')
    with pytest.raises(ValueError, match='pipe.png is not a regular file'): find_images(tmp_path/'pipe.png')
    with pytest.raises(ValueError, match='not a regular file'): read_image(tmp_path/'pipe.png')


@pytest.mark.skipif(os.name == 'nt', reason='POSIX links, pipes and /dev/full')
def test_broken_link_is_listed_as_unreadable(run, tmp_path):
    (tmp_path/'in').mkdir(); Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path/'in'/'ok.png')
    os.symlink(str(tmp_path/'gone.png'), tmp_path/'in'/'broken.png')
    s = predict_files(Predictor(run), tmp_path/'in', tmp_path/'out', maps=False, progress=False)
    assert s['images'] == 1 and [u['image'] for u in s['unreadable']] == [str(tmp_path/'in'/'broken.png')]
    assert not (tmp_path/'out'/'maps').exists()                                   # --no-maps makes no maps/


def test_a_failed_predict_leaves_its_folder_as_it_was(run, tmp_path, monkeypatch):
    (tmp_path/'in').mkdir(); Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path/'in'/'ok.png')
    pred = Predictor(run)
    monkeypatch.setattr(pred, 'results', lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError): predict_files(pred, tmp_path/'in', tmp_path/'new', progress=False)
    assert not (tmp_path/'new').exists()                                          # it was not there
    (tmp_path/'out').mkdir()
    with pytest.raises(ZeroDivisionError): predict_files(pred, tmp_path/'in', tmp_path/'out', progress=False)
    assert not any((tmp_path/'out').iterdir())                                    # it was empty
    monkeypatch.undo()
    assert predict_files(Predictor(run), tmp_path/'in', tmp_path/'out', progress=False)['images'] == 1   # no --force


# --- nothing a user wrote is replaced, no run is lost ---

def test_evaluation_never_replaces_a_users_files(run, synth, tmp_path):
    for name in ('metrics_per_type.csv', 'examples_weave.png'):
        out = tmp_path/name; out.mkdir(); (out/name).write_text('mine')
        with pytest.raises(FileExistsError, match=name): evaluate(run, synth, out_dir=out, progress=False)
        assert (out/name).read_text() == 'mine'
    shutil.copytree(synth/'weave'/'train', tmp_path/'no_test'/'weave'/'train')
    with pytest.raises(ValueError, match='no category could be evaluated'):
        evaluate(run, tmp_path/'no_test', out_dir=tmp_path/'e', progress=False)
    assert not (tmp_path/'e').exists()                                            # a failed evaluation leaves no folder


def test_demo_and_export_and_reproduce_refuse_to_replace(run, synth, tmp_path, capsys):
    (tmp_path/'d').mkdir(); (tmp_path/'d'/'metrics_untrained.md').write_text('mine')
    assert 'metrics_untrained.md' in cli_error(['demo', '--out', str(tmp_path/'d'), '--epochs', '1'], capsys)
    assert (tmp_path/'d'/'metrics_untrained.md').read_text() == 'mine' and not (tmp_path/'d'/'run').exists()
    (tmp_path/'m.onnx.json').write_text('mine')
    assert 'm.onnx.json exists' in cli_error(['export', '--checkpoint', str(run), '--out', str(tmp_path/'m.onnx')], capsys)
    assert "argument --batch-size: '0'" in cli_error(['export', '--checkpoint', str(run), '--batch-size', '0'], capsys)
    (tmp_path/'rep').mkdir(); (tmp_path/'rep'/'reproduction.md').write_text('mine')
    assert 'is not a new or empty folder' in cli_error(['reproduce', '--data', str(synth), '--out', str(tmp_path/'rep')], capsys)


@pytest.mark.skipif(os.name == 'nt', reason='POSIX file locks')
def test_a_second_run_into_the_same_folder_is_refused(synth, tmp_path):
    import fcntl
    cfg = preset('cpu', synth, image_size=64, epochs=1, batch_size=4, categories=['weave'])
    out = tmp_path/'r'; out.mkdir()
    with open(out/'.hlgfa.lock', 'a+') as other:                                  # another run holds the folder
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        other.write('process 1 on elsewhere'); other.flush()
        with pytest.raises(FileExistsError, match=r'is being written by another run \(process 1 on elsewhere\)'):
            fit(cfg, out, progress=False)
        assert not (out/'checkpoint.pt').exists()
    ckpt = fit(cfg, out, progress=False)                                            # released (or left by a killed run)
    with open(out/'.hlgfa.lock', 'a+') as other:                                  # calibrating writes the run too
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(FileExistsError, match='being written by another run'): calibrate_run(ckpt, progress=False)


def test_one_damaged_category_checkpoint_stops_only_itself(run, synth, tmp_path, capsys):
    per = tmp_path/'per'
    for c in ('washer', 'weave'): (per/c).mkdir(parents=True); shutil.copy(run, per/c/'checkpoint.pt')
    (per/'weave'/'checkpoint.pt').write_bytes(b'damaged')
    with pytest.warns(UserWarning, match='category weave not evaluated'):
        assert main(['eval', '--checkpoint', str(per), '--data', str(synth), '--out', str(tmp_path/'e1'), '--examples', '0']) == 1
    assert '| washer |' in capsys.readouterr().out
    assert main(['eval', '--checkpoint', str(per), '--data', str(synth), '--out', str(tmp_path/'e2'), '--examples', '0',
                 '--categories', 'washer']) == 0


@pytest.mark.skipif(os.name == 'nt', reason='POSIX links, pipes and /dev/full')
def test_disk_full_is_said_so(run, tmp_path, monkeypatch):
    real = torch.save
    monkeypatch.setattr(torch, 'save', lambda obj, f: real(obj, '/dev/full'))
    with pytest.raises(OSError, match=f"cannot write checkpoint {tmp_path/'c.pt'}: the disk is full"):
        save_checkpoint(load_checkpoint(run), tmp_path/'c.pt')
    assert not list(tmp_path.iterdir())                                           # no half-written file


def test_interrupt_while_starting_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(cli, '_parser', lambda: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(['eval', '--checkpoint', 'x']) == 130
    assert capsys.readouterr().err == 'hlgfa: interrupted.\n'


# --- the thresholds say what they can promise, and the evaluation what they kept ---

def test_too_few_normal_images_for_the_target_are_named(run, synth, tmp_path):
    normal = [str(s.path) for s in MVTecDataset(synth, 'train', 'weave').samples]
    with pytest.warns(UserWarning, match=r"6 normal images cannot set an image threshold for a false-positive rate of "
                                         r"0.50%: .* 14.3% .* at least 199"):
        calibrate_run(copy_run(run, tmp_path), normal, progress=False)


def test_evaluation_reports_the_promised_rate_beside_its_target(run, synth):
    res = evaluate(run, synth, examples=0, progress=False)
    at = res.categories['washer'].at_threshold
    good = [i for i, s in enumerate(res.categories['washer'].samples) if s.label == 0]
    flagged = [r.mask.mean() for r in Predictor(run)([str(res.categories['washer'].samples[i].path) for i in good])]
    assert at['good_pixels']['FPR'] == pytest.approx(np.mean(flagged)) and at['target_fpr'] == 0.005
    assert '| FPR (P, good images) | target FPR |' in res.to_markdown()
