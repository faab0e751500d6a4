"""Typed configuration: the library's own check of ``params.yaml``.

Snakemake validates the file's structure against ``workflow/schemas/params.schema.yaml``;
this module then checks what a schema cannot know — which datasets, tasks, backbones and
methods exist in the registries, and which hyper-parameters each method takes — and fills
the defaults.  Every error names the key and the allowed values.

The library never reads ``params.yaml`` itself: callers pass the parsed mapping.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

TOP_LEVEL_KEYS = ("datasets", "backbones", "methods", "train_ratios", "seeds", "device", "split_lists", "features",
                  "similarity", "grouping", "robustness", "resources")
# rules whose cluster resources params.yaml may set (resources.<rule>.{runtime, mem_mb})
RESOURCE_RULES = ("download", "prepare_release", "index_images", "import_features", "features", "features_files",
                  "splits", "train", "train_seeds", "train_task_set", "similarity", "grouping", "robustness")
RESOURCE_KEYS = ("runtime", "mem_mb")
DATASET_KEYS = ("backbone", "tasks", "enabled", "download", "train_ratios")


def _allowed(values) -> str:
    return ", ".join(repr(v) for v in sorted(values))


def unknown_key_error(where: str, key: str, allowed) -> ConfigError:
    """A ConfigError naming ``where.key``, a close match if any, and the allowed keys."""
    allowed = list(allowed)
    hint = difflib.get_close_matches(key, allowed, n=1)
    did = f" (did you mean {hint[0]!r}?)" if hint else ""
    return ConfigError(f"unknown key {where + '.' if where else ''}{key!r}{did}; allowed: {_allowed(allowed)}")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not allowed; allowed: {_allowed(allowed)}")
        return value
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(tp) or (Any,)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # YAML 1.1 reads 1e-4 as a string; accept numeric strings
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def build_dataclass(cls: type, values: Mapping[str, Any] | None, where: str):
    """Instantiate dataclass ``cls`` from ``values``, rejecting unknown keys by name."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise unknown_key_error(where, key, fields)
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        obj = cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ConfigError(f"{where}: {e}") from None
    check = getattr(obj, "check", None)
    if check is not None:
        check(where)
    return obj


