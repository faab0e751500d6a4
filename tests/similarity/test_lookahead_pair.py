"""lookahead_pair: the grouping paper's transfer gains from real optimiser lookahead steps."""

import numpy as np
import pytest
import torch

from mtlbench.errors import ConfigError
from mtlbench.methods import Problem, TaskData
from mtlbench.similarity.lookahead_pair import (
    LookaheadPairHparams,
    lookahead_groups,
    lookahead_pair,
)

torch.set_num_threads(1)


def _problem():
    """a and copy: the same samples and labels; b, c: labels from other features, competing
    for a 4-unit shared layer."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    labels = {"a": x[:, 0] > 0, "copy": x[:, 0] > 0, "b": x[:, 3] > 0, "c": x[:, 4] > 0}
    data = {t: TaskData(x[:60], y[:60].astype(np.int64), x[60:], y[60:].astype(np.int64)) for t, y in labels.items()}
    return Problem(list(labels), 2, data)


HP = LookaheadPairHparams(hidden=4, dropout=0.0, steps=30, batch_size=60, lookahead_every=3, lr=3e-2, weight_decay=0.0)


def test_duplicate_task_gets_the_largest_gain():
    g, counts = lookahead_pair(_problem(), HP, seed=0, return_counts=True)
    assert g.shape == (4, 4) and np.all(np.diag(g) == 0)
    # column t = gains of t from each source: a's largest from copy, copy's largest from a
    assert int(np.argmax(np.where(np.eye(4, dtype=bool), -np.inf, g)[:, 0])) == 1
    assert int(np.argmax(np.where(np.eye(4, dtype=bool), -np.inf, g)[:, 1])) == 0
    # T(T+1)/2 = 10 lookahead steps at steps 1, 3, ..., 30 (11 of them), plus the 30 training steps
    assert {k: counts[k] for k in ("lookahead_steps", "optimizer_steps", "groups_per_lookahead")} == \
        {"lookahead_steps": 11, "optimizer_steps": 11 * 10 + 30, "groups_per_lookahead": 10}
    assert np.array_equal(g, lookahead_pair(_problem(), HP, seed=0))


def test_lookaheads_leave_training_untouched():
    """Model and optimiser (Adam's moments and step count) are restored after every
    lookahead: the joint training with lookaheads at every step ends at exactly the loss
    of the training with a single lookahead (the batches are drawn alike)."""
    every = LookaheadPairHparams(**{**HP.__dict__, "lookahead_every": 1})
    once = LookaheadPairHparams(**{**HP.__dict__, "lookahead_every": 10**6})
    _, c_every = lookahead_pair(_problem(), every, seed=0, return_counts=True)
    _, c_once = lookahead_pair(_problem(), once, seed=0, return_counts=True)
    assert c_every["lookahead_steps"] == 30 and c_once["lookahead_steps"] == 1
    assert c_every["final_train_loss"] == c_once["final_train_loss"]
    assert len(lookahead_groups(5)) == 15


def test_hparams_checked():
    from mtlbench.checks import build_dataclass

    with pytest.raises(ConfigError, match="lookahead_every"):
        build_dataclass(LookaheadPairHparams, {"lookahead_every": 0}, "similarity.estimators.lp")
