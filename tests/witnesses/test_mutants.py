"""Mutant generation (no sandbox): deterministic, every operator class, bounded, honest."""

from __future__ import annotations

import ast

import pytest

from server.witnesses.mutants import OPERATORS, generate
from server.witnesses.strength import Measure, code_hash, measure

EVERY_CLASS = '''\
"""A docstring with 1 + 2 in it is never mutated."""
import numpy as np

X = np.array([[1.0, 2.0], [3.0, 4.0]])


def f(x, scale):
    return -x * scale + 0.5


total = 0.0
for i in range(3):
    total += X[i % 2, 0] ** 2
ok = total > 1.0
print("value:", round(float(f(X, 2.0).sum(axis=1)[0]), 6), np.subtract(total, 1.0), ok, True)
'''


def test_generation_is_deterministic_and_ids_survive_a_moved_line() -> None:
    first = generate(EVERY_CLASS)
    again = generate(EVERY_CLASS)
    assert [m.id for m in first.mutants] == [m.id for m in again.mutants]
    assert [m.code for m in first.mutants] == [m.code for m in again.mutants]
    moved = generate("# a comment and a blank line\n\n" + EVERY_CLASS)
    assert [m.id for m in moved.mutants] == [m.id for m in first.mutants]
    assert [m.line for m in moved.mutants] == [m.line + 2 for m in first.mutants]


def test_ids_are_unique_and_descriptions_name_line_and_operator() -> None:
    found = generate(EVERY_CLASS, cap=1000)
    ids = [m.id for m in found.mutants]
    assert len(ids) == len(set(ids))
    for mutant in found.mutants:
        assert mutant.id.startswith(mutant.operator + "-")
        assert mutant.description.startswith(f"line {mutant.line}: {mutant.operator} ")


def test_every_operator_class_produces_mutants() -> None:
    found = generate(EVERY_CLASS, cap=1000)
    by_class = {op: [m for m in found.mutants if m.operator == op] for op in OPERATORS}
    assert all(by_class.values()), {op: len(ms) for op, ms in by_class.items()}
    described = {m.description.split(": ", 1)[1] for m in found.mutants}
    for expected in (
        "arith * -> /",
        "arith + -> -",
        "arith ** -> *",
        "sign -x -> x",
        "compare > -> <=",
        "constant 0.5 -> 2.0",
        "constant 0.5 -> -0.5",
        "constant 3 -> 4",
        "constant True -> False",
        "drop-term -x * scale + 0.5 -> -x * scale",
        "drop-term total += X[i % 2, 0] ** 2 -> pass",
        "off-by-one 3 -> 3 + 1",
        "off-by-one i % 2 -> i % 2 - 1",
        "swap-args total, 1.0 swapped",
    ):
        assert any(d.startswith(expected) for d in described), expected


def test_mutants_change_the_tree_and_are_distinct() -> None:
    found = generate(EVERY_CLASS, cap=1000)
    original = ast.dump(ast.parse(EVERY_CLASS))
    sources = [m.code for m in found.mutants]
    assert len(sources) == len(set(sources)) == found.total
    for mutant in found.mutants:
        assert ast.dump(ast.parse(mutant.code)) != original


def test_printing_precision_axis_sign_and_docstrings_are_left_alone() -> None:
    found = generate(EVERY_CLASS, cap=1000)
    for mutant in found.mutants:
        assert ", 6)" in mutant.code, mutant.description  # round()'s digits never change
        assert "axis=-1" not in mutant.code, mutant.description
        assert "A docstring with 1 + 2 in it" in mutant.code


def test_symmetric_calls_and_print_are_not_swapped() -> None:
    found = generate("import numpy as np\nprint(np.maximum(1.0, 2.0), 'x')\n", cap=1000)
    assert not [m for m in found.mutants if m.operator == "swap-args"]


