"""FGSM (VMTL appendix B.5): the perturbation increases the loss and lowers accuracy."""

import numpy as np
import torch
from conftest import make_blobs_problem

from mtlbench.methods import METHODS
from mtlbench.robustness import fgsm_accuracy, fgsm_perturb, fgsm_task_accuracy


def test_fgsm_increases_the_loss_of_a_linear_model():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 3, generator=g)
    x, y = torch.randn(200, 5, generator=g), torch.randint(0, 3, (200,), generator=g)
    f = lambda v: v @ W  # noqa: E731
    clean = torch.nn.functional.cross_entropy(f(x), y)
    adv = torch.nn.functional.cross_entropy(f(fgsm_perturb(f, x, y, 0.1)), y)
    assert float(adv) > float(clean)
    acc = fgsm_accuracy(f, x.numpy(), y.numpy(), [0.0, 0.5, 2.0])
    assert acc[0.0] >= acc[0.5] >= acc[2.0]


def test_fgsm_on_trained_bmtl_and_vmtl():
    torch.set_num_threads(1)
    problem = make_blobs_problem(n_tasks=2, n_classes=3, dim=8, n_train=40, n_test=80)
    eps = [0.0, 1.0, 3.0]
    hps = {"bmtl": dict(hidden=16, steps=60, eval_every=60),
           "vmtl": dict(hidden=16, latent=8, z_samples=2, w_samples=2, steps=60, eval_every=60, lr=3e-3, dropout=0.2)}
    for name, hp in hps.items():
        cls = METHODS[name]
        res = cls(cls.Hparams(**hp)).fit_predict(problem, seed=0, progress=False)
        out = fgsm_task_accuracy(res, problem, eps)
        t = problem.tasks[0]
        x = torch.as_tensor(problem.data[t].x_test)
        y = torch.as_tensor(problem.data[t].y_test)
        f = lambda v, res=res, t=t: res.predictor(t, v)  # noqa: E731
        clean = torch.nn.functional.cross_entropy(f(x), y)
        adv = torch.nn.functional.cross_entropy(f(fgsm_perturb(f, x, y, 1.0)), y)
        assert float(adv.detach()) > float(clean.detach()), name
        assert out["avg"][3.0] < out["avg"][0.0], name
        assert np.isclose(out["avg"][0.0], np.mean([np.mean(res.predictions[k] == problem.data[k].y_test)
                                                     for k in problem.tasks]), atol=0.05), name
