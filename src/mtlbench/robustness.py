"""Robustness to adversarial perturbations of the input features (VMTL paper, appendix B.5).

FGSM (Goodfellow et al. 2015): x_adv = x + ε · s ⊙ sign(∇_x CE(f(x), y)), one step, no
clipping (the inputs are features, not pixels in a box), on the input the model sees (the
paper attacks its fc7 features; here, whatever features the dataset's backbone gives).
``eps_unit: feature_std`` (default): s is the per-feature standard deviation of the task's
training inputs, so ε is in units of each feature's spread (a constant feature is not
perturbed); ``absolute``: s = 1, ε in raw feature units.  ``f`` is a differentiable
predictor returning logits or log-probabilities (N, C); both give the same cross-entropy
since log_softmax leaves normalised log-probabilities unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .errors import ConfigError
from .methods.base import MethodResult, Problem

EPS_UNITS = ("feature_std", "absolute")


def input_gradient(predictor: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇_x CE(predictor(x), y), the mean cross-entropy over the N rows (N, D)."""
    x = x.detach().clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(predictor(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm_perturb(predictor: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                 eps: float, scale: torch.Tensor | None = None) -> torch.Tensor:
    """x (N, D), y (N,) class ids -> x + eps·scale⊙sign(∇_x CE(predictor(x), y)) (N, D);
    ``scale`` (D,): the per-feature unit of ε (None: 1)."""
    step = input_gradient(predictor, x, y).sign()
    if scale is not None:
        step = step * scale
    return (x.detach() + eps * step).detach()


def feature_scale(x_train, unit: str = "feature_std") -> torch.Tensor | None:
    """The per-feature unit of ε: the training inputs' standard deviation (D,), or None (absolute)."""
    if unit not in EPS_UNITS:
        raise ConfigError(f"robustness.eps_unit: {unit!r} is not allowed; allowed: {', '.join(map(repr, EPS_UNITS))}")
    return torch.as_tensor(np.asarray(x_train, dtype=np.float64).std(0), dtype=torch.float32) \
        if unit == "feature_std" else None


def fgsm_accuracy(predictor: Callable[[torch.Tensor], torch.Tensor], x, y, eps_list: Sequence[float],
                  batch: int = 1024, scale: torch.Tensor | None = None) -> dict[float, float]:
    """Accuracy of ``predictor`` on FGSM-perturbed ``x`` (N, D) for each ε; ε = 0 is clean."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    out = {}
    for eps in eps_list:
        correct = 0
        for i in range(0, len(x), batch):
            xb, yb = x[i: i + batch], y[i: i + batch]
            xa = fgsm_perturb(predictor, xb, yb, float(eps), scale) if eps > 0 else xb
            with torch.no_grad():
                correct += int((predictor(xa).argmax(1) == yb).sum())
        out[float(eps)] = correct / len(x)
    return out


def fgsm_task_accuracy(result: MethodResult, problem: Problem, eps_list: Sequence[float],
                       eps_unit: str = "feature_std") -> dict[str, dict[float, float]]:
    """{task: {ε: accuracy}} on each task's test set, plus "avg" over tasks, for a trained
    method whose result carries a ``predictor`` (bMTL, VMTL, VMTL-AC, VSTL); ε in units of
    ``eps_unit`` (:func:`feature_scale` of the task's training inputs)."""
    if result.predictor is None:
        raise ConfigError("fgsm: this method's result has no differentiable predictor; "
                          "allowed: bmtl, vmtl, vmtl_ac, vstl")
    out = {}
    for t in problem.tasks:
        d = problem.data[t]
        out[t] = fgsm_accuracy(lambda x, t=t: result.predictor(t, x), d.x_test, d.y_test, eps_list,
                               scale=feature_scale(d.x_train, eps_unit))
    out["avg"] = {float(e): float(np.mean([out[t][float(e)] for t in problem.tasks])) for e in eps_list}
    return out


SECTION_KEYS = ("datasets", "methods", "ratios", "eps", "eps_unit")


def validate_robustness(section: Any, datasets: dict, methods: dict, train_ratios: list[float]) -> dict:
    """The ``robustness:`` section of params.yaml, checked against its datasets and methods.

    ``datasets``: enabled classification datasets; ``methods``: enabled labels under
    ``methods:`` whose algorithm has a differentiable predictor, returned in the order of
    ``methods:`` (the table's rows follow params.yaml, as every table's do); ``ratios``: train ratios
    of the run; ``eps``: the FGSM step sizes (0 = clean accuracy).  Every error names the
    key and the allowed values.
    """
    from .checks import require_mapping, unknown_key_error
    from .data.registry import DATASETS
    from .methods import METHODS

    section = dict(require_mapping(section, "robustness"))
    for key in section:
        if key not in SECTION_KEYS:
            raise unknown_key_error("robustness", key, SECTION_KEYS)

    def names(key: str) -> list:
        value = section.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"robustness.{key}: expected a list, got {value!r}")
        return value

    def classification(d: str) -> bool:
        spec = DATASETS.get(d)
        return spec is None or all(spec.task_type(t) == "classification" for t in datasets[d]["tasks"])

    ok_datasets = [d for d, s in datasets.items() if s["enabled"] and classification(d)]
    for d in names("datasets"):
        if d not in ok_datasets:
            raise ConfigError(f"robustness.datasets: {d!r} is not an enabled classification dataset of this file; "
                              f"allowed: {', '.join(map(repr, ok_datasets)) or 'none'}")
    if not names("datasets"):  # no robustness jobs: the methods and ratios listed are not used
        return {"datasets": [], "methods": [], "ratios": [], "eps": []}
    # algorithms whose MethodResult carries a differentiable predictor (Method.has_predictor;
    # ablations and code variants of VMTL are the vmtl / vmtl_ac algorithms with options)
    predictors = [name for name, cls in METHODS.items() if cls.has_predictor]
    ok_methods = [m for m, s in methods.items() if s["enabled"] and s["method"] in predictors]
    for m in names("methods"):
        if m not in ok_methods:
            raise ConfigError(f"robustness.methods: {m!r} is not an enabled method with a differentiable predictor "
                              f"({', '.join(predictors)}); allowed: {', '.join(map(repr, ok_methods)) or 'none'}")
    ratios = names("ratios") if "ratios" in section else list(train_ratios[:1])
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or float(r) not in train_ratios:
            raise ConfigError(f"robustness.ratios: {r!r} is not one of train_ratios; allowed: {train_ratios}")
    eps = names("eps") if "eps" in section else [0.0, 0.02, 0.05, 0.1, 0.2]
    if not eps or any(isinstance(e, bool) or not isinstance(e, (int, float)) or e < 0 for e in eps):
        raise ConfigError(f"robustness.eps: expected a non-empty list of numbers >= 0, got {eps!r}")
    unit = section.get("eps_unit", "feature_std")
    feature_scale(np.zeros((1, 1)), unit)  # names the key and the allowed values
    # table rows in params.yaml's methods order, as in every other table
    ordered = [m for m in methods if m in names("methods")]
    return {"datasets": list(names("datasets")), "methods": ordered,
            "ratios": [float(r) for r in ratios], "eps": [float(e) for e in eps], "eps_unit": unit}


def fgsm_run(features_path, split_path, out_path, *, dataset: str, tasks: list[str], method: str, algorithm: str,
             hparams: dict, ratio: float, seed: int, eps: Sequence[float], device: str = "auto",
             progress: bool = True, eps_unit: str = "feature_std") -> dict:
    """Train one method on one split (:func:`mtlbench.train.run`), then write its run record
    (the same fields as ``mtlbench train``'s: metrics, config hash, inputs, device, versions)
    with ``eps``, ``attack`` and ``fgsm: {task|avg: {eps: accuracy}}`` added, as JSON."""
    from .train import run

    acc = {}

    def analyse(result: MethodResult, problem: Problem) -> dict:
        acc.update(fgsm_task_accuracy(result, problem, eps, eps_unit))
        unit = "each feature's training standard deviation" if eps_unit == "feature_std" else "raw feature units"
        return {"attack": f"fgsm (one step, no clipping, on the input features; eps in {unit})",
                "eps_unit": eps_unit,
                "fgsm": {k: {f"{e:g}": v for e, v in d.items()} for k, d in acc.items()}}

    record = run(features_path, split_path, out_path, dataset=dataset, tasks=tasks, method=method,
                 algorithm=algorithm, hparams=hparams, ratio=ratio, seed=seed, device=device, progress=progress,
                 settings={"eps": [float(e) for e in eps], "eps_unit": eps_unit}, analyse=analyse)
    record["fgsm"] = acc  # float keys for the caller
    return record
