"""VGG16 fc7 over image files: batch-size independence, resumable shards, unreadable images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mtlbench.errors import DataError
from mtlbench.features.backbones import VGG16Config, vgg16_fc7_model
from mtlbench.features.image_files import extract_vgg16_fc7_files, shard_dir_for
from mtlbench.features.table import read_features


@pytest.fixture(scope="module")
def vgg():
    """Random-weight VGG16 fc7, built once for the module (several seconds on a small CPU)."""
    return vgg16_fc7_model("random", seed=0)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Five small files of different sizes and kinds (JPEG colour/grey, PNG)."""
    d = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    paths = []
    for k, (h, w, mode, ext) in enumerate([(20, 30, "RGB", "jpg"), (41, 17, "RGB", "jpg"), (25, 25, "L", "jpg"),
                                           (16, 40, "RGB", "png"), (33, 29, "RGB", "jpg")]):
        arr = rng.integers(0, 255, (h, w, 3) if mode == "RGB" else (h, w), dtype=np.uint8)
        p = d / f"img{k}.{ext}"
        Image.fromarray(arr, mode).save(p)
        paths.append(str(p))
    return paths


def run(paths, out, model, batch_size, workers=0, shard_size=100, **kw):
    n = len(paths)
    return extract_vgg16_fc7_files(paths, [f"s{i}" for i in range(n)], ["t"] * n, list(range(n)), out,
                                   VGG16Config(weights="random", batch_size=batch_size), model=model,
                                   workers=workers, shard_size=shard_size, progress=False, **kw)


def test_fc7_4096_identical_across_batch_sizes(vgg, images, tmp_path):
    """Two images (a grey JPEG and a PNG), batch 1 in-process vs batch 2 in a worker.

    Each image is preprocessed alone, so the inputs are bit-identical; the outputs agree up
    to float32 summation order inside the GEMMs (BLAS blocks differently by batch size).
    """
    picks = images[2:4]
    run(picks, tmp_path / "b1.parquet", vgg, batch_size=1)
    run(picks, tmp_path / "b2.parquet", vgg, batch_size=2, workers=1)
    one, two = read_features(tmp_path / "b1.parquet"), read_features(tmp_path / "b2.parquet")
    assert one.feature.shape == (2, 4096) and (one.feature >= 0).all() and one.feature.max() > 0  # fc7 ReLU
    assert one.metadata["precision"] == "fp32" and one.metadata["decode"] == "cpu"
    assert list(two.sample_id) == ["s0", "s1"]
    np.testing.assert_allclose(two.feature, one.feature, rtol=1e-4, atol=1e-5)


class _Interrupt(Exception):
    pass


class _Counting(torch.nn.Module):
    """Wraps a model; counts forward calls and raises on call number ``fail_at`` (a kill)."""

    def __init__(self, model, fail_at=None):
        super().__init__()
        self.model, self.fail_at, self.calls = model, fail_at, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise _Interrupt("killed")
        return self.model(x)


def _tiny_model():
    """A cheap stand-in with VGG16 fc7's output size: the sharding logic does not depend on the model."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4096),
                               torch.nn.ReLU())


def test_killed_extraction_resumes_from_last_complete_shard(images, tmp_path):
    model = _tiny_model()
    run(images, tmp_path / "ref.parquet", model, batch_size=5)
    reference = read_features(tmp_path / "ref.parquet")
    out = tmp_path / "vgg16_fc7.parquet"
    shards = shard_dir_for(out)
    with pytest.raises(_Interrupt):
        run(images, out, _Counting(model, fail_at=2), batch_size=2, shard_size=2, workers=1)  # dies in shard 1
    assert sorted(p.name for p in shards.glob("*.parquet")) == ["00000.parquet"] and not out.exists()
    again = _Counting(model)
    summary = run(images, out, again, batch_size=2, shard_size=2)
    assert summary["reused_shards"] == 1 and summary["computed_shards"] == 2 and again.calls == 2
    table = read_features(out)
    assert list(table.sample_id) == [f"s{i}" for i in range(5)] and table.metadata["shards"] == 3
    np.testing.assert_allclose(table.feature, reference.feature, rtol=1e-5, atol=1e-6)
    # a complete run reuses every shard and builds no model
    assert run(images, out, None, batch_size=2, shard_size=2)["computed_shards"] == 0


def test_unreadable_image_reported_by_path_and_skipped_only_when_allowed(images, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    paths = images[:2] + [str(bad)] + images[2:3]
    with pytest.raises(DataError, match=r"unreadable image .*broken\.jpg.*skip_unreadable"):
        run(paths, tmp_path / "a.parquet", _tiny_model(), batch_size=4)
    summary = run(paths, tmp_path / "b.parquet", _tiny_model(), batch_size=4, skip_unreadable=True)
    table = read_features(tmp_path / "b.parquet")
    assert list(table.sample_id) == ["s0", "s1", "s3"]
    assert [s["path"] for s in table.metadata["skipped"]] == [str(bad)] == [s["path"] for s in summary["skipped"]]


def test_changed_settings_restart_the_shards(images, tmp_path):
    out = tmp_path / "f.parquet"
    run(images[:3], out, _tiny_model(), batch_size=2, shard_size=1)
    n = len(images[:3])
    s = extract_vgg16_fc7_files(images[:3], [f"s{i}" for i in range(n)], ["t"] * n, [0] * n, out,
                                VGG16Config(weights="random", precision="bf16"), model=_tiny_model(),
                                workers=0, shard_size=1, progress=False)
    assert s["computed_shards"] == 3 and read_features(out).metadata["precision"] == "bf16"


def test_bytes_decode_path_matches_pil_path_and_reports_bad_files(images):
    """The GPU-decode path's code (decode_jpeg on bytes) run on the CPU: the fallback testable here."""
    from mtlbench.features.image_files import decode_bytes_batch, decode_file_cpu, resize_crop_uint8

    blobs = [torch.frombuffer(bytearray(open(p, "rb").read()), dtype=torch.uint8) for p in images]
    blobs.insert(1, torch.frombuffer(bytearray(b"\xff\xd8 broken"), dtype=torch.uint8))
    x, failed = decode_bytes_batch(blobs, "cpu", 256, 224)
    assert [k for k, _ in failed] == [1] and x.shape == (5, 3, 224, 224) and x.dtype == torch.uint8
    pil = torch.stack([resize_crop_uint8(decode_file_cpu(p), 256, 224) for p in images])
    # libjpeg-turbo (torchvision) and PIL's libjpeg may round the IDCT differently; PNG is exact
    assert (x.int() - pil.int()).abs().float().mean() < 2.0
    assert torch.equal(x[3], pil[3])


def test_cuda_decode_needs_a_cuda_device(images, tmp_path):
    from mtlbench.errors import ConfigError

    with pytest.raises(ConfigError, match="decode: 'cuda' needs a CUDA device"):
        run(images, tmp_path / "f.parquet", _tiny_model(), batch_size=2, decode="cuda")
