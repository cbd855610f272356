"""``build(spec)``: the one entry point from a JSON-able spec to a :class:`Flow`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.kernels.autoregressive import MAF, RQSplineAutoregressive
from server.kernels.base import read_base
from server.kernels.cost import check_budget, estimate_cost
from server.kernels.coupling import AffineCoupling, RQSplineCoupling
from server.kernels.elementwise import Atanh, LeakyReLU, Logit, Sigmoid, Tanh
from server.kernels.errors import SpecError
from server.kernels.flow import FLOAT_TYPES, Flow
from server.kernels.linear import ActNorm, Affine, LULinear, Permutation
from server.kernels.planar import Planar
from server.kernels.radial import Radial
from server.kernels.spec_reader import SpecReader
from server.kernels.spline import RQSpline
from server.kernels.transform import Domain, Transform

LAYER_TYPES: dict[str, Any] = {
    cls.kind: cls
    for cls in (
        Affine,
        LULinear,
        ActNorm,
        Permutation,
        LeakyReLU,
        Sigmoid,
        Logit,
        Tanh,
        Atanh,
        Planar,
        Radial,
        AffineCoupling,
        MAF,
        RQSpline,
        RQSplineCoupling,
        RQSplineAutoregressive,
    )
}


def build(spec: Mapping[str, Any]) -> Flow:
    """Build a flow from ``{"type": "chain", "dim": D, "base": …, "layers": […]}``.

    Raises :class:`SpecError` naming the layer (``layers[i] (type)``) and the offending value
    for unknown types or keys, wrong shapes, non-finite numbers, non-invertible parameters,
    and layers whose inputs would fall outside their domain; PayloadTooLarge (413) for a
    spec over the limits of :mod:`server.kernels.cost`, before anything is allocated. Callers
    that evaluate the flow on untrusted points call ``cost.check_evaluation`` first.
    """
    check_budget(estimate_cost(spec))
    chain = SpecReader(spec, "spec")
    chain.string("type", ("chain",))
    dim = chain.integer("dim", minimum=1)
    dtype_name = chain.string("dtype", tuple(FLOAT_TYPES), default="default")
    if chain.has("base"):
        base = read_base(chain.child("base"), dim)
    else:
        base = read_base(SpecReader({"type": "normal"}, "spec.base"), dim)
    layer_specs = chain.raw("layers")
    if not isinstance(layer_specs, list):
        raise chain.error(f"'layers' must be a list, got {type(layer_specs).__name__}")
    chain.finish()

    layers: list[Transform] = []
    domain, source = Domain.REAL, "the base distribution"
    for index, layer_spec in enumerate(layer_specs):
        layer = _build_layer(index, layer_spec, dim)
        if layer.domain is not Domain.REAL and domain is not layer.domain:
            raise SpecError(
                f"layers[{index}] ({layer.kind}): needs inputs in {layer.domain.value}, "
                f"but {source} gives values on {domain.value}"
            )
        domain = layer.codomain or domain
        source = f"layers[{index}] ({layer.kind})"
        layers.append(layer)
    return Flow(dim, base, tuple(layers), FLOAT_TYPES.get(dtype_name, None))


def _build_layer(index: int, layer_spec: object, dim: int) -> Transform:
    if not isinstance(layer_spec, Mapping):
        raise SpecError(f"layers[{index}]: expected an object, got {type(layer_spec).__name__}")
    kind = layer_spec.get("type")
    if kind not in LAYER_TYPES:
        known = ", ".join(sorted(LAYER_TYPES))
        raise SpecError(f"layers[{index}]: unknown type {kind!r}; expected one of: {known}")
    reader = SpecReader(layer_spec, f"layers[{index}] ({kind})")
    layer: Transform = LAYER_TYPES[kind].from_spec(reader, dim)
    reader.finish()
    return layer