def test_the_cap_keeps_mutants_spread_over_the_code_and_states_the_total() -> None:
    code = "".join(f"v{i} = {i}.5 * {i + 1}.25\n" for i in range(40))
    found = generate(code, cap=10)
    assert len(found.mutants) == 10 and found.total > 100 and found.cap == 10
    lines = [m.line for m in found.mutants]
    assert lines == sorted(lines)
    assert lines[0] == 1 and lines[-1] >= 36  # spread to the end, not the first ten
    assert [m.id for m in generate(code, cap=10).mutants] == [m.id for m in found.mutants]


@pytest.mark.parametrize("code", ["def f(:\n", "", "# only a comment\n", "print('text')\n"])
def test_code_without_mutation_points_has_no_mutants(code: str) -> None:
    found = generate(code)
    assert found.mutants == () and found.total == 0


def _measure(statuses: dict[str, str], equivalent: tuple[dict[str, str], ...] = ()) -> Measure:
    found = generate(EVERY_CLASS, cap=10)
    full = {m.id: statuses.get(m.id, "failed") for m in found.mutants}
    return measure("witness:x/y/z", found.mutants, full, found.total, equivalent)


def test_weak_means_caught_none_and_never_meets_the_target() -> None:
    ids = [m.id for m in generate(EVERY_CLASS, cap=10).mutants]
    weak = _measure(dict.fromkeys(ids, "passed"), tuple({"id": i, "why": "w"} for i in ids))
    assert weak.weak and weak.caught == 0 and not weak.meets_target and weak.share == 0.0
    strong = _measure({})
    assert not strong.weak and strong.share == 1.0 and strong.meets_target


def test_target_counts_survivors_declared_equivalent_out() -> None:
    ids = [m.id for m in generate(EVERY_CLASS, cap=10).mutants]
    survivors = dict.fromkeys(ids[:3], "passed")  # 7 of 10 caught: below 80%
    below = _measure(survivors)
    assert below.share == 0.7 and not below.meets_target
    assert [s["id"] for s in below.unexplained] == ids[:3]
    explained = _measure(survivors, ({"id": ids[0], "why": "same value"},))
    assert explained.counted == 9 and not explained.meets_target  # 7 of 9
    explained = _measure(survivors, tuple({"id": i, "why": "same value"} for i in ids[:2]))
    assert explained.counted == 8 and explained.meets_target  # 7 of 8
    timeouts = _measure({ids[0]: "timeout", ids[1]: "error"})
    assert timeouts.caught == 10  # anything but passed is caught


def test_code_hash_follows_code_and_checks() -> None:
    checks = [{"kind": "stdout", "expected": "1\n"}]
    assert code_hash("x = 1", checks) == code_hash("x = 1", [dict(checks[0])])
    assert code_hash("x = 1", checks) != code_hash("x = 2", checks)
    assert code_hash("x = 1", checks) != code_hash("x = 1", [])


def test_the_same_mutants_whatever_the_warning_filters() -> None:
    import warnings

    code = "import numpy as np\nv = np.ones(2)\nprint((v + 1.0)[0])\n"  # 1.0[0] warns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quiet = [m.id for m in generate(code, cap=1000).mutants]
    assert [m.id for m in generate(code, cap=1000).mutants] == quiet  # here warnings are errors


def test_equivalent_mutants_in_content_need_a_mutant_id_a_reason_and_no_repeats() -> None:
    from pydantic import ValidationError

    from schemas.content import WitnessSpec

    entry = {"id": "w", "demonstrates": "d"}
    ok = WitnessSpec.model_validate(
        {**entry, "equivalent_mutants": [{"id": "off-by-one-0c2f0569", "why": "same row"}]}
    )
    assert ok.equivalent_mutants[0].why == "same row"
    assert WitnessSpec.model_validate(entry).equivalent_mutants == []
    for bad in (
        [{"id": "Not An Id", "why": "x"}],
        [{"id": "constant-e902be68", "why": ""}],
        [{"id": "constant-e902be68"}],
        [{"id": "constant-e902be68", "why": "a"}, {"id": "constant-e902be68", "why": "b"}],
    ):
        with pytest.raises(ValidationError):
            WitnessSpec.model_validate({**entry, "equivalent_mutants": bad})
