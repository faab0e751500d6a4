"""MRN: the tensor normal prior by mode products, the flip-flop updates, end to end."""

import numpy as np
import pytest
import torch
from conftest import make_blobs_problem

from mtlbench.checks import build_dataclass
from mtlbench.methods import get_method
from mtlbench.methods.mrn import flip_flop_precision, tensor_normal_prior


def _spd(n, g):
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    return a @ a.T + n * torch.eye(n, dtype=torch.float64)


def test_prior_equals_the_kronecker_form():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    ot, oc, od = _spd(3, g), _spd(4, g), _spd(5, g)
    # vec in C order (T slowest, D fastest) pairs with Ω_T ⊗ Ω_C ⊗ Ω_D
    explicit = W.reshape(-1) @ torch.kron(torch.kron(ot, oc), od) @ W.reshape(-1)
    assert torch.allclose(tensor_normal_prior(W, ot, oc, od), explicit)


@pytest.mark.parametrize("shape", [(3, 4, 5), (3, 10, 64)])
def test_flip_flop_keeps_precisions_spd_unit_trace(shape):
    g = torch.Generator().manual_seed(1)
    W = torch.randn(*shape, generator=g, dtype=torch.float64)
    W[1] = W[0] + 0.1 * W[1]  # two related tasks
    omegas = tuple(torch.eye(n, dtype=torch.float64) for n in shape)
    for _ in range(5):
        omegas = tuple(flip_flop_precision(W, k, omegas, 1e-5) for k in range(3))
        for om in omegas:
            assert torch.allclose(om, om.T)
            assert float(torch.linalg.eigvalsh(om).min()) > 0
            assert abs(float(torch.trace(om)) - 1) < 1e-9


def test_flip_flop_finds_the_related_tasks():
    g = torch.Generator().manual_seed(2)
    W = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    W[1] = W[0] + 0.05 * torch.randn(4, 5, generator=g, dtype=torch.float64)
    omegas = tuple(torch.eye(n, dtype=torch.float64) for n in W.shape)
    omegas = tuple(flip_flop_precision(W, k, omegas, 1e-5) for k in range(3))
    cov = torch.linalg.inv(omegas[0])
    corr = cov / torch.sqrt(torch.outer(torch.diag(cov), torch.diag(cov)))
    assert corr[0, 1] > 0.9 and abs(corr[0, 2]) < corr[0, 1]


def test_mrn_end_to_end():
    torch.set_num_threads(1)
    p = make_blobs_problem(n_tasks=3, n_classes=4, dim=16, n_train=60, n_test=200, seed=0, shift=1.0)
    cls = get_method("mrn")
    hp = build_dataclass(cls.Hparams, {"steps": 60, "hidden": 32, "eval_every": 30}, "methods.mrn")
    r = cls(hp).fit_predict(p, seed=0, progress=False)
    assert np.mean([np.mean(r.predictions[t] == p.data[t].y_test) for t in p.tasks]) > 0.6
    cov = r.relations["task_covariance"]
    assert cov.shape == (3, 3) and np.allclose(cov, cov.T) and np.linalg.eigvalsh(cov).min() > 0
    assert abs(np.trace(cov) - 1) < 1e-9
    assert [h["step"] for h in r.history] == [30, 60]


def test_the_prior_pulls_the_task_classifiers_together_and_its_default_matters():
    # (issue 15 d) a large prior_weight shrinks the distance between the task-specific weight
    # matrices W_t against prior_weight 0, and at the default the prior changes the fit (the
    # old default 1.0 left the training cross-entropy unchanged to 3 decimals); the terms'
    # sizes are in the record
    torch.set_num_threads(1)
    p = make_blobs_problem(n_tasks=3, n_classes=4, dim=16, n_train=60, n_test=100, seed=0, shift=1.0)
    cls = get_method("mrn")

    def run(**kw):
        hp = build_dataclass(cls.Hparams, {"steps": 150, "hidden": 32, **kw}, "methods.mrn")
        return cls(hp).fit_predict(p, seed=0, progress=False).extra

    free, default, large = run(prior_weight=0.0), run(), run(prior_weight=1e5)
    assert large["task_weight_distance"] < 0.5 * free["task_weight_distance"], (large, free)
    assert default["cross_entropy"] > 1.5 * free["cross_entropy"], (default, free)
    assert free["prior_term"] == 0.0 < default["prior_term"] < large["prior_term"]
