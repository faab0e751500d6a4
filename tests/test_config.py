import copy
import json
from pathlib import Path

import pytest
import yaml

from mtlbench.config import validate_params, validate_params_cached
from mtlbench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def params():
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_default_params_resolve(params):
    p = validate_params(params)
    assert p["datasets"]["digits"]["tasks"] == ["mnist", "mnist_m", "uci_digits"]
    assert p["methods"]["stl"]["method"] == "stl"
    assert p["methods"]["bmtl"]["hparams"]["lr"] == pytest.approx(1e-3)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.update(datasetz=p.pop("datasets")), r"unknown key 'datasetz' \(did you mean 'datasets'\?\); allowed: .*'methods'"),
        (lambda p: p["datasets"].update(digitz={}), r"unknown key datasets.'digitz'.*allowed: .*'digits'"),
        (lambda p: p["datasets"]["digits"].update(tasks=["mnist", "svhn"]), r"unknown task 'svhn'; allowed: 'mnist', 'mnist_m', 'uci_digits'"),
        (lambda p: p["methods"].update(vmtl_x={"method": "nope"}), r"unknown key methods.vmtl_x.method.'nope'; allowed: .*'stl'"),
        (lambda p: p["methods"].update(stlx={}), r"unknown key methods.'stlx'.*allowed: .*'bmtl'"),
        (lambda p: p["methods"]["stl"].update(lrr=0.1), r"unknown key methods.stl.'lrr' \(did you mean 'lr'\?\); allowed: .*'batch_size'"),
        (lambda p: p["methods"]["stl"].update(steps="many"), r"methods.stl.steps: expected an integer"),
        (lambda p: p["methods"]["stl"].update(dropout=1.5), r"methods.stl.dropout: must be in \[0, 1\)"),
        (lambda p: p["backbones"]["vgg16_fc7"].update(precision="fp8"), r"backbones.vgg16_fc7.precision: 'fp8' is not allowed; allowed: 'bf16', 'fp16', 'fp32'"),
        (lambda p: p.update(train_ratios=[0.05, 1.5]), r"train_ratios: 1.5 is not a fraction"),
        (lambda p: p.update(device="tpu"), r"device: 'tpu' is not allowed"),
        (lambda p: p.update(resources={"train_sedes": {"runtime": 5}}), r"unknown key resources.'train_sedes' \(did you mean 'train_seeds'\?\)"),
        (lambda p: p.update(resources={"train_seeds": {"mem": 5}}), r"unknown key resources.train_seeds.'mem'.*allowed: 'mem_mb', 'runtime'"),
        (lambda p: p.update(resources={"train_seeds": {"runtime": 0}}), r"resources.train_seeds.runtime: expected a positive integer \(minutes\)"),
        (lambda p: p["features"].update(decode="cuda", jpeg_draft=True), r"features.jpeg_draft: true works with decode: cpu only"),
        (lambda p: p["features"].update(prefetch=0), r"features: .*prefetch >= 1"),
        (lambda p: p["robustness"].update(method=["bmtl"]), r"unknown key robustness.'method' \(did you mean 'methods'\?\)"),
        (lambda p: p["robustness"].update(methods=["stl"]), r"robustness.methods: 'stl' is not an enabled method with a differentiable predictor.*allowed: 'bmtl', 'vstl'"),
        (lambda p: p["methods"]["vmtl"].update(enabled=False), r"robustness.methods: 'vmtl' is not an enabled method"),
        (lambda p: p["robustness"].update(datasets=["etth1"]), r"robustness.datasets: 'etth1' is not an enabled classification dataset.*allowed: 'digits'"),
        (lambda p: p["robustness"].update(ratios=[0.3]), r"robustness.ratios: 0.3 is not one of train_ratios; allowed: \[0.05, 0.1, 0.2\]"),
        (lambda p: p["robustness"].update(eps=[0.1, -0.1]), r"robustness.eps: expected a non-empty list of numbers >= 0"),
    ],
)
def test_bad_params_name_key_and_allowed_values(params, mutate, message):
    bad = copy.deepcopy(params)
    mutate(bad)
    with pytest.raises(ConfigError, match=message):
        validate_params(bad)


def test_variant_entry_uses_another_algorithm(params):
    params["methods"]["bmtl_wide"] = {"method": "bmtl", "hidden": 512}
    p = validate_params(params)
    assert p["methods"]["bmtl_wide"]["method"] == "bmtl"
    assert p["methods"]["bmtl_wide"]["hparams"]["hidden"] == 512


