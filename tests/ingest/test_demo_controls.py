"""A demo control's binding is checked against its spec: each bad one is a ``file:line``.

The fixture's demo state is ``A = [[2, 0], [0, 1]], b = [0, 0]`` on line 51 of alpha.md; each
case replaces its one control and expects exactly one problem there, and nothing written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from server.db import unit_of_work
from server.ingest.service import ingest
from server.models import DemoState
from tests.ingest.test_ingest_bounds import ALPHA, nothing_written, problems_of

WHERE = f"{ALPHA}:51: demo 'stretch': control 'scale'"


def with_demo(root: Path, controls: str, spec: str | None = None) -> None:
    """alpha.md with the demo state's ``controls`` (line 51) and ``spec`` (line 50) replaced."""
    alpha = root / "demo-context" / "alpha.md"
    lines = alpha.read_text().split("\n")
    assert lines[49].startswith("    spec: ") and lines[50].startswith("    controls: ")
    lines[50] = f"    controls: {controls}"
    if spec is not None:
        lines[49] = f"    spec: {spec}"
    alpha.write_text("\n".join(lines))


def with_control(root: Path, control: str) -> None:
    with_demo(root, f"[{{name: scale, label: Scale, {control}}}]")


@pytest.mark.parametrize(
    ("control", "problem"),
    [
        (
            'paths: ["layers[0].C[0][0]"], min: 1, max: 3, step: 0.5',
            "path 'layers[0].C[0][0]' does not exist in the spec (no layers[0].C)",
        ),
        (
            'paths: ["layers[3].A[0][0]"], min: 1, max: 3, step: 0.5',
            "path 'layers[3].A[0][0]' does not exist in the spec (no layers[3])",
        ),
        (
            'paths: ["layers[0].A[0][5]"], min: 1, max: 3, step: 0.5',
            "path 'layers[0].A[0][5]' does not exist in the spec (no layers[0].A[0][5])",
        ),
        (
            'paths: ["layers[0].type"], min: 1, max: 3, step: 0.5',
            "path 'layers[0].type' points at str 'affine', not a number",
        ),
        (
            'paths: ["layers[0].A[0]"], min: 1, max: 3, step: 0.5',
            "path 'layers[0].A[0]' points at list [2, 0], not a number",
        ),
        (
            'paths: ["layers[0].A[0][0]"], min: 3, max: 5, step: 0.5',
            "default 2 is outside the range [3, 5]",
        ),
        (
            'paths: ["layers[0].A[0][0]", "layers[0].A[1][1]"], min: 0.5, max: 3, step: 0.5',
            "tied path 'layers[0].A[1][1]' holds 1 where 'layers[0].A[0][0]' holds 2",
        ),
        (
            'paths: ["layers[0].A[0][0]"], min: -1, max: 4, step: 0.5',
            "a linear layer's matrix turns singular between -0.375 and 0.25",
        ),
        (
            'paths: ["layers[0].A[0][0]"], min: 0, max: 4, step: 0.5',
            "at 0 the flow spec is refused",
        ),
        (
            'paths: ["dim"], min: 2, max: 1000, step: 1',
            "at 2 the flow spec is refused: spec: 'dim' must be an integer",
        ),
    ],
)
def test_a_control_that_does_not_fit_its_spec_is_refused(
    engine: Engine, content_copy: Path, control: str, problem: str
) -> None:
    with_control(content_copy, control)
    problems = problems_of(engine, content_copy)
    assert len(problems) == 1 and problems[0].startswith(f"{WHERE}: {problem}"), problems
    assert nothing_written(engine)