def require_mapping(value: Any, where: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    return value


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
    return [float(r) for r in ratios]


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
        if isinstance(values, Mapping) and "kind" in values:
            # a generic kind (image_folder, feature_file) that brings its own data
            from .data.kinds import kind_config

            cfg = kind_config(dict(values), f"datasets.{name}")
            backbone = getattr(cfg, "backbone", None)
            if backbone is not None:
                images = [b for b, cls in BACKBONES.items() if cls.input == "images"]
                if backbone not in images:
                    raise ConfigError(f"datasets.{name}.backbone: unknown image backbone {backbone!r}; "
                                      f"allowed: {_allowed(images)}")
                backbones.setdefault(backbone, dataclasses.asdict(BACKBONES[backbone].Config()))
            tasks = list(cfg.task_order if cfg.kind == "feature_file" else cfg.tasks)
            if not tasks:
                raise ConfigError(f"datasets.{name}.tasks: list the tasks in order (the DAG names its jobs "
                                  "by them)" + (" or give files: {task: file}" if cfg.kind == "feature_file" else ""))
            source = dataclasses.asdict(cfg)
            datasets[name] = {"kind": cfg.kind, "backbone": backbone or "precomputed",
                              "tasks": tasks,
                              "enabled": bool(source.pop("enabled")), "source": source}
            if cfg.kind == "subset_scores":  # a published table: grouping only, no training
                datasets[name]["budgets"] = cfg.budget_list
            continue
        if name not in DATASETS:
            err = unknown_key_error("datasets", name, DATASETS)
            raise ConfigError(f"{err}; or bring your own data with a 'kind:' key, allowed kinds: "
                              "'feature_file', 'image_folder', 'subset_scores'")
        spec = DATASETS[name]
        values = dict(require_mapping(values, f"datasets.{name}"))
        for key in values:
            if key not in DATASET_KEYS:
                raise unknown_key_error(f"datasets.{name}", key, DATASET_KEYS)
        tasks = list(values.get("tasks") or spec.tasks)
        for t in tasks:
            if t not in spec.tasks:
                raise ConfigError(f"datasets.{name}.tasks: unknown task {t!r}; allowed: {_allowed(spec.tasks)}")
        if len(set(tasks)) != len(tasks):
            raise ConfigError(f"datasets.{name}.tasks: a task is listed twice: {tasks}")
        backbone = values.get("backbone", spec.default_backbone)
        if backbone not in BACKBONES:
            raise ConfigError(f"datasets.{name}.backbone: unknown backbone {backbone!r}; allowed: {_allowed(BACKBONES)}")
        wants = "series" if spec.time_series else "images"
        if BACKBONES[backbone].input != wants:
            fitting = [b for b, cls in BACKBONES.items() if cls.input == wants]
            raise ConfigError(f"datasets.{name}.backbone: {backbone!r} takes {BACKBONES[backbone].input}, "
                              f"{name} holds {wants}; allowed: {_allowed(fitting)}")
        backbones.setdefault(backbone, dataclasses.asdict(BACKBONES[backbone].Config()))
        datasets[name] = {"backbone": backbone, "tasks": tasks, "enabled": bool(values.get("enabled", True))}
        if "train_ratios" in values or spec.time_series:
            datasets[name]["train_ratios"] = _dataset_ratios(name, values.get("train_ratios"), spec.time_series)
        if "download" in values:  # URL / checksum overrides of a real release (mtlbench.data.releases)
            from .data.releases import SOURCES, with_overrides

            if name not in SOURCES:
                raise ConfigError(f"datasets.{name}.download: {name!r} is built offline, it has no download; "
                                  f"datasets with downloads: {_allowed(SOURCES)}")
            with_overrides(SOURCES[name], require_mapping(values["download"], f"datasets.{name}.download"))
            datasets[name]["download"] = dict(values["download"])

    methods = {}
    for label, values in require_mapping(params.get("methods"), "methods").items():
        values = dict(require_mapping(values, f"methods.{label}"))
        algorithm = values.pop("method", label)
        enabled = values.pop("enabled", True)
        if algorithm not in METHODS:
            where = f"methods.{label}.method" if algorithm != label else "methods"
            raise unknown_key_error(where, algorithm, METHODS)
        hp = build_dataclass(METHODS[algorithm].Hparams, values, f"methods.{label}")
        methods[label] = {"method": algorithm, "enabled": bool(enabled), "hparams": dataclasses.asdict(hp),
                          # all seeds trained as one batched model (mtlbench train-seeds)
                          "batched_seeds": hasattr(METHODS[algorithm], "fit_predict_many")}

    ratios = params.get("train_ratios", [0.05, 0.1, 0.2])
    if not isinstance(ratios, list) or not ratios:
        raise ConfigError(f"train_ratios: expected a non-empty list of fractions in (0, 1), got {ratios!r}")
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r < 1:
            raise ConfigError(f"train_ratios: {r!r} is not a fraction in (0, 1)")
    seeds = params.get("seeds", [0, 1, 2])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ConfigError(f"seeds: expected a non-empty list of non-negative integers, got {seeds!r}")
    device = params.get("device", "auto")
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise ConfigError(f"device: {device!r} is not allowed; allowed: 'auto', 'cpu', 'cuda', 'cuda:N'")

    split_lists = {}
    for name, values in require_mapping(params.get("split_lists"), "split_lists").items():
        # published split lists (mtlbench.published_splits): audit, and a split source
        from .published_splits import SplitListConfig

        cfg = build_dataclass(SplitListConfig, require_mapping(values, f"split_lists.{name}"), f"split_lists.{name}")
        if cfg.dataset is not None and cfg.dataset not in datasets:
            raise ConfigError(f"split_lists.{name}.dataset: {cfg.dataset!r} is not a dataset of this file; "
                              f"allowed: {_allowed(datasets)}")
        split_lists[name] = dataclasses.asdict(cfg)

    from .features.backbones import ImageFilesConfig

    features = dataclasses.asdict(build_dataclass(ImageFilesConfig, require_mapping(params.get("features"), "features"),
                                                  "features"))
    # optional sections (task similarity and grouping), checked only when present
    sections = {}
    if "similarity" in params or "grouping" in params:
        from .grouping.params import validate_grouping, validate_similarity

        sections["similarity"] = validate_similarity(params.get("similarity"), datasets)
        sections["grouping"] = validate_grouping(params.get("grouping"), datasets,
                                                 sections["similarity"]["estimators"])

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
        "methods": methods,
        "train_ratios": [float(r) for r in ratios],
        "seeds": list(seeds),
        "device": device,
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


def validate_params_cached(params: Mapping[str, Any], cache_dir) -> dict[str, Any]:
    """:func:`validate_params`, remembered by the content of ``params`` and of the library.

    Checking method hyper-parameters imports the method modules (and with them torch,
    several seconds); Snakemake evaluates the Snakefile on every call, so a no-op
    re-run reuses the result while neither the params nor the code have changed.
    """
    import json
    from pathlib import Path

    from .io import _json_default, atomic_path, canonical_json, read_json, sha256_text

    key = sha256_text(canonical_json(params) + _source_fingerprint())[:20]
    path = Path(cache_dir) / f"params-{key}.json"
    if path.exists():
        return read_json(path)
    resolved = validate_params(params)
    # keys in params.yaml's order, not sorted: the order of datasets and methods is the
    # order of table rows and of the rules' params, so a cache hit must give the same
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(resolved, indent=2, default=_json_default) + "\n")
    return resolved
