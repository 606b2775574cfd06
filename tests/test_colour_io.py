"""Colour conversions and image IO, cross-checked against OpenCV and PIL."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sagebench.colour import rgb_to_gray, rgb_to_ycrcb, ycrcb_to_rgb
from sagebench.errors import DataError
from sagebench.io import read_image, to_gray_if_equal, to_tensor, to_uint8, write_image

cv2 = pytest.importorskip("cv2")


@pytest.fixture()
def rgb8() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    img[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0],
                  [0, 255, 255], [255, 0, 255]]
    return img


def test_quantized_ycrcb_matches_opencv_exactly(rgb8):
    ours = rgb_to_ycrcb(to_tensor(rgb8)[None], quantize=True)[0]
    ref = cv2.cvtColor(rgb8, cv2.COLOR_RGB2YCrCb)
    assert torch.equal(torch.round(ours * 255).to(torch.uint8), torch.from_numpy(ref).permute(2, 0, 1))


def test_quantized_gray_matches_opencv_exactly(rgb8):
    ours = rgb_to_gray(to_tensor(rgb8)[None], quantize=True)[0, 0]
    ref = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    assert torch.equal(torch.round(ours * 255).to(torch.uint8), torch.from_numpy(ref))


def test_float_ycrcb_round_trip_and_opencv_float(rgb8):
    x = to_tensor(rgb8)[None].double()
    ycc = rgb_to_ycrcb(x)
    ref = cv2.cvtColor(rgb8.astype(np.float32) / 255, cv2.COLOR_RGB2YCrCb)
    assert torch.allclose(ycc[0].permute(1, 2, 0).float(), torch.from_numpy(ref), atol=1e-5)
    # the published coefficients are rounded to 3 decimals, so the round trip is exact to ~1e-3
    assert (ycrcb_to_rgb(ycc) - x).abs().max() < 2e-3


def test_colour_shape_errors():
    with pytest.raises(ValueError, match="B x 3 x H x W"):
        rgb_to_ycrcb(torch.rand(1, 1, 4, 4))


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".jpg"])
def test_read_image_formats(tmp_path, rgb8, suffix):
    p = tmp_path / f"x{suffix}"
    Image.fromarray(rgb8).save(p)
    arr = read_image(p)
    assert arr.shape == rgb8.shape and arr.dtype == np.uint8
    if suffix != ".jpg":
        assert np.array_equal(arr, rgb8)


def test_read_16bit_png(tmp_path):
    data = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 100)
    p = tmp_path / "ir16.png"
    Image.fromarray(data).save(p)
    arr = read_image(p)
    assert arr.dtype == np.uint16 and np.array_equal(arr, data)
    t = to_tensor(arr)
    assert t.shape == (1, 20, 30) and abs(float(t.max()) - data.max() / 65535) < 1e-6


def test_equal_channels_become_grey(rgb8):
    grey = np.repeat(rgb8[..., :1], 3, axis=2)
    assert to_gray_if_equal(grey).ndim == 2
    assert to_gray_if_equal(rgb8).ndim == 3


def test_corrupt_and_missing_files_named(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(DataError, match="broken.png: cannot read image"):
        read_image(bad)
    with pytest.raises(DataError, match="nothere.png: file not found"):
        read_image(tmp_path / "nothere.png")


def test_to_uint8_rounding_matches_save_image_convention():
    x = torch.tensor([0.0, 0.5 / 255, 1.49 / 255, 1.5 / 255, 1.0, 1.2, -0.1]).view(1, 1, 7)
    assert to_uint8(x).tolist() == [[1 - 1, 1, 1, 2, 255, 255, 0]]


def test_write_image_is_atomic_and_readable(tmp_path, rgb8):
    out = write_image(tmp_path / "sub" / "f.png", to_tensor(rgb8))
    assert np.array_equal(read_image(out), rgb8)
    assert [p.name for p in out.parent.iterdir()] == ["f.png"]
