"Data loading: layouts, image kinds, and every bad-input error with its text."
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from hlgfa_nb.data import (DEFECT_TYPES, MVTecDataset, list_categories, make_synthetic_mvtec, read_image,
                           scan_category, synthetic_image, DataUnavailable, download, mvtec_ad)


def copy_category(synth, tmp_path, name='weave'):
    dst = tmp_path/name
    shutil.copytree(synth/name, dst)
    return dst


def test_root_and_bare_category(synth):
    assert list(list_categories(synth)) == ['washer', 'weave']
    assert list(list_categories(synth/'weave')) == ['weave']
    ds = MVTecDataset(synth/'weave', 'test', size=32)
    assert {s.defect for s in ds.samples} == {'good', *DEFECT_TYPES}
    assert len(ds) == 3 + 2 * len(DEFECT_TYPES)


def test_items(synth):
    ds = MVTecDataset(synth, 'test', size=(48, 40))
    for i, s in enumerate(ds.samples):
        d = ds[i]
        assert d['image'].shape == (3, 48, 40) and d['image'].dtype == torch.float32
        assert d['mask'].shape == (1, 48, 40) and d['mask'].dtype == torch.bool
        assert 0 <= d['image'].min() and d['image'].max() <= 1
        assert d['label'] == s.label == int(s.defect != 'good')
        assert d['mask'].any().item() == bool(s.label)


def test_category_agnostic(synth):
    ds = MVTecDataset(synth, 'train', size=32)
    assert ds.categories == ['washer', 'weave'] and len(ds) == 12
    assert sorted({ds[i]['category_id'] for i in range(len(ds))}) == [0, 1]
    assert len(MVTecDataset(synth, 'train', ['weave'], size=32)) == 6


def test_grayscale_16bit_rgba_and_varying_sizes(tmp_path):
    cat = tmp_path/'cat'
    (cat/'train'/'good').mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 50), dtype=np.uint8)).save(cat/'train'/'good'/'a.png')
    Image.fromarray(rng.integers(0, 65535, (40, 20), dtype=np.uint16)).save(cat/'train'/'good'/'b.png')
    Image.fromarray(rng.integers(0, 255, (25, 25, 4), dtype=np.uint8), 'RGBA').save(cat/'train'/'good'/'c.png')
    ds = MVTecDataset(cat, size=16)
    for i in range(3):
        x = ds[i]['image']
        assert x.shape == (3, 16, 16) and 0 <= x.min() and x.max() <= 1
    g = read_image(cat/'train'/'good'/'b.png')
    assert g.shape == (40, 20, 3) and np.array_equal(g[..., 0], g[..., 2])
    assert read_image(cat/'train'/'good'/'b.png').max() > 0.9  # 16-bit range kept, not clipped to 1/255


def test_mask_resized_nearest_stays_binary(synth):
    ds = MVTecDataset(synth, 'test', size=37)
    i = next(i for i, s in enumerate(ds.samples) if s.defect == 'missing')
    m = ds[i]['mask']
    assert m.dtype == torch.bool and m.any()


def test_synthetic_deterministic_and_reused(tmp_path):
    a = make_synthetic_mvtec(tmp_path/'a', n_train=2, n_test_good=1, n_test_defect=1, size=32, seed=5)
    b = make_synthetic_mvtec(tmp_path/'b', n_train=2, n_test_good=1, n_test_defect=1, size=32, seed=5)
    files = sorted(p.relative_to(a) for p in a.rglob('*.png'))
    assert files == sorted(p.relative_to(b) for p in b.rglob('*.png')) and len(files) == 2 * (3 + 2 * 4)
    for f in files: assert np.array_equal(np.asarray(Image.open(a/f)), np.asarray(Image.open(b/f)))
    mtime = (a/'synthetic.json').stat().st_mtime
    assert make_synthetic_mvtec(a, n_train=2, n_test_good=1, n_test_defect=1, size=32, seed=5) == a
    assert (a/'synthetic.json').stat().st_mtime == mtime
    assert not [p for p in tmp_path.iterdir() if 'partial' in p.name]


