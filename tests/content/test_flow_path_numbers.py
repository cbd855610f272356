"""Numbers stated on the flow-path concept pages are what the kernels compute.

Every log-density a demo caption, a practice hint or a witness's expected output states is
recomputed here from the flow spec with the embedded kernels, and the text must still state it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from server.kernels import build
from server.kernels.errors import SpecError
from server.kernels.linear import actnorm_from_data
from server.kernels.planar import planar_u_hat
from server.kernels.radial import radial_beta

CONTENT = Path(__file__).resolve().parents[2] / "content"

NORMAL_2D = {"type": "chain", "dim": 2, "base": {"type": "normal"}}
TANH_1D = {"type": "chain", "dim": 1, "base": {"type": "normal"}, "layers": [{"type": "tanh"}]}
AFFINE_TANH = {
    **NORMAL_2D,
    "layers": [
        {"type": "affine", "A": [[0.8, 0.3], [-0.2, 0.6]], "b": [0.2, -0.1]},
        {"type": "tanh"},
    ],
}
TANH_2D = {**NORMAL_2D, "layers": [{"type": "tanh"}]}


@cache
def front_matter(page: str) -> dict[str, Any]:
    text = (CONTENT / f"{page}.md").read_text(encoding="utf-8")
    front: dict[str, Any] = yaml.safe_load(text.split("\n---\n", 1)[0].removeprefix("---\n"))
    return front


def demo(page: str, demo_id: str) -> dict[str, Any]:
    return next(d for d in front_matter(page)["demos"] if d["id"] == demo_id)


def witness(page: str, witness_id: str) -> dict[str, Any]:
    return next(w for w in front_matter(page)["witnesses"] if w["id"] == witness_id)


def log_prob(spec: dict[str, Any], point: tuple[float, ...]) -> float:
    return float(build(spec).log_prob(np.array([point]))[0])


def stated(text: str, value: float, digits: int) -> None:
    formatted = f"{value:.{digits}f}"
    assert formatted in text, f"the text no longer states {formatted}"


@pytest.mark.parametrize(
    ("page", "demo_id", "point", "value"),
    [
        ("probability/change-of-variables", "shrink-half", (0.0, 0.0), -0.452),
        ("probability/change-of-variables", "affine-then-tanh", (0.3, -0.4), -1.095),
        ("probability/change-of-variables", "tanh-squash", (0.0, 0.0), -1.838),
        ("probability/change-of-variables", "tanh-squash", (0.9, 0.0), -1.261),
        ("probability/change-of-variables", "tanh-squash", (0.9, 0.9), -0.684),
        ("probability/kl-divergence", "forward-fit", (0.0, 0.0), -1.868),
        ("probability/kl-divergence", "forward-fit", (2.0, 0.0), -2.339),
        ("probability/kl-divergence", "reverse-fit", (2.0, 0.0), -0.452),
        ("probability/kl-divergence", "reverse-fit", (-2.0, 0.0), -32.452),
        ("probability/variational-inference", "exact-posterior", (0.9, -0.3), -0.452),
        ("probability/variational-inference", "correlated-posterior", (0.5, -0.5), -1.008),
        ("probability/variational-inference", "correlated-posterior", (1.5, 0.5), -1.534),
        ("probability/variational-inference", "mean-field-fit", (0.5, -0.5), -0.178),
        ("probability/variational-inference", "mean-field-fit", (1.5, 0.5), -5.438),
        ("generative-models/variational-autoencoders", "encoder-noise-flow", (0.6, 0.1), -0.228),
        ("generative-models/variational-autoencoders", "encoder-noise-flow", (1.0, 0.0), -0.748),
        ("generative-models/variational-autoencoders", "exact-posterior", (0.8106, 0.0851), -0.371),
        ("generative-models/variational-autoencoders", "decoder-marginal", (1.0, 0.5), -2.324),
        ("generative-models/planar-radial-flows", "planar-u-hat", (0.3, -0.2), -1.560),
        ("generative-models/planar-radial-flows", "radial-pull", (0.5, -0.5), 1.594),
        ("generative-models/planar-radial-flows", "radial-pull", (1.0, 0.5), -2.524),
        ("generative-models/planar-radial-flows", "chain-k3", (0.4, 0.1), -1.801),
        ("generative-models/coupling-flows", "coupling-shear", (0.5, 1.0), -3.843),
        ("generative-models/coupling-flows", "glow-linear", (1.0, 2.0), -3.511),
        ("generative-models/coupling-flows", "glow-step", (1.0, 2.0), -3.160),
    ],
)
def test_caption_log_density_matches_the_kernel(
    page: str, demo_id: str, point: tuple[float, float], value: float
) -> None:
    state = demo(page, demo_id)
    stated(state["caption"], value, 3)
    assert log_prob(state["spec"], point) == pytest.approx(value, abs=5e-4)


def test_change_of_variables_caption_terms() -> None:
    """The affine-then-tanh caption splits -1.095 into a base term and a volume term."""
    state = demo("probability/change-of-variables", "affine-then-tanh")
    z, log_volume = build(state["spec"]).inverse(np.array([[0.3, -0.4]]))
    base = -0.5 * float(z[0] @ z[0]) - np.log(2 * np.pi)
    caption = state["caption"]
    assert np.round(z[0], 3).tolist() == [0.301, -0.439]
    stated(caption, base, 3)
    assert "z = (0.301, -0.439)" in caption
    assert f"+{log_volume[0]:.3f}" in caption
    shrink = demo("probability/change-of-variables", "shrink-half")
    _, shrink_volume = build(shrink["spec"]).inverse(np.zeros((1, 2)))
    assert shrink_volume[0] == pytest.approx(2 * np.log(2))
    stated(shrink["caption"], float(shrink_volume[0]), 3)


def test_change_of_variables_hints() -> None:
    hints = " ".join(front_matter("probability/change-of-variables")["practice"]["hints"])
    stated(hints, log_prob(TANH_2D, (0.0, 0.0)), 3)
    stated(hints, log_prob(TANH_2D, (0.9, 0.0)), 3)
    z = np.arctanh(0.9)
    stated(hints, z, 3)
    stated(hints, -0.5 * z * z - np.log(2 * np.pi), 3)
    stated(hints, -np.log(1 - 0.81), 3)


@pytest.mark.parametrize(
    ("witness_id", "spec", "point", "line"),
    [
        ("affine-tanh-density", AFFINE_TANH, (0.3, -0.4), "log p_X(x): {:.4f}"),
        ("forgotten-jacobian", TANH_1D, (0.5,), "log p_X(0.5): {:.4f}"),
    ],
)
def test_change_of_variables_witness_output(
    witness_id: str, spec: dict[str, Any], point: tuple[float, ...], line: str
) -> None:
    expected = witness("probability/change-of-variables", witness_id)["checks"][0]["expected"]
    assert line.format(log_prob(spec, point)) in expected.splitlines()


def test_affine_tanh_witness_terms() -> None:
    expected = witness("probability/change-of-variables", "affine-tanh-density")["checks"][0]
    z, log_volume = build(AFFINE_TANH).inverse(np.array([[0.3, -0.4]]))
    lines = expected["expected"].splitlines()
    assert f"log|det J_f(z)|: {-log_volume[0]:.4f}" in lines
    assert f"log p_Z(z): {-0.5 * float(z[0] @ z[0]) - np.log(2 * np.pi):.4f}" in lines


def test_forgotten_jacobian_masses() -> None:
    """Without the factor, the mass is E[1 - tanh^2 z] under N(0, 1), not 1."""
    expected = witness("probability/change-of-variables", "forgotten-jacobian")["checks"][0]
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    naive = float(np.sum(weights * (1 - np.tanh(nodes) ** 2)) / np.sqrt(2 * np.pi))
    assert f"mass without it: {naive:.4f}" in expected["expected"].splitlines()


def two_mode_target_log_density(point: tuple[float, float]) -> float:
    """The KL page's target: modes at (-2, 0) and (2, 0), standard deviation 0.5, equal weights."""
    modes = [
        {**NORMAL_2D, "layers": [{"type": "affine", "A": [[0.5, 0], [0, 0.5]], "b": [c, 0.0]}]}
        for c in (-2.0, 2.0)
    ]
    left, right = (log_prob(mode, point) for mode in modes)
    return float(np.logaddexp(left, right) - np.log(2))


