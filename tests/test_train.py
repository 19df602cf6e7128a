"Training (08b_train): config round trip, data order, reproducibility, resume, NaN stop, checkpoints, DDP = 1 process."
import json
from dataclasses import replace

import pytest
import torch

import hlgfa_nb.train as T
from hlgfa_nb.losses import LossConfig
from hlgfa_nb.runs import (Config, Run, build_backbone, config_from_dict, config_to_dict, load_checkpoint, load_config,
                           preset, save_config)
from hlgfa_nb.train import FeatureCache, epoch_batches, fit, fit_multiprocess, rank_share


@pytest.fixture(scope='module')
def cfg(synth):
    return preset('cpu', synth, categories='weave', image_size=64, epochs=2, batch_size=2)


@pytest.fixture(scope='module')
def run(cfg, tmp_path_factory):
    "A finished 2-epoch run (6 images, batch 2: 6 steps) and its checkpoint."
    return fit(cfg, tmp_path_factory.mktemp('run'), progress=False)


def module_weights(path):
    return load_checkpoint(path)['module']


def identical(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_config_round_trip(tmp_path):
    cfg = Config(root='/x', categories=['a', 'b'], loss=LossConfig.preset('cos'))
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg
    assert cfg.categories == ('a', 'b')
    save_config(cfg, tmp_path/'c.json')
    assert load_config(tmp_path/'c.json') == cfg
    with pytest.raises(ValueError, match=r"unknown fields \['lr_max'\]"): config_from_dict({'lr_max': 1})
    with pytest.raises(ValueError, match='model has unknown fields'): config_from_dict({'model': {'nope': 1}})
    with pytest.raises(ValueError, match='lr_min'): Config(lr_min=1.)


def test_paper_defaults():
    c = Config()
    assert (c.backbone, c.weights, c.image_size, c.epochs, c.batch_size, c.lr, c.lr_min, c.augment) == \
           ('wide_resnet50_2', 'imagenet', 640, 100, 32, 1e-3, 1e-4, True)


def test_epoch_batches_partition_and_shares():
    for epoch in range(3):
        b = epoch_batches(11, 4, seed=3, epoch=epoch, world=2)
        assert sorted(torch.cat(b).tolist()) == list(range(11))          # last batch of 3 kept (≥ 2 processes)
        for x in b: assert torch.equal(torch.cat([rank_share(x, r, 2) for r in range(2)]), x)
    assert len(epoch_batches(9, 4, 0, 0, world=2)) == 2                   # a last batch of 1 cannot be shared by 2


def test_checkpoint_contents(cfg, run):
    s = load_checkpoint(run)
    assert {'module', 'optimizer', 'scheduler', 'config', 'version', 'backbone', 'step', 'epoch', 'rng'} <= set(s)
    assert s['backbone']['name'] == 'tf_efficientnet_lite2' and s['step'] == s['total_steps'] == 6 and s['epoch'] == 2
    assert config_from_dict(s['config']) == cfg
    assert (run.parent/'config.json').is_file() and len(json.loads((run.parent/'history.json').read_text())) == 2
    assert identical(Run.open(run).detector.module.state_dict(), s['module'])


def test_padding_is_saved_and_restored(cfg, tmp_path):
    "The backbone's padding is part of the config: a checkpoint rebuilds the backbone it was trained with."
    p = fit(replace(cfg, padding='reflect', epochs=1, image_size=128), tmp_path, progress=False)
    r = Run.open(p)
    assert r.cfg.padding == 'reflect' == r.detector.backbone.padding
    with pytest.raises(ValueError, match='Config.padding'): replace(cfg, padding='same')


def test_feature_cache_matches_backbone(cfg, synth, tmp_path):
    from hlgfa_nb.data import MVTecDataset
    bb = build_backbone(cfg)
    ds = MVTecDataset(synth, 'train', 'weave', size=64)
    ram, disk = FeatureCache(bb, ds, 0.5, 4, progress=False), FeatureCache(bb, ds, 0.5, 4, folder=tmp_path/'c', progress=False)
    fh, fl = T.backbone_features(bb, torch.stack([ds[i]['image'] for i in (4, 1)]), 0.5)
    for cache in (ram, disk):
        ch, cl = cache[torch.tensor([4, 1])]
        for a, b in zip(ch + cl, fh + fl): assert torch.allclose(a, b, rtol=2e-3, atol=2e-3 * float(b.abs().max()))
    disk.close()
    assert not (tmp_path/'c').exists()


def test_uncached_run_never_builds_a_cache_and_matches_cached(cfg, tmp_path, monkeypatch):
    "feature_cache='off' runs the backbone every step; the run agrees with a cached one up to float16 rounding."
    cached = load_checkpoint(fit(replace(cfg, feature_cache='ram'), tmp_path/'ram', progress=False))
    def no_cache(*a, **k): raise AssertionError("feature_cache='off' built a feature cache")
    monkeypatch.setattr(T, 'FeatureCache', no_cache)
    uncached = load_checkpoint(fit(replace(cfg, feature_cache='off'), tmp_path/'off', progress=False))
    loss = lambda s: torch.tensor([h['total'] for h in s['history']])
    assert torch.allclose(loss(cached), loss(uncached), rtol=1e-3)
    # Adam moves every weight by about lr per step whatever its gradient, so a float16-rounded gradient near zero can
    # flip a step's sign: a few weights may differ by up to 2·lr·steps, almost all agree closely
    for k, v in cached['module'].items():
        assert ((v - uncached['module'][k]).abs() > 1e-3).float().mean() < 0.01, k


def test_augmented_and_uncached_runs(cfg, tmp_path):
    p = fit(replace(cfg, augment=True, epochs=1), tmp_path/'aug', progress=False)
    assert load_checkpoint(p)['step'] == 3
    with pytest.raises(ValueError, match='cannot be cached'):
        fit(replace(cfg, augment=True, feature_cache='ram'), tmp_path/'bad')


def test_category_agnostic_with_head(synth, tmp_path):
    c = preset('cpu', synth, image_size=64, epochs=1, batch_size=4, loss=LossConfig(cls=0.1))
    s = load_checkpoint(fit(c, tmp_path, progress=False))
    assert s['categories'] == ['washer', 'weave'] and s['head'] is not None and 'cls' in s['history'][0]


KILLED = r'''
import json, os, signal, sys, torch
from hlgfa_nb import train as T
from hlgfa_nb.runs import config_from_dict
cfg, out, where = config_from_dict(json.loads(sys.argv[1])), sys.argv[2], sys.argv[3]
if where == 'step':                       # killed inside the first step of epoch 2 (the epoch-1 checkpoint is written)
    step = T.Trainer.train_step
    def dying(self, *a, **k):
        if self.step == 3: os.kill(os.getpid(), signal.SIGKILL)
        return step(self, *a, **k)
    T.Trainer.train_step = dying
else:                                     # killed while writing the second checkpoint, half of it on disk
    save, calls = torch.save, []
    def dying(obj, f, *a, **k):
        calls.append(f)
        if len(calls) == 2:
            with open(f, 'wb') as h: h.write(b'half a checkpoint')
            os.kill(os.getpid(), signal.SIGKILL)
        return save(obj, f, *a, **k)
    torch.save = dying
T.fit(cfg, out, progress=False)
'''


@pytest.mark.parametrize('where', ['step', 'save'])
def test_killed_run_resumes_identically_and_leaves_nothing(cfg, run, tmp_path, where):
    "Fault injection: SIGKILL mid-epoch or mid-checkpoint-write; the resumed run equals the uninterrupted one."
    import os, signal, subprocess, sys
    out = tmp_path/'killed'
    p = subprocess.run([sys.executable, '-c', KILLED, json.dumps(config_to_dict(cfg)), str(out), where],
                       env={**os.environ, 'OMP_NUM_THREADS': str(torch.get_num_threads())}, capture_output=True, text=True)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert load_checkpoint(out/'checkpoint.pt')['step'] == 3
    assert bool(list(out.glob('.checkpoint.pt.*.tmp'))) == (where == 'save')   # what the kill left half-written
    done = fit(cfg, out, resume=True, progress=False)
    assert identical(module_weights(run), module_weights(done))
    totals = lambda c: [h['total'] for h in load_checkpoint(c)['history']]
    assert totals(run) == totals(done)
    assert sorted(p.name for p in out.iterdir()) == ['.hlgfa.lock', 'checkpoint.pt', 'config.json', 'history.json']


def test_out_dir_is_checked_and_a_failed_new_run_leaves_nothing(cfg, tmp_path, monkeypatch):
    (tmp_path/'mine').mkdir(); (tmp_path/'mine'/'config.json').write_text('{"my": "own file"}')
    with pytest.raises(FileExistsError, match="holds files but no checkpoint.pt"): fit(cfg, tmp_path/'mine')
    assert (tmp_path/'mine'/'config.json').read_text() == '{"my": "own file"}'
    (tmp_path/'file').write_text('x')
    with pytest.raises(FileExistsError, match='is a file'): fit(cfg, tmp_path/'file')
    monkeypatch.setattr(T.Trainer, 'train_step', lambda *a, **k: (_ for _ in ()).throw(FloatingPointError('nan')))
    with pytest.raises(FloatingPointError): fit(cfg, tmp_path/'new', progress=False)
    assert not (tmp_path/'new').exists()


def test_config_paths_types_and_files(tmp_path):
    c = Config(root='rel/data', weights='w.pth')
    assert c.root == str(tmp_path.cwd()/'rel'/'data') and c.weights == str(tmp_path.cwd()/'w.pth')
    assert Config(weights='https://x/w.pth').weights == 'https://x/w.pth' and Config().weights == 'imagenet'
    (tmp_path/'broken.json').write_text('{"epochs": 3,\n "lr": }')
    with pytest.raises(ValueError, match=r"broken.json is not valid JSON .*line 2, column 8"): load_config(tmp_path/'broken.json')
    (tmp_path/'typed.json').write_text('{"epochs": "30"}')
    with pytest.raises(ValueError, match=r"typed.json: config.epochs = '30' \(str\): must be int"): load_config(tmp_path/'typed.json')


def test_too_small_image_size_is_refused(cfg, tmp_path):
    with pytest.raises(ValueError, match=r"image_size=8 makes a 4-px LR view .* use image_size ≥ 32."):
        fit(replace(cfg, image_size=8), tmp_path/'tiny', progress=False)
    assert not (tmp_path/'tiny').exists()


def test_ddp_asks_no_more_gpus_than_there_are(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True); monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    with pytest.raises(RuntimeError, match=r"nprocs=2 DDP processes on CUDA need a GPU each, and 1 is visible"):
        fit_multiprocess(replace(cfg, device='cuda'), tmp_path/'ddp', nprocs=2, progress=False)
    assert not (tmp_path/'ddp').exists()


def test_paper_setting_offline_fallbacks(synth, tmp_path):
    "MVTec AD given by HLGFA_MVTEC: used as it is; Wide-ResNet-50's weights unreachable: EfficientNet-Lite2, said so."
    import os, subprocess, sys
    env = dict(os.environ, HF_HUB_OFFLINE='1', HF_HOME=str(tmp_path), TORCH_HOME=str(tmp_path), HLGFA_MVTEC=str(synth))
    code = ("from hlgfa_nb.runs import paper_setting\nc = paper_setting(2)\n"
            "print(c.root, c.backbone, c.epochs, c.image_size, c.augment)\n")
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=300)
    assert 'Wide-ResNet-50 weights unavailable' in out.stdout, out.stderr[-2000:]
    assert out.stdout.strip().endswith(f"{synth} tf_efficientnet_lite2 2 640 True")


