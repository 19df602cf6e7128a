"""The input rules of chapter 00 as a property: any image or mask, over Pillow modes, bit depths, sizes (1 px to very
elongated), alpha and palettes, is read by the rules or refused with a message naming the file; never misread, never a
traceback."""
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from hlgfa_nb.data import mask_pixels, read_image, read_mask
from hlgfa_nb.geometry import MIN_SIDE, Geometry

FORMATS = {'1': ['png', 'bmp', 'tif'], 'L': ['png', 'bmp', 'tif', 'jpg'], 'LA': ['png', 'tif'], 'P': ['png', 'bmp', 'tif'],
           'RGB': ['png', 'bmp', 'tif', 'jpg'], 'RGBA': ['png', 'tif'], 'I;16': ['png', 'tif'], 'I': ['tif'], 'F': ['tif'],
           'CMYK': ['jpg', 'tif']}
CHANNELS = {'LA': 2, 'RGB': 3, 'RGBA': 4, 'CMYK': 4}


@st.composite
def images(draw):
    "(mode, format, the values written, the palette or None, the PIL image)."
    mode = draw(st.sampled_from(sorted(FORMATS)))
    fmt = draw(st.sampled_from(FORMATS[mode]))
    h, w = draw(st.sampled_from([(1, 1), (3, 40), (40, 3), (16, 16), (2, 200), (200, 2), (9, 33)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = (h, w, CHANNELS[mode]) if mode in CHANNELS else (h, w)
    palette = None
    if mode == '1': a = rng.random(shape) > 0.5
    elif mode == 'I;16': a = rng.integers(0, 65536, shape, dtype=np.uint16)
    elif mode == 'I': a = (rng.integers(-5, 70000, shape) * draw(st.sampled_from([0, 1]))).astype(np.int32) \
                          if draw(st.booleans()) else rng.integers(0, 65536, shape).astype(np.int32)
    elif mode == 'F': a = (rng.random(shape) * draw(st.sampled_from([1., 2.]))).astype(np.float32) - draw(st.sampled_from([0., .5]))
    else:
        top = draw(st.sampled_from([1, 255]))                       # 0/1 masks and 8-bit images
        a = rng.integers(0, top + 1, shape, dtype=np.uint8)
    if mode == 'P':
        palette = rng.integers(0, 256, 768, dtype=np.uint8)
        a = a % 16                                                  # indices into the first 16 colours
    im = Image.fromarray(a, mode) if mode not in ('I;16', 'I', 'F', '1', 'P') else Image.fromarray(a)
    if mode == 'P': im = Image.fromarray(a.astype(np.uint8), 'P'); im.putpalette(palette.tolist())
    return mode, fmt, a, palette, im


def expected_rgb(mode, a, palette):
    "What the rules of chapter 00 make of the values written (None: the file must be refused)."
    if mode == '1': return np.repeat(a[..., None].astype(np.float32), 3, 2)
    if mode == 'I;16': return np.repeat(a[..., None] / 65535., 3, 2)
    if mode == 'I': return None if a.min() < 0 or a.max() > 65535 else np.repeat(a[..., None] / 65535., 3, 2)
    if mode == 'F': return None if a.min() < 0 or a.max() > 1 else np.repeat(a[..., None], 3, 2)
    if mode == 'P': return palette.reshape(-1, 3)[a] / 255.
    if mode == 'LA': return np.repeat(a[..., :1] / 255., 3, 2)
    if mode == 'L': return np.repeat(a[..., None] / 255., 3, 2)
    if mode == 'CMYK': return np.asarray(Image.fromarray(a, 'CMYK').convert('RGB')) / 255.   # Pillow's conversion
    return a[..., :3] / 255.                                         # RGB, RGBA (alpha dropped)


def expected_mask(mode, a, palette):
    "Defect pixels by the mask rule: > 0 when the largest value is 1, else > half the range (8 or 16 bit, float [0, 1])."
    if mode == 'F': return None if a.min() < 0 or a.max() > 1 else a > 0.5
    v = {'LA': lambda: a[..., 0], 'RGB': lambda: a.max(2), 'RGBA': lambda: a[..., :3].max(2),
         'P': lambda: palette.reshape(-1, 3)[a].max(2)}.get(mode, lambda: a)()
    v = v.astype(np.float64)
    top = v.max()
    return v > 0 if top <= 1 else v > (127 if top <= 255 else 32767)


def written(im, fmt, folder) -> Path:
    path = Path(folder)/f'x.{fmt}'
    try: im.save(path)
    except (OSError, ValueError, KeyError): return None             # Pillow cannot write this mode in this format
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_images_are_read_by_the_rules_or_refused_by_name(drawn):
    mode, fmt, a, palette, im = drawn
    with tempfile.TemporaryDirectory() as folder:
        path = written(im, fmt, folder)
        if path is None: return
        with Image.open(path) as back: lossless = fmt != 'jpg' and back.mode == im.mode
        try: x = read_image(path)
        except ValueError as e:
            assert str(path) in str(e) and '\n' not in str(e)
            assert not lossless or expected_rgb(mode, a, palette) is None, f"{mode} {fmt} refused: {e}"
            return
        assert x.shape == (*a.shape[:2], 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
        want = expected_rgb(mode, a, palette)
        if lossless: assert want is not None and np.abs(x - want).max() < 1e-6, f"{mode} {fmt} misread"
        small = min(a.shape[:2]) < MIN_SIDE
        for g in (Geometry('squash', 32), Geometry('keep_aspect', 32), Geometry('tiles', 32)):
            try: assert read_image(path, g).shape[:2] == g.working_size(*a.shape[:2])
            except ValueError as e: assert str(path) in str(e) and (small or min(g.working_size(*a.shape[:2])) < MIN_SIDE)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_masks_are_read_by_the_rules_or_refused_by_name(drawn):
    mode, fmt, a, palette, im = drawn
    with tempfile.TemporaryDirectory() as folder:
        path = written(im, fmt, folder)
        if path is None or fmt == 'jpg' or mode == 'CMYK': return    # masks are drawn losslessly, in gray or RGB
        with Image.open(path) as back:
            if back.mode != im.mode: return                           # the format changed the mode: no exact rule to check
            want = expected_mask(mode, a, palette)
            if want is None:
                with pytest.raises(ValueError, match=f"mask {path} has values outside"): mask_pixels(back, path)
                return
            np.testing.assert_array_equal(mask_pixels(back, path), want, err_msg=f"{mode} {fmt}")
        h, w = a.shape[:2]
        with pytest.raises(ValueError, match=f"mask {path} is {w}x{h}"): read_mask(path, (w + 1, h))
        assert read_mask(path, (w, h), (max(1, h // 2), max(1, w // 2))).dtype == bool
