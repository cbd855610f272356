"""Every control of every demo state in ``content/`` moves the flow its page draws.

A control bound to a number the density does not depend on (or to nothing) would leave the
learner moving a slider that changes nothing: here each control is set to its min and to its
max and the evaluated density on the page's default grid must differ between the two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from schemas.content import DemoControl, DemoSpec
from server.demos.controls import default_value, with_value
from server.demos.schemas import DemoRequest
from server.demos.service import evaluate_demo

CONTENT = Path(__file__).resolve().parents[2] / "content"


def corpus_demos() -> list[DemoSpec]:
    demos = []
    for path in sorted(CONTENT.glob("*/*.md")):
        front = path.read_text(encoding="utf-8").split("\n---\n", 1)[0].removeprefix("---\n")
        demos += [DemoSpec.model_validate(d) for d in yaml.safe_load(front).get("demos", [])]
    return demos


DEMOS = corpus_demos()
CASES = [(demo, control) for demo in DEMOS for control in demo.controls]


def density(spec: dict[str, object]) -> np.ndarray:
    state = evaluate_demo(DemoRequest(spec=spec, samples=0, grid_lines=0))
    return np.array(state.log_density, dtype=float)  # null (zero density) -> nan


def test_the_corpus_has_bound_controls() -> None:
    assert len(DEMOS) >= 40
    assert len(CASES) >= 101
    assert all(demo.controls for demo in DEMOS), [d.id for d in DEMOS if not d.controls]


def moves_density(spec: dict[str, object], control: DemoControl) -> bool:
    low = density(with_value(spec, control, control.min))
    high = density(with_value(spec, control, control.max))
    finite = np.isfinite(low) & np.isfinite(high)
    assert finite.any()
    if (np.isfinite(low) != np.isfinite(high)).any():
        return True
    return bool(np.max(np.abs(low[finite] - high[finite])) > 1e-3)


@pytest.mark.parametrize(("demo", "control"), CASES, ids=[f"{d.id}-{c.name}" for d, c in CASES])
def test_moving_a_control_across_its_range_changes_the_density(
    demo: DemoSpec, control: DemoControl
) -> None:
    default_value(demo.spec, control)  # its paths name numbers and the default is in range
    assert moves_density(demo.spec, control), (
        f"{demo.id}: control '{control.name}' leaves the density as it is"
    )


def test_a_dead_control_is_caught() -> None:
    # f(z) = z + u tanh(wᵀz + b): with u = 0 the layer is the identity whatever w and b are,
    # so sliders on b and on w[0] are dead, and one on u[0] is not.
    spec: dict[str, object] = {
        "type": "chain", "dim": 2, "base": {"type": "normal"},
        "layers": [{"type": "planar", "u": [0.0, 0.0], "w": [1.0, 0.0], "b": 0.0}],
    }  # fmt: skip
    bound = {"name": "c", "label": "C", "min": -1.0, "max": 1.0, "step": 0.5}
    assert not moves_density(spec, DemoControl(**bound, paths=["layers[0].b"]))
    assert not moves_density(spec, DemoControl(**bound, paths=["layers[0].w[0]"]))
    assert moves_density(spec, DemoControl(**bound, paths=["layers[0].u[0]"]))
