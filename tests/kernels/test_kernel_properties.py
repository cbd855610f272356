"""One property loop over every transform and some random chains (as zuko's test_transforms).

Tolerances, and why:

* Round trips and inverse log-det = −forward log-det: float64 within 1e-12 (relative, on
  1 + |value|), float32 within 2e-5 on points and 2e-4 on log-dets. Each layer loses a few
  ulps times its local condition number; the chains here have ≤ 6 layers and condition
  ≲ 10, which gives ≲ 1e-14 in float64 (eps 2.2e-16) and ≲ 1e-5 in float32 (eps 1.2e-7,
  and log-dets sum several such terms). The observed maxima are about ten times below.
* Log-det against slogdet of a central finite-difference Jacobian (float64 only, h = 1e-6):
  truncation O(h²) ≈ 1e-12 plus rounding O(eps/h) ≈ 1e-10 per entry, amplified by the
  Jacobian's condition; 1e-6 absolute is loose enough to be robust and tight enough to catch
  any missing term (which would be O(0.1)). float32 differences are too coarse to test this.
* Mass on a grid (2-D, 400² midpoint cells on a box holding the samples): 3e-3. The midpoint
  error is O(h²·|p''|) and the box misses at most the mass beyond the extreme of 20,000
  samples (≈ 1e-4 for light tails).
* Samples against log_prob: the first and second moments of 20,000 samples against the same
  moments of the grid density, within 6 standard errors (estimated from the samples); the
  seeds are fixed, so the test is deterministic, and a wrong density moves a moment by many
  standard errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from server.kernels import build, mass_on_box, numeric_jacobian
from server.kernels.checks import cell_centres
from tests.kernels.cases import CASES, spec_for

DTYPES = [np.float64, np.float32]
POINT_TOLERANCE = {np.float64: 1e-12, np.float32: 2e-5}
LOGDET_TOLERANCE = {np.float64: 1e-12, np.float32: 2e-4}


def _relative_error(actual: Any, expected: Any) -> float:
    return float(np.max(np.abs(actual - expected) / (1 + np.abs(expected))))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_forward_then_inverse_returns_the_latent_points(name: str, dtype: Any) -> None:
    flow = build(spec_for(name, dim=3))
    z = np.random.default_rng(1).standard_normal((200, 3)).astype(dtype)
    x, logdet = flow.forward(z)
    z_back, logdet_inverse = flow.inverse(x)
    assert x.dtype == z_back.dtype == logdet.dtype == logdet_inverse.dtype == dtype
    assert logdet.shape == (200,)
    assert _relative_error(z_back, z) < POINT_TOLERANCE[dtype]
    assert _relative_error(logdet_inverse, -logdet) < LOGDET_TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_inverse_then_forward_returns_the_data_points(name: str, dtype: Any) -> None:
    flow = build(spec_for(name, dim=3))
    x = flow.sample(200, seed=2).astype(dtype)
    z, logdet_inverse = flow.inverse(x)
    x_back, logdet = flow.forward(z)
    assert _relative_error(x_back, x) < POINT_TOLERANCE[dtype]
    assert _relative_error(logdet, -logdet_inverse) < LOGDET_TOLERANCE[dtype]


@pytest.mark.parametrize("name", CASES)
def test_forward_logdet_matches_a_finite_difference_jacobian(name: str) -> None:
    flow = build(spec_for(name, dim=3))
    z = np.random.default_rng(3).standard_normal((32, 3))
    jacobian = numeric_jacobian(lambda points: flow.forward(points)[0], z)
    sign, expected = np.linalg.slogdet(jacobian)
    assert np.all(sign != 0)
    np.testing.assert_allclose(flow.forward(z)[1], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_inverse_logdet_matches_a_finite_difference_jacobian(name: str) -> None:
    flow = build(spec_for(name, dim=3))
    x = flow.sample(32, seed=4)
    jacobian = numeric_jacobian(lambda points: flow.inverse(points)[0], x)
    _, expected = np.linalg.slogdet(jacobian)
    np.testing.assert_allclose(flow.inverse(x)[1], expected, rtol=0, atol=1e-6)


def _box(samples: Any) -> list[list[float]]:
    low, high = samples.min(axis=0), samples.max(axis=0)
    margin = 0.05 * (high - low)
    return [[float(lo), float(hi)] for lo, hi in zip(low - margin, high + margin, strict=True)]


@pytest.mark.parametrize("name", CASES)
def test_the_2d_density_integrates_to_one(name: str) -> None:
    flow = build(spec_for(name, dim=2))
    box = _box(flow.sample(20_000, seed=5))
    assert mass_on_box(flow.log_prob, box, resolution=400) == pytest.approx(1, abs=3e-3)


@pytest.mark.parametrize("name", CASES)
def test_sample_moments_match_the_moments_of_log_prob(name: str) -> None:
    flow = build(spec_for(name, dim=2))
    samples = flow.sample(20_000, seed=6)
    points, _ = cell_centres(_box(samples), 400)
    weights = np.exp(flow.log_prob(points))
    weights /= weights.sum()

    def features(p: Any) -> Any:  # x, y, x², xy, y²
        return np.column_stack([p[:, 0], p[:, 1], p[:, 0] ** 2, p[:, 0] * p[:, 1], p[:, 1] ** 2])

    sample_features = features(samples)
    sample_moments = sample_features.mean(axis=0)
    standard_errors = sample_features.std(axis=0) / np.sqrt(len(samples))
    grid_moments = weights @ features(points)
    assert np.all(np.abs(sample_moments - grid_moments) < 6 * standard_errors)


@pytest.mark.parametrize("name", CASES)
def test_sample_log_prob_along_the_forward_path_matches_log_prob(name: str) -> None:
    flow = build(spec_for(name, dim=3))
    x, log_q = flow.sample_with_log_prob(100, seed=7)
    np.testing.assert_allclose(flow.log_prob(x), log_q, rtol=0, atol=1e-9)
