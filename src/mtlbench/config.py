"""Typed configuration: the library's own check of ``params.yaml``.

Snakemake validates the file's structure against ``workflow/schemas/params.schema.yaml``;
this module then checks what a schema cannot know — which datasets, tasks, backbones and
methods exist in the registries, and which hyper-parameters each method takes — and fills
the defaults.  Every error names the key and the allowed values.

The library never reads ``params.yaml`` itself: callers pass the parsed mapping.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from .checks import (
    allowed_list,
    build_dataclass,
    check_enabled,
    check_name,
    distinct_ratios,
    require_mapping,
    unknown_key_error,
)
from .errors import ConfigError

TOP_LEVEL_KEYS = ("datasets", "backbones", "methods", "train_ratios", "seeds", "device", "split_lists", "features",
                  "similarity", "grouping", "robustness", "resources", "selection")
# rules whose cluster resources params.yaml may set (resources.<rule>.{runtime, mem_mb})
RESOURCE_RULES = ("download", "prepare_release", "index_images", "import_features", "features", "features_files",
                  "splits", "routing_data", "train_seeds", "train_task_set", "similarity", "grouping", "robustness")
RESOURCE_KEYS = ("runtime", "mem_mb")
DATASET_KEYS = ("backbone", "tasks", "enabled", "download", "train_ratios")


# largest seed: every generator seeded from it (numpy, torch, the split draws) takes it
MAX_SEED = 2**31 - 1
# algorithms that train on tasks of a dataset whose task types they handle (Method.task_types)
TASK_TYPES = ("classification", "regression")


def _check_training_numbers(hparams: Mapping[str, Any], where: str) -> None:
    """Step sizes > 0 and penalty weights >= 0, for every method that has them."""
    for key, value in hparams.items():
        if (key == "lr" or key.endswith("_lr")) and isinstance(value, float) and not value > 0:
            raise ConfigError(f"{where}.{key}: the learning rate must be > 0, got {value!r}")
        if key == "weight_decay" and isinstance(value, float) and value < 0:
            raise ConfigError(f"{where}.{key}: must be >= 0, got {value!r}")


def _dataset_ratios(name: str, ratios: Any, time_series: bool) -> list[float]:
    """``datasets.<name>.train_ratios``: the dataset's own ratios instead of the global list.

    A time-series dataset (ETT) splits by time: a ratio is the share of the training part
    used (the latest windows), so 1 is allowed and the default is [1.0], the standard
    protocol.  Elsewhere a ratio is the per-class training fraction, in (0, 1).
    """
    where = f"datasets.{name}.train_ratios"
    if ratios is None and time_series:
        return [1.0]
    if not isinstance(ratios, list) or not ratios:
        raise ConfigError(f"{where}: expected a non-empty list of fractions, got {ratios!r}")
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r <= 1 or (r == 1 and not time_series):
            allowed = "(0, 1] (the share of the training part, latest windows)" if time_series else "(0, 1)"
            raise ConfigError(f"{where}: {r!r} is not a fraction in {allowed}")
    distinct_ratios(ratios, where)
    return [float(r) for r in ratios]


def dataset_task_types(name: str, entry: Mapping[str, Any], registry: Mapping) -> set[str]:
    """The task types of a resolved dataset entry (own-data kinds are classification,
    a tabular one its ``task_type``)."""
    if entry.get("kind") == "tabular":
        return {entry["source"]["task_type"]}
    if entry.get("kind") == "routing":  # routing_length (TSP, CVRP) / routing_prize (OP)
        from .data.kinds import RoutingConfig

        return {RoutingConfig.task_type(t) for t in entry["tasks"]}
    spec = registry.get(name)
    if spec is None or "kind" in entry:
        return {"classification"}
    return {spec.task_type(t) for t in entry["tasks"]}


def check_runnable(resolved: Mapping[str, Any]) -> None:
    """A run trains something: an enabled dataset needs an enabled method (checked before
    Snakemake plans jobs and by ``mtlbench check``; partial params for a library call may
    leave ``methods`` out).  The method registry (and so torch) is imported only to name
    the allowed methods in the error: a cached check imports no method."""
    enabled = [d for d, s in resolved["datasets"].items() if s["enabled"]]
    methods = resolved["methods"]
    if enabled and not methods:
        from .methods import METHODS

        raise ConfigError("methods: no method is listed; allowed: " + allowed_list(METHODS))
    if enabled and not any(s["enabled"] for s in methods.values()):
        raise ConfigError(f"methods: every method is disabled (enabled: false), but the datasets {allowed_list(enabled)} "
                          f"are enabled; enable one of {allowed_list(methods)}")


def _check_methods_fit_datasets(datasets: dict, methods: dict, registry_methods: Mapping,
                                registry_datasets: Mapping) -> None:
    """Every enabled method handles the task types of every enabled dataset (else its
    jobs fail after others ran)."""
    enabled = [d for d, s in datasets.items() if s["enabled"]]
    active = [m for m, s in methods.items() if s["enabled"]]
    for d in enabled:
        types_ = dataset_task_types(d, datasets[d], registry_datasets)
        for m in active:
            algorithm = methods[m]["method"]
            handles = set(getattr(registry_methods[algorithm], "task_types", ("classification",)))
            if not types_ <= handles:
                fitting = [x for x in active if types_ <= set(getattr(registry_methods[methods[x]["method"]],
                                                                      "task_types", ("classification",)))]
                raise ConfigError(f"methods.{m}: {algorithm!r} handles {' and '.join(sorted(handles))} tasks only, "
                                  f"and the enabled dataset {d!r} has {' and '.join(sorted(types_))} tasks; "
                                  f"set methods.{m}.enabled: false or datasets.{d}.enabled: false "
                                  f"(enabled methods that fit: {allowed_list(fitting) or 'none'})")


def method_capabilities(cls, hp) -> dict[str, bool]:
    """What the workflow plans from a method's class (:class:`mtlbench.methods.base.Method`)
    and its resolved hyper-parameters, so that no rule names a method."""
    return {
        "batched_seeds": cls.batches_seeds,  # all seeds as one batched model (mtlbench train-seeds)
        "learns_relations": cls.learns_relations,  # the relation heat map
        "has_predictor": cls.has_predictor,  # FGSM robustness runs
        "paper_tables": cls.paper_tables,  # the VMTL paper's tables
        # learned features of some test samples kept in the run JSON (the t-SNE figure)
        "embedding": getattr(hp, "embedding_samples", 0) > 0,
    }


def config_warnings(resolved: Mapping[str, Any]) -> list[str]:
    """Settings that run but are unlikely to be meant, each naming the key (printed by
    ``mtlbench check`` and before any Snakemake job)."""
    out = []
    sharing = ("vmtl", "vmtl_ac")  # priors mix the *other* tasks' posteriors: none with one task
    for d, spec in resolved["datasets"].items():
        if not spec["enabled"] or len(spec["tasks"]) > 1:
            continue
        for m, entry in resolved["methods"].items():
            if entry["enabled"] and entry["method"] in sharing:
                out.append(f"methods.{m}: {entry['method']!r} on the single-task dataset {d!r} "
                           f"(datasets.{d}.tasks: {spec['tasks']}) has no other task to share with; "
                           "with one task it uses standard normal priors, i.e. it is VSTL (methods.vstl)")
    return out


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the registries and return it resolved, defaults filled.

    The result is plain data (dicts, lists, numbers), suitable for hashing and for
    passing to the CLI as JSON.  Raises :class:`ConfigError` on the first problem.
    """
    from .data.registry import DATASETS
    from .features.backbones import BACKBONES
    from .methods import METHODS

    params = require_mapping(params, "params.yaml")
    for key in params:
        if key not in TOP_LEVEL_KEYS:
            raise unknown_key_error("", key, TOP_LEVEL_KEYS)

    backbones = {}
    for name, values in require_mapping(params.get("backbones"), "backbones").items():
        if name not in BACKBONES:
            raise unknown_key_error("backbones", name, BACKBONES)
        hp = build_dataclass(BACKBONES[name].Config, values, f"backbones.{name}")
        backbones[name] = dataclasses.asdict(hp)

    datasets = {}
    for name, values in require_mapping(params.get("datasets"), "datasets").items():
        check_name(name, f"datasets.{name!r}")
        if isinstance(values, Mapping) and "kind" in values:
            # a generic kind (image_folder, feature_file, subset_scores, tabular) that brings its own data
            from .data.kinds import kind_config

            cfg = kind_config(dict(values), f"datasets.{name}")
            backbone = getattr(cfg, "backbone", None)
            if backbone is not None:
                images = [b for b, cls in BACKBONES.items() if cls.input == "images"]
                if backbone not in images:
                    raise ConfigError(f"datasets.{name}.backbone: unknown image backbone {backbone!r}; "
                                      f"allowed: {allowed_list(images)}")
                backbones.setdefault(backbone, dataclasses.asdict(BACKBONES[backbone].Config()))
            tasks = list(cfg.task_order)  # every kind's configured tasks, in order
            if not tasks and cfg.kind == "tabular":  # the tasks present (min_samples_per_task applied)
                from .features.tabular_file import tabular_tasks

                tasks = tabular_tasks(cfg)
            if not tasks:
                raise ConfigError(f"datasets.{name}.tasks: list the tasks in order (the DAG names its jobs "
                                  "by them)" + (" or give files: {task: file}" if cfg.kind == "feature_file" else ""))
            for t in tasks:
                check_name(t, f"datasets.{name}.tasks")
            check_enabled(values, f"datasets.{name}")
            source = dataclasses.asdict(cfg)
            datasets[name] = {"kind": cfg.kind, "backbone": backbone or "precomputed",
                              "tasks": tasks,
                              "enabled": bool(source.pop("enabled")), "source": source}
            if cfg.kind == "subset_scores":  # a published table: grouping only, no training
                datasets[name]["budgets"] = cfg.budget_list
            if cfg.kind == "routing":  # generated instances: no backbone, no split (one protocol "ratio" 1)
                datasets[name].update(backbone="generated", train_ratios=[1.0])
            continue
        if name not in DATASETS:
            err = unknown_key_error("datasets", name, DATASETS)
            raise ConfigError(f"{err}; or bring your own data with a 'kind:' key, allowed kinds: "
                              "'feature_file', 'image_folder', 'routing', 'subset_scores', 'tabular'")
        spec = DATASETS[name]
        values = dict(require_mapping(values, f"datasets.{name}"))
        for key in values:
            if key not in DATASET_KEYS:
                raise unknown_key_error(f"datasets.{name}", key, DATASET_KEYS)
        if "tasks" in values and (not isinstance(values["tasks"], list) or not values["tasks"]):
            raise ConfigError(f"datasets.{name}.tasks: expected a non-empty list of tasks (omit the key for all); "
                              f"allowed: {allowed_list(spec.tasks)}")
        tasks = list(values.get("tasks") or spec.tasks)
        for t in tasks:
            if t not in spec.tasks:
                raise ConfigError(f"datasets.{name}.tasks: unknown task {t!r}; allowed: {allowed_list(spec.tasks)}")
        if len(set(tasks)) != len(tasks):
            raise ConfigError(f"datasets.{name}.tasks: a task is listed twice: {tasks}")
        backbone = values.get("backbone", spec.default_backbone)
        if backbone not in BACKBONES:
            raise ConfigError(f"datasets.{name}.backbone: unknown backbone {backbone!r}; allowed: {allowed_list(BACKBONES)}")
        wants = "series" if spec.time_series else "images"
        if BACKBONES[backbone].input != wants:
            fitting = [b for b, cls in BACKBONES.items() if cls.input == wants]
            raise ConfigError(f"datasets.{name}.backbone: {backbone!r} takes {BACKBONES[backbone].input}, "
                              f"{name} holds {wants}; allowed: {allowed_list(fitting)}")
        backbones.setdefault(backbone, dataclasses.asdict(BACKBONES[backbone].Config()))
        datasets[name] = {"backbone": backbone, "tasks": tasks, "enabled": check_enabled(values, f"datasets.{name}")}
        if "train_ratios" in values or spec.time_series:
            datasets[name]["train_ratios"] = _dataset_ratios(name, values.get("train_ratios"), spec.time_series)
        if "download" in values:  # URL / checksum overrides of a real release (mtlbench.data.releases)
            from .data.releases import SOURCES, with_overrides

            if name not in SOURCES:
                raise ConfigError(f"datasets.{name}.download: {name!r} is built offline, it has no download; "
                                  f"datasets with downloads: {allowed_list(SOURCES)}")
            with_overrides(SOURCES[name], require_mapping(values["download"], f"datasets.{name}.download"))
            datasets[name]["download"] = dict(values["download"])

    from .methods.base import selection_config

    # model selection: the top-level default, overridden per method (mtlbench.train)
    selection = selection_config(params.get("selection"), "selection")
    methods = {}
    for label, values in require_mapping(params.get("methods"), "methods").items():
        check_name(label, f"methods.{label!r}")
        values = dict(require_mapping(values, f"methods.{label}"))
        enabled = check_enabled(values, f"methods.{label}")
        algorithm = values.pop("method", label)
        values.pop("enabled", None)
        method_selection = selection_config(values.pop("selection", None), f"methods.{label}.selection", selection)
        if algorithm not in METHODS:
            where = f"methods.{label}.method" if algorithm != label else "methods"
            raise unknown_key_error(where, algorithm, METHODS)
        hp = build_dataclass(METHODS[algorithm].Hparams, values, f"methods.{label}")
        _check_training_numbers(dataclasses.asdict(hp), f"methods.{label}")
        methods[label] = {"method": algorithm, "enabled": enabled, "hparams": dataclasses.asdict(hp),
                          "selection": method_selection,
                          **method_capabilities(METHODS[algorithm], hp)}

    ratios = params.get("train_ratios", [0.05, 0.1, 0.2])
    if not isinstance(ratios, list) or not ratios:
        raise ConfigError(f"train_ratios: expected a non-empty list of fractions in (0, 1), got {ratios!r}")
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r < 1:
            raise ConfigError(f"train_ratios: {r!r} is not a fraction in (0, 1)")
    distinct_ratios(ratios, "train_ratios")
    seeds = params.get("seeds", [0, 1, 2])
    if not isinstance(seeds, list) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds):
        raise ConfigError(f"seeds: expected a non-empty list of integers in [0, {MAX_SEED}], got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        twice = sorted({s for s in seeds if seeds.count(s) > 1})
        raise ConfigError(f"seeds: seed {twice[0]} is listed twice; list each seed once, got {seeds!r}")
    _check_methods_fit_datasets(datasets, methods, METHODS, DATASETS)
    device = params.get("device", "auto")
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise ConfigError(f"device: {device!r} is not allowed; allowed: 'auto', 'cpu', 'cuda', 'cuda:N'")

    split_lists = {}
    for name, values in require_mapping(params.get("split_lists"), "split_lists").items():
        # published split lists (mtlbench.splits.published): audit, and a split source
        from .splits.published import SplitListConfig

        check_name(name, f"split_lists.{name!r}")
        cfg = build_dataclass(SplitListConfig, require_mapping(values, f"split_lists.{name}"), f"split_lists.{name}")
        if cfg.dataset is not None and cfg.dataset not in datasets:
            raise ConfigError(f"split_lists.{name}.dataset: {cfg.dataset!r} is not a dataset of this file; "
                              f"allowed: {allowed_list(datasets)}")
        split_lists[name] = dataclasses.asdict(cfg)

    from .features.backbones import ImageFilesConfig

    features = dataclasses.asdict(build_dataclass(ImageFilesConfig, require_mapping(params.get("features"), "features"),
                                                  "features"))
    # optional sections (task similarity and grouping), checked only when present
    sections = {}
    if "similarity" in params or "grouping" in params:
        from .grouping.params import validate_grouping
        from .similarity.params import validate_similarity

        sections["similarity"] = validate_similarity(params.get("similarity"), datasets)
        for label in sections["similarity"].get("estimators", {}):
            check_name(label, f"similarity.estimators.{label!r}")
        sections["grouping"] = validate_grouping(params.get("grouping"), datasets,
                                                 sections["similarity"]["estimators"], sections["similarity"]["gains"],
                                                 sections["similarity"]["estimators_of"])

    if "robustness" in params:  # FGSM accuracy of trained models (VMTL appendix B.5)
        from .robustness import validate_robustness

        sections["robustness"] = validate_robustness(params["robustness"], datasets, methods,
                                                     [float(r) for r in ratios])

    resources = {}
    for rule, values in require_mapping(params.get("resources"), "resources").items():
        if rule not in RESOURCE_RULES:
            raise unknown_key_error("resources", rule, RESOURCE_RULES)
        resources[rule] = {}
        for key, value in require_mapping(values, f"resources.{rule}").items():
            if key not in RESOURCE_KEYS:
                raise unknown_key_error(f"resources.{rule}", key, RESOURCE_KEYS)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"resources.{rule}.{key}: expected a positive integer "
                                  f"({'minutes' if key == 'runtime' else 'megabytes'}), got {value!r}")
            resources[rule][key] = value

    resolved = {
        **sections,
        "resources": resources,
        "datasets": datasets,
        "features": features,
        "backbones": backbones,
        # Backbone.uses_gpu of each backbone above: the features job claims a GPU
        "backbone_uses_gpu": {name: BACKBONES[name].uses_gpu for name in backbones},
        "methods": methods,
        "train_ratios": [float(r) for r in ratios],
        "seeds": list(seeds),
        "device": device,
        "selection": selection,
        **({"split_lists": split_lists} if split_lists else {}),  # only when given: resolved files stay as they were
    }
    # plain JSON data (tuples become lists), identical to what the cache and the CLI see
    return json.loads(json.dumps(resolved))