def test_synthetic_refuses_to_overwrite(tmp_path):
    (tmp_path/'mine').mkdir(); (tmp_path/'mine'/'precious.txt').write_text('x')
    with pytest.raises(FileExistsError, match='mine.*not a synthetic dataset'):
        make_synthetic_mvtec(tmp_path/'mine', n_train=1, n_test_good=1, n_test_defect=1, size=16)
    with pytest.raises(ValueError, match='unknown synthetic category'):
        synthetic_image('carpet', 'train', 0)


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    import hlgfa_nb.data as data
    calls = []
    def boom(*a, **k):
        calls.append(1)
        if len(calls) > 3: raise KeyboardInterrupt
        return orig(*a, **k)
    orig = data._save
    monkeypatch.setattr(data, '_save', boom)
    with pytest.raises(KeyboardInterrupt):
        make_synthetic_mvtec(tmp_path/'s', n_train=4, n_test_good=1, n_test_defect=1, size=16)
    assert list(tmp_path.iterdir()) == []


# ---- bad input: each error names the path and what was expected ----

def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path/'nope'} does not exist.*train/good"):
        MVTecDataset(tmp_path/'nope')


def test_root_without_categories(tmp_path):
    (tmp_path/'something').mkdir()
    with pytest.raises(FileNotFoundError, match=f"no category under {tmp_path}.*train/good"):
        MVTecDataset(tmp_path)


def test_no_train_good(synth, tmp_path):
    cat = copy_category(synth, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"train/good not found"):
        scan_category(cat/'test')


def test_empty_folders(synth, tmp_path):
    cat = copy_category(synth, tmp_path)
    for p in (cat/'train'/'good').iterdir(): p.unlink()
    with pytest.raises(FileNotFoundError, match=f"{cat/'train'/'good'} holds no images"):
        MVTecDataset(cat)
    cat2 = copy_category(synth, tmp_path, 'washer')
    shutil.rmtree(cat2/'test')
    with pytest.raises(FileNotFoundError, match=f"{cat2/'test'} has no sub-folders"):
        MVTecDataset(cat2, 'test')


def test_defect_without_mask(synth, tmp_path):
    cat = copy_category(synth, tmp_path)
    mask = cat/'ground_truth'/'spot'/'001_mask.png'
    mask.unlink()
    with pytest.raises(FileNotFoundError, match=f"1 of the 8 defective test images of weave have no mask, e.g. "
                                                f"{cat/'test'/'spot'/'001.png'} \\(expected {mask}\\)"):
        MVTecDataset(cat, 'test')