def test_cache_hits_and_misses(params, tmp_path):
    a = validate_params_cached(params, tmp_path)
    assert len(list(tmp_path.glob("params-*.json"))) == 1
    assert validate_params_cached(params, tmp_path) == a
    params["seeds"] = [5]
    assert validate_params_cached(params, tmp_path)["seeds"] == [5]
    assert len(list(tmp_path.glob("params-*.json"))) == 2


def test_cache_hit_keeps_params_order(params, tmp_path):
    """Methods keep params.yaml's order on a cache hit (table rows, the rules' params)."""
    params = dict(params, methods={"stl": params["methods"]["stl"], "bmtl": params["methods"]["bmtl"]}, robustness={})
    miss = validate_params_cached(params, tmp_path)
    hit = validate_params_cached(params, tmp_path)
    assert list(miss["methods"]) == list(hit["methods"]) == ["stl", "bmtl"]


def test_cached_check_covers_the_schema(params, tmp_path, monkeypatch):
    """With a schema the cache remembers the schema check too: a hit validates nothing, an
    edited schema is a miss, and a check that fails stores nothing."""
    from mtlbench import config

    schema = tmp_path / "params.schema.yaml"
    schema.write_text((ROOT / "workflow/schemas/params.schema.yaml").read_text())
    calls = []
    real = config._schema_errors
    monkeypatch.setattr(config, "_schema_errors", lambda p, s: calls.append(s) or real(p, s))
    cache = tmp_path / "cache"
    a = config.check_params(params, schema_path=schema, cache_dir=cache)
    assert config.check_params(params, schema_path=schema, cache_dir=cache) == a
    assert len(calls) == 1
    schema.write_text(schema.read_text() + "\n# edited\n")
    config.check_params(params, schema_path=schema, cache_dir=cache)
    assert len(calls) == 2
    monkeypatch.setattr(config, "_schema_errors", lambda p, s: ConfigError("seeds: not allowed by the schema"))
    before = sorted(cache.iterdir())
    bad = dict(params, seeds=[7])
    for _ in range(2):  # not remembered: reported again
        with pytest.raises(ConfigError, match="params.yaml: seeds: not allowed by the schema"):
            config.check_params(bad, schema_path=schema, cache_dir=cache)
    assert sorted(cache.iterdir()) == before


def test_yaml_error_shows_the_line(tmp_path):
    from mtlbench.config import load_yaml, merge_params_files

    assert load_yaml("a: [1, 2]\nb: {c: 3}\n") == yaml.safe_load("a: [1, 2]\nb: {c: 3}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeds: [0, 1\nmethods: {}\n")
    with pytest.raises(ConfigError, match=r"(?s)bad.yaml: not valid YAML: .*line 2, column 8:\n    methods: \{\}\n +\^"):
        merge_params_files([bad])


def test_schema_agrees_with_library(params):
    """The JSON schema (Snakemake's check) lists the same top-level keys as the library."""
    import jsonschema

    from mtlbench.config import TOP_LEVEL_KEYS

    schema = yaml.safe_load((ROOT / "workflow/schemas/params.schema.yaml").read_text())
    assert set(schema["properties"]) == set(TOP_LEVEL_KEYS)
    jsonschema.validate(params, schema)
    with pytest.raises(jsonschema.ValidationError, match="datasets_typo"):
        jsonschema.validate({**params, "datasets_typo": {}}, schema)


# --- issue 18: names and values that used to pass the check, then do harm ---

