import copy
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
        (lambda p: p.update(resources={"trian": {"runtime": 5}}), r"unknown key resources.'trian' \(did you mean 'train'\?\)"),
        (lambda p: p.update(resources={"train": {"mem": 5}}), r"unknown key resources.train.'mem'.*allowed: 'mem_mb', 'runtime'"),
        (lambda p: p.update(resources={"train": {"runtime": 0}}), r"resources.train.runtime: expected a positive integer \(minutes\)"),
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


def test_schema_agrees_with_library(params):
    """The JSON schema (Snakemake's check) lists the same top-level keys as the library."""
    import jsonschema

    from mtlbench.config import TOP_LEVEL_KEYS

    schema = yaml.safe_load((ROOT / "workflow/schemas/params.schema.yaml").read_text())
    assert set(schema["properties"]) == set(TOP_LEVEL_KEYS)
    jsonschema.validate(params, schema)
    with pytest.raises(jsonschema.ValidationError, match="datasets_typo"):
        jsonschema.validate({**params, "datasets_typo": {}}, schema)
