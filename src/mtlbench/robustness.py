"""Robustness to adversarial perturbations of the input features (VMTL paper, appendix B.5).

FGSM (Goodfellow et al. 2015): x_adv = x + ε · sign(∇_x CE(f(x), y)), one step, no
clipping (the inputs are features, not pixels in a box).  ``f`` is a differentiable
predictor returning logits or log-probabilities (N, C); both give the same
cross-entropy since log_softmax leaves normalised log-probabilities unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .errors import ConfigError
from .methods.base import MethodResult, Problem


def fgsm_perturb(predictor: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                 eps: float) -> torch.Tensor:
    """x (N, D), y (N,) class ids -> x + eps·sign(∇_x CE(predictor(x), y)) (N, D)."""
    x = x.detach().clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(predictor(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return (x + eps * grad.sign()).detach()


def fgsm_accuracy(predictor: Callable[[torch.Tensor], torch.Tensor], x, y, eps_list: Sequence[float],
                  batch: int = 1024) -> dict[float, float]:
    """Accuracy of ``predictor`` on FGSM-perturbed ``x`` (N, D) for each ε; ε = 0 is clean."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    out = {}
    for eps in eps_list:
        correct = 0
        for i in range(0, len(x), batch):
            xb, yb = x[i: i + batch], y[i: i + batch]
            xa = fgsm_perturb(predictor, xb, yb, float(eps)) if eps > 0 else xb
            with torch.no_grad():
                correct += int((predictor(xa).argmax(1) == yb).sum())
        out[float(eps)] = correct / len(x)
    return out


def fgsm_task_accuracy(result: MethodResult, problem: Problem, eps_list: Sequence[float]) -> dict[str, dict[float, float]]:
    """{task: {ε: accuracy}} on each task's test set, plus "avg" over tasks, for a trained
    method whose result carries a ``predictor`` (bMTL, VMTL, VMTL-AC, VSTL)."""
    if result.predictor is None:
        raise ConfigError("fgsm: this method's result has no differentiable predictor; "
                          "allowed: bmtl, vmtl, vmtl_ac, vstl")
    out = {}
    for t in problem.tasks:
        d = problem.data[t]
        out[t] = fgsm_accuracy(lambda x, t=t: result.predictor(t, x), d.x_test, d.y_test, eps_list)
    out["avg"] = {float(e): float(np.mean([out[t][float(e)] for t in problem.tasks])) for e in eps_list}
    return out


def fgsm_run(features_path, split_path, out_path, *, dataset: str, tasks: list[str], method: str, algorithm: str,
             hparams: dict, ratio: float, seed: int, eps: Sequence[float], device: str = "auto",
             progress: bool = True) -> dict:
    """Train one method on one split, then write ``{..., fgsm: {task|avg: {eps: accuracy}}}`` as JSON."""
    import time

    from .config import build_dataclass
    from .io import write_json
    from .methods import get_method
    from .runinfo import resolve_device
    from .train import build_problem

    cls = get_method(algorithm)
    hp = build_dataclass(cls.Hparams, hparams, f"methods.{method}")
    device = resolve_device(device)
    problem, split_meta = build_problem(features_path, split_path, tasks)
    t0 = time.perf_counter()
    result = cls(hp).fit_predict(problem, seed=seed, device=device, progress=progress)
    acc = fgsm_task_accuracy(result, problem, eps)
    record = {"dataset": dataset, "tasks": list(tasks), "method": method, "algorithm": algorithm, "hparams": hparams,
              "ratio": ratio, "seed": seed, "attack": "fgsm (one step, no clipping, on the input features)",
              "eps": [float(e) for e in eps], "fgsm": {k: {f"{e:g}": v for e, v in d.items()} for k, d in acc.items()},
              "split_sha256": split_meta.get("content_sha256"), "wall_time_s": time.perf_counter() - t0}
    write_json(out_path, record)
    record["fgsm"] = acc
    return record