def _source_fingerprint() -> str:
    """sha256 over the library's own source files: a change in code invalidates the cache."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def checked_params(params: Mapping[str, Any], schema_path=None) -> dict[str, Any]:
    """Everything :func:`check_params` checks, in its order and uncached: the library's
    check (:func:`validate_params`), :func:`check_runnable`, then the JSON schema at
    ``schema_path`` when given; the resolved params."""
    resolved = validate_params(params)
    check_runnable(resolved)
    if schema_path is not None and (err := _schema_errors(params, schema_path)) is not None:
        raise err
    return resolved


def validate_params_cached(params: Mapping[str, Any], cache_dir, schema_path=None) -> dict[str, Any]:
    """:func:`validate_params` (with ``schema_path``: all of :func:`checked_params`),
    remembered by the content of ``params``, of the library and of the schema file.

    Checking method hyper-parameters imports the method modules (and with them torch,
    several seconds), and the schema check jsonschema; Snakemake evaluates the Snakefile
    on every call, so a no-op re-run reuses the result while neither the params, the code
    nor the schema have changed.  A check that fails stores nothing.
    """
    import json
    from pathlib import Path

    from .io import _json_default, atomic_path, canonical_json, read_json, sha256_text

    schema = "" if schema_path is None else "schema:" + Path(schema_path).read_text()
    key = sha256_text(canonical_json(params) + _source_fingerprint() + schema)[:20]
    path = Path(cache_dir) / f"params-{key}.json"
    if path.exists():
        return read_json(path)
    resolved = validate_params(params) if schema_path is None else checked_params(params, schema_path)
    # keys in params.yaml's order, not sorted: the order of datasets and methods is the
    # order of table rows and of the rules' params, so a cache hit must give the same
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(resolved, indent=2, default=_json_default) + "\n")
    return resolved


# --- params files as Snakemake merges them, and errors that name the file of the key ---

def merge_params_files(paths, overrides: Mapping[str, Any] | None = None,
                       overrides_label: str = "--config") -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """Load YAML ``paths`` and merge each over the ones before it, as Snakemake merges
    ``configfile:`` and every ``--configfile`` (``snakemake.utils.update_config``: a
    mapping is merged key by key, any other value replaces), then ``overrides``
    (Snakemake's ``--config key=value``).

    Returns the merged mapping and, for every key path set, the file that set it last.
    """
    from pathlib import Path

    import yaml

    merged: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}

    def merge(into: dict, new: Mapping, prefix: tuple[str, ...], path: str) -> None:
        for key, value in new.items():
            where = prefix + (str(key),)
            origin[where] = path
            if isinstance(value, Mapping):
                sub = into.get(key)
                into[key] = sub = dict(sub) if isinstance(sub, Mapping) else {}
                merge(sub, value, where, path)
            else:
                into[key] = value

    for path in paths:
        try:
            data = load_yaml(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such params file") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if data is None:
            continue
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
        merge(merged, data, (), str(path))
    if overrides:
        merge(merged, overrides, (), overrides_label)
    return merged, origin


def load_yaml(text: str):
    """``yaml.safe_load`` through libyaml where PyYAML has it (several times faster: the
    Snakefile reads params.yaml on every call); a YAML error comes from the pure-Python
    loader, whose message shows the offending line."""
    import yaml

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return yaml.load(text, Loader=yaml.SafeLoader)


_KEY_TOKEN = r"(?:'[^']*'|[A-Za-z0-9_\-]+)"
_KEY_PATH = re.compile(rf"(?:unknown key )?({_KEY_TOKEN}(?:\.{_KEY_TOKEN})*)")


def error_key(message: str) -> tuple[str, ...]:
    """The dotted key path a ConfigError message starts with (``a.b.c: ...`` or
    ``unknown key a.b.'c' ...``), as a tuple; () when there is none."""
    m = _KEY_PATH.match(message)
    if not m:
        return ()
    tokens = re.findall(_KEY_TOKEN, m.group(1))
    return tuple(re.sub(r"\[\d+\]$", "", t.strip("'")) for t in tokens)


def file_of(key: tuple[str, ...], origin: Mapping[tuple[str, ...], str], default: str) -> str:
    """The file that set ``key`` or the nearest enclosing key that a file set."""
    for n in range(len(key), 0, -1):
        if key[:n] in origin:
            return origin[key[:n]]
    return default


def _schema_errors(params: Mapping[str, Any], schema_path) -> ConfigError | None:
    """The first JSON-schema violation of ``params`` as a ConfigError naming the key."""
    from pathlib import Path

    import jsonschema

    schema = load_yaml(Path(schema_path).read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.loads(json.dumps(params))),
                    key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return None
    e = errors[0]
    where = ".".join(str(p) for p in e.absolute_path)
    if e.validator == "additionalProperties" and not e.absolute_path:
        where = ""
    return ConfigError(f"{where + ': ' if where else ''}{e.message} (workflow/schemas/params.schema.yaml)")


def check_params(params: Mapping[str, Any], origin: Mapping[tuple[str, ...], str] | None = None,
                 schema_path=None, cache_dir=None, default_file: str = "params.yaml") -> dict[str, Any]:
    """What runs before any Snakemake job (:func:`checked_params`): the library's check
    (:func:`validate_params`), :func:`check_runnable`, then the JSON schema at
    ``schema_path``; all of it remembered in ``cache_dir`` when given.

    A ConfigError is re-raised with the file its key came from (``origin``, from
    :func:`merge_params_files`) in front: ``configs/ett.yaml: robustness.methods: ...``.
    """
    try:
        resolved = (validate_params_cached(params, cache_dir, schema_path) if cache_dir is not None
                    else checked_params(params, schema_path))
        check_runnable(resolved)  # pure and cheap; already part of a check with the schema
    except ConfigError as e:
        where = file_of(error_key(str(e)), origin or {}, default_file)
        raise ConfigError(f"{where}: {e}") from None
    return resolved


def planned_training_jobs(resolved: Mapping[str, Any]) -> dict[str, int]:
    """Training and robustness jobs of the resolved configuration, per enabled dataset:
    one training job per (method, ratio), all seeds in it (the ``train_seeds`` rule);
    one robustness job per (method, ratio) likewise."""
    methods = [m for m in resolved["methods"].values() if m["enabled"]]
    out = {}
    for d, spec in resolved["datasets"].items():
        if not spec["enabled"]:
            continue
        ratios = len(spec.get("train_ratios") or resolved["train_ratios"])
        out[d] = ratios * len(methods)
    rob = resolved.get("robustness") or {}
    if rob.get("datasets"):
        out["robustness"] = len(rob["datasets"]) * len(rob["methods"]) * len(rob["ratios"])
    return out


def summary(resolved: Mapping[str, Any], files) -> str:
    """A few lines: datasets and tasks, methods, ratios, seeds, the training jobs planned."""
    lines = [f"params: {' + '.join(map(str, files))} (merged in this order, as Snakemake does)"]
    for d, spec in resolved["datasets"].items():
        if spec["enabled"]:
            ratios = spec.get("train_ratios") or resolved["train_ratios"]
            lines.append(f"dataset {d}: {len(spec['tasks'])} tasks ({', '.join(spec['tasks'])}), "
                         f"backbone {spec['backbone']}, train ratios {', '.join(f'{r:g}' for r in ratios)}")
    off = [d for d, s in resolved["datasets"].items() if not s["enabled"]]
    if off:
        lines.append(f"datasets off: {', '.join(off)}")
    on = [m for m, s in resolved["methods"].items() if s["enabled"]]
    lines.append(f"methods ({len(on)}): {', '.join(on) or 'none'}")
    lines.append(f"seeds: {', '.join(map(str, resolved['seeds']))}; device: {resolved['device']}")
    sim = (resolved.get("similarity") or {}).get("datasets") or []
    if sim:
        lines.append(f"similarity and grouping on: {', '.join(sim)}; budgets "
                     f"{', '.join(map(str, (resolved.get('grouping') or {}).get('budgets', [])))}")
    jobs = planned_training_jobs(resolved)
    if jobs:
        lines.append("training jobs planned: " + ", ".join(f"{k} {v}" for k, v in jobs.items())
                     + f" ({sum(jobs.values())} in all; data, table, similarity and grouping jobs come on top: "
                     "`snakemake -n` lists every job)")
    return "\n".join(lines)


def missing_inputs(resolved: Mapping[str, Any], origin: Mapping[tuple[str, ...], str] | None = None,
                   default_file: str = "params.yaml") -> list[str]:
    """Input files outside the pipeline (own-data datasets, published split lists) that do
    not exist, each as one message naming the key, its file and where the data comes from."""
    from pathlib import Path

    origin = origin or {}
    wanted = []
    for d, spec in resolved["datasets"].items():
        if spec["enabled"] and "kind" in spec:
            key = "root" if spec["kind"] == "image_folder" else "path"
            if spec["source"].get(key) is not None:  # a tabular rdataset has no path
                wanted.append((("datasets", d, key), spec["source"][key]))
    for name, entry in (resolved.get("split_lists") or {}).items():
        wanted.append((("split_lists", name, "lists"), entry["lists"]))
    out = []
    for key, path in wanted:
        if Path(path).exists():
            continue
        where = file_of(key, origin, default_file)
        shared = Path(path).as_posix().startswith("../shared/")
        hint = ("../shared is a data folder beside the repository, not part of it (its README lists each file "
                "and its sha256); place the file there, " if shared else "")
        off = (f"switch the dataset off (datasets.{key[1]}.enabled: false)" if key[0] == "datasets"
               else f"remove split_lists.{key[1]}")
        out.append(f"{where}: {'.'.join(key)}: {path} does not exist; {hint}point {'.'.join(key)} at your copy, "
                   f"or {off} (docs/data.md)")
    return out