@pytest.mark.parametrize('content', [b'', b'not a png at all', 'truncate'])
def test_corrupt_or_truncated_image(synth, tmp_path, content):
    cat = copy_category(synth, tmp_path)
    bad = cat/'train'/'good'/'000.png'
    data = bad.read_bytes()
    bad.write_bytes(data[:len(data) // 2] if content == 'truncate' else content)
    ds = MVTecDataset(cat, size=32)
    with pytest.raises(ValueError, match=f"cannot read image {bad}.*Replace or remove"):
        ds[0]


def test_mask_size_mismatch(synth, tmp_path):
    cat = copy_category(synth, tmp_path)
    mask = cat/'ground_truth'/'scratch'/'000_mask.png'
    Image.open(mask).resize((10, 12)).save(mask)
    ds = MVTecDataset(cat, 'test', size=32)
    i = next(i for i, s in enumerate(ds.samples) if s.mask_path == mask)
    with pytest.raises(ValueError, match=f"mask {mask} is 10x12 but its image is 64x64"):
        ds[i]


def test_bad_split_and_category(synth):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        MVTecDataset(synth, 'val')
    with pytest.raises(ValueError, match=r"categories \['carpet'\] not found.*available: \['washer', 'weave'\]"):
        MVTecDataset(synth, categories=['carpet'])


def test_magnetic_tile_dev_from_the_data_home(dev_tiles):
    "CI points HLGFA_DATA at the shared data folder: the dev set is found there, nothing is downloaded."
    if dev_tiles is None: pytest.skip('the magnetic-tile dev set is not in the data home')
    ds = MVTecDataset(dev_tiles, 'test', size=64)
    assert len(ds) == 140 and ds.categories == ['magnetic_tile_dev']
    d = ds[len(ds) - 1]
    assert d['mask'].any() and d['image'].shape == (3, 64, 64)


# ---- download: resumable, checksummed, atomic; against a local HTTP server ----
import hashlib, http.server, io, tarfile, threading

from hlgfa_nb import data as D


class RangeHandler(http.server.BaseHTTPRequestHandler):
    "Serves `files` from memory, honouring `Range: bytes=N-`; counts requests; `cut` > 0 breaks the next answer off there."
    files, requests, cut = {}, [], 0
    def log_message(self, *a): pass
    def do_GET(self):
        self.requests.append((self.path, self.headers.get('Range')))
        data = self.files.get(self.path)
        if data is None: return self.send_error(404)
        start = int(self.headers['Range'][6:-1]) if self.headers.get('Range') else 0
        if start >= len(data): return self.send_error(416)
        self.send_response(206 if start else 200)
        self.send_header('Content-Length', str(len(data) - start)); self.end_headers()
        end, RangeHandler.cut = (RangeHandler.cut or len(data)), 0
        self.wfile.write(data[start:end])


@pytest.fixture
def server():
    RangeHandler.files, RangeHandler.requests, RangeHandler.cut = {}, [], 0
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), RangeHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_port}', RangeHandler
    srv.shutdown()


def test_download_resumes_and_verifies(server, tmp_path):
    url, h = server
    payload = bytes(range(256)) * 4000
    h.files['/blob.bin'] = payload
    digest = hashlib.sha256(payload).hexdigest()
    (tmp_path/'blob.bin.part').write_bytes(payload[:1000])  # an interrupted earlier run
    out = download(f'{url}/blob.bin', tmp_path/'blob.bin', digest)
    assert out.read_bytes() == payload and h.requests[-1][1] == 'bytes=1000-'
    assert not (tmp_path/'blob.bin.part').exists()
    n = len(h.requests)
    download(f'{url}/blob.bin', tmp_path/'blob.bin', digest)  # already there and valid: no request
    assert len(h.requests) == n


def test_download_checksum_mismatch_removes_part(server, tmp_path):
    url, h = server
    h.files['/blob.bin'] = b'x' * 5000
    with pytest.raises(RuntimeError, match='checksum mismatch.*run again'):
        download(f'{url}/blob.bin', tmp_path/'blob.bin', '0' * 64)
    assert list(tmp_path.iterdir()) == []


def test_download_offline_and_404(server, tmp_path):
    url, _ = server
    with pytest.raises(RuntimeError, match='HTTP 404'):
        download(f'{url}/missing.bin', tmp_path/'m.bin')
    with pytest.raises(DataUnavailable, match="cannot reach http://127.0.0.1:9/x.tar.xz"):
        download('http://127.0.0.1:9/x.tar.xz', tmp_path/'x.tar.xz', timeout=2)


