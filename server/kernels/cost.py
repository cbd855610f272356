"""What evaluating a flow spec would cost, estimated from its JSON before anything is allocated.

Every spec the server evaluates (a check's kernel call, a demo state, ``POST
/api/demos/evaluate``) passes through :func:`estimate_cost` and :func:`check_budget` first:
:func:`server.kernels.build` checks the spec itself, and the callers that evaluate it on
untrusted points check those too (:func:`check_evaluation`, :func:`check_kernel_call`).
A spec over a limit is refused with
:class:`~server.errors.PayloadTooLarge` (413) whose message names the place, the value and the
limit, e.g. ``spec.layers[1].bins = 30000 is over the limit of 256``; one nested deeper than
any valid spec is refused with :class:`SpecError` (422). Malformed values the estimate cannot
read (a non-integer ``dim``) count as small, so that ``build`` refuses them with its own
message.

The model counts, per layer, the floats the built flow holds (``parameters``), the flops to
build it (condition numbers, MADE connectivity), the flops per point in each direction (an
autoregressive layer's generative direction makes D passes of its net; a planar inverse up to
``ROOT_ITERATIONS`` Newton steps) and the widest per-row intermediate, which with the
block size of :func:`~server.kernels.blocks.block_rows` bounds the scratch memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from server.errors import PayloadTooLarge
from server.kernels.blocks import block_rows
from server.kernels.errors import SpecError

MAX_DIM = 256
"""Features of a flow."""
MAX_LAYERS = 32
"""Layers in a chain."""
MAX_BINS = 256
"""Bins of one rational-quadratic spline."""
MAX_NET_LAYERS = 8
"""Weight matrices of one coupling or autoregressive net."""
MAX_HIDDEN_UNITS = 1024
"""Units of one hidden layer (MADE units included)."""
MAX_SPEC_NUMBERS = 200_000
"""Numbers written in the whole spec (weights included)."""
MAX_SPEC_DEPTH = 12
"""Nesting of objects and lists in a spec; the deepest valid one (a net's weights) has 7."""
MAX_FLOATS = 32_000_000
"""Floats held at once: parameters, points and a block's intermediates (256 MiB as float64)."""
MAX_FLOPS = 1_000_000_000
"""Estimated floating-point operations of one evaluation (about a second of numpy)."""

MAX_GRID_CELLS = 4_000_000
"""Cells of a normalisation check's grid, resolution ** D (2,000 per axis in 2-D)."""

POINT_COPIES = 6
"""Full-length arrays per coordinate: the input, its cast, the output, log-dets, densities."""
SCRATCH_COPIES = 8
"""Temporaries of the widest intermediate alive at once within one block."""
TRANSCENDENTAL = 40
"""Flops charged for one exp, log, tanh or sigmoid."""
LAYER_OVERHEAD = 40
"""Flops charged per coordinate and layer for the copies and temporaries every layer makes."""
ROOT_ITERATIONS = 64
"""Newton or bisection steps charged for a planar inverse (bisection alone needs ~60)."""


@dataclasses.dataclass(frozen=True)
class Cost:
    """The estimated cost of building a flow and evaluating it on some points."""

    dim: int
    layers: int
    numbers: int
    parameters: int
    build_flops: int
    forward_flops_per_point: int
    inverse_flops_per_point: int
    widest: int
    forward_points: int = 0
    inverse_points: int = 0

    @property
    def points(self) -> int:
        return self.forward_points + self.inverse_points

    @property
    def floats(self) -> int:
        """Parameters, every point's copies and one block's intermediates."""
        rows = min(block_rows(self.widest, 8), self.points)
        return (
            self.parameters
            + self.points * self.dim * POINT_COPIES
            + rows * self.widest * SCRATCH_COPIES
        )

    @property
    def flops(self) -> int:
        return (
            self.build_flops
            + self.forward_points * self.forward_flops_per_point
            + self.inverse_points * self.inverse_flops_per_point
        )

    def on(self, *, forward: int = 0, inverse: int = 0) -> Cost:
        """This flow's cost evaluated forward on ``forward`` points and inverse on ``inverse``."""
        return dataclasses.replace(self, forward_points=forward, inverse_points=inverse)

    def without_build(self) -> Cost:
        """The cost of a call on a flow already built."""
        return dataclasses.replace(self, build_flops=0)


@dataclasses.dataclass
class _Layer:
    parameters: int = 0
    build_flops: int = 0
    forward: int = 0
    inverse: int = 0
    widest: int = 0


def estimate_cost(spec: Any, *, forward: int = 0, inverse: int = 0) -> Cost:
    """The cost of ``build(spec)`` and of evaluating it forward on ``forward`` points and
    inverse (``log_prob``, ``inverse``) on ``inverse`` points.

    Raises PayloadTooLarge as soon as one quantity (dim, layers, bins, hidden units, net
    depth, numbers) is over its limit, and SpecError for a spec nested deeper than any valid
    one. Allocates nothing proportional to any number written in the spec.
    """
    numbers = count_numbers(spec, "spec")
    if numbers > MAX_SPEC_NUMBERS:
        raise PayloadTooLarge(f"spec holds {numbers} numbers, over the limit of {MAX_SPEC_NUMBERS}")
    if not isinstance(spec, Mapping):
        return Cost(1, 0, numbers, numbers, 0, 0, 0, 1).on(forward=forward, inverse=inverse)
    dim = _size(spec.get("dim"), "spec.dim", MAX_DIM)
    layer_specs = spec.get("layers")
    if not isinstance(layer_specs, list):
        layer_specs = []
    if len(layer_specs) > MAX_LAYERS:
        raise PayloadTooLarge(
            f"spec.layers has {len(layer_specs)} layers, over the limit of {MAX_LAYERS}"
        )
    total = _Layer(parameters=2 * numbers + 2 * dim, forward=4 * dim, inverse=4 * dim, widest=dim)
    for index, layer_spec in enumerate(layer_specs):
        if not isinstance(layer_spec, Mapping):
            continue
        layer = _layer_cost(layer_spec, dim, f"spec.layers[{index}]")
        layer.forward += LAYER_OVERHEAD * dim
        layer.inverse += LAYER_OVERHEAD * dim
        total.parameters += layer.parameters
        total.build_flops += layer.build_flops
        total.forward += layer.forward
        total.inverse += layer.inverse
        total.widest = max(total.widest, layer.widest)
    cost = Cost(
        dim=dim,
        layers=len(layer_specs),
        numbers=numbers,
        parameters=total.parameters,
        build_flops=total.build_flops,
        forward_flops_per_point=total.forward,
        inverse_flops_per_point=total.inverse,
        widest=total.widest,
    )
    return cost.on(forward=forward, inverse=inverse)


def check_budget(cost: Cost, what: str = "spec") -> None:
    """Refuse (413) a cost whose total floats or flops are over the limits."""
    points = f" on {cost.points} points" if cost.points else ""
    if cost.floats > MAX_FLOATS:
        raise PayloadTooLarge(
            f"{what}{points} needs about {cost.floats:.3g} floats in memory, "
            f"over the limit of {MAX_FLOATS:.3g}"
        )
    if cost.flops > MAX_FLOPS:
        raise PayloadTooLarge(
            f"{what}{points} needs about {cost.flops:.3g} flops, over the limit of {MAX_FLOPS:.3g}"
        )


def check_evaluation(spec: Any, *, forward: int = 0, inverse: int = 0) -> Cost:
    """Refuse (413/422) a spec that is over the budget on these points; else its cost."""
    cost = estimate_cost(spec, forward=forward, inverse=inverse)
    check_budget(cost)
    return cost


INVERSE_OPS = frozenset({"log_prob", "inverse", "inverse_logdet"})


def check_kernel_call(spec: Any, op: str, points: Any) -> Cost:
    """The budget check of one kernel call (a check's ``op`` on its ``input`` points)."""
    count = len(points) if isinstance(points, list | tuple) else 1
    if op in INVERSE_OPS:
        return check_evaluation(spec, inverse=count)
    return check_evaluation(spec, forward=count)


def count_numbers(value: Any, where: str, max_depth: int = MAX_SPEC_DEPTH) -> int:
    """Numbers anywhere in a JSON-like value, walked without recursion and in memory that
    grows with its depth only; SpecError (422) when it nests deeper than ``max_depth``."""
    count = 0
    stack: list[Iterator[Any]] = [iter((value,))]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, Mapping | list | tuple):
            if len(stack) > max_depth:
                raise SpecError(f"{where} nests deeper than the limit of {max_depth} levels")
            stack.append(iter(item.values() if isinstance(item, Mapping) else item))
        elif isinstance(item, int | float) and not isinstance(item, bool):
            count += 1
    return count