@pytest.mark.parametrize(
    "mutate, message",
    [
        # names become file names and command-line arguments
        (lambda p: p["methods"].update({"s,t": {"method": "stl"}}), r"methods.'s,t': 's,t' is not an allowed name"),
        (lambda p: p["methods"].update({"my stl": {"method": "stl"}}), r"methods.'my stl': .*not an allowed name"),
        (lambda p: p["methods"].update({"../../../escape": {"method": "stl"}}), r"methods.'../../../escape'"),
        (lambda p: p["datasets"].update({"my data": {"kind": "feature_file", "path": "x.parquet", "tasks": ["a"]}}),
         r"datasets.'my data': .*not an allowed name"),
        (lambda p: p["datasets"].update(own={"kind": "feature_file", "path": "x.parquet", "files": {"a/../b": "a.csv"}}),
         r"datasets.own.tasks: 'a/../b' is not an allowed name"),
        (lambda p: p["datasets"].update(own={"kind": "image_folder", "root": "x", "tasks": ["a b"]}),
         r"datasets.own.tasks: 'a b' is not an allowed name"),
        (lambda p: p["similarity"]["estimators"].update({"w;rm": {"estimator": "wasserstein"}}),
         r"similarity.estimators.'w;rm': .*not an allowed name"),
        # caught only after other jobs had run, or never
        (lambda p: p["datasets"]["etth1"].update(enabled=True),
         r"methods.mrn: 'mrn' handles classification tasks only, and the enabled dataset 'etth1' has regression"),
        (lambda p: (p["datasets"]["etth1"].update(enabled=True), p["methods"]["mrn"].update(enabled=False)),
         r"methods.vstl: 'vstl' handles classification tasks only"),
        (lambda p: p["methods"]["stl"].update(lr=float("inf")), r"methods.stl.lr: expected a finite number, got inf"),
        (lambda p: p["methods"]["vmtl"].update(lr=float("nan")), r"methods.vmtl.lr: expected a finite number, got nan"),
        (lambda p: p["methods"]["stl"].update(weight_decay=-1), r"methods.stl.weight_decay: must be >= 0"),
        (lambda p: p["methods"]["vmtl"].update(weight_decay=-1), r"methods.vmtl.weight_decay: must be >= 0"),
        (lambda p: p.update(seeds=[99999999999999]), r"seeds: expected a non-empty list of integers in \[0, 2147483647\]"),
        (lambda p: p.update(seeds=[0, 0]), r"seeds: seed 0 is listed twice"),
        (lambda p: p.update(train_ratios=[0.1, 0.10000001]), r"train_ratios: 0.1 and 0.10000001 are the same ratio in file names \(r0.1\)"),
        (lambda p: p.update(train_ratios=[0.2, 0.2]), r"train_ratios: 0.2 and 0.2 are the same ratio"),
        (lambda p: p["datasets"]["digits"].update(train_ratios=[0.3, 0.3]), r"datasets.digits.train_ratios: 0.3 and 0.3"),
        (lambda p: p["methods"]["stl"].update(enabled="no"), r"methods.stl.enabled: expected true or false, got 'no'"),
        (lambda p: p["datasets"]["digits"].update(enabled="no"), r"datasets.digits.enabled: expected true or false"),
        (lambda p: p["datasets"]["digits"].update(tasks=[]), r"datasets.digits.tasks: expected a non-empty list"),
    ],
)
def test_bad_names_and_values_fail_before_any_job(params, mutate, message):
    bad = copy.deepcopy(params)
    mutate(bad)
    with pytest.raises(ConfigError, match=message):
        validate_params(bad)


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p.update(methods={}), r"methods: no method is listed"),
    (lambda p: [m.update(enabled=False) for m in p["methods"].values()],
     r"methods: every method is disabled \(enabled: false\), but the datasets 'digits' are enabled"),
])
def test_a_run_needs_an_enabled_method(params, mutate, message):
    from mtlbench.config import check_params

    mutate(params)
    params["robustness"]["datasets"] = []
    with pytest.raises(ConfigError, match="params.yaml: " + message):
        check_params(params)


def test_regression_dataset_with_fitting_methods_passes(params):
    """ETT with the methods that handle regression (configs/ett.yaml) is accepted."""
    from mtlbench.config import merge_params_files

    merged, _ = merge_params_files([ROOT / "params.yaml", ROOT / "configs/ett.yaml"])
    p = validate_params(merged)
    assert p["datasets"]["etth1"]["enabled"] and not p["methods"]["mrn"]["enabled"]


def test_vmtl_on_a_single_task_dataset_warns(params):
    from mtlbench.config import config_warnings

    assert config_warnings(validate_params(params)) == []
    params["datasets"]["digits"]["tasks"] = ["mnist"]
    warnings = config_warnings(validate_params(params))
    assert any(w.startswith("methods.vmtl: 'vmtl' on the single-task dataset 'digits'") for w in warnings)
    assert not any(w.startswith("methods.stl:") for w in warnings)


def test_robustness_without_datasets_ignores_its_methods(params):
    params["methods"]["vmtl"]["enabled"] = False
    params["robustness"]["datasets"] = []  # its methods [bmtl, vmtl, vmtl_ac] are not used
    assert validate_params(params)["robustness"]["datasets"] == []


# --- issue 18: `mtlbench check` checks what Snakemake runs ---

