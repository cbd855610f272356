"""The four 2-D test energies of Rezende & Mohamed 2015 (Table 1), p(z) ∝ exp(−U(z)).

    U1(z) = ½((‖z‖ − 2)/0.4)² − ln(e^{−½((z₁ − 2)/0.6)²} + e^{−½((z₁ + 2)/0.6)²})
    U2(z) = ½((z₂ − w₁(z))/0.4)²
    U3(z) = −ln(e^{−½((z₂ − w₁(z))/0.35)²} + e^{−½((z₂ − w₁(z) + w₂(z))/0.35)²})
    U4(z) = −ln(e^{−½((z₂ − w₁(z))/0.4)²} + e^{−½((z₂ − w₁(z) + w₃(z))/0.35)²})

with w₁(z) = sin(2πz₁/4), w₂(z) = 3 exp(−½((z₁ − 1)/0.6)²), w₃(z) = 3 σ((z₁ − 1)/0.3).
U2–U4 are not normalisable on the whole plane (they do not grow along z₁), so their
normalising constants are stated on the box the paper plots, [−4, 4]²: Z = ∫_box exp(−U).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from server.kernels.checks import Bounds, cell_centres
from server.kernels.transform import Array

LOG_Z_BOX: Bounds = ((-4.0, 4.0), (-4.0, 4.0))
"""The box on which :data:`LOG_Z` is computed."""


def _w1(z: Array) -> Array:
    return np.asarray(np.sin(2 * np.pi * z[:, 0] / 4))


def _w2(z: Array) -> Array:
    return np.asarray(3 * np.exp(-0.5 * ((z[:, 0] - 1) / 0.6) ** 2))


def _w3(z: Array) -> Array:
    return np.asarray(3 / (1 + np.exp(-(z[:, 0] - 1) / 0.3)))


def energy_u1(z: Array) -> Array:
    """U1: a ring of radius 2 split into two modes along z₁."""
    radius = np.sqrt(np.sum(z * z, axis=1))
    ring = 0.5 * ((radius - 2) / 0.4) ** 2
    modes = np.logaddexp(-0.5 * ((z[:, 0] - 2) / 0.6) ** 2, -0.5 * ((z[:, 0] + 2) / 0.6) ** 2)
    return np.asarray(ring - modes)


def energy_u2(z: Array) -> Array:
    """U2: a sine-shaped ridge."""
    return np.asarray(0.5 * ((z[:, 1] - _w1(z)) / 0.4) ** 2)


def energy_u3(z: Array) -> Array:
    """U3: the ridge and a second one split off around z₁ = 1."""
    d = z[:, 1] - _w1(z)
    return np.asarray(-np.logaddexp(-0.5 * (d / 0.35) ** 2, -0.5 * ((d + _w2(z)) / 0.35) ** 2))


def energy_u4(z: Array) -> Array:
    """U4: the ridge and a second one that steps away for z₁ > 1."""
    d = z[:, 1] - _w1(z)
    return np.asarray(-np.logaddexp(-0.5 * (d / 0.4) ** 2, -0.5 * ((d + _w3(z)) / 0.35) ** 2))


ENERGIES: dict[str, Callable[[Array], Array]] = {
    "U1": energy_u1,
    "U2": energy_u2,
    "U3": energy_u3,
    "U4": energy_u4,
}


LOG_Z: dict[str, float] = {"U1": 1.877502, "U2": 2.082089, "U3": 2.641705, "U4": 2.684568}
"""log Z of each energy on :data:`LOG_Z_BOX`, from :func:`log_normaliser` at 4000² cells
(stable to the digits shown between 2000² and 4000²)."""


def log_normaliser(
    energy: Callable[[Array], Array], bounds: Bounds = LOG_Z_BOX, resolution: int = 2000
) -> float:
    """log ∫_box exp(−U(z)) dz by the midpoint rule (error O(h²); ~1e-6 at 2000² cells)."""
    points, volume = cell_centres(bounds, resolution)
    minus_u = -energy(points)
    peak = float(np.max(minus_u))
    return peak + float(np.log(np.sum(np.exp(minus_u - peak)) * volume))
