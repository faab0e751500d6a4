"""``kind: routing``: its settings checked before any job (key, file, allowed values), the
task-type check that refuses methods without routing tasks, and the DAG configs/routing.yaml plans."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from mtlbench.config import check_params, merge_params_files, validate_params
from mtlbench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "configs" / "routing.yaml"


def _check(tmp_path, overlay: dict):
    """params.yaml + configs/routing.yaml + ``overlay`` (written as its own file), as Snakemake checks them."""
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump(overlay))
    files = [str(ROOT / "params.yaml"), str(CONFIG), str(extra)]
    merged, origin = merge_params_files(files)
    return check_params(merged, origin, schema_path=ROOT / "workflow/schemas/params.schema.yaml",
                        default_file=files[-1]), str(extra)


def test_routing_config_resolves_tasks_ratio_and_settings():
    p = validate_params(merge_params_files([ROOT / "params.yaml", CONFIG])[0])
    r = p["datasets"]["routing"]
    assert r["kind"] == "routing" and r["enabled"]
    assert r["tasks"] == ["tsp20", "tsp50", "cvrp20", "cvrp50", "op20", "op50"]
    assert r["train_ratios"] == [1.0] and r["backbone"] == "generated"
    assert r["source"]["eval_size"] == 64 and r["source"]["reference_time_limit_s"] == 0.2
    assert [m for m, s in p["methods"].items() if s["enabled"]] == ["routing_stl", "routing_bmtl", "routing_bmtl_code"]
    assert p["methods"]["routing_bmtl_code"]["hparams"]["task_loss_reduction"] == "mean"
    # params.yaml alone keeps the routing entries off
    base = validate_params(merge_params_files([ROOT / "params.yaml"])[0])
    assert not base["datasets"]["routing"]["enabled"] and not base["methods"]["routing_stl"]["enabled"]


def test_subset_of_tasks(tmp_path):
    p, _ = _check(tmp_path, {"datasets": {"routing": {"tasks": ["op20", "tsp20"]}}})
    assert p["datasets"]["routing"]["tasks"] == ["op20", "tsp20"]


@pytest.mark.parametrize("overlay, message", [
    ({"eval_sizes": 10}, r"datasets\.routing\.'eval_sizes' \(did you mean 'eval_size'\?\); allowed: .*'reference_time_limit_s'"),
    ({"tasks": ["tsp20", "tsp100"]}, r"datasets\.routing\.tasks: unknown routing tasks \['tsp100'\]; allowed: "
                                     r"\['tsp20', 'tsp50', 'cvrp20', 'cvrp50', 'op20', 'op50'\]"),
    ({"tasks": ["op20", "op20"]}, r"datasets\.routing\.tasks: a task is listed twice"),
    ({"eval_size": 0}, r"datasets\.routing\.eval_size: must be >= 1, got 0"),
    ({"reference_time_limit_s": 0.0}, r"datasets\.routing\.reference_time_limit_s: must be > 0 seconds"),
    ({"op_exact_time_limit_s": -1}, r"datasets\.routing\.op_exact_time_limit_s: must be >= 0 seconds \(0: off\)"),
    ({"kind": "routes"}, r"datasets\.routing\.kind.*'routes'.*allowed: .*'routing'"),
])
def test_bad_setting_names_the_key_the_file_and_the_allowed_values(tmp_path, overlay, message):
    with pytest.raises(ConfigError, match=message) as e:
        _check(tmp_path, {"datasets": {"routing": overlay}})
    assert str(e.value).startswith(str(tmp_path / "extra.yaml") + ": ")


def test_methods_without_routing_tasks_are_refused_before_any_job(tmp_path):
    with pytest.raises(ConfigError, match=r"methods\.bmtl: 'bmtl' handles .*tasks only, and the enabled dataset "
                                          r"'routing' has routing_length and routing_prize tasks; set methods\.bmtl"
                                          r"\.enabled: false .*'routing_bmtl', 'routing_bmtl_code', 'routing_stl'") as e:
        _check(tmp_path, {"methods": {"bmtl": {"enabled": True}}})
    assert str(e.value).startswith(str(tmp_path / "extra.yaml") + ": ")
    # and the routing methods on a classification dataset
    with pytest.raises(ConfigError, match=r"methods\.routing_stl: 'routing_stl' handles routing_length and "
                                          r"routing_prize tasks only, and the enabled dataset 'digits'"):
        _check(tmp_path, {"datasets": {"digits": {"enabled": True}}})


def test_routing_config_plans_data_train_and_gap_tables(tmp_path):
    """`snakemake -n --configfile configs/routing.yaml`: one data job per task (instances and
    references), one training job per method and seed, the tour-length / prize / gap tables;
    no features, split or download jobs (nothing runs)."""
    from workflow_project import sh

    for name in ("Snakefile", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("workflow", "configs", "profiles"):
        shutil.copytree(ROOT / name, tmp_path / name)
    _, out = sh(tmp_path, "snakemake", "-n", "--cores", "2", "--resources", "gpu=1", "--configfile",
                "configs/routing.yaml")
    cfg = yaml.safe_load(CONFIG.read_text())
    tasks = cfg["datasets"]["routing"]["tasks"]
    methods = [m for m, e in cfg["methods"].items() if (e or {}).get("enabled", True)]
    assert methods == ["routing_stl", "routing_bmtl", "routing_bmtl_code"]
    jobs = {}
    for line in out[out.index("Job stats:"):].splitlines()[3:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    assert jobs["routing_data"] == len(tasks) == 6
    assert jobs["train_routing"] == len(methods) == 3  # one job per method: every seed in it
    assert jobs["table"] == 3  # tour_length, prize, gap
    for rule in ("train", "train_seeds", "splits", "features", "download", "import_features", "train_task_set"):
        assert rule not in jobs, rule
    assert "--eval-size 64 --eval-seed 1234 --time-limit 0.2" in out
    for path in ["data/routing/routing/op50.reference.json", "results/runs/routing/routing_bmtl/r1_s1.json",
                 "results/tables/routing_1_gap.md", "results/tables/routing_1_tour_length.md",
                 "results/tables/routing_1_prize.md"]:
        assert path in out, path
    assert "--routing-data data/routing/routing" in out
    assert "--time-limit 0.2 --op-exact-time-limit 20.0" in out  # configs/routing.yaml, the CP-SAT default
    assert "results/runs/digits" not in out


def test_gpu_config_is_the_papers_size():
    """configs/routing_gpu.yaml: embedding 128, 6 layers, 8 heads, 10 epochs x 10,000
    episodes in batches of 400, for both methods; 512 evaluation instances at 1 s."""
    p = validate_params(merge_params_files([ROOT / "params.yaml", ROOT / "configs" / "routing_gpu.yaml"])[0])
    assert p["device"] == "cuda" and p["datasets"]["routing"]["source"]["eval_size"] == 512
    assert p["datasets"]["routing"]["source"]["reference_time_limit_s"] == 1.0
    for m in ("routing_stl", "routing_bmtl"):
        hp = p["methods"][m]["hparams"]
        assert (hp["embedding_dim"], hp["encoder_layers"], hp["heads"]) == (128, 6, 8)
        assert (hp["epochs"], hp["episodes_per_epoch"], hp["batch_size"]) == (10, 10_000, 400)
    assert [m for m, s in p["methods"].items() if s["enabled"]] == ["routing_stl", "routing_bmtl", "routing_bmtl_code"]
    assert p["methods"]["routing_bmtl_code"]["hparams"]["task_loss_reduction"] == "mean"


def test_routing_grouping_config_plans_task_sets_gains_and_regret_tables(tmp_path):
    """configs/routing_grouping.yaml over configs/routing.yaml: before the groupings exist,
    every task set (the 63 subsets: alone, pairs and the oracle's, in 4 chunk jobs), the gains,
    the two routing estimators (no feature estimator), the grouping files, TAG's and the
    lookahead program's on the routing estimators, the regret tables and the correlation
    table."""
    from workflow_project import sh

    from mtlbench.config import merge_params_files

    p = validate_params(merge_params_files([ROOT / "params.yaml", CONFIG, ROOT / "configs/routing_grouping.yaml"])[0])
    assert p["similarity"]["estimators_of"] == {"routing": ["routing_lookahead_pair", "routing_tag_affinity"]}
    assert p["similarity"]["routing_transfer_gain"]["embedding_dim"] == 32
    runs = p["grouping"]["runs"]["routing"]
    assert not [n for n in runs if n.startswith("cluster_")] and "hoa" in runs
    # the solvers of the feature estimators select on the routing estimators standing for them
    assert runs["tag"]["similarity"] == "routing_tag_affinity"
    assert runs["mip_normalized_lookahead"]["similarity"] == "routing_lookahead_pair"
    for name in ("Snakefile", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("workflow", "configs", "profiles"):
        shutil.copytree(ROOT / name, tmp_path / name)
    _, out = sh(tmp_path, "snakemake", "-n", "--cores", "2", "--resources", "gpu=1", "--configfile",
                "configs/routing.yaml", "configs/routing_grouping.yaml")
    jobs = {}
    for line in out[out.index("Job stats:"):].splitlines()[3:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    # every subset (the oracle: 6 tasks <= oracle_max_tasks) is known before any job: in the
    # similarity.task_set_chunks chunk jobs, alike in size, each set once; none left to train_routing_task_set
    chunks = {r: n for r, n in jobs.items() if r.startswith("task_sets_routing_")}
    assert len(chunks) == p["similarity"]["task_set_chunks"] == 4 and set(chunks.values()) == {1}
    assert "train_routing_task_set" not in jobs
    sets = [s for line in re.findall(r"--task-sets (.*?) --hparams", out) for s in line.split()]
    assert len(sets) == len(set(sets)) == 63 and len(re.findall(r"--task-sets (.*?) --hparams", out)) == 4
    assert jobs["transfer_gain"] == 1 and jobs["evaluate_groupings"] == len(p["grouping"]["budgets"]) == 3
    assert jobs["grouping"] == len(runs) * 3
    assert jobs["similarity_routing"] == 2 and jobs["correlation"] == 1
    for rule in ("train_task_set", "similarity"):
        assert rule not in jobs, rule
    assert "mtlbench train-task-set --routing-data data/routing/routing" in out
    assert "mtlbench similarity --estimator routing_tag_affinity" in out
    assert "results/tables/grouping_routing_B4.md" in out and "results/tables/correlation_routing.md" in out
