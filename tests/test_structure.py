"The run layer (08a_runs) and the layers of the library: one read per run, one detector interface, imports that point one way."
import ast
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import hlgfa_nb
from hlgfa_nb.baselines import PatchCore, PatchCoreConfig
from hlgfa_nb.deploy import OnnxDetector, Predictor, export_onnx
from hlgfa_nb.evaluate import evaluate_detector
from hlgfa_nb.geometry import Geometry
from hlgfa_nb.runs import Run, detector_of, preset
from hlgfa_nb.scoring import Detector, calibrate_tau
from hlgfa_nb.train import fit, fit_typicality

# the library's modules in the order the data flows (and the book reads): each may import only those before it
LAYERS = ['geometry', 'data', 'backbone', 'model', 'losses', 'augment', 'metrics', 'viz', 'scoring', 'baselines', 'runs',
          'train', 'evaluate', 'limits', 'widgets', 'deploy', 'results', 'reproduce', 'cli']


def imported(module: str) -> set[str]:
    "The hlgfa_nb modules `module` imports anywhere in its file (also inside functions)."
    tree, out = ast.parse((Path(hlgfa_nb.__file__).parent/f'{module}.py').read_text()), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            name = node.module.removeprefix('hlgfa_nb.') if node.level == 0 else node.module
            if node.level or node.module.startswith('hlgfa_nb.'): out.add(name.split('.')[0])
            elif node.module == 'hlgfa_nb': out |= {a.name for a in node.names if a.name in LAYERS}
    return out - {module}


def test_every_module_has_a_layer():
    found = {p.stem for p in Path(hlgfa_nb.__file__).parent.glob('*.py')} - {'__init__', '_modidx'}
    assert found == set(LAYERS)


@pytest.mark.parametrize('module', LAYERS)
def test_imports_point_down(module):
    above = set(LAYERS[LAYERS.index(module) + 1:])
    assert not imported(module) & above, f"{module} imports {sorted(imported(module) & above)}, which come after it"