def test_kl_captions_state_the_target_and_the_divergence() -> None:
    forward = demo("probability/kl-divergence", "forward-fit")["caption"]
    reverse = demo("probability/kl-divergence", "reverse-fit")["caption"]
    stated(forward, two_mode_target_log_density((0.0, 0.0)), 3)
    stated(reverse, two_mode_target_log_density((2.0, 0.0)), 3)
    stated(reverse, np.log(2), 3)
    # The forward fit is moment matching: variance 0.5^2 + 2^2 along x.
    fit_x = demo("probability/kl-divergence", "forward-fit")["spec"]["layers"][0]["A"][0][0]
    assert fit_x == round(float(np.sqrt(0.25 + 4.0)), 3)


def gaussian_kl(m0: Any, s0: Any, m1: Any, s1: Any) -> float:
    inv = np.linalg.inv(s1)
    d = np.asarray(m1) - np.asarray(m0)
    logdet = np.log(np.linalg.det(s1) / np.linalg.det(s0))
    return float(0.5 * (np.trace(inv @ s0) + d @ inv @ d - len(d) + logdet))


def test_kl_asymmetry_numbers() -> None:
    expected = witness("probability/kl-divergence", "gaussian-kl-asymmetry")["checks"]
    lines = expected[0]["expected"].splitlines()
    q_spec = expected[1]["kernel"]["spec"]
    a = np.array(q_spec["layers"][0]["A"])
    m = np.array(q_spec["layers"][0]["b"])
    forward = gaussian_kl(np.zeros(2), np.eye(2), m, a @ a.T)
    reverse = gaussian_kl(m, a @ a.T, np.zeros(2), np.eye(2))
    assert f"KL(p||q) closed form: {forward:.4f}" in lines
    assert f"KL(q||p) closed form: {reverse:.4f}" in lines
    assert f"log q(1, 0.5): {log_prob(q_spec, (1.0, 0.5)):.4f}" in lines
    claims = {c["id"]: c["text"] for c in front_matter("probability/kl-divergence")["claims"]}
    stated(claims["nonnegative-not-symmetric"], forward, 3)
    stated(claims["nonnegative-not-symmetric"], reverse, 3)
    storyboard = " ".join(
        c["feedback"] for c in front_matter("probability/kl-divergence")["storyboard"]["choices"]
    )
    stated(storyboard, forward, 3)
    stated(storyboard, reverse, 3)


