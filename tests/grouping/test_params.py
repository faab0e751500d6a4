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


def test_grouping_files_are_planned_from_the_solver_registry(monkeypatch):
    """The grouping files of a dataset come from the solver registry (grouping_runs), so
    the rules name no solver: a new solver is a registry line, not a .smk edit."""
    from mtlbench.grouping import params as gp
    from mtlbench.grouping.solve import SOLVERS, Solver

    section = {"cluster_on": ["w"], "random_seeds": [0, 4]}
    estimators = {"w": {"estimator": "wasserstein"}, "lp": {"estimator": "lookahead_pair"}}
    runs = gp.grouping_runs({**gp.GROUPING_DEFAULTS, **section}, estimators, n_tasks=3)
    assert list(runs) == ["mip", "mip_overlap", "mip_normalized", "all_in_one", "each_alone", "tag", "hoa",
                          "random_s0", "random_s4", "cluster_w", "mip_normalized_lookahead", "exhaustive"]
    assert runs["tag"]["similarity"] == "tag_affinity" and runs["hoa"]["similarity"] == "transfer_gain"
    assert runs["random_s4"] == {"solver": "random", "similarity": None, "seed": 4, "options": {}}
    assert runs["cluster_w"] == {"solver": "cluster", "similarity": "w", "seed": 0,
                                 "options": {"cluster_method": "spectral"}}
    assert runs["mip_normalized_lookahead"]["solver"] == "mip_normalized"
    assert runs["mip_normalized_lookahead"]["similarity"] == "lp"
    # above exhaustive_max_tasks there is no certificate; without a lookahead estimator no paper pairing
    assert "exhaustive" not in gp.grouping_runs(gp.GROUPING_DEFAULTS, {}, n_tasks=13)
    assert "mip_normalized_lookahead" not in gp.grouping_runs(gp.GROUPING_DEFAULTS, {}, n_tasks=3)
    # a new solver: one registry entry, planned like the others (here one file per random seed)
    monkeypatch.setitem(SOLVERS, "sampled", Solver(lambda g, b, x: None, per_seed=True))
    resolved = validate_params({**BASE, "similarity": {"datasets": ["digits_shift"]},
                                "grouping": {"solvers": ["sampled"], "random_seeds": [1, 2]}})
    assert list(resolved["grouping"]["runs"]["digits_shift"]) == ["sampled_s1", "sampled_s2", "exhaustive"]


def test_gains_may_come_from_an_estimator():
    """similarity.gains: a dataset with many tasks groups on an estimator's matrix (no pair
    training); HOA then selects on it too, and the paper's pairing is not repeated."""
    sim = {"datasets": ["digits_shift"], "estimators": {"lp": {"estimator": "lookahead_pair"},
                                                          "w": {"estimator": "wasserstein"}},
           "gains": {"digits_shift": "lp"}}
    resolved = validate_params({**BASE, "similarity": sim})
    assert resolved["similarity"]["gains"] == {"digits_shift": "lp"}
    runs = resolved["grouping"]["runs"]["digits_shift"]
    assert runs["hoa"]["similarity"] == "lp" and "mip_normalized_lookahead" not in runs
    default = validate_params({**BASE, "similarity": {"datasets": ["digits_shift"]}})
    assert default["similarity"]["gains"] == {"digits_shift": "transfer_gain"}
    with pytest.raises(ConfigError, match=r"similarity.gains.digits_shift: 'w' is not a gain matrix.*allowed: "
                                          r"transfer_gain, lp"):
        validate_params({**BASE, "similarity": {**sim, "gains": {"digits_shift": "w"}}})  # a distance
    with pytest.raises(ConfigError, match=r"similarity.gains: 'exam' is not a trainable dataset; allowed: digits_shift"):
        validate_params({**BASE, "similarity": {**sim, "gains": {"exam": "lp"}}})
    # a dataset that is not grouped (an override switched it off) keeps its entry unchecked
    off = validate_params({**BASE, "similarity": {**sim, "datasets": []}})
    assert off["similarity"]["gains"] == {}


def test_solvers_on_estimators_that_do_not_apply_are_left_out():
    """available=[] (a routing dataset: no estimator reads generated instances): tag, the
    clusterings and the lookahead program are not planned; the gain-based files are."""
    from mtlbench.grouping import params as gp

    section = {**gp.GROUPING_DEFAULTS, "cluster_on": ["w", "transfer_gain"], "random_seeds": [0]}
    estimators = {"w": {"estimator": "wasserstein"}, "lp": {"estimator": "lookahead_pair"}}
    every = gp.grouping_runs(section, estimators, n_tasks=3)
    some = gp.grouping_runs(section, estimators, n_tasks=3, available=[])
    assert set(every) - set(some) == {"tag", "cluster_w", "mip_normalized_lookahead"}
    assert list(some) == ["mip", "mip_overlap", "mip_normalized", "all_in_one", "each_alone", "hoa", "random_s0",
                          "cluster_transfer_gain", "exhaustive"]
    listed = gp.grouping_runs(section, estimators, n_tasks=3, available=["w", "lp"])
    assert set(every) - set(listed) == {"tag"}  # its tag_affinity is not among them
