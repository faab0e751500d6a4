"""Methods, one module each, behind :class:`~mtlbench.methods.base.Method`.

:data:`METHODS` maps a name (the ``method:`` of a params.yaml entry) to its class.
"""

from __future__ import annotations

from .amtnn import AMTNNH, AMTNNW
from .base import Method, MethodResult, Problem, TaskData
from .bmtl import BMTL
from .linear_stl import LinearSTL
from .mean_regularized import MeanRegularized
from .mrn import MRN
from .pooled import Pooled
from .pooled_linear import PooledLinear
from .routing_bmtl import RoutingBMTL
from .routing_stl import RoutingSTL
from .stl import STL
from .trace_norm import TraceNorm
from .vmtl import VMTL, VMTLAC, VSTL

METHODS: dict[str, type[Method]] = {
    m.name: m for m in (STL, BMTL, LinearSTL, Pooled, PooledLinear, AMTNNH, AMTNNW, MRN, VMTL, VMTLAC, VSTL,
                      MeanRegularized, TraceNorm, RoutingSTL, RoutingBMTL)
}


def get_method(name: str) -> type[Method]:
    from ..checks import unknown_key_error

    if name not in METHODS:
        raise unknown_key_error("methods", name, METHODS)
    return METHODS[name]


__all__ = ["METHODS", "Method", "MethodResult", "Problem", "TaskData", "get_method"]