_END = object()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _size(value: Any, where: str, limit: int, default: int = 1) -> int:
    """A positive integer size, or ``default`` for a value that build will refuse."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return default
    if value > limit:
        raise PayloadTooLarge(f"{where} = {_shown(value)} is over the limit of {limit}")
    return value


def _rows_cols(matrix: Any) -> tuple[int, int]:
    """The shape of a list-of-lists matrix as written (0 where it is not one)."""
    if not isinstance(matrix, list):
        return 0, 0
    first = matrix[0] if matrix else None
    return len(matrix), len(first) if isinstance(first, list) else 0


ELEMENTWISE = {"leaky_relu", "sigmoid", "logit", "tanh", "atanh"}


def _layer_cost(spec: Mapping[str, Any], dim: int, where: str) -> _Layer:
    kind = spec.get("type")
    d = dim
    if kind in ("affine", "lu_linear"):
        # a condition number and an inverse at build time; one matmul per point
        return _Layer(3 * d * d, 30 * d**3, 2 * d * d + d, 2 * d * d + d, d)
    if kind in ("actnorm", "permutation"):
        return _Layer(2 * d, 0, 3 * d, 3 * d, d)
    if kind in ELEMENTWISE:
        # the map and its log-derivative each cost a transcendental
        return _Layer(0, 0, 2 * TRANSCENDENTAL * d, 2 * TRANSCENDENTAL * d, d)
    if kind == "planar":
        # the inverse solves a scalar equation per point by safeguarded Newton steps
        root = ROOT_ITERATIONS * (12 + 2 * TRANSCENDENTAL)
        return _Layer(2 * d, 0, 4 * d + TRANSCENDENTAL, 4 * d + root, d)
    if kind == "radial":
        return _Layer(d, 0, 10 * d + TRANSCENDENTAL, 10 * d + 4 * TRANSCENDENTAL, d)
    if kind == "rq_spline":
        bins = max(_rows_cols(spec.get("widths"))[1], 1)
        if bins > MAX_BINS:
            raise PayloadTooLarge(
                f"{where}.widths has {bins} bins per row, over the limit of {MAX_BINS}"
            )
        per_point = d * (4 * bins + 3 * TRANSCENDENTAL)  # the bin search compares every knot
        return _Layer(6 * d * (bins + 1), 4 * d * bins, per_point, per_point, d * (bins + 1))
    if kind in ("affine_coupling", "maf"):
        return _conditioned(spec, d, where, per_feature=2, bins=0, autoregressive=kind == "maf")
    if kind in ("rq_spline_coupling", "rq_spline_autoregressive"):
        bins = _size(spec.get("bins"), f"{where}.bins", MAX_BINS)
        autoregressive = kind == "rq_spline_autoregressive"
        return _conditioned(spec, d, where, 3 * bins - 1, bins, autoregressive)
    return _Layer()  # an unknown type: build refuses it


def _conditioned(
    spec: Mapping[str, Any], dim: int, where: str, per_feature: int, bins: int, autoregressive: bool
) -> _Layer:
    """A coupling or autoregressive layer: its net, then one univariate map per feature."""
    net = spec.get("net")
    weights = net.get("weights") if isinstance(net, Mapping) else None
    if not isinstance(weights, list):
        weights = []
    if len(weights) > MAX_NET_LAYERS:
        raise PayloadTooLarge(
            f"{where}.net has {len(weights)} weight matrices, over the limit of {MAX_NET_LAYERS}"
        )
    parameters, net_flops, widest = 0, 0, dim
    for k, matrix in enumerate(weights):
        rows, cols = _rows_cols(matrix)
        if k < len(weights) - 1 and rows > MAX_HIDDEN_UNITS:
            raise PayloadTooLarge(
                f"{where}.net.weights[{k}] has {rows} hidden units, "
                f"over the limit of {MAX_HIDDEN_UNITS}"
            )
        parameters += 2 * rows * (cols + 1)
        net_flops += 2 * rows * (cols + 1) + TRANSCENDENTAL * rows
        widest = max(widest, rows + 1)
    # per feature: (t, s) and an exp, or a spline's soft-bounds, softmax sums and bin search
    univariate = 3 * TRANSCENDENTAL if bins == 0 else bins * (6 + 3 * TRANSCENDENTAL)
    widest = max(widest, dim * (per_feature + 1))
    if not autoregressive:
        per_point = net_flops + dim * univariate
        return _Layer(parameters, 0, per_point, per_point, widest)
    # MADE connectivity at build time; the generative direction runs the net once per feature
    connectivity = dim * sum(2 * r * c for r, c in map(_rows_cols, weights))
    inverse = net_flops + dim * univariate
    forward = dim * (net_flops + univariate)
    return _Layer(parameters, connectivity, forward, inverse, widest)
