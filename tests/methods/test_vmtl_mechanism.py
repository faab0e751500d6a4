"""VMTL's mechanism on constructed tasks, and the public code's deviations (issue 19).

Twins: tasks t1 and t2 are two halves of one task; t3 has the same inputs with its labels
permuted (unrelated: its classifier must differ).  Each test fails if the mechanism it
names does not work.
"""

import math

import numpy as np
import pytest
import torch
import yaml
from conftest import make_blobs_problem

from mtlbench.config import build_dataclass, validate_params
from mtlbench.methods import METHODS, Problem, TaskData
from mtlbench.methods import vmtl as V
from mtlbench.methods.blocks.variational import kl_weight

# the public code's deviations, as params.yaml's vmtl_code sets them
CODE = dict(gumbel="categorical", prior_kl="weighted_sum", kl_z_weight=1e-7, detach_prior=True,
            encoder="bayes_linear", z_prior="attention", prior_input_dropout=True, optimizer="per_task",
            anneal_per_task=True, predict="mean", w_samples=1, prior_warmup=4)
# small networks; the KL ramp ends at 300 x 5e-6 = 1.5e-3 per firing, as the code's schedule
TWINS = dict(hidden=16, latent=8, z_samples=3, w_samples=2, steps=300, eval_every=100, lr=1e-2, dropout=0.2,
             kl_step=5e-6, kl_every=1, prior_warmup=5, tau_every=1000)


def twins(seed=0, C=4, D=16, n_train=80, n_test=100) -> Problem:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, size=(C, D))
    pi = np.roll(np.arange(C), 1)  # t3's labels: a derangement of t1's

    def draw(n):
        y = rng.integers(0, C, size=n)
        return (centers[y] + rng.normal(0, 1, size=(n, D))).astype(np.float32), y.astype(np.int64)

    x, y = draw(2 * n_train)
    (x1, y1), (x2, y2), (x3, y3), (x4, y4) = (draw(n_test) for _ in range(4))
    data = {"t1": TaskData(x[:n_train], y[:n_train], x1, y1), "t2": TaskData(x[n_train:], y[n_train:], x2, y2),
            "t3": TaskData(*(lambda a: (a[0], pi[a[1]]))(draw(n_train)), x3, pi[y3])}
    return Problem(tasks=["t1", "t2", "t3"], n_classes=C, data=data)


def _fit(name="vmtl", **kw):
    torch.set_num_threads(1)
    cls = METHODS[name]
    hp = build_dataclass(cls.Hparams, {**TWINS, **kw}, "test")
    return cls(hp).fit_predict(twins(), seed=0, progress=False)


@pytest.fixture(scope="module")
def vmtl_twins():
    return _fit()


def test_twins_mixing_weights_find_the_twin(vmtl_twins):
    """E[A_12] > E[A_13] and E[A_21] > E[A_23], for the z and the w priors of VMTL."""
    for key in ("A_z", "A_w"):
        A = vmtl_twins.relations[key]
        assert A[0, 1] > A[0, 2] + 0.3 and A[1, 0] > A[1, 2] + 0.3, (key, A)


def test_twins_mixing_weights_find_the_twin_code():
    """The same for vmtl_code's classifier weights A_w.  (Its A_z carries no signal: the
    code fixes the weight of KL_z at 1e-7.)"""
    A = _fit(**CODE).relations["A_w"]
    assert A[0, 1] > A[0, 2] + 0.3 and A[1, 0] > A[1, 2] + 0.3, A


def test_prior_ties_the_twins_classifiers(vmtl_twins):
    """‖μ1 − μ2‖ (relative) is smaller under VMTL than under VSTL, and than under VMTL with
    standard normal priors throughout (same sharing: the prior, not the shared encoder, ties
    them); the unrelated t3 stays apart."""
    d = np.asarray(vmtl_twins.extra["classifier_distance"])
    vstl = np.asarray(_fit("vstl").extra["classifier_distance"])
    standard = np.asarray(_fit(prior_warmup=TWINS["steps"]).extra["classifier_distance"])
    assert d[0, 1] < 0.5 * vstl[0, 1], (d, vstl)
    assert d[0, 1] < 0.5 * standard[0, 1], (d, standard)
    assert d[0, 2] > 3 * d[0, 1]


