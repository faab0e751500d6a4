"""train.run_seeds: several seeds as one batched VMTL model, each run JSON equal to train.run's."""

import numpy as np
import pytest
import torch

from mtlbench.features.table import write_features
from mtlbench.io import read_json
from mtlbench.splits import make_split, write_split
from mtlbench.train import run, run_seeds

HP = {"hidden": 8, "latent": 4, "z_samples": 2, "w_samples": 2, "steps": 12, "eval_every": 6, "lr": 5e-3,
      "dropout": 0.1}


def _toy(tmp_path):
    rng = np.random.default_rng(0)
    n, tasks = 120, ["a", "b"]
    task = np.repeat(tasks, n // 2)
    label = np.tile(np.arange(3), n // 3)
    feature = (rng.normal(size=(n, 5)) + label[:, None]).astype(np.float32)
    sample_id = np.array([f"s{i}" for i in range(n)])
    feats = tmp_path / "f.parquet"
    write_features(feats, sample_id, task, label, feature, {"backbone": "test", "classes": ["0", "1", "2"]})
    splits = []
    for seed in (0, 1):
        p = tmp_path / f"split{seed}.parquet"
        write_split(p, make_split(sample_id, task, label, 0.3, seed), 0.3, seed)
        splits.append(p)
    return feats, tasks, splits


def test_run_seeds_equals_run_per_seed(tmp_path):
    torch.set_num_threads(1)
    feats, tasks, splits = _toy(tmp_path)
    kw = dict(dataset="toy", tasks=tasks, method="vmtl", algorithm="vmtl", hparams=HP, ratio=0.3, device="cpu",
              progress=False)
    outs = [tmp_path / f"batched{s}.json" for s in (0, 1)]
    run_seeds(feats, splits, outs, seeds=[0, 1], **kw)
    for seed, sp, out in zip((0, 1), splits, outs):
        one = run(feats, sp, tmp_path / f"one{seed}.json", seed=seed, **kw)
        batched = read_json(out)
        assert batched["metrics"] == one["metrics"] and batched["history"] == one["history"]
        assert batched["config_hash"] == one["config_hash"] and batched["batched_seeds"] == [0, 1]
        # the batched job's wall time is every seed's: labelled so, unlike a single run's
        assert batched["wall_time_scope"] == "batched_seeds" and one["wall_time_scope"] == "run"
        np.testing.assert_allclose(batched["relations"]["A_z"]["matrix"], one["relations"]["A_z"]["matrix"], atol=1e-6)


@pytest.mark.parametrize("method,hparams", [("linear_stl", {}), ("stl", {"hidden": 8, "steps": 15, "eval_every": 5}),
                                            ("bmtl", {"hidden": 8, "steps": 15, "eval_every": 5})])
def test_seeds_run_one_after_another_write_the_run_json_of_each_seed_alone(tmp_path, method, hparams):
    """A method without a batched model trains the seeds in turn in the one train_seeds job:
    every seed's run JSON is the one `mtlbench train` writes for that seed alone, byte for
    byte apart from the wall time, which is the seed's own (scope ``run``)."""
    torch.set_num_threads(1)
    feats, tasks, splits = _toy(tmp_path)
    kw = dict(dataset="toy", tasks=tasks, method=method, algorithm=method, hparams=hparams, ratio=0.3,
              device="cpu", progress=False)
    outs = [tmp_path / f"seq{s}.json" for s in (0, 1)]
    recs = run_seeds(feats, splits, outs, seeds=[0, 1], **kw)
    assert [r["wall_time_scope"] for r in recs] == ["run"] * 2 and "batched_seeds" not in recs[0]
    for seed, sp, out in zip((0, 1), splits, outs):
        run(feats, sp, tmp_path / f"one{seed}.json", seed=seed, **kw)
        seq, one = read_json(out), read_json(tmp_path / f"one{seed}.json")
        assert seq.pop("wall_time_s") > 0 and one.pop("wall_time_s") > 0
        assert seq == one
    assert read_json(outs[0])["metrics"] != read_json(outs[1])["metrics"]  # two seeds, two runs
