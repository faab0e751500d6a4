import numpy as np
import pytest

from mtlbench.data.digits_shift import SHIFTS, TASKS, apply_shift, per_class_parts, shift_tasks
from mtlbench.data.registry import get_dataset
from mtlbench.errors import DataError


def _domain(name, n_per_class=8, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class)
    images = rng.integers(0, 256, size=(len(labels), 3, 6, 6), dtype=np.uint8)
    return name, images, labels


def test_registry_lists_twelve_tasks():
    spec = get_dataset("digits_shift")
    assert spec.tasks == TASKS and len(TASKS) == 12 and len(spec.classes) == 10


def test_shifts():
    rng = np.random.default_rng(0)
    x = np.zeros((2, 3, 4, 4), dtype=np.uint8)
    x[:, :, 0, 3] = 200  # top-right pixel
    assert np.array_equal(apply_shift(x, "identity", rng), x)
    rot = apply_shift(x, "rot90", rng)
    assert rot[0, 0, 0, 0] == 200 and rot.sum() == x.sum()  # counter-clockwise: top-right -> top-left
    assert np.array_equal(apply_shift(x, "invert", rng), 255 - x)
    noisy = apply_shift(x, "noise", rng)
    assert noisy.dtype == np.uint8 and 10 < np.abs(noisy.astype(int) - x).mean() < 60
    with pytest.raises(DataError, match="unknown shift"):
        apply_shift(x, "blur", rng)


def test_parts_are_disjoint_and_stratified():
    labels = np.repeat(np.arange(10), 9)
    parts = per_class_parts(labels, 4, np.random.default_rng(1))
    allidx = np.concatenate(parts)
    assert len(allidx) == len(labels) == len(set(allidx.tolist()))
    for p in parts:
        assert set(labels[p].tolist()) == set(range(10))


def test_shift_tasks_build():
    domains = [_domain("a", seed=0), _domain("b", seed=1)]
    sid, task, label, image = shift_tasks(domains, seed=3)
    assert image.shape == (160, 3, 6, 6) and image.dtype == np.uint8
    assert sorted(set(task)) == sorted(f"{d}_{s}" for d in "ab" for s in SHIFTS)
    assert len(set(sid)) == len(sid)
    for t in set(task):
        sel = np.asarray(task) == t
        assert sel.sum() == 20 and np.bincount(label[sel], minlength=10).tolist() == [2] * 10
    # the invert task holds the inverted source images, labels kept
    a_img, a_lab = domains[0][1], domains[0][2]
    k = task.index("a_invert")
    src = int(sid[k].split("/")[1])
    assert np.array_equal(image[k], 255 - a_img[src]) and label[k] == a_lab[src]
    again = shift_tasks(domains, seed=3)
    assert np.array_equal(again[3], image)