def test_kl_hints_and_fits() -> None:
    """The reverse fit on one mode costs log 2 when the modes barely overlap."""
    page = front_matter("probability/kl-divergence")
    hints = " ".join(page["practice"]["hints"])
    stated(hints, np.log(2), 3)
    stated(hints, np.sqrt(0.25 + 4.0), 2)
    lines = witness("probability/kl-divergence", "mode-covering-vs-seeking")["checks"][0]
    assert f"log 2: {np.log(2):.3f}" in lines["expected"]
    assert f"moment matching sigma: {np.sqrt(0.25 + 4.0):.3f}" in lines["expected"]


VI = "probability/variational-inference"


def test_vi_conjugate_model_numbers() -> None:
    """Evidence N(x; 0, (4/3) I), posterior N(0.75 x, 0.25 I) for x = (1.2, -0.4)."""
    x = np.array([1.2, -0.4])
    scale = float(np.sqrt(4 / 3))
    layer = {"type": "affine", "A": [[scale, 0.0], [0.0, scale]], "b": [0.0, 0.0]}
    evidence = {**NORMAL_2D, "layers": [layer]}
    log_evidence = log_prob(evidence, (1.2, -0.4))
    lines = witness(VI, "elbo-gap-is-kl")["checks"][0]["expected"].splitlines()
    assert f"log p(x): {log_evidence:.4f}" in lines
    assert f"ELBO at the exact posterior: {log_evidence:.4f}" in lines
    stated(demo(VI, "exact-posterior")["caption"], log_evidence, 3)
    posterior = demo(VI, "exact-posterior")["spec"]["layers"][0]
    assert posterior["b"] == pytest.approx((0.75 * x).tolist())
    # KL(N(m, s^2 I) || N(mu, v I)) for the mismatched q, and ELBO = log p(x) - KL.
    m, s, mu, v = np.array([0.5, 0.0]), 0.8, 0.75 * x, 0.25
    kl = float(np.log(v / s**2) + s**2 / v - 1.0 + ((m - mu) ** 2).sum() / (2 * v))
    assert f"KL(q || posterior): {kl:.4f}".rstrip("0") in lines
    assert f"ELBO(q): {log_evidence - kl:.4f}" in lines
    q_check = witness(VI, "elbo-gap-is-kl")["checks"][1]
    assert q_check["kernel"]["spec"]["layers"][0]["b"] == m.tolist()


