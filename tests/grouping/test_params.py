import pytest
import yaml

from mtlbench.config import validate_params
from mtlbench.errors import ConfigError

BASE = {"datasets": {"digits_shift": {"backbone": "pixels"}}}


def test_repository_params_resolve(tmp_path):
    from conftest import ROOT

    resolved = validate_params(yaml.safe_load((ROOT / "params.yaml").read_text()))
    assert resolved["grouping"]["budgets"] == [2, 3, 4]
    assert resolved["similarity"]["estimators"]["tag_affinity"]["settings"]["affinity_every"] == 10
    assert resolved["similarity"]["transfer_gain"]["steps"] == 150


def test_sections_are_optional():
    assert "grouping" not in validate_params(BASE)


@pytest.mark.parametrize("section, match", [
    ({"similarity": {"estimators": {"x": {"estimator": "cosine"}}}}, r"estimator.*cosine.*wasserstein"),
    ({"similarity": {"estimators": {"w": {"estimator": "wasserstein", "epsilon": 1}}}}, r"epsilon.*eps"),
    ({"similarity": {"estimators": {"w": {"estimator": "wasserstein", "method": "emd"}}}}, r"method.*exact"),
    ({"similarity": {"estimators": {"t": {"estimator": "tag_affinity", "lookahead": 1}}}}, r"lookahead.*lookahead_lr"),
    ({"grouping": {"budget": 2}}, r"budget.*budgets"),
    ({"grouping": {"budgets": [0]}}, r"grouping.budgets"),
    ({"grouping": {"solvers": ["greedy"]}}, r"greedy.*mip"),
    ({"grouping": {"cannot_link": ["mnist_identity,svhn"]}}, r"grouping.cannot_link"),
    ({"grouping": {"cluster_on": ["nope"]}}, r"cluster_on.*nope"),
    ({"similarity": {"ratio": 1.0}}, r"similarity.ratio.*digits_shift"),  # no ratio-1 split of images
])
def test_bad_sections_name_the_key(section, match):
    with pytest.raises(ConfigError, match=match):
        validate_params({**BASE, **section})


def test_similarity_ratio_must_be_a_split_of_a_time_series():
    ett = {"datasets": {"etth1": {"backbone": "window"}}}
    assert validate_params({**ett, "similarity": {"ratio": 1}})["similarity"]["ratio"] == 1.0
    with pytest.raises(ConfigError, match=r"similarity.ratio.*etth1.*1.0"):
        validate_params({**ett, "similarity": {"ratio": 0.5}})
