"""Ground helpers of the configuration checks, shared by every stage.

Each package checks its own section of ``params.yaml`` (a backbone's ``Config``, a
method's ``Hparams``, :mod:`mtlbench.similarity.params`, :mod:`mtlbench.grouping.params`,
...) with these; :mod:`mtlbench.config` only composes the sections.  This module imports
nothing of the project but :mod:`mtlbench.errors`, so any stage may import it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

# every user-chosen name that becomes a file name, a path component, a wildcard or a
# command-line argument (dataset names, task names, method and estimator labels)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
NAME_RULE = ("letters, digits, '_' and '-', starting with a letter or a digit, at most 64 characters "
             "(it becomes a file name and a command-line argument)")


def check_name(name: Any, where: str) -> str:
    """``name`` if it is a safe name (:data:`NAME_PATTERN`), else a ConfigError naming ``where``."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"{where}: {name!r} is not an allowed name; allowed: {NAME_RULE}")
    return name


def distinct_ratios(ratios: list[float], where: str) -> None:
    """Two ratios that print alike name the same files (r{ratio:g}): refuse them."""
    seen: dict[str, float] = {}
    for r in ratios:
        key = f"{float(r):g}"
        if key in seen:
            raise ConfigError(f"{where}: {seen[key]!r} and {r!r} are the same ratio in file names (r{key}); "
                              "list each ratio once, with at most 6 significant digits")
        seen[key] = r


def allowed_list(values) -> str:
    return ", ".join(repr(v) for v in sorted(values))


def unknown_key_error(where: str, key: str, allowed) -> ConfigError:
    """A ConfigError naming ``where.key``, a close match if any, and the allowed keys."""
    allowed = list(allowed)
    hint = difflib.get_close_matches(key, allowed, n=1)
    did = f" (did you mean {hint[0]!r}?)" if hint else ""
    return ConfigError(f"unknown key {where + '.' if where else ''}{key!r}{did}; allowed: {allowed_list(allowed)}")


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
            raise ConfigError(f"{where}: {value!r} is not allowed; allowed: {allowed_list(allowed)}")
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
                number = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        else:
            number = float(value)
        if not math.isfinite(number):  # .inf trains to chance, .nan fails inside torch
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return number
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


def check_enabled(values: Mapping, where: str) -> bool:
    """``enabled:`` of an entry: true or false (a string such as "no" is refused)."""
    value = values.get("enabled", True)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.enabled: expected true or false, got {value!r}")
    return value