def fake_tile_source(folder, bad=None):
    "A small archive in the Magnetic-Tile repository's layout and its manifest (`bad`: a file whose bytes then differ)."
    src = folder/'Magnetic-tile-defect-datasets.-0123abc'
    kinds = [('MT_Free', 0)] * 12 + [('MT_Crack', 1)] * 3 + [('MT_Uneven', 1), ('MT_Uneven', 0)]
    for i, (kind, marked) in enumerate(kinds):
        (src/kind/'Imgs').mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (40, 60), np.uint8)).save(src/kind/'Imgs'/f'exp_{i}.jpg')
        m = np.zeros((40, 60), np.uint8); m[10:20, 10:30] = 255 * marked
        Image.fromarray(m).save(src/kind/'Imgs'/f'exp_{i}.png')
    manifest = {str(f.relative_to(src)): D.sha256(f) for f in src.rglob('*') if f.is_file()}
    if bad: (src/bad).write_bytes((src/bad).read_bytes()[:-10] + b'0123456789')
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar: tar.add(src, arcname=src.name)
    return buf.getvalue(), manifest


def test_magnetic_tile_download_cut_resume_layout_and_no_second_request(server, tmp_path, monkeypatch):
    url, h = server
    h.files['/mt.tar.gz'], manifest = fake_tile_source(tmp_path)
    monkeypatch.setattr(D, 'magnetic_tile_manifest', lambda: manifest)
    monkeypatch.setattr(D, 'MAGNETIC_TILE_DEV', {'train/good': 4, 'test/good': 2, 'test/*': 1})
    home = tmp_path/'home'
    h.cut = cut = len(h.files['/mt.tar.gz']) // 2
    with pytest.raises(DataUnavailable, match='was cut after .* bytes.*run again to resume'):
        D.magnetic_tile('full', home, f'{url}/mt.tar.gz')
    assert not (home/'magnetic_tile').exists()                    # nothing half-laid-out
    full = D.magnetic_tile('full', home, f'{url}/mt.tar.gz')      # resumes where the cut left it
    assert h.requests[-1][1] == f'bytes={cut}-' 
    n_free = sum(_is_test(f'exp_{i}') for i in range(12))
    assert len(list((full/'test'/'good').glob('*.png'))) == n_free and len(list((full/'train'/'good').glob('*.png'))) == 12 - n_free
    assert sorted(p.name for p in (full/'test'/'uneven').iterdir()) == ['exp_15.png']   # the empty mask's image is left out
    assert np.unique(np.asarray(Image.open(full/'ground_truth'/'crack'/'exp_12_mask.png'))).tolist() == [0, 255]
    assert Image.open(full/'test'/'crack'/'exp_12.png').mode == 'L'
    assert not list((home/'downloads').iterdir())                 # the archive is not kept
    dev = D.magnetic_tile('dev', home, f'{url}/mt.tar.gz')
    assert {p.name for p in (dev/'test').iterdir()} == {'good', 'crack', 'uneven'} and len(list((dev/'train'/'good').iterdir())) == 4
    assert max(Image.open(p).size[0] for p in dev.rglob('*.png')) == 256
    n = len(h.requests)
    assert D.magnetic_tile('dev', home, f'{url}/mt.tar.gz') == dev and D.magnetic_tile('full', home, f'{url}/mt.tar.gz') == full
    assert len(h.requests) == n                                    # a second call does no work


def _is_test(stem): return int(__import__('hashlib').sha1(stem.encode()).hexdigest(), 16) % 5 == 0


class ChunkedCutHandler(http.server.BaseHTTPRequestHandler):
    "Sends `data` chunked (no Content-Length, as GitHub's archives come) and breaks the connection half-way."
    protocol_version, data = 'HTTP/1.1', b''
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.send_header('Transfer-Encoding', 'chunked'); self.end_headers()
        self.wfile.write(f'{len(self.data):x}\r\n'.encode() + self.data[:len(self.data) // 2]); self.wfile.flush()
        self.close_connection = True


def test_download_cut_without_content_length_is_not_kept_as_whole(tmp_path):
    ChunkedCutHandler.data = bytes(range(256)) * 400
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), ChunkedCutHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DataUnavailable, match='was cut after .* bytes.*run again to resume'):
            download(f'http://127.0.0.1:{srv.server_port}/a.tar.gz', tmp_path/'a.tar.gz')
    finally: srv.shutdown()
    assert not (tmp_path/'a.tar.gz').exists() and (tmp_path/'a.tar.gz.part').is_file()   # kept to resume from


