"""Our numpy flow kernels against torch flow libraries, same architectures and same weights.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/kernels.py [--n 100000] [--repeat 5]

Needs the ``[bench]`` extra (torch==2.13.0, zuko, normflows); torch runs on the CPU with two
threads. zuko provides affine coupling (RealNVP), MAF and spline coupling; normflows provides
planar and radial flows, which zuko lacks. Each torch model is converted to one of our specs
(the torch weights become the spec's effective parameters), then:

1. a correctness gate: log_prob agrees within 1e-10 in float64 on 2,000 points;
2. log_prob time for N points, best of ``--repeat`` interleaved runs, in float64 and float32,
   printed as our-time / torch-time (aim: <= 1.0 for coupling and MAF, <= 1.5 for planar and
   splines).

normflows' tanh planar flow has no inverse, so torch can only evaluate its density along its
own samples, log q(f(z)) = log p(z) − log|det df/dz|; the planar and radial rows time that same
computation (our ``forward_log_prob``). The row "planar … log_prob(x)" times our density at
arbitrary points, which needs the guarded root solve of every layer, against that torch time.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import normflows as nf
import numpy as np
import torch
import zuko
from zuko.flows import Flow as ZukoFlow
from zuko.flows import UnconditionalDistribution
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.flows.coupling import GeneralCouplingTransform
from zuko.transforms import MonotonicRQSTransform

from server.kernels import build, planar_u_hat, radial_beta
from server.kernels.flow import Flow

SLOPE = 1e-3  # zuko's default minimum slope of its monotonic transforms
BINS = 8
HIDDEN = (64, 64)


def _array(tensor: torch.Tensor) -> list[Any]:
    values: list[Any] = tensor.detach().double().cpu().numpy().tolist()
    return values


def _net(layers: torch.nn.Sequential) -> dict[str, Any]:
    """A zuko MLP / MaskedMLP as our ``net`` spec (masked weights multiplied out)."""
    weights, biases = [], []
    for module in layers:
        if isinstance(module, torch.nn.Linear | zuko.nn.Linear):  # MaskedLinear is a Linear
            weight, mask = module.weight, getattr(module, "mask", None)
            weights.append(_array(weight if mask is None else weight * mask))
            biases.append(_array(module.bias))
        elif not isinstance(module, torch.nn.ReLU):
            raise TypeError(f"unexpected module {module!r}")
    return {"weights": weights, "biases": biases, "activation": "relu"}


def zuko_base(dim: int) -> UnconditionalDistribution:
    """A fixed standard normal, as our ``{"type": "normal"}`` base."""
    return UnconditionalDistribution(
        zuko.distributions.DiagNormal, torch.zeros(dim), torch.ones(dim), buffer=True
    )


def zuko_coupling(dim: int, layers: int, spline: bool) -> tuple[ZukoFlow, dict[str, Any]]:
    """K coupling layers with alternating masks; our layers are zuko's in reverse, since
    zuko lists its transforms in the density direction."""
    transforms, specs = [], []
    for k in range(layers):
        mask = (torch.arange(dim) % 2 == k % 2).tolist()
        if spline:
            t = GeneralCouplingTransform(
                dim,
                mask=mask,
                univariate=MonotonicRQSTransform,
                shapes=[(BINS,), (BINS,), (BINS - 1,)],
                hidden_features=HIDDEN,
            )
            spec = {
                "type": "rq_spline_coupling",
                "mask": mask,
                "net": _net(t.hyper),
                "bins": BINS,
                "bound": 5.0,
                "min_slope": SLOPE,
            }
        else:
            t = GeneralCouplingTransform(dim, mask=mask, hidden_features=HIDDEN)
            spec = {
                "type": "affine_coupling",
                "mask": mask,
                "net": _net(t.hyper),
                "log_scale_bound": -math.log(SLOPE),
            }
        transforms.append(t)
        specs.append(spec)
    flow = ZukoFlow(transforms, zuko_base(dim))
    return flow, {"type": "chain", "dim": dim, "layers": specs[::-1]}


def zuko_maf(dim: int, layers: int) -> tuple[ZukoFlow, dict[str, Any]]:
    flow = zuko.flows.MAF(dim, transforms=layers, hidden_features=HIDDEN)
    specs = []
    for t in flow.transform.transforms:
        assert isinstance(t, MaskedAutoregressiveTransform)
        specs.append(
            {
                "type": "maf",
                "order": t.order.tolist(),
                "net": _net(t.hyper),
                "log_scale_bound": -math.log(SLOPE),
            }
        )
    return flow, {"type": "chain", "dim": dim, "layers": specs[::-1]}


def normflows_planar(dim: int, layers: int, radial: bool) -> tuple[Any, dict[str, Any]]:
    """normflows lists flows in the generative direction, as we do."""
    flows, specs = [], []
    for _ in range(layers):
        if radial:
            f = nf.flows.Radial((dim,))
            alpha = abs(float(f.alpha.detach()))
            specs.append(
                {
                    "type": "radial",
                    "z0": _array(f.z_0[0]),
                    "alpha": alpha,
                    "beta": radial_beta(float(f.beta.detach()), alpha),
                }
            )
        else:
            f = nf.flows.Planar((dim,))
            torch.nn.init.normal_(f.b)
            u, w = np.array(_array(f.u[0])), np.array(_array(f.w[0]))
            specs.append(
                {
                    "type": "planar",
                    "u": planar_u_hat(u, w).tolist(),
                    "w": w.tolist(),
                    "b": float(f.b.detach()),
                }
            )
        flows.append(f)
    model = nf.NormalizingFlow(nf.distributions.DiagGaussian(dim, trainable=False), flows)
    return model, {"type": "chain", "dim": dim, "layers": specs}


def normflows_forward_log_prob(model: Any, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log q(f(z)) along the flow, as normflows' NormalizingFlow.sample computes it."""
    log_q = model.q0.log_prob(z)
    for flow in model.flows:
        z, log_det = flow(z)
        log_q = log_q - log_det
    return z, log_q


