"""The routing model's decoded solutions are feasible (the masks of
mtlbench.methods.blocks.routing_env), its objectives match the solutions', and ×8
augmentation preserves them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtlbench.data.routing.instances import TASKS, eval_set, get_task
from mtlbench.data.routing.solutions import objective, violations
from mtlbench.methods.blocks import routing_env
from mtlbench.methods.blocks.pomo import (
    POMOHparams,
    RoutingModel,
    augment8,
    rollout,
    solution_of,
    solve_greedy,
    to_tensors,
)

TINY = POMOHparams(embedding_dim=16, encoder_layers=1, heads=2, ff_hidden=32, eval_batch=8)


def _sampled(task: str, n_inst: int, seed: int = 0):
    torch.manual_seed(seed)
    spec, inst = get_task(task), eval_set(task, n_inst)
    model = RoutingModel([task], TINY)
    with torch.no_grad():
        obj, logp, seq = rollout(model, spec, to_tensors(spec, inst, "cpu"), greedy=False,
                                 gen=torch.Generator().manual_seed(seed))
    return spec, inst, obj.numpy(), logp.numpy(), seq.numpy()


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_sampled_and_greedy_solution_is_feasible(task):
    n_inst = 6 if task.endswith("50") else 12
    spec, inst, obj, logp, seq = _sampled(task, n_inst)
    assert np.isfinite(logp).all() and (logp <= 0).all()
    for i in range(n_inst):
        for p in range(spec.n):
            sol = solution_of(spec, seq[i, p])
            assert violations(task, inst, i, sol) == [], (i, p, sol)
            assert objective(task, inst, i, sol) == pytest.approx(float(obj[i, p]), abs=1e-4)
    model = RoutingModel([task], TINY)
    best, sols = solve_greedy(model, task, inst, TINY, "cpu")
    assert all(violations(task, inst, i, s) == [] for i, s in enumerate(sols))
    assert np.allclose(best, [objective(task, inst, i, s) for i, s in enumerate(sols)], atol=1e-4)
    if spec.problem == "op":
        assert (best > 0).all()  # a greedy OP tour collects something


@pytest.mark.parametrize("task,needle", [("cvrp20", "capacity"), ("op20", "cap")])
def test_the_feasibility_check_catches_a_missing_mask(task, needle, monkeypatch):
    # control: with only the visited mask, the same check finds violations, so the test above can fail
    cls = routing_env.CVRPEnv if task == "cvrp20" else routing_env.OPEnv

    def visited_only(self):
        m = self.visited.clone()
        m[:, :, 0] = (self.current == 0) & ~self.finished if task == "cvrp20" else False
        return m

    monkeypatch.setattr(cls, "mask", visited_only)
    spec, inst, _, _, seq = _sampled(task, 12)
    found = [v for i in range(12) for p in range(spec.n) for v in violations(task, inst, i, solution_of(spec, seq[i, p]))]
    assert any(needle in v for v in found)


@pytest.mark.parametrize("task", ["tsp20", "cvrp20", "op20"])
def test_augmentation_keeps_every_objective(task):
    spec, inst = get_task(task), eval_set(task, 4)
    t = to_tensors(spec, inst, "cpu")
    a = augment8(t)
    assert a["xy"].shape[0] == 8 * 4
    for k in range(8):
        part = {key: v[4 * k:4 * (k + 1)] for key, v in a.items()}
        d0 = torch.cdist(t["xy"], t["xy"])
        assert torch.allclose(torch.cdist(part["xy"], part["xy"]), d0, atol=1e-6)
        if "depot" in t:
            assert torch.allclose((part["xy"] - part["depot"][:, None]).norm(dim=-1),
                                  (t["xy"] - t["depot"][:, None]).norm(dim=-1), atol=1e-6)
    assert not torch.equal(a["xy"][4:8], t["xy"])  # the variants differ
