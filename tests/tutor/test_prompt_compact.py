"""Compact mode: the seed's research-room prompt, line for line."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from server.config import Settings
from tests.tutor.conftest import GOLDEN, NF, build

SEED_LINES = (
    "I am working in {site}'s research reading room.",
    "Object: {kind} - ",
    "Object key: {key}",
    "Context: ",
    "Anchor id: ",
    "Open question: ",
    "Evidence to inspect:",
)


def test_compact_normalizing_flows_matches_the_seed_byte_for_byte(
    bundled: Engine, settings: Settings
) -> None:
    expected = (GOLDEN / "compact_normalizing_flows.txt").read_text(encoding="utf-8")
    assert build(bundled, settings, NF, mode="compact") + "\n" == expected


def test_the_site_name_is_a_setting(bundled: Engine, settings: Settings) -> None:
    renamed = settings.model_copy(update={"site_name": "Open Notebook"})
    text = build(bundled, renamed, NF, mode="compact")
    assert text.startswith("I am working in Open Notebook's research reading room.\n")
    assert "Continuous Function" not in text


def test_a_question_replaces_the_open_question(bundled: Engine, settings: Settings) -> None:
    text = build(bundled, settings, NF, mode="compact", question="  Why  two terms?\n")
    assert "\nOpen question: Why two terms?\n" in text
    assert "smallest example" not in text


def test_every_kind_has_the_seed_shape_with_its_defaults(
    fixture_tree: Engine, settings: Settings
) -> None:
    keys = {
        "concept": "concept:demo-context/alpha",
        "equation": "equation:demo-context/alpha/scale",
        "witness": "witness:demo-context/alpha/double",
        "source": "source:smith-2020-example",
        "claim": "claim:demo-context/alpha/scaling-claim",
        "misconception": "misconception:demo-context/alpha/no-change",
        "demo": "demo:demo-context/alpha/stretch",
    }
    for kind, key in keys.items():
        lines = build(fixture_tree, settings, key, mode="compact").split("\n")
        site = settings.site_name
        for line, start in zip(lines, SEED_LINES, strict=False):
            assert line.startswith(start.format(site=site, kind=kind, key=key)), (key, line)
        assert lines[4] == "Anchor id: " + key.replace(":", "/concept-notebook/", 1).replace(
            "source/concept-notebook/", "source/"
        )
        resolve_at = lines.index("What would resolve this:")
        assert resolve_at > 7 and all(line.startswith("- ") for line in lines[7:resolve_at])
        assert lines[-1].startswith("Answer as a careful research tutor:")
        assert not any(line.startswith("  ") for line in lines), "compact shows no evidence"
    witness = build(fixture_tree, settings, keys["witness"], mode="compact")
    assert "Object: witness - Doubling a number." in witness
    assert "Context: Demo Context" in witness
    misconception = build(fixture_tree, settings, keys["misconception"], mode="compact")
    assert 'Open question: Why is the belief "Scaling leaves density unchanged" wrong' in (
        misconception
    )


def test_a_concepts_own_research_question_wins(fixture_tree: Engine, settings: Settings) -> None:
    text = build(fixture_tree, settings, "concept:demo-context/alpha", mode="compact")
    assert "Open question: What is alpha?" in text
    assert "- The learner can say it" in text
    assert "smallest example" not in text