def test_vi_mean_field_numbers() -> None:
    sigma = np.array([[1.0, 0.9], [0.9, 1.0]])
    width = float(1 / np.sqrt(np.linalg.inv(sigma)[0, 0]))
    gap = float(-0.5 * np.log(1 - 0.81))
    page = front_matter(VI)
    hints = " ".join(page["practice"]["hints"])
    stated(hints, width, 3)
    stated(hints, gap, 3)
    assert demo(VI, "mean-field-fit")["spec"]["layers"][0]["A"][0][0] == round(width, 3)
    cholesky = np.linalg.cholesky(sigma)
    assert demo(VI, "correlated-posterior")["spec"]["layers"][0]["A"][1] == [
        0.9,
        round(float(cholesky[1, 1]), 4),
    ]
    checks = witness(VI, "mean-field-shrinks")["checks"]
    lines = checks[0]["expected"].splitlines()
    assert f"1/sqrt(precision): {width:.4f}" in lines
    assert f"log q(mu): {log_prob(checks[1]['kernel']['spec'], (0.5, -0.5)):.4f}" in lines
    claims = {c["id"]: c["text"] for c in page["claims"]}
    stated(claims["mean-field-underestimates-variance"], width, 3)


VAE = "generative-models/variational-autoencoders"
VAE_W = np.array([[1.0, 0.0], [0.5, 0.8]])


def vae_elbo(mu: Any, sd: Any, x: Any) -> float:
    """The linear VAE's ELBO in closed form: prior N(0, I), decoder N(W z, 0.25 I)."""
    r = x - VAE_W @ mu
    spread = float(np.trace(VAE_W @ np.diag(sd**2) @ VAE_W.T))
    rec = -np.log(2 * np.pi * 0.25) - 0.5 * (r @ r + spread) / 0.25
    kl = 0.5 * float(np.sum(mu**2 + sd**2 - 1.0 - np.log(sd**2)))  # the page's KL term
    return float(rec - kl)


def test_vae_linear_model_numbers() -> None:
    """The demos' rounded specs are the exact posterior and marginal of the linear VAE."""
    x = np.array([1.0, 0.5])
    covariance = VAE_W @ VAE_W.T + 0.25 * np.eye(2)
    precision = np.eye(2) + VAE_W.T @ VAE_W / 0.25
    post_cov = np.linalg.inv(precision)
    post_mean = post_cov @ VAE_W.T @ x / 0.25
    marginal = demo(VAE, "decoder-marginal")["spec"]["layers"][0]
    assert np.allclose(marginal["A"], np.linalg.cholesky(covariance), atol=5e-5)
    posterior = demo(VAE, "exact-posterior")["spec"]["layers"][0]
    assert np.allclose(posterior["A"], np.linalg.cholesky(post_cov), atol=5e-5)
    assert np.allclose(posterior["b"], post_mean, atol=5e-5)
    log_evidence = -0.5 * float(x @ np.linalg.solve(covariance, x)) - np.log(
        2 * np.pi * np.sqrt(np.linalg.det(covariance))
    )
    elbo = vae_elbo(np.array([0.6, 0.1]), np.array([0.4, 0.5]), x)
    lines = witness(VAE, "reparameterised-elbo")["checks"][0]["expected"].splitlines()
    assert f"ELBO closed form: {elbo:.4f}" in lines
    texts = " ".join(
        [demo(VAE, d)["caption"] for d in ("exact-posterior", "decoder-marginal")]
        + front_matter(VAE)["practice"]["hints"]
    )
    stated(texts, log_evidence, 3)
    stated(texts, elbo, 3)
    stated(texts, log_evidence - elbo, 3)
    stated(demo(VAE, "exact-posterior")["caption"], post_mean[0], 3)
    stated(demo(VAE, "exact-posterior")["caption"], post_mean[1], 3)
    hints = " ".join(front_matter(VAE)["practice"]["hints"])
    stated(hints, -np.log(0.4 * 0.5), 3)
    stated(hints, log_prob(demo(VAE, "encoder-noise-flow")["spec"], (0.6, 0.1)), 3)


def test_vae_estimator_variances() -> None:
    """Pathwise 4 sigma^2 and score-function variance for f(z) = (z - 2)^2, mu = sigma = 0.5."""
    mu, sigma = 0.5, 0.5
    nodes, weights = np.polynomial.hermite_e.hermegauss(12)
    weights = weights / weights.sum()
    z = mu + sigma * nodes
    score = (z - 2.0) ** 2 * (z - mu) / sigma**2
    variance = float(weights @ (score - weights @ score) ** 2)
    lines = witness(VAE, "pathwise-vs-score")["checks"][0]["expected"].splitlines()
    assert f"exact gradient: {2 * (mu - 2):.1f}" in lines
    assert f"pathwise mean, variance: {2 * (mu - 2):.1f} {4 * sigma**2:.1f}" in lines
    assert f"score-function mean, variance: {2 * (mu - 2):.1f} {variance:.1f}" in lines
    claims = {c["id"]: c["text"] for c in front_matter(VAE)["claims"]}
    stated(claims["pathwise-lower-variance"], variance, 1)