def test_tensorboard_log_of_training_and_evaluation(synth, tmp_path):
    "log='tensorboard' writes the loss terms, lr and speed per step and epoch; evaluate(log=True) adds metrics and maps."
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from hlgfa_nb.evaluate import evaluate
    ckpt = fit(preset('cpu', synth, image_size=64, epochs=2, batch_size=4, categories=['weave'], log='tensorboard'),
               tmp_path/'r', progress=False)
    evaluate(ckpt, synth, examples=2, log=True, progress=False)
    events = EventAccumulator(str(tmp_path/'r'/'tensorboard'), size_guidance={'images': 0}).Reload()
    scalars = set(events.Tags()['scalars'])
    assert {'step/total', 'step/cos', 'step/lr', 'epoch/total', 'epoch/images_per_s', 'test/weave/AUC-I'} <= scalars
    assert [e.step for e in events.Scalars('step/total')] == [1, 2, 3, 4] and len(events.Scalars('epoch/total')) == 2
    assert 'test/weave/examples' in events.Tags()['images']


def test_image_cache_trains_identically_and_decodes_each_image_once(synth, tmp_path, monkeypatch):
    "With augmentation (no feature cache) the image cache changes no weight, and no epoch decodes an image again."
    import hlgfa_nb.data as D
    opened, real = [], D._open
    monkeypatch.setattr(D, '_open', lambda p, header=False: opened.append(header) or real(p, header))
    cfg = preset('cpu', synth, image_size=64, epochs=3, batch_size=4, categories=['weave'], augment=True)
    runs = {}
    for mode in ('off', 'ram', 'disk'):
        opened.clear()
        runs[mode] = fit(replace(cfg, image_cache=mode), tmp_path/mode, progress=False)
        runs[mode, 'decoded'] = opened.count(False)
    for mode in ('ram', 'disk'):
        assert all(torch.equal(a, b) for a, b in zip(load_checkpoint(runs['off'])['module'].values(),
                                                     load_checkpoint(runs[mode])['module'].values()))
    assert runs['off', 'decoded'] == 3 * 6 + 6 and runs['ram', 'decoded'] == runs['disk', 'decoded'] == 6 + 6   # epochs × images, + calibration
    assert not list((tmp_path/'disk').glob('image_cache*'))                           # the cache file is gone with the run
    tiny = replace(cfg, image_cache='auto', cache_limit_gb=1e-6)                      # does not fit in RAM: on disk
    assert all(torch.equal(a, b) for a, b in zip(load_checkpoint(runs['off'])['module'].values(),
                                                 load_checkpoint(fit(tiny, tmp_path/'auto', progress=False))['module'].values()))
