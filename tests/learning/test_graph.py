"""The prerequisite graph in memory: order, plans, fringe, downstream and derived status."""

from __future__ import annotations

import pytest

from server.errors import ContentError, InvalidInput
from server.learning.graph import DEFAULT_LEARN_TIME_MIN, PrereqGraph

# top needs left and right, both need base (a diamond); peak needs top; lone stands alone.
EDGES = [("left", "base"), ("right", "base"), ("top", "left"), ("top", "right"), ("peak", "top")]


def graph(edges: list[tuple[str, str]] = EDGES, extra: tuple[str, ...] = ("lone",)) -> PrereqGraph:
    names = sorted({n for e in edges for n in e} | set(extra))
    return PrereqGraph.build(
        [(n, n.title(), 45 if n == "top" else None) for n in names],
        [(a, b, "prerequisite", f"{a} needs {b}") for a, b in edges]
        + [("lone", "peak", "related", "see also")],
    )


def test_a_prerequisite_cycle_is_refused() -> None:
    with pytest.raises(ContentError) as raised:
        graph([*EDGES, ("base", "peak")])
    assert "cycle" in raised.value.message
    assert set(raised.value.details) == {"base", "left", "right", "top", "peak"}


def test_a_self_loop_is_a_cycle_too() -> None:
    with pytest.raises(ContentError):
        graph([("a", "a")])


def test_order_puts_every_prerequisite_first() -> None:
    g = graph()
    position = {k: i for i, k in enumerate(g.order)}
    assert all(position[b] < position[a] for a, b in EDGES)


def test_plan_of_a_diamond_lists_the_shared_prerequisite_once_and_first() -> None:
    plan = graph().plan("peak", set())
    assert plan[0] == "base" and plan[-2:] == ["top", "peak"]
    assert sorted(plan) == ["base", "left", "peak", "right", "top"]
    assert len(plan) == len(set(plan))


def test_a_learned_prerequisite_prunes_its_whole_subtree() -> None:
    g = graph()
    # left is learned: base is still needed through right.
    assert g.plan("peak", {"left"}) == ["base", "right", "top", "peak"]
    # top is learned: everything under it is skipped, though base, left, right are unlearned.
    assert g.plan("peak", {"top"}) == ["peak"]
    assert g.plan("peak", {"peak"}) == []


def test_related_links_do_not_enter_a_plan() -> None:
    assert graph().plan("lone", set()) == ["lone"]


def test_learn_time_has_a_stated_default() -> None:
    g = graph()
    assert g.learn_time["top"] == 45 and g.learn_time["base"] == DEFAULT_LEARN_TIME_MIN


def test_fringe_is_unlearned_concepts_with_every_prerequisite_learned() -> None:
    g = graph()
    assert g.fringe(set()) == ["base", "lone"]
    assert g.fringe({"base"}) == ["left", "lone", "right"]
    assert g.fringe({"base", "left"}) == ["lone", "right"]  # top still waits for right
    assert g.fringe({"base", "left", "right"}) == ["lone", "top"]


def test_downstream_is_transitive_with_the_shortest_depth() -> None:
    g = graph()
    assert g.downstream("base") == {"left": 1, "right": 1, "top": 2, "peak": 3}
    assert g.downstream("base", max_depth=2) == {"left": 1, "right": 1, "top": 2}
    assert g.downstream("peak") == {}
    assert g.upstream("peak") == {"top": 1, "left": 2, "right": 2, "base": 3}


def test_focus_takes_nodes_within_depth_and_the_links_among_them() -> None:
    g = graph()
    nodes, edges = g.focus("top", "up", 1)
    assert nodes == {"top": 0, "left": 1, "right": 1}
    assert {(e.source, e.target) for e in edges} == {("top", "left"), ("top", "right")}
    nodes, _ = g.focus("top", "down", 5)
    assert nodes == {"top": 0, "peak": 1}
    nodes, edges = g.focus("peak", "both", 1)
    assert nodes == {"peak": 0, "top": 1}
    assert [(e.source, e.target, e.type) for e in edges] == [("peak", "top", "prerequisite")]


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(InvalidInput):
        graph().plan("nowhere", set())
    with pytest.raises(InvalidInput):
        graph().downstream("nowhere")


def test_fully_grounded_needs_every_prerequisite_grounded() -> None:
    g = graph()
    local = dict.fromkeys(g.titles, True)
    assert all(g.fully_grounded(local).values())
    local["left"] = False
    full = g.fully_grounded(local)
    assert full == {"base": True, "right": True, "left": False, "top": False, "peak": False,
                    "lone": True}  # fmt: skip
    assert g.blocking("peak", local) == ["left"]


def test_incremental_regrounding_matches_a_full_recomputation() -> None:
    g = graph()
    local = dict.fromkeys(g.titles, True)
    before = g.fully_grounded(local)
    for changed in (["base"], ["right"], ["peak"], ["lone", "left"]):
        moved = dict(local)
        for key in changed:
            moved[key] = False
        assert g.regrounded(before, moved, changed) == g.fully_grounded(moved)
    assert g.regrounded(before, local, []) == before
