"""Numbers stated on the flow-family pages (captions, hints, expected witness output) are what
the embedded kernels compute.

Each case names the page, where the number is stated (so that a reworded caption that drops
the number fails here rather than going stale) and how the kernel recomputes it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from server.kernels import build
from server.kernels.spline import RQSpline, rq_spline

CONTENT = Path(__file__).resolve().parents[2] / "content" / "generative-models"


def front_matter(slug: str) -> dict[str, Any]:
    text = (CONTENT / f"{slug}.md").read_text(encoding="utf-8")
    front = text.split("\n---\n", 1)[0].removeprefix("---\n")
    loaded: dict[str, Any] = yaml.safe_load(front)
    return loaded


def demo(slug: str, demo_id: str) -> dict[str, Any]:
    demos: list[dict[str, Any]] = front_matter(slug)["demos"]
    return next(d for d in demos if d["id"] == demo_id)


def witness(slug: str, witness_id: str) -> dict[str, Any]:
    witnesses: list[dict[str, Any]] = front_matter(slug)["witnesses"]
    return next(w for w in witnesses if w["id"] == witness_id)


def expected_stdout(slug: str, witness_id: str) -> str:
    checks = witness(slug, witness_id)["checks"]
    return str(next(c for c in checks if c["kind"] == "stdout")["expected"])


def stated(text: str, value: float, decimals: int) -> None:
    assert f"{value:.{decimals}f}" in text, f"the text no longer states {value:.{decimals}f}"


def log_normal(z: np.ndarray[Any, Any]) -> float:
    return float(-0.5 * z @ z - 0.5 * z.size * math.log(2 * math.pi))


# --- autoregressive flows -------------------------------------------------------------------

AR = "autoregressive-flows"


def ridge_crest(x1: float) -> float:
    """Where z_2 = 0 on the line x_1 = const in the maf-ridge state."""
    return 1.5 * math.tanh(1.5 * x1) * math.exp(-0.7 * math.tanh(x1))


def test_shift_only_state_has_no_volume_change_and_carries_the_base_density() -> None:
    state = demo(AR, "maf-shift-only")
    flow = build(state["spec"])
    grid = np.array([[a, b] for a in (-2.0, -0.5, 0.0, 1.0, 2.5) for b in (-1.0, 0.0, 2.0)])
    assert np.allclose(flow.inverse(grid)[1], 0.0)
    point = np.array([[1.0, 1.5 * math.tanh(1.5)]])
    stated(state["caption"], float(point[0, 1]), 3)  # (1, 1.357)
    z = flow.inverse(point)[0][0]
    assert np.allclose(z, [1.0, 0.0])
    value = float(flow.log_prob(point)[0])
    stated(state["caption"], value, 3)  # -2.338
    assert value == pytest.approx(log_normal(np.array([1.0, 0.0])))


@pytest.mark.parametrize(
    ("x1", "log_volume", "crest"), [(1.0, 0.533, -1.805), (-1.0, -0.533, -2.871)]
)
def test_ridge_state_log_volume_and_crest(x1: float, log_volume: float, crest: float) -> None:
    state = demo(AR, "maf-ridge")
    flow = build(state["spec"])
    hints = " ".join(front_matter(AR)["practice"]["hints"])
    for text in (state["caption"], hints):
        stated(text, log_volume, 3)
        stated(text, crest, 3)
    line = np.array([[x1, b] for b in (-3.0, -1.0, 0.0, 0.5, 2.0)])
    assert np.allclose(flow.inverse(line)[1], log_volume, atol=5e-4)  # the same on the whole line
    point = np.array([[x1, ridge_crest(x1)]])
    z = flow.inverse(point)[0][0]
    assert np.allclose(z, [x1, 0.0], atol=1e-12)
    assert float(flow.log_prob(point)[0]) == pytest.approx(crest, abs=5e-4)
    # the crest is the maximum of the slice x_1 = const
    offsets = np.array([[x1, ridge_crest(x1) + d] for d in (-0.05, 0.05)])
    assert np.all(flow.log_prob(offsets) < flow.log_prob(point)[0])


def test_ridge_base_value_and_gap_in_the_hint() -> None:
    hints = " ".join(front_matter(AR)["practice"]["hints"])
    base = log_normal(np.array([1.0, 0.0]))
    stated(hints, base, 3)  # -2.338
    stated(demo(AR, "maf-ridge")["caption"], base, 3)
    flow = build(demo(AR, "maf-ridge")["spec"])
    high, low = flow.log_prob(np.array([[1.0, ridge_crest(1.0)], [-1.0, ridge_crest(-1.0)]]))
    assert round(float(high - low), 3) == 1.066
    stated(hints, 1.066, 3)


def maf3_spec() -> dict[str, Any]:
    checks = witness(AR, "maf-layer-against-kernel")["checks"]
    spec: dict[str, Any] = next(c for c in checks if c.get("name") == "log_px")["kernel"]["spec"]
    return spec


def test_maf_witness_output_is_the_kernel() -> None:
    out = expected_stdout(AR, "maf-layer-against-kernel")
    flow = build(maf3_spec())
    x = np.array([[0.5, -1.0, 0.8]])
    u = np.array([[0.3, -0.7, 1.2]])
    stated(out, float(flow.log_prob(x)[0]), 6)  # -4.898054
    stated(out, float(flow.inverse(x)[1][0]), 6)  # the summed log-scales, -0.372288
    sample = np.round(flow.forward(u)[0][0], 6).tolist()
    assert f"sample from z = (0.3, -0.7, 1.2): {sample}" in out
    x_iaf, log_scales = flow.inverse(u)
    assert f"IAF sample from u = (0.3, -0.7, 1.2): {np.round(x_iaf[0], 6).tolist()}" in out
    stated(out, log_normal(u[0]) - float(log_scales[0]), 6)  # the IAF's own log-density


def test_maf_witness_jacobian_is_triangular_in_the_kernel() -> None:
    flow = build(maf3_spec())
    x = np.array([0.5, -1.0, 0.8])
    h = 1e-6
    columns = [
        (flow.inverse(np.array([x + h * e]))[0][0] - flow.inverse(np.array([x - h * e]))[0][0])
        / (2 * h)
        for e in np.eye(3)
    ]
    jacobian = np.stack(columns, axis=1)  # [i, j] = dz_i / dx_j
    assert np.allclose(jacobian[np.triu_indices(3, 1)], 0.0, atol=1e-12)
    assert np.linalg.slogdet(jacobian)[1] == pytest.approx(flow.inverse(x[None])[1][0], abs=1e-8)


# --- neural spline flows --------------------------------------------------------------------

NSF = "neural-spline-flows"


def test_spline_split_centre_peak_and_tail() -> None:
    state = demo(NSF, "spline-split")
    flow = build(state["spec"])
    caption = state["caption"]
    hints = " ".join(front_matter(NSF)["practice"]["hints"])
    centre = float(flow.log_prob(np.array([[0.0, 0.0]]))[0])
    assert centre == pytest.approx(log_normal(np.zeros(2)) - math.log(4.0))
    for text in (caption, hints):
        stated(text, centre, 3)  # -3.224
    stated(hints, log_normal(np.zeros(2)), 3)  # -1.838
    xs = np.linspace(0.0, 3.0, 30001)
    along = flow.log_prob(np.stack([xs, np.zeros_like(xs)], axis=1))
    peak = int(np.argmax(along))
    for text in (caption, hints):
        stated(text, float(xs[peak]), 3)  # 1.787
    stated(caption, float(along[peak]), 3)  # -2.163
    mirrored = flow.log_prob(np.array([[-xs[peak], 0.0]]))[0]
    assert mirrored == pytest.approx(along[peak], abs=1e-9)  # the split is symmetric
    tail = float(flow.log_prob(np.array([[3.5, 0.0]]))[0])
    assert tail == pytest.approx(log_normal(np.array([3.5, 0.0])))  # identity beyond the bound
    stated(caption, tail, 3)  # -7.963


def test_spline_witness_output_is_the_kernel() -> None:
    state = demo(NSF, "spline-witness")
    flow = build(state["spec"])
    out = expected_stdout(NSF, "rq-spline-against-kernel")
    value = float(flow.log_prob(np.array([[0.5, -1.0]]))[0])
    stated(out, value, 6)  # -4.350247
    stated(state["caption"], value, 3)
    image = np.round(flow.forward(np.array([[-1.0, 2.0]]))[0][0], 6).tolist()
    assert f"x = g(-1, 2): {image}" in out
    # the smallest slope on [-4, 4], per coordinate from the kernel's own spline
    layer = flow.layers[0]
    assert isinstance(layer, RQSpline)
    grid = np.linspace(-4.0, 4.0, 8001)[:, None] * np.ones((1, 2))
    log_slopes = rq_spline(grid, layer.knots)[1]
    stated(out, float(np.exp(log_slopes).min()), 6)  # 0.205171


# --- continuous normalizing flows -----------------------------------------------------------

CNF = "continuous-normalizing-flows"
GENERATOR = np.array([[0.3, -1.0], [0.8, -0.5]])
QUARTER_TURN = (math.pi / 2) * np.array([[0.0, -1.0], [1.0, 0.0]])
"""The field of the rotation-flow state, whose time-1 map is its spec's matrix."""


