"""VGG16 fc7 over image files: batch-size independence, resumable shards, unreadable images."""

from __future__ import annotations

import io

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


def _pil_reference(path, resize=256, crop=224, draft=False):
    """The specification spelled out with PIL and float arithmetic: full decode, square
    bilinear antialiased resize, centre crop, rounded to uint8."""
    import torch.nn.functional as F

    with Image.open(path) as im:
        if draft:
            im.draft("RGB", (resize, resize))
        arr = np.asarray(im.convert("RGB"))
    x = torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(resize, resize), mode="bilinear", antialias=True, align_corners=False)
    top = (resize - crop) // 2
    return x[0, :, top: top + crop, top: top + crop].round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def large_jpeg(tmp_path_factory):
    """A 600x700 JPEG with smooth content and edges: draft decoding halves it while decoding."""
    yy, xx = np.mgrid[0:600, 0:700]
    arr = np.stack([(xx * 255 // 700), (yy * 255 // 600), ((xx // 50 + yy // 50) % 2) * 200 + 20], -1)
    p = tmp_path_factory.mktemp("large") / "large.jpg"
    Image.fromarray(arr.astype(np.uint8)).save(p, quality=90)
    return str(p)


def test_worker_decode_follows_the_specification(images, large_jpeg):
    """JPEG (libjpeg-turbo via torchvision), grey JPEG and PNG (PIL): the uint8 resize is
    within one grey level of the float reference; draft only changes large JPEGs, a little."""
    from mtlbench.features.decode import decode_resize_crop

    for p in images + [large_jpeg]:
        data = open(p, "rb").read()
        x = decode_resize_crop(data, 256, 224)
        assert x.shape == (3, 224, 224) and x.dtype == torch.uint8 and x.is_contiguous()
        assert (x.int() - _pil_reference(p).int()).abs().max() <= 1, p
        if p != large_jpeg:  # smaller than 512 px: draft keeps the full scale, same pixels
            assert torch.equal(decode_resize_crop(data, 256, 224, draft=True), x), p
    data = open(large_jpeg, "rb").read()
    draft = decode_resize_crop(data, 256, 224, draft=True)
    assert (draft.int() - _pil_reference(large_jpeg, draft=True).int()).abs().max() <= 1
    diff = (draft.int() - decode_resize_crop(data, 256, 224).int()).abs().float()
    assert 0 < diff.mean() < 3  # another image, slightly: edges soften differently


def test_jpeg_size_reads_the_frame_header():
    from mtlbench.features.decode import jpeg_size

    arr = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    for kw in ({}, {"progressive": True}, {"exif": b"Exif\x00\x00" + bytes(300)}):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", **kw)
        assert jpeg_size(buf.getvalue()) == (37, 53), kw
    assert jpeg_size(b"\xff\xd8 not a jpeg") is None


def test_resize_crop_batch_groups_sizes_and_matches_one_by_one():
    from mtlbench.features.decode import resize_crop_batch, resize_crop_uint8

    g = torch.Generator().manual_seed(0)
    imgs = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g)
            for h, w in [(300, 280), (240, 260), (300, 280), (512, 400), (240, 260)]]
    batch = resize_crop_batch(imgs, 256, 224)
    assert batch.shape == (5, 3, 224, 224) and batch.dtype == torch.uint8
    for k, img in enumerate(imgs):
        assert torch.equal(batch[k], resize_crop_uint8(img, 256, 224)), k
    same = resize_crop_batch(imgs[:1] * 3, 256, 224)  # one size: one call, no scatter
    assert same.shape == (3, 3, 224, 224) and torch.equal(same[2], batch[0])


def test_bytes_decode_path_matches_worker_path_and_reports_bad_files(images):
    """The GPU-decode path's code (decode_jpeg on a list of bytes) run on the CPU."""
    from mtlbench.features.decode import decode_bytes_batch, decode_resize_crop

    blobs = [torch.frombuffer(bytearray(open(p, "rb").read()), dtype=torch.uint8) for p in images]
    blobs.insert(1, torch.frombuffer(bytearray(b"\xff\xd8 broken"), dtype=torch.uint8))
    x, failed = decode_bytes_batch(blobs, "cpu", 256, 224, where=["a", "broken.jpg", "c", "d", "e", "f"])
    assert [k for k, _ in failed] == [1] and x.shape == (5, 3, 224, 224) and x.dtype == torch.uint8
    assert failed[0][1].startswith(("OSError", "UnidentifiedImageError"))
    one_by_one = torch.stack([decode_resize_crop(open(p, "rb").read(), 256, 224) for p in images])
    assert torch.equal(x, one_by_one)


def test_jpeg_draft_is_recorded_and_part_of_the_shards_identity(vgg, images, large_jpeg, tmp_path):
    out = tmp_path / "f.parquet"
    paths = [images[0], large_jpeg]
    full = run(paths, out, _tiny_model(), batch_size=2)
    assert read_features(out).metadata["jpeg_draft"] is False and full["computed_shards"] == 1
    s = run(paths, out, _tiny_model(), batch_size=2, jpeg_draft=True)
    meta = read_features(out).metadata
    assert s["computed_shards"] == 1 and meta["jpeg_draft"] is True and "draft" in meta["preprocessing_detail"]
    from mtlbench.errors import ConfigError

    with pytest.raises(ConfigError, match="jpeg_draft"):
        run(paths, out, _tiny_model(), batch_size=2, jpeg_draft=True, decode="cuda", device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_decode_matches_cpu_decode(images, large_jpeg, tmp_path):
    """decode='cuda' (nvjpeg on the batch, grouped resize on the GPU) against the CPU workers."""
    from mtlbench.features.decode import decode_bytes_batch, decode_resize_crop

    paths = images + [large_jpeg, large_jpeg]
    blobs = [torch.frombuffer(bytearray(open(p, "rb").read()), dtype=torch.uint8) for p in paths]
    x, failed = decode_bytes_batch(blobs, torch.device("cuda"), 256, 224)
    assert not failed and x.is_cuda and x.shape == (len(paths), 3, 224, 224)
    cpu = torch.stack([decode_resize_crop(open(p, "rb").read(), 256, 224) for p in paths])
    # nvjpeg's IDCT and upsampling round differently from libjpeg-turbo's
    assert (x.cpu().int() - cpu.int()).abs().float().mean() < 2.0
    model = _tiny_model()
    a = run(paths, tmp_path / "cpu.parquet", model, batch_size=4, device="cuda")
    b = run(paths, tmp_path / "gpu.parquet", model, batch_size=4, device="cuda", decode="cuda")
    assert a["num_samples"] == b["num_samples"] == len(paths)
    fa, fb = read_features(tmp_path / "cpu.parquet"), read_features(tmp_path / "gpu.parquet")
    assert fb.metadata["decode"] == "cuda"
    np.testing.assert_allclose(fb.feature, fa.feature, rtol=0.05, atol=0.05)


def test_cuda_decode_needs_a_cuda_device(images, tmp_path):
    from mtlbench.errors import ConfigError

    with pytest.raises(ConfigError, match="decode: 'cuda' needs a CUDA device"):
        run(images, tmp_path / "f.parquet", _tiny_model(), batch_size=2, decode="cuda")


def test_real_jpegs_decode_as_pil_does_and_draft_stays_close(shared_data):
    """Office-Caltech10 JPEGs (every 60th, all four domains): torchvision's decoder gives
    PIL's pixels exactly; draft decoding changes only images >= 512 px on both sides, by a
    few grey levels on average."""
    from mtlbench.data.sources import Source
    from mtlbench.features.decode import decode_resize_crop, decode_rgb_tensor

    src = Source(shared_data / "office_caltech10_images.tar")
    names = [n for n in src.names if n.endswith(".jpg")][::60]
    assert {n.split("/")[0] for n in names} == {"amazon", "caltech10", "dslr", "webcam"}
    changed = 0
    for n in names:
        data = src.read(n)
        with Image.open(io.BytesIO(data)) as im:
            pil = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)
            small = min(im.size) < 512
        assert torch.equal(decode_rgb_tensor(data), pil), n
        full, draft = decode_resize_crop(data, 256, 224), decode_resize_crop(data, 256, 224, draft=True)
        diff = (full.int() - draft.int()).abs().float().mean()
        assert (diff == 0) if small else (diff < 8), (n, float(diff))
        changed += int(diff > 0)
    assert changed > 0


def test_a_failed_shard_write_stops_the_run(images, tmp_path, monkeypatch):
    """Shards are written in a background thread: its errors still reach the caller."""
    import mtlbench.features.image_files as image_files

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(image_files, "features_table", disk_full)
    with pytest.raises(OSError, match="No space left"):
        run(images, tmp_path / "f.parquet", _tiny_model(), batch_size=2, shard_size=2)
    assert not list(tmp_path.glob(".*merging"))


def test_merged_while_running_equals_merged_at_the_end(images, tmp_path, monkeypatch):
    """The table appended shard by shard during the run is the one merge_shards makes from
    the shards: fresh, resumed after a kill, and with a skipped image (merged at the end)."""
    import pyarrow.parquet as pq

    import mtlbench.features.image_files as image_files

    merge_shards = image_files.merge_shards
    merged_at_end = []
    monkeypatch.setattr(image_files, "merge_shards", lambda *a: merged_at_end.append(1) or merge_shards(*a))

    def check(out, meta_keys_from):
        shards = sorted(shard_dir_for(out).glob("*.parquet"))
        merge_shards(shards, tmp_path / "ref.parquet", {k: v for k, v in read_features(out).metadata.items()
                                                        if k not in meta_keys_from})
        a, b = pq.read_table(out), pq.read_table(tmp_path / "ref.parquet")
        assert a.equals(b) and a.schema.metadata == b.schema.metadata
        assert pq.ParquetFile(out).num_row_groups == len([p for p in shards if pq.read_metadata(p).num_rows])

    derived = ("skipped", "shards", "feature_dim", "num_samples")
    out = tmp_path / "fresh.parquet"
    s = run(images, out, _tiny_model(), batch_size=2, shard_size=2)
    assert s["num_samples"] == 5 and s["shards"] == 3
    check(out, derived)
    out = tmp_path / "resumed.parquet"
    with pytest.raises(_Interrupt):
        run(images, out, _Counting(_tiny_model(), fail_at=2), batch_size=2, shard_size=2)
    assert not list(tmp_path.glob(".*merging"))
    assert run(images, out, _tiny_model(), batch_size=2, shard_size=2)["reused_shards"] == 1
    check(out, derived)
    assert not merged_at_end  # both merged while running
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "skipped.parquet"
    s = run(images[:3] + [str(bad)] + images[3:], out, _tiny_model(), batch_size=2, shard_size=2,
            skip_unreadable=True)
    assert s["num_samples"] == 5 and [x["path"] for x in s["skipped"]] == [str(bad)]
    assert merged_at_end == [1]
    check(out, derived)
