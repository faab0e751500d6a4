"""mtlbench.methods.blocks.optim: torch.optim's updates, bit for bit, without torch._dynamo."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mtlbench.methods.blocks.optim import SGD, Adam, StepLR


def _params(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g).requires_grad_(True) for shape in ((7, 5), (5,), (3, 4, 2), (1,))]


def _step_both(ours, theirs, mine, ref, step: int, skip: int | None = None) -> None:
    """The same gradient on both copies (a smooth loss plus noise; parameter ``skip`` gets none)."""
    for opt, ps in ((ours, mine), (theirs, ref)):
        g = torch.Generator().manual_seed(1000 + step)
        opt.zero_grad(set_to_none=True)
        loss = sum((p.sin() * (i + 1)).sum() + (p ** 2).mean() for i, p in enumerate(ps) if i != skip)
        loss.backward()
        for i, p in enumerate(ps):
            if i != skip:
                p.grad.add_(torch.randn(p.shape, generator=g), alpha=0.3)
        opt.step()


@pytest.mark.parametrize("kw", [{"lr": 1e-3, "weight_decay": 5e-4}, {"lr": 0.05, "betas": (0.5, 0.9)},
                                {"lr": 1e-2, "weight_decay": 0.0, "eps": 1e-6}])
def test_adam_equals_torch_bit_for_bit(kw):
    mine, ref = _params(0), _params(0)
    ours, theirs = Adam(mine, **kw), torch.optim.Adam(ref, **kw)
    for step in range(60):
        if step == 30:  # the learning rate changed between steps (VMTL's decay)
            for o in (ours, theirs):
                o.param_groups[0]["lr"] = kw["lr"] * 0.5
        _step_both(ours, theirs, mine, ref, step, skip=2 if step < 10 else None)  # a late first gradient
    for a, b in zip(mine, ref):
        assert torch.equal(a, b)
    assert not torch.equal(mine[0], _params(0)[0])  # it did move


def test_adam_state_round_trip_equals_torch():
    """Save, take a step, restore, step on (the lookahead estimators): the same as torch."""
    mine, ref = _params(1), _params(1)
    ours, theirs = Adam(mine, lr=1e-2, weight_decay=1e-3), torch.optim.Adam(ref, lr=1e-2, weight_decay=1e-3)
    for step in range(5):
        _step_both(ours, theirs, mine, ref, step)
    saved_o, saved_t = copy.deepcopy(ours.state_dict()), copy.deepcopy(theirs.state_dict())
    keep_o, keep_t = [p.detach().clone() for p in mine], [p.detach().clone() for p in ref]
    _step_both(ours, theirs, mine, ref, 99)  # the lookahead
    with torch.no_grad():
        for p, k in zip(mine + ref, keep_o + keep_t):
            p.copy_(k)
    ours.load_state_dict(copy.deepcopy(saved_o))
    theirs.load_state_dict(copy.deepcopy(saved_t))
    for step in range(5, 12):
        _step_both(ours, theirs, mine, ref, step)
    for a, b in zip(mine, ref):
        assert torch.equal(a, b)


def test_sgd_momentum_and_step_lr_equal_torch():
    mine, ref = _params(2), _params(2)
    ours, theirs = SGD(mine, lr=0.05, momentum=0.9), torch.optim.SGD(ref, lr=0.05, momentum=0.9)
    s_ours, s_theirs = StepLR(ours, step_size=3, gamma=0.5), torch.optim.lr_scheduler.StepLR(theirs, 3, 0.5)
    lrs = []
    for epoch in range(10):
        for step in range(4):
            _step_both(ours, theirs, mine, ref, 10 * epoch + step, skip=0 if epoch == 0 else None)
        s_ours.step()
        s_theirs.step()
        lrs.append((ours.param_groups[0]["lr"], theirs.param_groups[0]["lr"]))
    assert all(a == b for a, b in lrs) and lrs[-1][0] == 0.05 * 0.5 ** 3
    for a, b in zip(mine, ref):
        assert torch.equal(a, b)
    plain, plain_ref = _params(3), _params(3)  # no momentum, weight decay
    o, t = SGD(plain, lr=0.1, weight_decay=1e-2), torch.optim.SGD(plain_ref, lr=0.1, weight_decay=1e-2)
    for step in range(5):
        _step_both(o, t, plain, plain_ref, step)
    assert all(torch.equal(a, b) for a, b in zip(plain, plain_ref))


def test_training_does_not_import_dynamo():
    """The point of the module: a training job never pays for torch._dynamo's import."""
    code = """
import sys
sys.path.insert(0, sys.argv[1])
from conftest import make_blobs_problem
from mtlbench.checks import build_dataclass
from mtlbench.methods import get_method
p = make_blobs_problem(n_tasks=2, n_classes=2, dim=6, n_train=20, n_test=20, seed=0, shift=1.0)
for name, hp in (("bmtl", {"steps": 3}), ("vmtl", {"steps": 3, "hidden": 8, "latent": 4}),
                 ("amtnn_w", {"epochs": 2, "min_steps": 1})):
    cls = get_method(name)
    cls(build_dataclass(cls.Hparams, hp, name)).fit_predict(p, seed=0, progress=False)
print("torch._dynamo" in sys.modules)
"""
    tests = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", code, tests], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-1] == "False"