def test_bayes_linear_variance_by_hand():
    """z_var = x²·softplus(φ_ρ)² + softplus(b_ρ)², z_mu = x·φ_μ + b_μ (model_vmtl.py:39-42)."""
    def rho(sigma):  # softplus⁻¹
        return math.log(math.expm1(sigma))

    P = {"enc_Wmu": torch.tensor([[[[1.0], [-0.5]]]]), "enc_Wrho": torch.tensor([[[[rho(0.5)], [rho(1.0)]]]]),
         "enc_bmu": torch.tensor([[[0.25]]]), "enc_brho": torch.tensor([[[rho(0.1)]]])}
    x = torch.tensor([[[[1.0, 2.0]]]])  # (S=1, T=1, N=1, D=2)
    mu, var = V.gaussian_mlp(P, "enc_", x)
    assert float(mu) == pytest.approx(1.0 - 1.0 + 0.25)
    assert float(var) == pytest.approx(1 * 0.25 + 4 * 1.0 + 0.01, rel=1e-5)
    # the noise grows with ‖x‖²: doubling x quadruples the input part of the variance
    assert float(V.gaussian_mlp(P, "enc_", 2 * x)[1]) == pytest.approx(4 * 4.25 + 0.01, rel=1e-5)


def test_kl_schedule_code_ends_at_T_times_the_paper():
    """The code's counters fire once per task call (model_vmtl.py:299-303): β_w ends at T·1.5e-3."""
    hp = dict(TWINS, steps=150, kl_step=1e-4, kl_every=10, eval_every=150)
    code = _fit(**{**hp, **CODE})
    paper = _fit(**hp)
    T = 3
    assert code.extra["final_beta_w"] == pytest.approx(T * 1.5e-3)
    assert paper.extra["final_beta_w"] == pytest.approx(1.5e-3)
    # the β used in the last iteration (trace): T times the paper's
    assert code.extra["trace"][-1]["beta_w"] == pytest.approx(T * paper.extra["trace"][-1]["beta_w"])
    assert code.extra["final_beta_z"] == 1e-7
    # the code's own schedule (15,000 iterations, +1e-6 every 10): T·1.5e-3 for any T
    for T in (3, 4):
        assert kl_weight(15000, 1e-6, 10, repeats=T) == pytest.approx(T * 1.5e-3)


def test_vmtl_ac_reaches_vmtl_on_separable_blobs():
    torch.set_num_threads(1)
    problem = make_blobs_problem(n_tasks=3, n_classes=4, dim=8, n_train=60, n_test=200, shift=0.5, seed=3)
    acc = {}
    for name in ("vmtl", "vmtl_ac"):
        hp = build_dataclass(METHODS[name].Hparams, {**TWINS, "steps": 400, "eval_every": 400, "kl_step": 1e-6}, "t")
        res = METHODS[name](hp).fit_predict(problem, seed=0, progress=False)
        acc[name] = np.mean([np.mean(res.predictions[t] == problem.data[t].y_test) for t in problem.tasks])
    assert acc["vmtl"] > 0.9, acc
    assert acc["vmtl_ac"] >= acc["vmtl"] - 0.02, acc


def test_code_variants_in_params_carry_every_deviation():
    from pathlib import Path

    params = validate_params(yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text()))
    for label in ("vmtl_code", "vmtl_ac_code"):
        hp = params["methods"][label]["hparams"]
        for key, value in CODE.items():
            if key == "encoder":
                value = "elu_bayes_linear" if label == "vmtl_ac_code" else "bayes_linear"
            assert hp[key] == value, (label, key)
        assert hp["dropout"] == 0.7 and hp["eval_every"] == 50
        assert params["methods"][label]["selection"]["mode"] == "best_test"
    ac = params["methods"]["vmtl_ac_code"]["hparams"]
    assert ac["ac_code_mixup"] and ac["ac_centers"] == "running"
    # the plain entries follow the paper
    plain = params["methods"]["vmtl"]["hparams"]
    assert (plain["encoder"], plain["optimizer"], plain["z_prior"]) == ("mlp", "joint", "batch_means")


def test_per_task_adam_updates_only_what_the_task_holds():
    torch.set_num_threads(1)
    hp = build_dataclass(V.VMTLHparams, {**TWINS, **CODE}, "t")
    gens = [torch.Generator().manual_seed(0)]
    P = V._init_params(gens, hp, 3, 4, 5, "cpu")
    adams = V.TaskAdams(P, 3, hp.weight_decay, hp.sharing)
    for v in P.values():
        v.grad = torch.ones_like(v)
    before = {k: v.detach().clone() for k, v in P.items()}
    adams.step(P, 1, 1e-2)
    assert torch.equal(P["w_mu"][:, 0], before["w_mu"][:, 0]) and torch.equal(P["w_mu"][:, 2], before["w_mu"][:, 2])
    assert not torch.equal(P["w_mu"][:, 1], before["w_mu"][:, 1])
    assert not torch.equal(P["enc_Wmu"], before["enc_Wmu"])  # the shared encoder: every task's optimiser
    assert torch.equal(P["logit_w"][:, 0], before["logit_w"][:, 0])
    assert adams.count == [0, 1, 0]