def expm(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Matrix exponential by scaling and squaring a Taylor series (independent of the page)."""
    scaled = matrix / 2**10
    term, total = np.eye(len(matrix)), np.eye(len(matrix))
    for k in range(1, 30):
        term = term @ scaled / k
        total = total + term
    for _ in range(10):
        total = total @ total
    return total


def test_cnf_map_spec_is_the_matrix_exponential() -> None:
    spec = demo(CNF, "linear-cnf-map")["spec"]
    assert np.allclose(spec["layers"][0]["A"], expm(GENERATOR), atol=1e-13)
    assert math.log(np.linalg.det(expm(GENERATOR))) == pytest.approx(np.trace(GENERATOR))


def test_cnf_caption_and_witness_numbers() -> None:
    state = demo(CNF, "linear-cnf-map")
    flow = build(state["spec"])
    caption = state["caption"]
    log_volume = float(flow.inverse(np.array([[0.0, 0.0]]))[1][0])
    assert log_volume == pytest.approx(-np.trace(GENERATOR))
    stated(caption, log_volume, 1)  # +0.2
    stated(caption, log_normal(np.zeros(2)), 3)  # -1.838
    stated(caption, float(flow.log_prob(np.array([[0.0, 0.0]]))[0]), 3)  # -1.638
    at_point = float(flow.log_prob(np.array([[0.4, -0.3]]))[0])
    stated(caption, at_point, 3)  # -1.871
    out = expected_stdout(CNF, "linear-cnf-trace")
    stated(out, at_point, 6)  # -1.871277
    assert f"det(A): {np.linalg.det(GENERATOR):.2f}" in out
    body = (CONTENT / f"{CNF}.md").read_text(encoding="utf-8")
    stated(body, math.log(np.linalg.det(GENERATOR)), 3)  # log det A = -0.431, the wrong rule


def test_rotation_state_trace_zero_determinant_not() -> None:
    state = demo(CNF, "rotation-flow")
    flow = build(state["spec"])
    generator = QUARTER_TURN
    assert np.trace(generator) == 0.0
    assert np.allclose(state["spec"]["layers"][0]["A"], expm(generator), atol=1e-12)
    caption = state["caption"]
    hints = " ".join(front_matter(CNF)["practice"]["hints"])
    determinant = float(np.linalg.det(generator))
    stated(caption, determinant, 3)  # 2.467
    stated(front_matter(CNF)["practice"]["prediction_prompt"], determinant, 3)
    stated(caption, math.log(determinant), 3)  # 0.903
    assert np.allclose(flow.inverse(np.array([[0.0, 1.0]]))[0], [[1.0, 0.0]])
    value = float(flow.log_prob(np.array([[0.0, 1.0]]))[0])
    assert value == pytest.approx(log_normal(np.array([1.0, 0.0])))
    for text in (caption, hints):
        stated(text, value, 3)  # -2.338


# --- score matching -------------------------------------------------------------------------

SM = "score-matching"
SM_MEAN = np.array([1.0, -0.5])
SM_COV = np.array([[1.5, 0.6], [0.6, 0.8]])


def kernel_score(spec: dict[str, Any], point: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The gradient in x of the kernel's log-density, by central differences."""
    flow = build(spec)
    h = 1e-5
    rows = [
        flow.log_prob(np.array([point + h * e]))[0] - flow.log_prob(np.array([point - h * e]))[0]
        for e in np.eye(2)
    ]
    return np.array(rows) / (2 * h)


@pytest.mark.parametrize(
    ("demo_id", "covariance"),
    [("data-density", SM_COV), ("smoothed-density", SM_COV + 0.25 * np.eye(2))],
)
def test_score_demo_states(demo_id: str, covariance: np.ndarray[Any, Any]) -> None:
    state = demo(SM, demo_id)
    A = np.array(state["spec"]["layers"][0]["A"])
    assert np.allclose(A @ A.T, covariance, atol=1e-12)  # the flow draws N(mu, covariance)
    caption = state["caption"]
    peak = float(build(state["spec"]).log_prob(SM_MEAN[None])[0])
    stated(caption, peak, 3)
    score = kernel_score(state["spec"], np.zeros(2))
    assert np.allclose(score, np.linalg.solve(covariance, SM_MEAN), atol=1e-6)
    assert f"({score[0]:.3f}, {score[1]:.3f})" in caption
    stated(caption, float(np.linalg.norm(score)), 3)


def test_score_matching_witness_constants() -> None:
    out = expected_stdout(SM, "score-matching-gaussian")
    precision = np.linalg.inv(SM_COV)
    stated(out, 0.5 * float(np.trace(precision)), 9)  # the constant gap
    stated(out, -0.5 * float(np.trace(precision)), 6)  # the objective at the truth
    smoothed = np.linalg.inv(SM_COV + 0.25 * np.eye(2))
    assert f"DSM optimum M: {np.round(smoothed, 6).tolist()}" in out
    hints = " ".join(front_matter(SM)["practice"]["hints"])
    stated(hints, float(smoothed[0, 0]), 3)  # 0.711
    stated(hints, float(precision[0, 0]), 3)  # 0.952
    body = (CONTENT / f"{SM}.md").read_text(encoding="utf-8").split("\n---\n", 1)[1]
    stated(body, float(smoothed[0, 0]), 3)
    stated(body, float(precision[0, 0]), 3)


# --- denoising diffusion --------------------------------------------------------------------

DDPM = "denoising-diffusion"
BETA = np.linspace(0.05, 0.3, 10)
DATA_MEAN, DATA_STD = 1.5, 0.5


class Linear:
    """a x0 + b eps + c, with x0 ~ N(DATA_MEAN, DATA_STD^2) and eps ~ N(0, 1) independent."""

    def __init__(self, a: float, b: float, c: float) -> None:
        self.a, self.b, self.c = a, b, c

    def __add__(self, other: Linear) -> Linear:
        return Linear(self.a + other.a, self.b + other.b, self.c + other.c)

    def scale(self, k: float) -> Linear:
        return Linear(k * self.a, k * self.b, k * self.c)

    def mean_square(self) -> float:
        mean = self.a * DATA_MEAN + self.c
        return mean**2 + (self.a * DATA_STD) ** 2 + self.b**2


def ddpm_quantities() -> tuple[float, float, float]:
    """The model marginal (mean, variance) and the negative bound, in closed form."""
    alpha = 1 - BETA
    abar = np.concatenate([[1.0], np.cumprod(alpha)])  # abar[t], abar[0] = 1
    steps = len(BETA)
    gain, shift = [], []
    for t in range(1, steps + 1):
        v = abar[t] * DATA_STD**2 + 1 - abar[t]
        c = math.sqrt(1 - abar[t]) / v  # E[eps | x_t] = c (x_t - sqrt(abar_t) mean)
        k = BETA[t - 1] / math.sqrt(1 - abar[t])
        gain.append((1 - k * c) / math.sqrt(alpha[t - 1]))
        shift.append(k * c * math.sqrt(abar[t]) * DATA_MEAN / math.sqrt(alpha[t - 1]))
    mean, var = 0.0, 1.0
    for t in range(steps, 0, -1):
        mean, var = gain[t - 1] * mean + shift[t - 1], gain[t - 1] ** 2 * var + BETA[t - 1]
    # the bound: prior term, one KL per step with sigma_t^2 = beta_t, reconstruction term
    x_T = Linear(math.sqrt(abar[steps]), 0.0, 0.0)
    total = 0.5 * ((1 - abar[steps]) + x_T.mean_square() - 1 - math.log(1 - abar[steps]))
    for t in range(1, steps + 1):
        x_t = Linear(math.sqrt(abar[t]), math.sqrt(1 - abar[t]), 0.0)
        model_mean = x_t.scale(gain[t - 1]) + Linear(0.0, 0.0, shift[t - 1])
        if t == 1:
            error = Linear(1.0, 0.0, 0.0) + model_mean.scale(-1.0)
            total += 0.5 * math.log(2 * math.pi * BETA[0]) + error.mean_square() / (2 * BETA[0])
            continue
        a_post = math.sqrt(abar[t - 1]) * BETA[t - 1] / (1 - abar[t])
        b_post = math.sqrt(alpha[t - 1]) * (1 - abar[t - 1]) / (1 - abar[t])
        var_post = (1 - abar[t - 1]) / (1 - abar[t]) * BETA[t - 1]
        post_mean = Linear(a_post, 0.0, 0.0) + x_t.scale(b_post)
        gap = post_mean + model_mean.scale(-1.0)
        sigma2 = BETA[t - 1]
        total += 0.5 * (math.log(sigma2 / var_post) + (var_post + gap.mean_square()) / sigma2 - 1)
    return mean, var, total


def test_ddpm_model_marginal_and_bound_in_closed_form() -> None:
    mean, var, bound = ddpm_quantities()
    state = demo(DDPM, "model-marginal")
    layer = state["spec"]["layers"][0]
    assert layer["b"][0] == pytest.approx(mean, abs=1e-12)
    assert layer["A"][0][0] == pytest.approx(math.sqrt(var), abs=1e-12)
    out = expected_stdout(DDPM, "ddpm-bound-gaussian")
    assert f"mean, variance: {mean:.6f} {var:.6f}" in out
    cross_entropy = 0.5 * math.log(2 * math.pi * var) + (DATA_STD**2 + (DATA_MEAN - mean) ** 2) / (
        2 * var
    )
    assert f"negative ELBO, exact NLL (nats): {bound:.6f} {cross_entropy:.6f}" in out
    caption = state["caption"]
    entropy = 0.5 * math.log(2 * math.pi * math.e * DATA_STD**2)
    for value in (cross_entropy, entropy, cross_entropy - entropy, bound, mean, var):
        stated(caption, value, 3)
    hints = " ".join(front_matter(DDPM)["practice"]["hints"])
    for value in (bound, cross_entropy, bound - cross_entropy):
        stated(hints, value, 3)


def test_ddpm_kernel_numbers() -> None:
    model = demo(DDPM, "model-marginal")
    data = demo(DDPM, "data-density")
    at_data_mean = np.array([[DATA_MEAN, DATA_MEAN]])
    stated(model["caption"], float(build(model["spec"]).log_prob(at_data_mean)[0]), 3)
    data_peak = float(build(data["spec"]).log_prob(at_data_mean)[0])
    stated(data["caption"], data_peak, 3)
    stated(model["caption"], data_peak, 3)
    checks = witness(DDPM, "ddpm-bound-gaussian")["checks"]
    one_d = next(c for c in checks if c["kind"] == "variable")["kernel"]["spec"]
    out = expected_stdout(DDPM, "ddpm-bound-gaussian")
    stated(out, float(build(one_d).log_prob(np.array([[1.0]]))[0]), 6)
    alpha = 1 - BETA
    abar = np.cumprod(alpha)
    stated(out, float(abar[-1]), 6)
    weight = BETA[4] ** 2 / (2 * BETA[4] * alpha[4] * (1 - abar[4]))
    stated(out, float(weight), 6)
    body = (CONTENT / f"{DDPM}.md").read_text(encoding="utf-8")
    stated(body, float(weight), 3)  # the misconception quotes it


# --- flow matching and rectified flow -------------------------------------------------------

FM = "flow-matching-rectified-flow"
FM_MEAN, FM_STD = np.array([2.0, -1.0]), 0.5


def interpolation_variance(t: float) -> float:
    return (1 - t) ** 2 + t**2 * FM_STD**2


def test_flow_matching_half_time_state() -> None:
    state = demo(FM, "flow-at-half-time")
    flow = build(state["spec"])
    caption = state["caption"]
    layer = state["spec"]["layers"][0]
    assert layer["A"][0][0] ** 2 == pytest.approx(interpolation_variance(0.5))
    assert np.allclose(layer["b"], 0.5 * FM_MEAN)
    stated(caption, interpolation_variance(0.5), 4)  # 0.3125
    stated(caption, float(flow.log_prob(np.array([[1.0, -0.5]]))[0]), 3)  # -0.675
    ts = np.linspace(0.0, 1.0, 100001)
    variances = (1 - ts) ** 2 + ts**2 * FM_STD**2
    lowest = int(np.argmin(variances))
    assert round(float(ts[lowest]), 3) == 0.8 and round(float(variances[lowest]), 3) == 0.2
    assert "dips to 0.2 at t = 0.8" in caption


def test_flow_matching_end_state_and_witness() -> None:
    state = demo(FM, "flow-at-end")
    flow = build(state["spec"])
    start = np.array([[0.5, -1.0]])
    image = flow.forward(start)[0][0]
    assert np.allclose(image, FM_MEAN + FM_STD * start[0])
    value = float(flow.log_prob(image[None])[0])
    stated(state["caption"], value, 3)  # -1.077
    out = expected_stdout(FM, "flow-matching-gaussian")
    stated(out, value, 6)  # -1.076583
    assert f"flow map of (0.5, -1) at t = 1: {np.round(image, 6).tolist()}" in out
    # the trace integral of the marginal field is the log-determinant of the kernel's map
    assert flow.forward(start)[1][0] == pytest.approx(2 * math.log(FM_STD))
    independent = float(FM_MEAN @ FM_MEAN + 2 * (1 + FM_STD**2))
    rectified = float(FM_MEAN @ FM_MEAN + 2 * (1 - FM_STD) ** 2)
    assert f"rectified pairs: {independent:g} {rectified:g}" in out
    hints = " ".join(front_matter(FM)["practice"]["hints"])
    assert f"({image[0]:g}, {image[1]:g})" in hints


def test_flow_matching_constant_gap() -> None:
    t = 0.3
    # E|x1 - x0 - E[x1 - x0 | x_t]|^2 per coordinate: Var(x1 - x0) - Cov^2 / Var(x_t)
    covariance = t * FM_STD**2 - (1 - t)
    per_coordinate = (1 + FM_STD**2) - covariance**2 / interpolation_variance(t)
    out = expected_stdout(FM, "flow-matching-gaussian")
    stated(out, 2 * per_coordinate, 9)  # 0.975609756


# --- evaluating likelihood models -----------------------------------------------------------

EV = "evaluating-likelihood-models"


def normal_cdf(x: float, mean: float, std: float) -> float:
    return 0.5 * (1 + math.erf((x - mean) / (std * math.sqrt(2))))


def cell_log_prob(cell: tuple[int, int], mean: tuple[float, float], std: float) -> float:
    return sum(
        math.log(normal_cdf(k + 1, m, std) - normal_cdf(k, m, std))
        for k, m in zip(cell, mean, strict=True)
    )


def test_pixel_model_numbers() -> None:
    state = demo(EV, "pixel-model")
    flow = build(state["spec"])
    caption = state["caption"]
    centre = float(flow.log_prob(np.array([[3.5, 5.5]]))[0])
    exact = cell_log_prob((3, 5), (3.5, 3.5), 1.5)
    stated(caption, centre, 3)  # -3.538
    stated(caption, exact, 3)  # -3.542
    stated(caption, -exact / (2 * math.log(2)), 3)  # 2.555 bits per dimension
    out = expected_stdout(EV, "bpd-and-dequantization")
    stated(out, centre, 6)
    stated(out, exact, 6)
    stated(out, -exact / (2 * math.log(2)), 6)
    # the dequantized estimate, by a midpoint rule over the cell with the kernel's density
    n = 400
    u = (np.arange(n) + 0.5) / n
    cell = np.stack(np.meshgrid(3 + u, 5 + u, indexing="ij"), axis=-1).reshape(-1, 2)
    dequantized = float(np.mean(flow.log_prob(cell)))
    assert dequantized == pytest.approx(-3.574733, abs=1e-5)
    assert dequantized <= exact
    stated(out, 3.574733 / (2 * math.log(2)), 6)
    mass = sum(math.exp(cell_log_prob((i, j), (3.5, 3.5), 1.5)) for i in range(8) for j in range(8))
    stated(out, mass, 6)
    body = (CONTENT / f"{EV}.md").read_text(encoding="utf-8")
    stated(body, exact - dequantized, 3)  # the gap of 0.033 nats in a misconception


def test_spike_and_mixture_numbers() -> None:
    state = demo(EV, "narrow-spike")
    flow = build(state["spec"])
    caption = state["caption"]
    peak = float(flow.log_prob(np.array([[3.0, 5.0]]))[0])
    stated(caption, peak, 3)  # +7.372
    stated(caption, float(flow.log_prob(np.array([[3.5, 5.5]]))[0]), 1)  # -2492.6
    assert math.exp(cell_log_prob((3, 5), (3.0, 5.0), 0.01)) == pytest.approx(0.25)
    out = expected_stdout(EV, "bpd-and-dequantization")
    for width in (0.1, 0.01, 0.001):
        spike = {
            "type": "chain",
            "dim": 2,
            "layers": [{"type": "affine", "A": [[width, 0.0], [0.0, width]], "b": [3.0, 5.0]}],
        }
        stated(out, float(build(spike).log_prob(np.array([[3.0, 5.0]]))[0]), 6)
    penalty = math.log(100) / (3072 * math.log(2))
    stated(out, penalty, 6)
    stated(" ".join(front_matter(EV)["practice"]["hints"]), penalty, 6)