def test_magnetic_tile_refuses_a_folder_in_its_place(server, tmp_path, monkeypatch):
    url, h = server
    h.files['/mt.tar.gz'], manifest = fake_tile_source(tmp_path)
    monkeypatch.setattr(D, 'magnetic_tile_manifest', lambda: manifest)
    (tmp_path/'home'/'magnetic_tile'/'notes').mkdir(parents=True)           # something of the user's, not a dataset
    with pytest.raises(FileExistsError, match='magnetic_tile exists but holds no dataset'):
        D.magnetic_tile('full', tmp_path/'home', f'{url}/mt.tar.gz')
    assert (tmp_path/'home'/'magnetic_tile'/'notes').is_dir()


def test_magnetic_tile_refuses_a_damaged_file_by_name(server, tmp_path, monkeypatch):
    url, h = server
    h.files['/mt.tar.gz'], manifest = fake_tile_source(tmp_path, bad='MT_Crack/Imgs/exp_13.jpg')
    monkeypatch.setattr(D, 'magnetic_tile_manifest', lambda: manifest)
    with pytest.raises(RuntimeError, match='holds a damaged MT_Crack/Imgs/exp_13.jpg.*archive was removed'):
        D.magnetic_tile('full', tmp_path/'home', f'{url}/mt.tar.gz')
    assert not (tmp_path/'home'/'magnetic_tile').exists() and not list((tmp_path/'home'/'downloads').iterdir())


def test_magnetic_tile_offline_says_how_in_one_line(tmp_path, capsys):
    with pytest.raises(DataUnavailable, match=r"magnetic_tile is not in .* \(cannot reach .*\)\. Run `hlgfa data magnetic_tile`"):
        D.magnetic_tile('dev', tmp_path, 'http://127.0.0.1:9/mt.tar.gz')
    assert D.magnetic_tile('dev', tmp_path, 'http://127.0.0.1:9/mt.tar.gz', required=False) is None
    out = capsys.readouterr().out
    assert out.count('\n') == 1 and 'hlgfa data magnetic_tile' in out


def test_magnetic_tile_manifest_ships_with_the_library():
    m = D.magnetic_tile_manifest()
    assert len(m) == 2 * 1344 and all(len(v) == 64 for v in m.values())
    assert sum(k.startswith('MT_Free/') and k.endswith('.jpg') for k in m) == 952


def mvtec_archive(synth):
    "A small archive in MVTec AD's layout: two synthetic categories under MVTec names."
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:xz') as tar:
        tar.add(synth/'weave', arcname='carpet'); tar.add(synth/'washer', arcname='metal_nut')
    return buf.getvalue()


def test_mvtec_ad_download_only_the_categories_asked(server, synth, tmp_path):
    url, h = server
    h.files['/mvtec_anomaly_detection.tar.xz'] = data = mvtec_archive(synth)
    digest, home, src = hashlib.sha256(data).hexdigest(), tmp_path/'home', f'{url}/mvtec_anomaly_detection.tar.xz'
    root = mvtec_ad('carpet', home, src, sha256sum=digest)
    assert list(list_categories(root)) == ['carpet'] and len(MVTecDataset(root, 'test')) == 11
    n = len(h.requests)
    assert mvtec_ad('carpet', home, src, sha256sum=digest) == root and len(h.requests) == n   # there: nothing fetched
    assert mvtec_ad(['carpet', 'metal_nut'], home, src, sha256sum=digest) == root and len(h.requests) == n  # the kept archive
    assert list(list_categories(root)) == ['carpet', 'metal_nut']
    with pytest.raises(RuntimeError, match=r"holds no MVTec-layout category \['bottle'\]"):
        mvtec_ad('bottle', home, src, sha256sum=digest)
    assert sorted(p.name for p in root.iterdir()) == ['carpet', 'metal_nut']  # nothing half-written