@pytest.mark.parametrize(
    ("control", "problem"),
    [
        ('paths: ["layers[0].A[0][0]"], min: 4, max: 1, step: 0.5', "min 4.0 is not below max"),
        ('paths: ["layers[0].A[0][0]"], min: 1, max: 3, step: 0', "greater than 0"),
        ('paths: ["layers[0].A[0][0]"], min: 1, max: 3, step: 5', "wider than its range"),
        ('paths: ["layers[0]..A"], min: 1, max: 3, step: 0.5', "should match pattern"),
        ('paths: ["__import__(os)"], min: 1, max: 3, step: 0.5', "should match pattern"),
        ("paths: [], min: 1, max: 3, step: 0.5", "at least 1 item"),
        ('paths: ["layers[0].A[0][0]"], min: .nan, max: 3, step: 0.5', "finite number"),
        ('paths: ["layers[0].A[0][0]"], factors: [0], min: 1, max: 3, step: 0.5', "a factor of 0"),
        (
            'paths: ["layers[0].A[0][0]"], factors: [1, 2], min: 1, max: 3, step: 0.5',
            "2 factors for 1 paths",
        ),
        ('paths: ["layers[0].A[0][0]"], min: 1, max: 3', "missing required field 'step'"),
        ('paths: ["layers[0].A[0][0]"], min: 1, max: 3, step: 1, value: 2', "unknown field"),
    ],
)
def test_a_malformed_control_is_a_schema_problem(
    engine: Engine, content_copy: Path, control: str, problem: str
) -> None:
    with_control(content_copy, control)
    problems = problems_of(engine, content_copy)
    assert len(problems) == 1 and problems[0].startswith(f"{ALPHA}:51: "), problems
    assert problem in problems[0], problems
    assert nothing_written(engine)


@pytest.mark.parametrize(
    ("controls", "problem"),
    [
        (
            '[{name: s, label: S, paths: ["layers[0].A[0][0]"], min: 1, max: 3, step: 1}, '
            '{name: s, label: T, paths: ["layers[0].b[0]"], min: -1, max: 1, step: 1}]',
            "two controls share a name",
        ),
        (
            '[{name: layers, label: L, paths: ["layers[0].A[0][0]"], min: 1, max: 3, step: 1}]',
            "'layers' names the page's own layer slider",
        ),
    ],
)
def test_controls_need_distinct_names(
    engine: Engine, content_copy: Path, controls: str, problem: str
) -> None:
    with_demo(content_copy, controls)
    problems = problems_of(engine, content_copy)
    assert len(problems) == 1 and problem in problems[0], problems
    assert problems[0].startswith(f"{ALPHA}:"), problems
    assert nothing_written(engine)


def test_controls_that_are_fine_alone_but_singular_together_are_refused(
    engine: Engine, content_copy: Path
) -> None:
    with_demo(
        content_copy,
        '[{name: a12, label: A12, paths: ["layers[0].A[0][1]"], min: -2, max: 2, step: 0.5}, '
        '{name: a21, label: A21, paths: ["layers[0].A[1][0]"], min: -2, max: 2, step: 0.5}]',
    )  # alone each leaves det A = 2; at a12 = a21 = -2 it is 2 - 4 = -2
    assert problems_of(engine, content_copy) == [
        f"{ALPHA}:51: demo 'stretch': with a12 = -2, a21 = -2 together: a linear layer's matrix "
        "changes the sign of its determinant"
    ]
    assert nothing_written(engine)


def test_a_planar_layer_that_folds_at_a_corner_is_refused(
    engine: Engine, content_copy: Path
) -> None:
    with_demo(
        content_copy,
        '[{name: u1, label: u1, paths: ["layers[0].u[0]"], min: -0.5, max: 1, step: 0.5}, '
        '{name: w1, label: w1, paths: ["layers[0].w[0]"], min: 0, max: 3, step: 0.5}]',
        spec="{type: chain, dim: 2, base: {type: normal}, layers: [{type: planar, "
        "u: [0.5, 0], w: [1, 0], b: 0}]}",
    )  # alone each keeps wᵀu >= -1; together u1 = -0.5, w1 = 3 gives -1.5
    problems = problems_of(engine, content_copy)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{ALPHA}:51: demo 'stretch': with u1 = -0.5, w1 = 3 together: ")
    assert "wᵀu = -1.5 < -1" in problems[0]
    assert nothing_written(engine)


def test_a_tied_control_with_factors_is_stored_with_its_default(
    engine: Engine, content_copy: Path
) -> None:
    with_control(
        content_copy,
        'paths: ["layers[0].A[0][0]", "layers[0].A[1][1]"], factors: [2, 1], '
        "min: 0.5, max: 2, step: 0.25, meaning: Both axes at once",
    )
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    with unit_of_work(engine, write=False) as session:
        row = session.exec(select(DemoState).where(DemoState.key.endswith("/stretch"))).first()
    assert row is not None
    assert row.controls == [
        {
            "name": "scale", "label": "Scale",
            "paths": ["layers[0].A[0][0]", "layers[0].A[1][1]"], "factors": [2.0, 1.0],
            "min": 0.5, "max": 2.0, "step": 0.25, "meaning": "Both axes at once", "value": 1.0,
        }
    ]  # fmt: skip
