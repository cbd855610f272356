"""The numbers the normalizing-flows demo captions state are what the kernels compute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from server.kernels import build

PAGE = Path(__file__).resolve().parents[2] / "content/generative-models/normalizing-flows.md"


def demo_specs() -> dict[str, dict[str, object]]:
    front = PAGE.read_text(encoding="utf-8").split("\n---\n", 1)[0].removeprefix("---\n")
    return {demo["id"]: demo for demo in yaml.safe_load(front)["demos"]}


@pytest.mark.parametrize(
    ("demo", "point", "stated"),
    [
        ("stretch-x", (0.0, 0.0), -2.531),
        ("shear", (0.8, 1.0), -2.338),
        ("seed-linear-flow", (1.0, 0.0), -1.972),
        ("planar-squeeze", (0.0, 0.0), 0.465),
        ("planar-split", (0.0, 0.0), -3.784),
        ("radial-contract", (0.0, 0.0), 2.767),
    ],
)
def test_caption_log_density_matches_the_kernel(
    demo: str, point: tuple[float, float], stated: float
) -> None:
    spec = demo_specs()[demo]
    caption = str(spec["caption"])
    assert f"{stated:.3f}" in caption, f"{demo}: the caption no longer states {stated}"
    log_p = build(spec["spec"]).log_prob(np.array([point]))[0]  # type: ignore[arg-type]
    assert log_p == pytest.approx(stated, abs=5e-4)


def test_seed_linear_flow_inverse_point_and_terms() -> None:
    flow = build(demo_specs()["seed-linear-flow"]["spec"])  # type: ignore[arg-type]
    z, log_volume = flow.inverse(np.array([[1.0, 0.0]]))
    assert np.round(z[0], 3).tolist() == [0.371, 0.181]
    assert log_volume[0] == pytest.approx(-np.log(1.05))
    base = -0.5 * float(z[0] @ z[0]) - np.log(2 * np.pi)
    assert round(base, 3) == -1.923