def test_mvtec_ad_names_unknown_categories_and_unsafe_archives(synth, tmp_path):
    with pytest.raises(ValueError, match=r"\['Carpet'\] are not MVTec AD categories"): mvtec_ad('Carpet', tmp_path)
    evil = tmp_path/'evil.tar'
    with tarfile.open(evil, 'w') as tar:
        info = tarfile.TarInfo('carpet/../../outside.txt'); info.size = 1; tar.addfile(info, io.BytesIO(b'x'))
    with pytest.raises(RuntimeError, match='cannot be unpacked'): mvtec_ad('carpet', tmp_path/'home', archive=evil, sha256sum=None)
    assert not (tmp_path/'outside.txt').exists() and not list((tmp_path/'home'/'mvtec_ad').iterdir())


def test_mvtec_ad_dead_link_gives_the_manual_steps(server, synth, tmp_path, capsys):
    url, h = server
    with pytest.raises(DataUnavailable, match=r"HTTP 404.*by hand from https://www.mvtec.com.*--archive FILE.*HLGFA_MVTEC"):
        mvtec_ad('carpet', tmp_path, f'{url}/gone.tar.xz')
    assert mvtec_ad('carpet', tmp_path, f'{url}/gone.tar.xz', required=False) is None
    archive = tmp_path/'by_hand.tar.xz'; archive.write_bytes(mvtec_archive(synth))
    with pytest.raises(RuntimeError, match='is not the MVTec AD archive'): mvtec_ad('carpet', tmp_path, archive=archive)
    root = mvtec_ad('carpet', tmp_path, archive=archive, sha256sum=D.sha256(archive))
    assert list(list_categories(root)) == ['carpet']