PR = "generative-models/planar-radial-flows"


def test_planar_u_hat_is_the_kernels_reparameterisation() -> None:
    """The page's u-hat and beta-hat are the kernels' planar_u_hat and radial_beta."""
    w, u_raw = np.array([1.0, 2.0]), np.array([0.4, -1.2])
    u_hat = planar_u_hat(u_raw, w)
    layer = demo(PR, "planar-u-hat")["spec"]["layers"][0]
    assert layer["u"] == pytest.approx(u_hat.tolist(), abs=1e-15)
    wu = float(w @ u_hat)
    assert wu == pytest.approx(-1 + np.log1p(np.exp(-2.0)))
    caption = demo(PR, "planar-u-hat")["caption"]
    stated(caption, wu, 3)
    assert 1 + wu == pytest.approx(1 / 8, abs=0.005)  # "about an eighth of its width"
    lines = witness(PR, "planar-u-hat")["checks"][0]["expected"].splitlines()
    assert f"w.u-hat = m(w.u): {wu:.6f}" in lines
    assert f"u-hat: {np.round(u_hat, 6)}" in lines
    assert (
        f"log p at (0.3, -0.2): {log_prob(demo(PR, 'planar-u-hat')['spec'], (0.3, -0.2)):.6f}"
        in (lines)
    )
    with pytest.raises(SpecError, match="not invertible"):
        build(
            {
                **NORMAL_2D,
                "layers": [{"type": "planar", "u": u_raw.tolist(), "w": [1, 2], "b": 0.5}],
            }
        )


def test_radial_numbers() -> None:
    beta = radial_beta(-2.0, 0.8)
    spec = demo(PR, "radial-pull")["spec"]
    assert spec["layers"][0]["beta"] == beta
    lines = witness(PR, "radial-flow")["checks"][0]["expected"].splitlines()
    assert f"beta-hat: {beta:.6f}" in lines
    assert f"log p at z0: {log_prob(spec, (0.5, -0.5)):.6f}" in lines
    assert f"log p at (1, 0.5): {log_prob(spec, (1.0, 0.5)):.5f}" in lines
    _, log_volume = build(spec).inverse(np.array([[0.5, -0.5]]))
    stretch = 1 + beta / 0.8
    assert log_volume[0] == pytest.approx(-2 * np.log(stretch))
    texts = demo(PR, "radial-pull")["caption"] + " ".join(front_matter(PR)["practice"]["hints"])
    stated(texts, stretch, 3)
    stated(texts, float(log_volume[0]), 3)
    stated(texts, -0.25 - np.log(2 * np.pi), 3)
    stated(" ".join(front_matter(PR)["practice"]["hints"]), log_prob(spec, (0.5, -0.5)), 3)


def test_chain_terms_follow_the_composition_rule() -> None:
    state = demo(PR, "chain-k3")
    flow = build(state["spec"])
    x = np.array([[0.4, 0.1]])
    z, log_volume = flow.inverse(x)
    caption = state["caption"]
    assert f"({z[0, 0]:.3f}, {z[0, 1]:.3f})" in caption
    base = -0.5 * float(z[0] @ z[0]) - np.log(2 * np.pi)
    stated(caption, base, 3)
    stated(caption, -float(log_volume[0]), 3)
    # Per-layer forward log-determinants along the path z_0 -> z_1 -> z_2 -> x.
    terms: list[float] = []
    point = z
    for k in range(3):
        single = build({**NORMAL_2D, "layers": [state["spec"]["layers"][k]]})
        point, logdet = single.forward(point)
        terms.append(float(logdet[0]))
    assert point == pytest.approx(x)
    assert sum(terms) == pytest.approx(-float(log_volume[0]))
    lines = witness(PR, "planar-radial-chain")["checks"][0]["expected"].splitlines()
    assert f"per-layer log|det|: {np.round(np.array(terms), 4)}" in lines
    assert f"log N(z_0): {base:.4f}" in lines
    evidence = " ".join(front_matter(PR)["research"]["evidence"])
    for term in terms:
        stated(evidence, term, 3)


