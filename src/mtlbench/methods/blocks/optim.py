"""Adam, SGD with momentum and StepLR as torch.optim computes them, without torch._dynamo.

``torch.optim``'s optimisers import ``torch._dynamo`` on their first ``add_param_group``
and every ``step`` (``torch/optim/optimizer.py``: ``_use_grad_for_differentiable``,
``torch._disable_dynamo``), about 1.3 CPU-seconds per process, a sixth of a short
training job (docs/design.md, "Measured facts").  These classes perform the same update,
operation for operation, as torch 2.14's single-tensor path (``foreach=False``, the
default for CPU tensors), so a CPU run gives the same bits as with ``torch.optim``
(tests/methods/test_optim.py steps both side by side).  They take that path on a GPU
too, where torch would default to its ``foreach`` one (the same arithmetic in fewer
kernel launches):

- :class:`Adam` (Kingma & Ba 2015, Algorithm 1), ``torch/optim/adam.py``
  ``_single_tensor_adam``: L2 weight decay added to the gradient; m ← lerp(m, g, 1−β1);
  v ← β2·v + (1−β2)·g²; θ ← θ − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε), the step
  count a float32 tensor read back with ``item()`` as torch keeps it;
- :class:`SGD` (heavy-ball momentum, no dampening), ``torch/optim/sgd.py``
  ``_single_tensor_sgd``: the buffer starts as the first gradient, then b ← μ·b + g;
- :class:`StepLR`: every ``step_size`` calls of ``step()`` the learning rate is multiplied
  by ``gamma``, ``torch/optim/lr_scheduler.py`` ``StepLR.get_lr``.

A parameter whose ``grad`` is None is skipped (its state is not created), as torch does.
``param_groups`` (one group), ``zero_grad``, ``state_dict`` and ``load_state_dict``
behave as torch's for the uses here (the lookahead estimators save and restore the state).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class _Optimizer:
    """One parameter group; per-parameter state keyed by position."""

    def __init__(self, params: Iterable[torch.Tensor], defaults: dict):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        self.param_groups = [{"params": params, **defaults}]
        self.state: list[dict] = [{} for _ in params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_().zero_()

    def state_dict(self) -> dict:
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {"state": {i: dict(s) for i, s in enumerate(self.state) if s}, "param_groups": [group]}

    def load_state_dict(self, state: dict) -> None:
        """Takes ``state``'s tensors as they are, as torch does: pass a copy to keep the saved one."""
        self.param_groups[0].update(state["param_groups"][0])
        self.state = [dict(state["state"].get(i, {})) for i in range(len(self.state))]

    def _with_grads(self):
        for i, p in enumerate(self.param_groups[0]["params"]):
            if p.grad is not None:
                yield p, p.grad, self.state[i]


class Adam(_Optimizer):
    """``torch.optim.Adam(params, lr, betas, eps, weight_decay)`` (amsgrad, maximize off)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self) -> None:
        g = self.param_groups[0]
        lr, (beta1, beta2), eps, wd = g["lr"], g["betas"], g["eps"], g["weight_decay"]
        for p, grad, st in self._with_grads():
            if not st:
                st["step"] = torch.tensor(0.0)  # float32, as torch's
                st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            st["step"] += 1
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            exp_avg, exp_avg_sq = st["exp_avg"], st["exp_avg_sq"]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            t = st["step"].item()
            step_size = lr / (1 - beta1 ** t)
            denom = (exp_avg_sq.sqrt() / (1 - beta2 ** t) ** 0.5).add_(eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)


class SGD(_Optimizer):
    """``torch.optim.SGD(params, lr, momentum, weight_decay)`` (no dampening, not Nesterov)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self) -> None:
        g = self.param_groups[0]
        lr, momentum, wd = g["lr"], g["momentum"], g["weight_decay"]
        for p, grad, st in self._with_grads():
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            if momentum != 0:
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = grad.detach().clone()
                else:
                    buf.mul_(momentum).add_(grad, alpha=1)
                grad = buf
            p.add_(grad, alpha=-lr)


class StepLR:
    """``torch.optim.lr_scheduler.StepLR(opt, step_size, gamma)``: ``step()`` once per epoch."""

    def __init__(self, optimizer: _Optimizer, step_size: int, gamma: float = 0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.last_epoch = 0

    def step(self) -> None:
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            for group in self.optimizer.param_groups:
                group["lr"] = group["lr"] * self.gamma