def test_hlgfa_data_command(server, tmp_path, monkeypatch, capsys):
    from hlgfa_nb.cli import main
    with pytest.raises(SystemExit): main(['data', '--help'])
    assert 'magnetic_tile' in capsys.readouterr().out
    url, h = server
    h.files['/mt.tar.gz'], manifest = fake_tile_source(tmp_path)
    monkeypatch.setattr(D, 'magnetic_tile_manifest', lambda: manifest)
    monkeypatch.setenv('HLGFA_MAGNETIC_TILE_URL', f'{url}/mt.tar.gz'); monkeypatch.setenv('HLGFA_DATA', str(tmp_path/'home'))
    assert main(['data', 'magnetic_tile']) == 0
    assert capsys.readouterr().out.strip().endswith(str(tmp_path/'home'/'magnetic_tile'))
    monkeypatch.setenv('HLGFA_MVTEC_URL', f'{url}/gone.tar.xz')
    assert main(['data', 'mvtec_ad', '--categories', 'carpet']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'by hand from' in err


def test_image_kinds_scaled_by_their_type(tmp_path):
    "A dim image stays dim: 16-bit, 32-bit integer and float images are scaled by their type's range, not their max."
    a = np.full((8, 8), 1000, np.uint16)
    Image.fromarray(a).save(tmp_path/'g16.png')
    Image.fromarray(a.astype(np.int32)).save(tmp_path/'i32.tif')
    Image.fromarray(np.full((8, 8), 0.25, np.float32)).save(tmp_path/'f32.tif')
    assert np.allclose(read_image(tmp_path/'g16.png'), 1000 / 65535)
    assert np.allclose(read_image(tmp_path/'i32.tif'), 1000 / 65535)         # was scaled by its own maximum: 1.0
    assert np.allclose(read_image(tmp_path/'f32.tif'), 0.25)                  # was read as black
    assert np.allclose(read_image(tmp_path/'f32.tif', size=4), 0.25)
    Image.fromarray(np.full((8, 8), 70000, np.int32)).save(tmp_path/'big.tif')
    with pytest.raises(ValueError, match=r"big.tif has values in \[70000, 70000\], beyond 16 bits"):
        read_image(tmp_path/'big.tif')
    for bad in (2.5, np.nan):
        Image.fromarray(np.full((8, 8), bad, np.float32)).save(tmp_path/'bad.tif')
        with pytest.raises(ValueError, match="bad.tif has values in .*finite values in \\[0, 1\\]"): read_image(tmp_path/'bad.tif')


@pytest.mark.parametrize('kind', ['0/1', '0/255', 'soft 0/255', 'bool', 'rgb'])
def test_mask_conventions(synth, tmp_path, kind):
    "0/1 label masks (KolektorSDD and others) are read as defects, not as empty masks; soft edges count from half-way."
    cat = copy_category(synth, tmp_path)
    mask = cat/'ground_truth'/'scratch'/'000_mask.png'
    m = np.zeros((64, 64), np.uint8); m[10:20, 10:30] = 1
    arr = {'0/1': m, '0/255': m * 255, 'soft 0/255': m * 200 + (np.arange(64) % 2 == 0)[None] * 100 * (1 - m),
           'bool': m.astype(bool), 'rgb': np.stack([m * 255, m * 0, m * 0], 2)}[kind]
    Image.fromarray(arr.astype(bool) if kind == 'bool' else arr.astype(np.uint8)).save(mask)
    ds = MVTecDataset(cat, 'test', size=64)
    got = ds[next(i for i, s in enumerate(ds.samples) if s.mask_path == mask)]['mask'][0].numpy()
    assert np.array_equal(got, m.astype(bool))


def test_empty_defect_mask_warns(synth, tmp_path):
    cat = copy_category(synth, tmp_path)
    mask = cat/'ground_truth'/'scratch'/'000_mask.png'
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(mask)
    ds = MVTecDataset(cat, 'test', size=32)
    with pytest.warns(UserWarning, match=f"the mask {mask} of defective image .* marks no pixel"):
        ds[next(i for i, s in enumerate(ds.samples) if s.mask_path == mask)]


def test_near_miss_category_warns(synth, tmp_path):
    "A category whose training folder is train/Good is named, not skipped without a word."
    shutil.copytree(synth/'weave', tmp_path/'weave'); shutil.copytree(synth/'washer', tmp_path/'washer')
    (tmp_path/'washer'/'train'/'good').rename(tmp_path/'washer'/'train'/'Good')
    with pytest.warns(UserWarning, match=r"washer/train/Good is not read: .* must be in .*washer/train/good"):
        assert list(list_categories(tmp_path)) == ['weave']


def test_summary_names_categories_counts_and_squashing(synth, tmp_path):
    assert MVTecDataset(synth, 'train', size=32).summary() == "train: 12 images of 2 categories (washer 6, weave 6)"
    cat = tmp_path/'wide'; (cat/'train'/'good').mkdir(parents=True)
    for i, w in enumerate((40, 100)): Image.fromarray(np.zeros((40, w), np.uint8)).save(cat/'train'/'good'/f'{i}.png')
    assert MVTecDataset(cat, size=32).summary().endswith("width/height 1.00–2.50, squashed to 32×32")


def test_16bit_rgb_keeps_its_scale(tmp_path):
    "16-bit colour PNGs are read at 8-bit precision (what Pillow decodes) with the right scale, not cut to the low byte."
    import struct, zlib
    rgb = np.zeros((4, 4, 3), np.uint16); rgb[..., 0], rgb[..., 1], rgb[..., 2] = 65535, 100 * 257, 3 * 257
    rows = b''.join(b'\0' + r.astype('>u2').tobytes() for r in rgb)
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    (tmp_path/'rgb16.png').write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 4, 4, 16, 2, 0, 0, 0))
                                       + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))
    assert np.allclose(read_image(tmp_path/'rgb16.png')[0, 0], [1, 100 / 255, 3 / 255])
