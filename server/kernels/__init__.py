"""Normalizing-flow kernels in numpy: the reference that witnesses and demos are checked against.

Convention: the forward direction is generative, x = f(z) with z ~ base, and every transform
returns the log|det J| of the direction it computes::

    flow = build(spec)
    x, logdet = flow.forward(z)        # logdet = log|det df/dz|, shape (n,)
    z, logdet_inv = flow.inverse(x)    # logdet_inv = log|det df⁻¹/dx|
    flow.log_prob(x); flow.sample(n, seed=0); flow.forward_log_prob(z)

Points are batched as (n, D). The arithmetic is float32 for float32 input and float64
otherwise, unless the spec sets ``"dtype"``. Spec parameters are the *effective* ones (what the
equation uses); non-invertible values are refused with :class:`SpecError` (HTTP 422), and the
papers' reparameterisations are helpers (:func:`planar_u_hat`, :func:`radial_beta`,
:func:`knots_from_raw`, :func:`actnorm_from_data`, :func:`made_masks`).

Spec
----
``{"type": "chain", "dim": D, "base": BASE, "layers": [LAYER, ...], "dtype": "float64" |
"float32" (optional)}``; layers apply in list order, layers[0] first on z. Unknown keys are
refused, so a misspelt parameter never passes silently.

BASE (default ``{"type": "normal"}``):
  ``{"type": "normal"}``                                   standard normal
  ``{"type": "diag_normal", "loc": [D], "scale": [D] > 0}``

LAYER, written in the direction the paper writes it (gen. = x = f(z); dens. = z = g(x)):
  ``affine``        gen.  x = A z + b                      ``A`` D×D non-singular, ``b`` [D]
  ``lu_linear``     gen.  x = P L U z + b                  ``perm`` [D], ``L`` unit lower,
                                                           ``U`` upper (non-zero diagonal), ``b``
  ``actnorm``       gen.  x = s ⊙ z + t                    ``scale`` [D] non-zero, ``bias`` [D]
  ``permutation``   gen.  xᵢ = z_{π(i)}                    ``perm`` [D]
  ``leaky_relu``    gen.  x = z (z ≥ 0), a z (z < 0)       ``negative_slope`` a > 0
  ``sigmoid``       gen.  x = σ(z) ∈ (0, 1)                 —
  ``logit``         gen.  x = logit(z), z ∈ (0, 1)          — (after a ``sigmoid``)
  ``tanh``          gen.  x = tanh(z) ∈ (−1, 1)             —
  ``atanh``         gen.  x = atanh(z), z ∈ (−1, 1)         — (after a ``tanh``)
  ``planar``        gen.  x = z + u tanh(wᵀz + b)           ``u`` [D], ``w`` [D], ``b``; wᵀu ≥ −1
  ``radial``        gen.  x = z + β(z − z₀)/(α + ‖z − z₀‖)  ``z0`` [D], ``alpha`` > 0,
                                                           ``beta`` ≥ −alpha
  ``rq_spline``     gen.  xᵢ = gᵢ(zᵢ), RQ spline on [−B, B], identity outside:
                    ``bound`` B, ``widths`` D×K > 0, ``heights`` D×K > 0 (relative; each row
                    spans [−B, B]), ``derivatives`` D×(K−1) > 0 (interior knot slopes)
  ``affine_coupling``          dens. z_b = x_b ⊙ exp(s) + t, (t, s) = net(x_a)
  ``rq_spline_coupling``       dens. z_b = g(x_b; net(x_a))
                    ``mask`` [D] booleans (true: passes through and conditions), ``net``
  ``maf``                      dens. zᵢ = xᵢ exp(sᵢ) + tᵢ, (tᵢ, sᵢ) = net(x)ᵢ, autoregressive
  ``rq_spline_autoregressive`` dens. zᵢ = g(xᵢ; net(x)ᵢ)
                    ``order`` [D] (feature j precedes i iff order[j] < order[i]; default
                    0..D−1), ``net`` a MADE whose zero weights respect ``order``
  affine ones take ``log_scale_bound`` c (optional: s = ŝ/(1 + |ŝ|/c)); spline ones take
  ``bins`` K, ``bound`` B (default 5), ``min_slope`` (default 1e-3).

``net`` = ``{"weights": [W₁, …, W_L], "biases": [b₁, …, b_L], "activation": "relu" | "tanh" |
"elu"}`` (Wₖ is outₖ × inₖ, as torch's Linear); its output, viewed as (m, P), holds P
parameters per transformed feature: (t, ŝ) for affine, [K widths, K heights, K − 1
derivatives] for splines (raw, mapped by :func:`knots_from_raw`).

Also here: Rezende & Mohamed's 2-D test energies U1–U4 with their normalising constants
(:mod:`server.kernels.energies`) and numerical checks — log-density on a grid, a
finite-difference Jacobian, the mass of a density on a box (:mod:`server.kernels.checks`).
"""

from server.kernels.build import LAYER_TYPES, build
from server.kernels.checks import grid_log_prob, mass_on_box, numeric_jacobian
from server.kernels.conditioner import made_masks
from server.kernels.energies import ENERGIES, LOG_Z, LOG_Z_BOX, log_normaliser
from server.kernels.errors import SpecError
from server.kernels.flow import Flow
from server.kernels.linear import actnorm_from_data
from server.kernels.planar import planar_u_hat
from server.kernels.radial import radial_beta
from server.kernels.spline import knots_from_raw

__all__ = [
    "ENERGIES",
    "LAYER_TYPES",
    "LOG_Z",
    "LOG_Z_BOX",
    "Flow",
    "SpecError",
    "actnorm_from_data",
    "build",
    "grid_log_prob",
    "knots_from_raw",
    "log_normaliser",
    "made_masks",
    "mass_on_box",
    "numeric_jacobian",
    "planar_u_hat",
    "radial_beta",
]