@dataclass
class Case:
    name: str
    goal: float
    torch_model: Any
    spec: dict[str, Any]
    along_forward: bool  # planar / radial: density along the flow's samples


def cases() -> list[Case]:
    torch.manual_seed(0)
    out = []
    for k in (8, 32):
        model, spec = normflows_planar(2, k, radial=False)
        out.append(Case(f"planar K={k} D=2", 1.5, model, spec, True))
    model, spec = normflows_planar(2, 8, radial=True)
    out.append(Case("radial K=8 D=2", 1.5, model, spec, True))
    for dim in (2, 8):
        model, spec = zuko_coupling(dim, 8, spline=False)
        out.append(Case(f"affine coupling K=8 D={dim}", 1.0, model, spec, False))
    model, spec = zuko_maf(8, 3)
    out.append(Case("MAF K=3 D=8", 1.0, model, spec, False))
    model, spec = zuko_coupling(8, 4, spline=True)
    out.append(Case(f"spline coupling K=4 D=8 bins={BINS}", 1.5, model, spec, False))
    return out


def torch_log_prob(case: Case, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, log p(x)); for planar/radial ``points`` are latent and x is their image."""
    with torch.no_grad():
        if case.along_forward:
            return normflows_forward_log_prob(case.torch_model, points)
        return points, case.torch_model().log_prob(points)


def ours_log_prob(case: Case, flow: Flow, points: np.ndarray) -> np.ndarray:
    if case.along_forward:
        return flow.forward_log_prob(points)[1]
    return flow.log_prob(points)


def gate(case: Case, flow: Flow) -> float:
    """Largest |our log_prob − torch log_prob| on 2,000 float64 points (also via the inverse
    for planar/radial, where torch gives x = f(z))."""
    case.torch_model.double()
    points = torch.randn(2000, flow.dim, dtype=torch.float64)
    x, expected = torch_log_prob(case, points)
    ours = ours_log_prob(case, flow, points.numpy())
    error = float(np.max(np.abs(ours - expected.numpy())))
    if case.along_forward:
        error = max(error, float(np.max(np.abs(flow.log_prob(x.numpy()) - expected.numpy()))))
    return error


def best_times(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best wall time of each function, interleaved round by round so that a busy machine
    slows all of them alike."""
    for fn in fns:
        fn()  # warm up (allocations, lazy casts)
    best = [math.inf] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), zuko "
        f"{zuko.__version__}, normflows {nf.__version__}, numpy {np.__version__}"
    )

    all_cases = cases()
    flows = {case.name: build(case.spec) for case in all_cases}
    print("\ncorrectness gate: max |log_prob difference| in float64 (must be <= 1e-10)")
    failed = False
    for case in all_cases:
        error = gate(case, flows[case.name])
        failed |= not error <= 1e-10
        print(f"  {case.name:34s} {error:.2e} {'ok' if error <= 1e-10 else 'FAILED'}")
    if failed:
        raise SystemExit("correctness gate failed: not timing")

    print(f"\nlog_prob time, N = {args.n:,}, best of {args.repeat}, interleaved")
    header = (
        f"{'case':42s} {'dtype':8s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>6s} {'goal':>5s}"
    )
    print(header)
    print("-" * len(header))
    for case in all_cases:
        for dtype in (np.float64, np.float32):
            for name, ours, torch_time in time_case(case, flows[case.name], dtype, args):
                goal = "-" if name.endswith("log_prob(x)") else f"{case.goal:.1f}"
                print(
                    f"{name:42s} {np.dtype(dtype).name:8s} {1e3 * ours:9.1f} "
                    f"{1e3 * torch_time:9.1f} {ours / torch_time:6.2f} {goal:>5s}"
                )


def time_case(
    case: Case, flow: Flow, dtype: type[np.floating[Any]], args: argparse.Namespace
) -> list[tuple[str, float, float]]:
    """(row name, our time, torch time) for one case and dtype."""
    torch_dtype = torch.float64 if dtype is np.float64 else torch.float32
    case.torch_model.to(torch_dtype)
    generator = torch.Generator().manual_seed(1)
    points = torch.randn(args.n, flow.dim, generator=generator, dtype=torch_dtype)
    if not case.along_forward:  # evaluate where the model puts its mass
        with torch.no_grad():
            points = case.torch_model().sample((args.n,)).to(torch_dtype)
    fns: list[Callable[[], object]] = [
        partial(torch_log_prob, case, points),
        partial(ours_log_prob, case, flow, points.numpy()),
    ]
    names = [case.name]
    if case.along_forward and case.name.startswith("planar"):
        fns.append(partial(flow.log_prob, torch_log_prob(case, points)[0].numpy()))
        names.append(f"{case.name} log_prob(x)")
    torch_time, *ours_times = best_times(fns, args.repeat)
    return [(name, ours, torch_time) for name, ours in zip(names, ours_times, strict=True)]


if __name__ == "__main__":
    main()
