import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mtlbench.errors import DataError
from mtlbench.features.backbones import (
    Pixels,
    PixelsConfig,
    VGG16Config,
    vgg16_fc7_features,
    vgg16_fc7_model,
)
from mtlbench.features.table import read_features, read_metadata, write_features


def test_features_table_schema_and_roundtrip(tmp_path):
    x = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    path = tmp_path / "f.parquet"
    write_features(path, [f"s{i}" for i in range(5)], ["a"] * 3 + ["b"] * 2, [0, 1, 2, 0, 1], x,
                   {"backbone": "pixels", "weights": None})
    schema = pq.read_schema(path)
    assert schema.names == ["sample_id", "task", "label", "feature"]
    ftype = schema.field("feature").type
    assert pa.types.is_fixed_size_list(ftype) and ftype.list_size == 7
    assert ftype.value_type == pa.float32()
    assert str(schema.field("label").type) == "int64"
    ft = read_features(path)
    np.testing.assert_array_equal(ft.feature, x)
    assert ft.metadata["feature_dim"] == 7 and ft.metadata["backbone"] == "pixels"
    assert read_metadata(path)["num_samples"] == 5
    assert not list(tmp_path.glob(".*tmp"))  # no temporary left behind


def test_features_table_refuses_nan(tmp_path):
    x = np.zeros((3, 2), dtype=np.float32)
    x[1, 0] = np.nan
    with pytest.raises(DataError, match="first row 1"):
        write_features(tmp_path / "f.parquet", ["a", "b", "c"], ["t"] * 3, [0, 0, 0], x, {})
    assert not (tmp_path / "f.parquet").exists()


def test_truncated_features_table_names_the_file_and_the_remedy(tmp_path):
    """A features Parquet cut short (a copy interrupted, a full disk): a DataError naming the
    file and what to do, for every reader (the table, its metadata, a split file)."""
    from mtlbench.splits import read_split, read_split_sides

    path = tmp_path / "pixels.parquet"
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    write_features(path, [f"s{i}" for i in range(10)], ["a"] * 10, [0, 1] * 5, x, {"backbone": "pixels"})
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    for read in (read_features, read_metadata, read_split, read_split_sides):
        with pytest.raises(DataError, match=rf"{path}: the .* is damaged or truncated .*rm {path} && snakemake {path}"):
            read(path)


def test_pixels_normalised_and_flat():
    imgs = np.zeros((2, 3, 4, 4), dtype=np.uint8)
    imgs[1] = 255
    f = Pixels.extract(imgs, PixelsConfig())
    assert f.shape == (2, 48) and f.dtype == np.float32
    assert f[0].max() == -1.0 and f[1].min() == 1.0


@pytest.fixture(scope="module")
def random_vgg():
    return vgg16_fc7_model("random", seed=0)


def test_vgg16_fc7_random_weights_shape_and_batch_invariance(random_vgg):
    imgs = np.random.default_rng(0).integers(0, 256, size=(2, 3, 40, 30), dtype=np.uint8)
    a = vgg16_fc7_features(random_vgg, imgs, VGG16Config(weights="random", batch_size=2), progress=False)
    assert a.shape == (2, 4096) and a.dtype == np.float32
    assert (a >= 0).all() and (a > 0).any()  # after fc7's ReLU
    b = vgg16_fc7_features(random_vgg, imgs, VGG16Config(weights="random", batch_size=1), progress=False)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_vgg16_fc7_cut_after_fc7_relu_in_eval_mode(random_vgg):
    import torch

    assert not random_vgg.training
    layers = list(random_vgg.fc.children())
    assert [type(m).__name__ for m in layers] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU"]
    assert layers[0].in_features == 512 * 7 * 7 and layers[3].out_features == 4096
    assert isinstance(random_vgg.features[-1], torch.nn.MaxPool2d)


def test_vgg16_fc7_loads_a_local_state_dict(tmp_path, random_vgg):
    import torch
    from torchvision.models import vgg16

    torch.manual_seed(1)
    ref = vgg16(weights=None)
    torch.save(ref.state_dict(), tmp_path / "w.pth")
    model = vgg16_fc7_model(str(tmp_path / "w.pth"))
    assert torch.equal(model.fc[3].weight, ref.classifier[3].weight)
    assert torch.equal(model.features[0].weight, ref.features[0].weight)
    assert not torch.equal(model.fc[0].weight, random_vgg.fc[0].weight)


def test_vgg16_crop_must_give_7x7():
    from mtlbench.checks import build_dataclass
    from mtlbench.errors import ConfigError

    with pytest.raises(ConfigError, match="crop: 128 gives a 4x4"):
        build_dataclass(VGG16Config, {"resize": 160, "crop": 128}, "backbones.vgg16_fc7")


def test_arrow_columns_read_as_to_numpy_gives_them():
    """features.table._to_numpy: the buffer view equals pyarrow's to_numpy (offsets, every
    numeric type, read-only), and an array with nulls takes pyarrow's own path."""
    import pyarrow as pa

    from mtlbench.features.table import _to_numpy

    for typ in (pa.float32(), pa.float64(), pa.int32(), pa.int64()):
        arr = pa.array(np.arange(12), type=typ).slice(3, 7)
        got = _to_numpy(arr)
        want = arr.to_numpy(zero_copy_only=False)
        assert got.dtype == want.dtype and not got.flags.writeable
        np.testing.assert_array_equal(got, want)
    with_null = pa.array([1.0, None, 3.0], type=pa.float32())
    np.testing.assert_array_equal(_to_numpy(with_null), with_null.to_numpy(zero_copy_only=False))


def test_a_train_job_reads_its_inputs_without_pandas(tmp_path):
    import subprocess
    import sys

    from conftest import make_blobs_problem, write_problem_files

    prob = make_blobs_problem(n_tasks=2)
    write_problem_files(prob, tmp_path / "f.parquet", tmp_path / "s.parquet", classes=range(prob.n_classes))
    code = ("import sys\nfrom mtlbench.train import build_problem\n"
            f"problem, _ = build_problem({str(tmp_path / 'f.parquet')!r}, {str(tmp_path / 's.parquet')!r}, ['t0', 't1'])\n"
            "print(len(problem.data['t0'].y_test), 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    from mtlbench.train import build_problem

    here, _ = build_problem(tmp_path / "f.parquet", tmp_path / "s.parquet", ["t0", "t1"])
    assert out.stdout.split() == [str(len(here.data["t0"].y_test)), "False"]
