import numpy as np
import pytest

from mtlbench.grouping.base import partition_value
from mtlbench.grouping.baselines import (
    all_in_one,
    cluster_grouping,
    each_alone,
    hoa_grouping,
    random_grouping,
    tag_grouping,
)


def _blocks():
    # tasks 0-2 help each other, 3-5 help each other, across blocks they hurt
    return np.kron(np.eye(2), np.ones((3, 3))) * 2 - 1


def test_fixed_baselines():
    g = _blocks()
    assert all_in_one(6, g).groups == [list(range(6))]
    assert each_alone(6, g).objective == 0.0
    assert all_in_one(6, g).objective == pytest.approx(partition_value(g, [range(6)]))


@pytest.mark.parametrize("fn", [tag_grouping, hoa_grouping])
def test_tag_hoa_recover_blocks(fn):
    g = _blocks()
    res = fn(g, 2, gain=g)
    assert res.groups == [[0, 1, 2], [3, 4, 5]]
    assert res.objective == pytest.approx(12.0)  # 6 tasks x 2 helpful mates x gain 1
    assert res.extra["own_objective"] == pytest.approx(6.0)  # mean affinity 1 per task


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
@pytest.mark.parametrize("method", ["spectral", "agglomerative"])
def test_clustering_recovers_blocks(method):
    g = _blocks()
    assert cluster_grouping(g, 2, "similarity", method).groups == [[0, 1, 2], [3, 4, 5]]
    dist = 1.0 - g  # 0 inside blocks, 2 across
    assert cluster_grouping(dist, 2, "distance", method).groups == [[0, 1, 2], [3, 4, 5]]


def test_random_grouping_seeded():
    a, b = random_grouping(8, 3, seed=1), random_grouping(8, 3, seed=1)
    assert a.groups == b.groups and len(a.groups) <= 3
    assert sorted(sum(a.groups, [])) == list(range(8))
    assert any(random_grouping(8, 3, seed=s).groups != a.groups for s in range(2, 6))