def test_opening_a_run_reads_its_checkpoint_once(run, monkeypatch):
    reads, real = [], torch.load
    monkeypatch.setattr(torch, 'load', lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    r = Run.open(run, 'cpu')
    r.detector.predict(torch.rand(1, 3, 64, 64)); r.thresholds; r.geometry; r.provenance
    assert [str(p) for p in reads if str(p).endswith('checkpoint.pt')] == [str(run)]
    assert r.thresholds is not None and r.geometry == r.detector.geometry


def test_after_training_the_checkpoint_is_read_once(synth, tmp_path, monkeypatch):
    import hlgfa_nb.train as T
    reads, real = [], T.Run.open
    monkeypatch.setattr(T.Run, 'open', classmethod(lambda cls, *a, **k: reads.append(a[0]) or real(*a, **k)))
    fit(preset('cpu', synth, image_size=64, epochs=1, batch_size=4, categories=['weave'],
               **{'score.typicality': 1.0}), tmp_path/'r', progress=False)
    assert len([r for r in reads if not isinstance(r, Run)]) == 1   # statistics and thresholds: one run, read once
    assert {'typicality', 'calibration'} <= set(Run.open(tmp_path/'r'/'checkpoint.pt').state)


def test_every_detector_is_evaluated_by_the_same_code(run, synth, tmp_path):
    r = Run.open(run, 'cpu')
    pc = PatchCore(PatchCoreConfig(backbone='resnet18', weights=None, coreset_ratio=0.5), geometry=r.geometry).fit(
        torch.rand(2, 3, 64, 64))
    onnx = OnnxDetector(export_onnx(r, tmp_path/'d.onnx', batch_size=4))
    dets = dict(hlgfa=r.detector, predictor=Predictor(r), onnx=onnx, patchcore=pc)
    assert all(isinstance(d, Detector) for d in dets.values())
    res = {k: evaluate_detector(d, synth, 'weave', examples=0, progress=False).mean for k, d in dets.items()}
    assert res['predictor'] == res['hlgfa']
    assert all(abs(res['onnx'][k] - res['hlgfa'][k]) < 1e-3 for k in ('AUC-I', 'AUC-P'))


def test_a_detector_reads_images_in_its_own_geometry(run, synth):
    det = Run.open(run, 'cpu').detector
    wrong = det.with_score(det.score); wrong.geometry = Geometry('squash', 96)
    from hlgfa_nb.evaluate import evaluate_category
    from hlgfa_nb.data import MVTecDataset
    with pytest.raises(ValueError, match="in its geometry"):
        evaluate_category(wrong, MVTecDataset(synth, 'test', 'weave', size=64), progress=False)


def test_scoring_variants_keep_every_part(synth, tmp_path):
    ckpt = fit(preset('cpu', synth, image_size=64, epochs=1, batch_size=4, categories=['weave']), tmp_path/'r',
               progress=False)
    fit_typicality(ckpt, progress=False)
    det = Run.open(ckpt, 'cpu').detector
    variant = det.with_score(replace(det.score, typicality=1.0, sigma=8.))
    assert variant.typicality is det.typicality and variant.geometry == det.geometry and variant.module is det.module
    x = torch.rand(2, 3, 64, 64)
    assert (variant.predict(x).maps != det.predict(x).maps).any()
    tau = calibrate_tau(variant, x)                                # its probe keeps the typicality statistics
    assert tau.typicality == 1.0 and tau.reliability


def test_patchcore_refuses_hlgfas_terms():
    for score in (replace(preset('cpu').score, typicality=1.0), replace(preset('cpu').score, reliability=True)):
        with pytest.raises(ValueError, match="typicality=0 and reliability=False"):
            PatchCore(PatchCoreConfig(backbone='resnet18', weights=None), score)


def test_an_untrained_detector_has_its_configs_parts():
    cfg = preset('demo', backbone='resnet18', weights=None, image_size=(64, 96), geometry='keep_aspect')
    det = detector_of(cfg, device='cpu')
    assert det.geometry.kind == 'keep_aspect' and det.geometry.size == (64, 96) and det.score == cfg.score


def test_calibrating_an_open_run_never_undoes_later_training(synth, tmp_path):
    "A Run opened before more training is calibrated on what the checkpoint holds now, and the new weights stay."
    cfg = preset('cpu', synth, image_size=64, epochs=1, batch_size=4, categories=['weave'])
    ckpt = fit(cfg, tmp_path/'r', progress=False)
    early = Run.open(ckpt, 'cpu')
    fit(replace(cfg, epochs=2), tmp_path/'r', resume=True, progress=False)
    later = Run.open(ckpt).state['module']
    from hlgfa_nb.train import calibrate_run
    calibrate_run(early, progress=False)
    now = Run.open(ckpt).state
    assert now['step'] > early.state['step'] and all(torch.equal(now['module'][k], later[k]) for k in later)


def test_a_run_on_another_device_shares_its_state(run):
    r = Run.open(run)
    assert Run.open(r) is r and Run.open(r, r.device) is r
    other = Run.open(r, 'cpu' if r.device != 'cpu' else 'meta')
    assert other is not r and other.state is r.state and other.path == r.path
    with pytest.raises(ValueError, match='trained on backbone'): Run.open(r, backbone='resnet50')


def test_padding_counts_only_where_it_is_used():
    assert Geometry('squash', 64, fill=(0.5,) * 3).same_inputs(Geometry('squash', 64, fill=(0.485, 0.456, 0.406)))
    assert not Geometry('keep_aspect', 64).same_inputs(Geometry('keep_aspect', 64, fill=(0., 0., 0.)))
    assert not Geometry('squash', 64).same_inputs(Geometry('squash', 96))


def test_a_study_that_would_collide_is_refused_before_training(synth):
    from hlgfa_nb.reproduce import run_study
    base = preset('cpu', synth, image_size=64, epochs=1)
    for variants, seeds, rescore, text in [({'a b': {}, 'a-b': {}}, (0,), None, 'share a folder'),
                                           ({'a': {}}, (0, 0), None, 'repeat'),
                                           ({'a': {}}, (0,), {'a': base.score}, 'are variants too'),
                                           ({'a': {'seed': 3}}, (0,), None, "sets 'seed'"),
                                           ({'ref': None}, (0,), {'s': base.score}, 'needs a trained variant')]:
        with pytest.raises(ValueError, match=text): run_study('x', base, variants, seeds, rescore, progress=False)


def test_a_run_or_a_predictor_is_taken_where_a_checkpoint_is(synth, tmp_path):
    from hlgfa_nb.evaluate import evaluate
    ckpt = fit(preset('cpu', synth, image_size=64, epochs=1, batch_size=4, categories=['weave']), tmp_path/'r',
               progress=False)
    r = Run.open(ckpt, 'cpu')
    res = evaluate(r, examples=0, progress=False, log=True)                  # into the run's TensorBoard log
    assert set(res.categories) == {'weave'} and any((tmp_path/'r'/'tensorboard').iterdir())
    onnx = OnnxDetector(export_onnx(Predictor(r), tmp_path/'p.onnx', batch_size=2))
    assert onnx.thresholds == r.thresholds and r.detector.channels_last         # the run's own detector untouched
