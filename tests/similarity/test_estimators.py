"""Similarity estimators: Wasserstein, A-distance, TAG affinity, gains, correlation, file contract."""

import numpy as np
import pytest
import torch

from mtlbench.errors import ConfigError, DataError
from mtlbench.similarity.correlation import correlation_table, rank_correlation
from mtlbench.similarity.estimate import ESTIMATORS
from mtlbench.similarity.h_divergence import proxy_a_distance
from mtlbench.similarity.io import read_similarity, write_similarity
from mtlbench.similarity.transfer_gain import gain_matrix, task_set_accuracy, task_sets
from mtlbench.similarity.wasserstein import wasserstein_distance, wasserstein_matrix

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    return rng.normal(size=(120, 6)), rng.normal(size=(100, 6)) + 0.7


def test_exact_emd_zero_on_itself_and_symmetric(samples):
    x, z = samples
    assert wasserstein_distance(x, x, "exact") == pytest.approx(0.0, abs=1e-9)
    d_xz, d_zx = wasserstein_distance(x, z, "exact"), wasserstein_distance(z, x, "exact")
    assert d_xz > 0.5  # mean shift 0.7 in 6 dims -> W_2^2 >= 6 * 0.49
    assert d_xz == pytest.approx(d_zx, rel=1e-9)
    m = wasserstein_matrix([(x, None), (z, None), (x + 3, None)], method="exact")
    assert np.allclose(m, m.T) and np.allclose(np.diag(m), 0) and m[0, 2] > m[0, 1]


def test_sinkhorn_approaches_exact_as_eps_shrinks(samples):
    x, z = samples
    exact = wasserstein_distance(x, z, "exact")
    errors = [abs(wasserstein_distance(x, z, "sinkhorn", eps=eps) - exact) for eps in (1.0, 0.1, 0.01)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.02 * exact


def test_sliced_and_label_aware(samples):
    x, z = samples
    assert wasserstein_distance(x, x, "sliced") == pytest.approx(0.0, abs=1e-9)
    assert wasserstein_distance(x, z, "sliced", seed=1) == wasserstein_distance(x, z, "sliced", seed=1)
    y = np.arange(len(x)) % 3
    same = wasserstein_distance(x, x, ys=y, yt=y, label_weight=10.0)
    shuffled = wasserstein_distance(x, x, ys=y, yt=np.roll(y, 1), label_weight=10.0)
    assert same == pytest.approx(0.0, abs=1e-9) and shuffled > 0.5
    with pytest.raises(ConfigError, match="label_weight"):
        wasserstein_distance(x, z, "sliced", ys=y, yt=y, label_weight=1.0)
    with pytest.raises(ConfigError, match="method"):
        wasserstein_distance(x, z, "emd")


def test_label_aware_regression_targets_use_squared_difference():
    # same inputs, targets shifted by c: the identity plan is optimal and costs λ c²
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = rng.normal(size=40)
    lam, c = 0.5, 1.5
    same = wasserstein_distance(x, x, ys=y, yt=y, label_weight=lam, relative=False)
    shifted = wasserstein_distance(x, x, ys=y, yt=y + c, label_weight=lam, relative=False)
    blind = wasserstein_distance(x, x, ys=y, yt=y + c, relative=False)
    assert same == pytest.approx(0.0, abs=1e-9)
    assert blind == pytest.approx(0.0, abs=1e-9)  # without labels the tasks look identical
    assert shifted == pytest.approx(lam * c**2, rel=1e-6)


def test_a_distance_halves_vs_separable():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 8))
    assert proxy_a_distance(x[:200], x[200:], seed=0) < 0.4
    assert proxy_a_distance(x, x + 4.0, seed=0) > 1.9


def test_tag_affinity_sign():
    """A step on a task lowers its own loss and its duplicate's (Z > 0), and helps an
    identical task more than one whose labels depend on an unrelated feature."""
    from mtlbench.methods import Problem, TaskData
    from mtlbench.similarity.tag_affinity import TagAffinityHparams, tag_affinity

    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    y_other = (x[:, 3] > 0).astype(np.int64)
    data = {"a": TaskData(x[:100], y[:100], x[100:], y[100:]),
            "copy": TaskData(x[:100] + 0.01, y[:100], x[100:], y[100:]),
            "other": TaskData(x[:100], y_other[:100], x[100:], y_other[100:])}
    hp = TagAffinityHparams(hidden=8, dropout=0.0, steps=20, batch_size=32, affinity_every=5, lookahead_lr=0.5)
    problem = Problem(["a", "copy", "other"], 2, data)
    z = tag_affinity(problem, hp, seed=0)
    assert z.shape == (3, 3)
    assert np.all(np.diag(z) > 0)
    assert z[0, 1] > 0 and z[1, 0] > 0
    assert z[0, 1] > z[2, 1] and z[1, 0] > z[2, 0]
    assert np.array_equal(z, tag_affinity(problem, hp, seed=0))


def test_transfer_gain_records_and_matrix():
    from conftest import make_blobs_problem

    from mtlbench.methods.bmtl import BMTLHparams

    prob = make_blobs_problem(n_tasks=3, n_train=30, n_test=60)
    hp = BMTLHparams(hidden=16, steps=20, batch_size=16, eval_every=20)
    recs = [task_set_accuracy([prob], ts, hp, seeds=[0]) for ts in task_sets(prob.tasks)]
    assert len(recs) == 3 + 3
    gain, joint, alone = gain_matrix(recs, prob.tasks)
    assert gain.shape == (3, 3) and np.all(np.diag(gain) == 0)
    assert gain[0, 1] == pytest.approx(recs[3]["accuracy"]["t1"][0] - recs[1]["accuracy"]["t1"][0])
    with pytest.raises(DataError, match="t0\\+t1"):
        gain_matrix([r for r in recs if r["tasks"] != ["t0", "t1"]], prob.tasks)


def test_rank_correlation_signs():
    rng = np.random.default_rng(3)
    gain = rng.normal(size=(5, 5))
    assert rank_correlation(gain, gain)["spearman"] == pytest.approx(1.0)
    assert rank_correlation(gain, gain, "distance")["kendall"] == pytest.approx(-1.0)
    assert rank_correlation(-gain, gain, "distance")["spearman"] == pytest.approx(1.0)
    table = correlation_table({"g": (gain, "similarity"), "noise": (rng.normal(size=(5, 5)), "similarity")}, gain)
    assert list(table.estimator) == ["g", "noise"] and table.n_pairs.tolist() == [20, 20]


def test_similarity_file_roundtrip(tmp_path):
    m = np.arange(9.0).reshape(3, 3)
    rec = write_similarity(tmp_path / "w.json", m, ["a", "b", "c"], "wasserstein_exact", {"n_samples": 5},
                           orientation=ESTIMATORS["wasserstein"].orientation)
    assert rec["orientation"] == "distance"
    with pytest.raises(DataError, match="orientation must be one of similarity, distance"):
        write_similarity(tmp_path / "y.json", m, ["a", "b", "c"], "w", {}, orientation="closeness")
    back, _ = read_similarity(tmp_path / "w.json", ["c", "a", "b"])
    assert back[0, 1] == m[2, 0] and back[1, 2] == m[0, 1]
    with pytest.raises(DataError):
        write_similarity(tmp_path / "x.json", m, ["a", "b"], "tag_affinity", {}, orientation="similarity")