CF = "generative-models/coupling-flows"
GLOW_BATCH = [[2.0, -1.0], [4.0, 0.5], [3.0, 1.0], [5.0, 2.5], [1.0, -2.0]]


def test_glow_layers_are_the_kernels() -> None:
    """ActNorm is the kernels' data initialisation; the LU log-det is a sum over its diagonal."""
    actnorm = actnorm_from_data(np.array(GLOW_BATCH))
    for demo_id in ("glow-linear", "glow-step"):
        layers = demo(CF, demo_id)["spec"]["layers"]
        assert layers[0] == actnorm
    checks = witness(CF, "glow-actnorm-1x1")["checks"]
    assert checks[1]["kernel"]["spec"]["layers"][0] == actnorm
    lines = checks[0]["expected"].splitlines()
    spec = demo(CF, "glow-linear")["spec"]
    assert f"log p at (1, 2): {log_prob(spec, (1.0, 2.0)):.4f}" in lines
    actnorm_term = float(np.sum(np.log(actnorm["scale"])))
    lu_term = float(np.log(1.5) + np.log(0.8))
    _, log_volume = build(spec).inverse(np.array([[1.0, 2.0]]))
    assert -log_volume[0] == pytest.approx(actnorm_term + lu_term)
    assert f"log|det W| from U's diagonal: {lu_term:.4f} dense: {lu_term:.4f}" in lines
    assert f"9 pixels: {9 * lu_term:.4f} = 9 x {lu_term:.4f}" in lines
    texts = demo(CF, "glow-linear")["caption"] + " ".join(front_matter(CF)["practice"]["hints"])
    stated(texts, actnorm_term, 3)
    stated(texts, lu_term, 3)
    stated(" ".join(front_matter(CF)["practice"]["hints"]), actnorm_term + lu_term, 3)
    _, step_volume = build(demo(CF, "glow-step")["spec"]).inverse(np.array([[1.0, 2.0]]))
    stated(demo(CF, "glow-step")["caption"], float(step_volume[0]), 3)


def test_coupling_witness_matches_the_kernel() -> None:
    checks = witness(CF, "affine-coupling-kernel")["checks"]
    spec = checks[1]["kernel"]["spec"]
    assert spec == demo(CF, "coupling-shear")["spec"]
    lines = checks[0]["expected"].splitlines()
    assert f"log p at (0.5, 1.0): {log_prob(spec, (0.5, 1.0)):.4f}" in lines
    _, forward_logdet = build(spec).forward(np.array([[0.7, -0.3]]))
    assert f"-s(z_0): {forward_logdet[0]:.2f}" in lines


NF = "generative-models/normalizing-flows"
ML = "probability/maximum-likelihood"


def test_stretch_caption_separates_carried_values_from_fixed_points() -> None:
    """Halving holds for the value carried to f(z); at a fixed point far out the density rises."""
    spec = demo(NF, "stretch-x")["spec"]
    before = float(-0.5 * 9.0 - np.log(2 * np.pi))
    after = log_prob(spec, (3.0, 0.0))
    assert after > before
    z, log_volume = build(spec).inverse(np.array([[3.0, 0.0]]))
    assert z[0] == pytest.approx([1.5, 0.0])
    assert log_volume[0] == pytest.approx(-np.log(2))
    texts = [demo(NF, "stretch-x")["caption"], front_matter(NF)["practice"]["hints"][2]]
    for text in texts:
        stated(text, before, 3)
        stated(text, after, 3)
        stated(text, log_prob(spec, (0.0, 0.0)), 3)


def test_singular_witnesses_check_their_printed_output() -> None:
    nf_checks = witness(NF, "singular-map-refused")["checks"]
    assert [c["kind"] for c in nf_checks] == ["stdout", "error"]
    affine = {**NORMAL_2D, "layers": [{"type": "affine", "A": [[1.2, 0.3], [0.1, 0.9]]}]}
    affine["layers"][0]["b"] = [0.5, -0.2]  # type: ignore[index]
    z, _ = build(affine).inverse(np.array([[1.0, 0.0]]))
    assert f"regular A: {np.round(z[0], 3)}" in nf_checks[0]["expected"]
    ml_checks = witness(ML, "collinear-data-singular")["checks"]
    assert [c["kind"] for c in ml_checks] == ["stdout", "error"]
    lines = ml_checks[0]["expected"].splitlines()
    values = [float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("width")]
    assert np.diff(values) == pytest.approx([np.log(10)] * 2, abs=2e-4)
    assert "log 10, about 2.303" in witness(ML, "collinear-data-singular")["demonstrates"]
