"""The lookahead estimators on routing tasks (mtlbench.similarity.routing_lookahead): TAG's
affinities find the task that shares a decoder, the lookaheads leave the training run as
routing_bmtl's, and the estimators are planned and checked as the others."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtlbench.errors import ConfigError
from mtlbench.methods.blocks.pomo_train import train_routing
from mtlbench.similarity.estimate import ESTIMATORS, estimate
from mtlbench.similarity.routing_lookahead import (
    RoutingLookaheadHparams,
    relative_improvement,
    routing_lookahead,
)

TINY = {"embedding_dim": 16, "encoder_layers": 1, "heads": 2, "ff_hidden": 32, "lr": 1e-3, "epochs": 1,
        "episodes_per_epoch": 32, "batch_size": 16, "lookahead_every": 100, "lookahead_eval_size": 32}


def test_relative_improvement_is_positive_for_a_shorter_tour_and_a_larger_prize():
    assert relative_improvement("tsp20", 9.0, 10.0) == pytest.approx(0.1)
    assert relative_improvement("op20", 5.5, 5.0) == pytest.approx(0.1)
    assert relative_improvement("cvrp20", 11.0, 10.0) == pytest.approx(-0.1)


@pytest.mark.parametrize("seed", [0, 1])
def test_tag_affinity_finds_the_task_that_shares_the_decoder(seed):
    """TSP20 and TSP50 share the TSP embedding and decoder; OP20 shares only the encoder.
    A step on TSP50 must help TSP20 (and the converse) more than a step on OP20 does
    (measured: Z[tsp50 -> tsp20] 0.076 / 0.034 against 0.000 / -0.003 from OP20)."""
    tasks = ["tsp20", "tsp50", "op20"]
    z, counts = routing_lookahead(tasks, RoutingLookaheadHparams(**TINY), "tag", seed=seed, return_counts=True)
    assert counts["lookahead_steps"] == 1 and counts["groups_per_lookahead"] == 3
    assert z[1, 0] > 0.01 and z[1, 0] > z[2, 0] + 0.01  # onto tsp20: from tsp50 more than from op20
    assert z[0, 1] > 0.01 and z[0, 1] > z[2, 1] + 0.01  # onto tsp50: from tsp20 more than from op20


def test_pair_gains_leave_the_training_run_unchanged_and_repeat_per_seed():
    tasks = ["tsp20", "op20"]
    hp = RoutingLookaheadHparams(**{**TINY, "episodes_per_epoch": 48, "lookahead_every": 2,
                                    "lookahead_eval_size": 8})
    gain, counts = routing_lookahead(tasks, hp, "pair", seed=2, return_counts=True)
    assert counts["lookahead_steps"] == 2 and counts["groups_per_lookahead"] == 3  # steps 1 and 2 of 3
    assert gain.shape == (2, 2) and np.isfinite(gain).all() and (np.diag(gain) == 0).all()
    assert (gain != 0).any()
    plain = train_routing(tasks, hp, 2, "cpu", lambda step, model: None, "plain", False)
    for (name, a), (_, b) in zip(counts["model"].state_dict().items(), plain.state_dict().items()):
        assert torch.equal(a, b), name  # model and Adam state restored after every lookahead
    again = routing_lookahead(tasks, hp, "pair", seed=2)
    assert np.array_equal(gain, again)


def test_registered_for_routing_datasets_and_checked():
    for name, stands in (("routing_lookahead_pair", "lookahead_pair"), ("routing_tag_affinity", "tag_affinity")):
        assert ESTIMATORS[name].inputs == "routing" and ESTIMATORS[name].stands_for == stands
    with pytest.raises(ConfigError, match=r"similarity\.estimators\.x\.lookahead_every: must be >= 1, got 0"):
        ESTIMATORS["routing_tag_affinity"].check_settings({"lookahead_every": 0}, "similarity.estimators.x")
    m, inputs = estimate("routing_tag_affinity", {**TINY, "lookahead_eval_size": 4, "episodes_per_epoch": 16},
                         tasks=["tsp20", "cvrp20"], seed=0)
    assert m.shape == (2, 2) and inputs == {}


def test_estimators_of_splits_routing_from_feature_estimators():
    from mtlbench.similarity.params import estimators_of

    est = {"w": {"estimator": "wasserstein"}, "tag": {"estimator": "tag_affinity"},
           "rtag": {"estimator": "routing_tag_affinity"}}
    of = estimators_of(["digits", "routing"], {"digits": {}, "routing": {"kind": "routing"}}, est)
    assert of == {"digits": ["w", "tag"], "routing": ["rtag"]}
