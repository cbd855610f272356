"""The content gate: the bundled corpus is complete, honestly sourced and one connected path.

Ingest already validates shapes and keys; this gate asks what a reader relies on: every concept
has every panel of the normalizing-flows page, every claim is located in a source and reviewed
no more strongly than what was read, every source can be found, every witness checks a value,
and the prerequisite edges form one acyclic graph.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

CONTENT = Path(__file__).resolve().parents[2] / "content"
SECTIONS = ["## Intuition", "## Math", "## Code", "## Interactive Demo"]
SUBSTANTIVE = {"supported", "partial", "unsupported", "contested"}
LISTS = ("links", "equations", "witnesses", "sources", "claims", "misconceptions", "demos")


@cache
def concepts() -> dict[str, tuple[dict[str, Any], str]]:
    """concept key -> (front matter, body) for every concept file of the bundled content."""
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for path in sorted(CONTENT.glob("*/*.md")):
        text = path.read_text(encoding="utf-8")
        front, body = text.removeprefix("---\n").split("\n---\n", 1)
        key = f"concept:{path.parent.name}/{path.stem}"
        found[key] = (yaml.safe_load(front), body)
    return found


@cache
def sources() -> dict[str, dict[str, Any]]:
    entries = yaml.safe_load((CONTENT / "sources.yaml").read_text(encoding="utf-8"))
    return {entry["id"]: entry for entry in entries}


KEYS = sorted(concepts())


def test_the_corpus_is_not_trivially_small() -> None:
    assert len(KEYS) >= 9


@pytest.mark.parametrize("key", KEYS)
def test_every_concept_has_every_panel(key: str) -> None:
    front, body = concepts()[key]
    for panel in ("title", "summary", "bridge"):
        assert str(front.get(panel, "")).strip(), f"{key}: no {panel}"
    for panel in LISTS:
        assert front.get(panel), f"{key}: no {panel}"
    positions = [body.find(section + "\n") for section in SECTIONS]
    assert -1 not in positions and positions == sorted(positions), f"{key}: body sections"
    for equation in front["equations"]:
        assert equation.get("label") and equation.get("latex") and equation.get("statement")
        assert equation.get("symbols"), f"{key}: equation {equation['id']} has no symbols"
    practice = front["practice"]
    assert practice["prediction_prompt"].strip() and 1 <= len(practice["hints"]) <= 3
    assert practice["rubric"]
    for panel in ("storyboard", "visual_inquiry"):
        choices = front[panel]["choices"]
        assert len(choices) >= 2 and any(c.get("correct") for c in choices), f"{key}: {panel}"
    assert front["research"]["open_question"].strip()
    for misconception in front["misconceptions"]:
        assert misconception["why_wrong"].strip() and misconception["exposed_by"]


@pytest.mark.parametrize("key", KEYS)
def test_every_claim_is_located_and_reviewed_no_further_than_read(key: str) -> None:
    front, _ = concepts()[key]
    for claim in front["claims"]:
        where = f"{key}/{claim['id']}"
        assert claim["support"], f"{where}: no support"
        for support in claim["support"]:
            locator = support.get("locator") or {}
            assert any(locator.get(f) for f in ("section", "equation", "page", "quote")), (
                f"{where}: a support without a locator"
            )
            if support.get("checked"):
                assert locator, f"{where}: checked without a locator"
        assert claim.get("reviews"), f"{where}: never reviewed"
        latest = claim["reviews"][-1]
        assert latest["reviewer"].strip() and latest["date"]
        if latest["verdict"] in SUBSTANTIVE:
            assert any(s.get("checked") for s in claim["support"]), (
                f"{where}: verdict {latest['verdict']!r} but no support was read"
            )


@pytest.mark.parametrize("key", KEYS)
def test_every_cited_source_exists_and_can_be_found(key: str) -> None:
    front, _ = concepts()[key]
    cited = {s["source"] for s in front["sources"]}
    cited |= {s["source"] for c in front["claims"] for s in c["support"]}
    for source_id in sorted(cited):
        entry = sources().get(source_id)
        assert entry is not None, f"{key}: unknown source {source_id}"
        assert entry.get("doi") or entry.get("arxiv") or entry.get("url"), source_id
        assert entry.get("authors") and entry.get("year") and entry.get("title"), source_id


def test_every_source_has_a_doi_arxiv_id_or_url() -> None:
    for source_id, entry in sources().items():
        assert entry.get("doi") or entry.get("arxiv") or entry.get("url"), source_id


@pytest.mark.parametrize("key", KEYS)
def test_every_witness_checks_a_value(key: str) -> None:
    """A witness that only exits 0, or only raises, cannot catch a wrong answer."""
    front, body = concepts()[key]
    for witness in front["witnesses"]:
        kinds = [check["kind"] for check in witness.get("checks", [])]
        assert {"stdout", "variable", "invariant"} & set(kinds), (
            f"{key}/{witness['id']}: no check compares a value"
        )
        assert f"```python witness={witness['id']}\n" in body


def prerequisite_edges() -> list[tuple[str, str]]:
    """(prerequisite, concept): a link of type prerequisite from concept to its prerequisite."""
    return [
        (link["to"], key)
        for key, (front, _) in concepts().items()
        for link in front["links"]
        if link["type"] == "prerequisite"
    ]


def test_links_point_at_concepts_that_exist() -> None:
    for key, (front, _) in concepts().items():
        for link in front["links"]:
            assert link["to"] in concepts(), f"{key}: link to missing {link['to']}"
            assert link.get("reason", "").strip(), f"{key}: link to {link['to']} without reason"


def test_the_prerequisite_graph_is_acyclic() -> None:
    after: dict[str, set[str]] = {key: set() for key in concepts()}
    for before, concept in prerequisite_edges():
        after[before].add(concept)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 1:
            raise AssertionError("prerequisite cycle: " + " -> ".join([*path, node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for following in sorted(after[node]):
            visit(following, [*path, node])
        state[node] = 2

    for node in sorted(after):
        visit(node, [])


def test_the_concept_graph_is_connected() -> None:
    neighbours: dict[str, set[str]] = {key: set() for key in concepts()}
    for key, (front, _) in concepts().items():
        for link in front["links"]:
            neighbours[key].add(link["to"])
            neighbours[link["to"]].add(key)
    start = KEYS[0]
    seen, frontier = {start}, [start]
    while frontier:
        for following in neighbours[frontier.pop()] - seen:
            seen.add(following)
            frontier.append(following)
    assert seen == set(KEYS), f"not connected to {start}: {sorted(set(KEYS) - seen)}"
    with_prerequisites = {concept for _, concept in prerequisite_edges()}
    roots = set(KEYS) - with_prerequisites
    assert roots, "every concept has a prerequisite, so the graph must have a cycle"


# Witness strength. Measuring it runs up to 40 mutants of every witness in the sandbox (about
# half an hour for the corpus on two cores), far too slow for the test suite; the engine is
# tested on small fixture witnesses (tests/witnesses/test_witness_strength.py). Here the gate
# reads the committed record `readingroom check --mutants --record` writes, keyed by a hash of
# each witness's code and checks: a witness whose code or checks changed since is stale and
# fails until it is measured again. The mutant ids are regenerated (cheap, no sandbox), so a
# record can only name survivors the generator really makes.
STRENGTH_RECORD = CONTENT / "witness-strength.json"
MEASURE_AGAIN = "run: readingroom check --mutants --record content/witness-strength.json"


@cache
def stored_witnesses() -> dict[str, tuple[str, list[dict[str, Any]], dict[str, str]]]:
    """witness key -> (code, checks as ingest stores them, declared equivalent mutants)."""
    from server.ingest.parse import parse_concept_file
    from server.ingest.problems import Problems

    found = {}
    for path in sorted(CONTENT.glob("*/*.md")):
        problems = Problems()
        parsed = parse_concept_file(
            str(path), path.parent.name, path.stem, path.read_text(encoding="utf-8"), problems
        )
        assert parsed is not None and not problems, [str(p) for p in problems.items]
        for w in parsed.front.witnesses:
            key = f"witness:{path.parent.name}/{path.stem}/{w.id}"
            checks = [c.model_dump(exclude_none=True) for c in w.checks]
            declared = {e.id: e.why for e in w.equivalent_mutants}
            found[key] = (parsed.witness_blocks[w.id].code, checks, declared)
    return found


@cache
def strength_record() -> dict[str, Any]:
    import json

    return dict(json.loads(STRENGTH_RECORD.read_text(encoding="utf-8")))


@pytest.mark.parametrize("key", sorted(stored_witnesses()))
def test_every_witness_meets_the_strength_target(key: str) -> None:
    from server.witnesses.mutants import generate
    from server.witnesses.strength import TARGET, code_hash, measure

    code, checks, equivalent = stored_witnesses()[key]
    record = strength_record()
    assert record["target"] == TARGET
    entry = record["witnesses"].get(key)
    assert entry is not None, f"{key}: never measured; {MEASURE_AGAIN}"
    assert entry["code_hash"] == code_hash(code, checks), f"{key}: stale; {MEASURE_AGAIN}"
    mutants = generate(code, record["cap"])
    ids = [m.id for m in mutants.mutants]
    assert (entry["mutants"], entry["total"]) == (len(ids), mutants.total), MEASURE_AGAIN
    assert set(entry["survivors"]) <= set(ids) and entry["caught"] == len(ids) - len(
        entry["survivors"]
    )
    described = {m.id: m.description for m in mutants.mutants if m.id in entry["survivors"]}
    assert entry.get("descriptions") == described, f"{key}: survivor descriptions; {MEASURE_AGAIN}"
    statuses = {i: ("passed" if i in entry["survivors"] else "failed") for i in ids}
    declared = [{"id": i, "why": why} for i, why in equivalent.items()]
    result = measure(key, mutants.mutants, statuses, mutants.total, declared)
    assert not result.weak, f"{key}: weak, its checks catch none of its mutants"
    unexplained = [f"{s['id']} ({s['description']})" for s in result.unexplained]
    assert result.meets_target, (
        f"{key}: catches {result.caught} of {result.mutants}; tighten its checks or declare "
        f"equivalent survivors: {unexplained}"
    )
    stray = sorted(set(equivalent) - set(entry["survivors"]))
    assert not stray, f"{key}: declared equivalent but caught or not a mutant: {stray}"