def _check(capsys, *argv):
    from mtlbench.cli import main

    rc = main(["check", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_check_merges_override_files_in_snakemakes_order(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    for argv in (["configs/ett.yaml"], ["params.yaml", "configs/ett.yaml"]):
        rc, out, err = _check(capsys, *argv)
        assert rc == 0, err
        assert out.splitlines()[0].startswith("params: params.yaml + configs/ett.yaml")
        assert "dataset etth1: 7 tasks" in out and "dataset digits" not in out
        assert "training jobs planned: etth1 7" in out and out.rstrip().endswith("OK")
        assert len(out.splitlines()) < 15  # a summary, not the resolved JSON
    rc, out, _ = _check(capsys, "--json", "configs/ett.yaml")
    assert rc == 0 and json.loads(out)["datasets"]["etth1"]["enabled"] is True


@pytest.mark.parametrize("override, message", [
    ("methods: {stl: {enabled: 'no'}}", r"over.yaml: methods.stl.enabled: expected true or false"),
    ("datasets: {digits: {tasks: []}}", r"over.yaml: datasets.digits.tasks: expected a non-empty list"),
    ("methods: {vmtl: {enabled: false}}", r"params.yaml: robustness.methods: 'vmtl' is not an enabled method"),
    ("robustness: {datasets: [digits], methods: [stl]}", r"over.yaml: robustness.methods: 'stl'"),
    ("methods: {stl: {lrr: 1}}", r"over.yaml: unknown key methods.stl.'lrr'"),
])
def test_check_names_the_file_the_key_came_from(capsys, monkeypatch, tmp_path, override, message):
    import re

    monkeypatch.chdir(ROOT)
    (tmp_path / "over.yaml").write_text(override + "\n")
    rc, out, err = _check(capsys, tmp_path / "over.yaml")
    assert rc == 2 and re.search(message, err), err


def test_check_applies_the_json_schema(params, capsys, monkeypatch, tmp_path):
    """A value only the schema refuses (the library has no bound on it) fails `mtlbench check`."""
    monkeypatch.chdir(ROOT)
    (tmp_path / "over.yaml").write_text("grouping: {oracle_max_tasks: 13}\n")
    rc, out, err = _check(capsys, tmp_path / "over.yaml")
    assert rc == 2 and "over.yaml: grouping.oracle_max_tasks: 13 is greater than the maximum of 12" in err, err


def test_missing_shared_file_is_named_with_its_key_and_remedy(tmp_path):
    from mtlbench.config import merge_params_files, missing_inputs

    merged, origin = merge_params_files([ROOT / "params.yaml", ROOT / "configs/office_caltech.yaml"])
    for d in merged["datasets"].values():  # paths as seen from a directory without ../shared
        if "path" in d:
            d["path"] = str(tmp_path / "shared/data/office_caltech10_googlenet1024.tar.gz")
    merged["split_lists"] = {}
    missing = missing_inputs(validate_params(merged), origin)
    assert len(missing) == 1
    assert "configs/office_caltech.yaml: datasets.office_caltech_googlenet.path:" in missing[0]
    assert "office_caltech10_googlenet1024.tar.gz does not exist" in missing[0]
    merged["datasets"]["office_caltech_googlenet"]["path"] = "../shared/nope.tar.gz"
    (msg,) = missing_inputs(validate_params(merged), origin)
    assert "../shared is a data folder beside the repository" in msg


def test_check_names_a_missing_input_file(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    (tmp_path / "own.yaml").write_text("datasets: {own: {kind: feature_file, path: nowhere/x.parquet, tasks: [a]}}\n")
    rc, out, err = _check(capsys, tmp_path / "own.yaml")
    assert rc == 2 and "own.yaml: datasets.own.path: nowhere/x.parquet does not exist" in err, err


def test_robustness_rows_follow_the_methods_order(params):
    """robustness.methods [vmtl, bmtl] gives the table rows bmtl, vmtl: params.yaml's order, as elsewhere."""
    params["robustness"]["methods"] = ["vmtl_ac", "vmtl", "bmtl"]
    assert validate_params(params)["robustness"]["methods"] == ["bmtl", "vmtl", "vmtl_ac"]


def test_subset_scores_config_validates_without_its_files():
    """configs/grouping_tables.yaml (kind: subset_scores) passes the library's check: its
    tasks come from its ``task_order``, its listed ``tasks``."""
    from mtlbench.config import merge_params_files, validate_params

    p = validate_params(merge_params_files([ROOT / "params.yaml", ROOT / "configs" / "grouping_tables.yaml"])[0])
    assert p["datasets"]["mtg_net_ettm1"]["tasks"] == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert p["datasets"]["taskonomy_hoa_setting1"]["tasks"] == ["t1", "t2", "t3", "t4", "t5"]
