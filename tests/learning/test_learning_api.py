"""The learning API over a generated tree: progress, plans, fringe, downstream, focus,
derived status, renames, and who may read and write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.app import create_app
from server.db import unit_of_work
from server.models import ClaimReview, User, Witness, WitnessRun
from server.people.identity import hash_token
from server.witnesses.cache import current_cache_key
from tests.conftest import LOOPBACK, make_settings
from tests.learning.conftest import CTX, Tree, key, make_tree
from tests.notes.conftest import ALPHA

Client = tuple[TestClient, Tree]


def learn(client: TestClient, *slugs: str, **headers: str) -> None:
    for slug in slugs:
        answer = client.put(f"/api/progress/{key(slug)}", json={"learned": True}, headers=headers)
        assert answer.status_code == 200, answer.text


def plan_keys(client: TestClient, slug: str, **headers: str) -> list[str]:
    answer = client.get("/api/plan", params={"target": key(slug)}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [step["key"] for step in answer.json()["steps"]]


def test_progress_is_set_field_by_field_and_listed(tree_client: Client) -> None:
    client, _ = tree_client
    first = client.put(f"/api/progress/{key('base')}", json={"starred": True}).json()
    assert (first["learned"], first["starred"]) == (False, True)
    second = client.put(f"/api/progress/{key('base')}", json={"learned": True}).json()
    assert (second["learned"], second["starred"]) == (True, True)
    listed = client.get("/api/progress").json()
    assert listed["count"] == 1 and listed["data"][0]["key"] == key("base")


def test_progress_refuses_what_is_not_a_concept(tree_client: Client) -> None:
    client, _ = tree_client
    assert client.put("/api/progress/claim:demo-context/base/main", json={}).status_code == 422
    assert client.put(f"/api/progress/{key('nowhere')}", json={}).status_code == 404
    assert client.put("/api/progress/not a key", json={}).status_code == 422
    bad = client.put(f"/api/progress/{key('base')}", json={"learned": "maybe"})
    assert bad.status_code == 422
    assert client.put(f"/api/progress/{key('base')}", json={"extra": 1}).status_code == 422


def test_a_cross_site_write_is_refused_in_local_mode(tree_client: Client) -> None:
    client, _ = tree_client
    answer = client.put(
        f"/api/progress/{key('base')}", json={"learned": True},
        headers={"Origin": "https://elsewhere.example"},
    )  # fmt: skip
    assert answer.status_code == 403
    assert client.get("/api/progress").json()["count"] == 0


def test_plan_orders_prerequisites_and_gives_reasons_and_times(tree_client: Client) -> None:
    client, _ = tree_client
    plan = client.get("/api/plan", params={"target": key("peak")}).json()
    keys = [s["key"] for s in plan["steps"]]
    assert keys[0] == key("base") and keys[-2:] == [key("top"), key("peak")]
    top = next(s for s in plan["steps"] if s["key"] == key("top"))
    assert top["learn_time_min"] == 45
    assert top["needed_by"] == [
        {"from": key("peak"), "to": key("top"), "type": "prerequisite", "reason": "peak needs top."}
    ]
    assert plan["total_time_min"] == 45 + 4 * 30


def test_a_learned_prerequisite_prunes_the_plan(tree_client: Client) -> None:
    client, _ = tree_client
    learn(client, "top")
    assert plan_keys(client, "peak") == [key("peak")]
    plan = client.get("/api/plan", params={"target": key("peak")}).json()
    assert plan["learned_prerequisites"] == [key("top")]
    learn(client, "peak")
    assert plan_keys(client, "peak") == []


def test_plan_of_an_unknown_or_foreign_target(tree_client: Client) -> None:
    client, _ = tree_client
    assert client.get("/api/plan", params={"target": key("nowhere")}).status_code == 404
    assert client.get("/api/plan", params={"target": "source:x"}).status_code == 422
    assert client.get("/api/plan").status_code == 422


def test_next_is_the_fringe(tree_client: Client) -> None:
    client, _ = tree_client
    fringe = client.get("/api/next").json()
    assert {n["key"] for n in fringe["data"]} == {key("base"), key("lone")}
    learn(client, "base", "left")
    fringe = client.get("/api/next").json()
    assert {n["key"] for n in fringe["data"]} == {key("right"), key("lone")}
    client.put(f"/api/progress/{key('lone')}", json={"starred": True})
    assert [n["key"] for n in client.get("/api/next").json()["data"]] == [key("lone"), key("right")]
    assert client.get("/api/next", params={"limit": 1}).json()["count"] == 2
    assert client.get("/api/next", params={"limit": 0}).status_code == 422


def test_downstream_with_depth(tree_client: Client) -> None:
    client, _ = tree_client
    answer = client.get("/api/concepts/demo-context/base/downstream").json()
    depths = {n["key"]: n["depth"] for n in answer["data"]}
    assert depths == {key("left"): 1, key("right"): 1, key("top"): 2, key("peak"): 3}
    near = client.get("/api/concepts/demo-context/base/downstream", params={"depth": 1}).json()
    assert near["count"] == 2
    assert client.get("/api/concepts/demo-context/nowhere/downstream").status_code == 404


def test_focused_graph_and_the_whole_graph_carry_status_and_marks(tree_client: Client) -> None:
    client, _ = tree_client
    learn(client, "left")
    focused = client.get(
        "/api/graph", params={"focus": key("top"), "direction": "up", "depth": 1}
    ).json()
    nodes = {n["key"]: n for n in focused["nodes"]}
    assert set(nodes) == {key("top"), key("left"), key("right")}
    assert nodes[key("left")]["learned"] and not nodes[key("right")]["learned"]
    assert len(focused["edges"]) == 2
    whole = client.get("/api/graph").json()
    assert all("fully_grounded" in n for n in whole["nodes"])
    bad = client.get("/api/graph", params={"focus": key("top"), "direction": "sideways"})
    assert bad.status_code == 422
    assert client.get("/api/graph", params={"focus": key("top"), "depth": 99}).status_code == 422


def test_status_is_derived_and_follows_content(tree_client: Client) -> None:
    client, tree = tree_client
    grounding = client.get("/api/concepts/demo-context/peak").json()["grounding"]
    assert grounding["status"] == "fully-grounded" and grounding["blocked_by"] == []
    tree.write("left", reviewed=False)  # left's claim loses its substantive review
    tree.ingest()
    left = client.get("/api/concepts/demo-context/left").json()["grounding"]
    assert left["status"] == "ungrounded" and left["evidence"]["claims_reviewed"] == 0
    peak = client.get("/api/concepts/demo-context/peak").json()["grounding"]
    assert peak["status"] == "grounded" and peak["blocked_by"] == [key("left")]
    right = client.get("/api/concepts/demo-context/right").json()["grounding"]
    assert right["status"] == "fully-grounded"


def test_a_renamed_concept_keeps_the_learners_state(tree_client: Client) -> None:
    client, tree = tree_client
    learn(client, "base", "top")
    client.put(f"/api/progress/{key('top')}", json={"starred": True})
    tree.rename("top", "summit")
    assert plan_keys(client, "peak") == [key("peak")]  # summit (was top) is still learned
    listed = {p["key"]: p for p in client.get("/api/progress").json()["data"]}
    assert listed[key("top")]["current_key"] == key("summit")
    # The old key still answers, and writes land on the new key with the old state kept.
    plan = client.get("/api/plan", params={"target": key("top")}).json()
    assert plan["target"]["key"] == key("summit") and plan["steps"] == []
    moved = client.put(f"/api/progress/{key('top')}", json={"learned": False}).json()
    assert moved["key"] == key("summit") and moved["followed_alias"] == key("top")
    assert (moved["learned"], moved["starred"]) == (False, True)
    assert plan_keys(client, "peak") == [key("left"), key("right"), key("summit"), key("peak")]


@pytest.fixture
def team(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    root = make_tree(tmp_path / "content")
    app = create_app(make_settings(database_url, root, mode="team"))
    with TestClient(app, client=LOOPBACK) as client:
        with unit_of_work(app.state.engine) as session:
            for name in ("alice", "bob"):
                session.add(User(name=name, role="learner", token_hash=hash_token(name * 8)))
        yield client


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name * 8}"}


def test_team_mode_progress_is_per_account(team: TestClient) -> None:
    assert team.put(f"/api/progress/{key('top')}", json={"learned": True}).status_code == 401
    assert team.get("/api/progress").status_code == 401
    assert team.get("/api/plan", params={"target": key("peak")}).status_code == 401
    assert team.get("/api/next").status_code == 401
    learn(team, "top", **bearer("alice"))
    assert plan_keys(team, "peak", **bearer("alice")) == [key("peak")]
    assert len(plan_keys(team, "peak", **bearer("bob"))) == 5
    assert team.get("/api/progress", headers=bearer("bob")).json()["count"] == 0
    # The graph stays public; only a signed-in reader sees their own marks on it.
    anonymous = {n["key"]: n for n in team.get("/api/graph").json()["nodes"]}
    assert not anonymous[key("top")]["learned"]
    mine = {n["key"]: n for n in team.get("/api/graph", headers=bearer("alice")).json()["nodes"]}
    assert mine[key("top")]["learned"]


def test_the_concept_page_and_the_graph_know_the_same_reader(team: TestClient) -> None:
    learn(team, "top", **bearer("alice"))
    page = f"/concepts/{CTX}/top"
    mine = team.get(page, headers=bearer("alice")).text
    assert 'data-field="learned"' in mine and "✓ learned" in mine
    assert "✓ learned" not in team.get(page, headers=bearer("bob")).text
    assert 'data-field="learned"' not in team.get(page).text  # nobody: no marks to show
    unknown = {"Authorization": "Bearer not-a-token"}
    assert 'data-field="learned"' not in team.get(page, headers=unknown).text
    graph = {n["key"]: n for n in team.get("/api/graph", headers=unknown).json()["nodes"]}
    assert not graph[key("top")]["learned"]


def ground_alpha(session: Session) -> Witness:
    """A current passing run of alpha's witness and a supported review of its claim; the
    witness."""
    witness = session.exec(select(Witness).where(Witness.concept_key == ALPHA)).one()
    session.add(WitnessRun(witness_key=witness.key, cache_key=current_cache_key(witness),
                           status="passed"))  # fmt: skip
    session.add(ClaimReview(claim_key="claim:demo-context/alpha/scaling-claim",
                            verdict="supported", reviewer="r", reviewed_on=date(2026, 5, 1),
                            summary="Checked.", origin="api"))  # fmt: skip
    return witness


def test_status_follows_a_witness_run_and_a_review(client: TestClient) -> None:
    """alpha has one witness and one bounded claim; beta needs alpha."""
    from server.learning.index import index_for
    from server.store import bump_revision

    engine = client.app.state.engine  # type: ignore[attr-defined]
    alpha = "/api/concepts/demo-context/alpha"

    def grounding(url: str) -> dict[str, Any]:
        return client.get(url).json()["grounding"]  # type: ignore[no-any-return]

    assert grounding(alpha)["evidence"] == {
        "witnesses": 1, "witnesses_passing": 0, "claims": 1, "claims_reviewed": 0,
    }  # fmt: skip
    with unit_of_work(engine, write=False) as session:
        before = index_for(session)
    with unit_of_work(engine) as session:
        witness = ground_alpha(session)
        bump_revision(session)
    assert grounding(alpha)["status"] == "fully-grounded"
    with unit_of_work(engine, write=False) as session:
        after = index_for(session)
    assert after.revision == before.revision + 1
    assert after.graph is before.graph  # the graph was kept: only the evidence was re-read
    # A stale run (the witness's code changed since) no longer counts.
    with unit_of_work(engine) as session:
        witness = session.exec(select(Witness).where(Witness.concept_key == ALPHA)).one()
        session.add(WitnessRun(witness_key=witness.key, cache_key="0" * 64, status="passed"))
        bump_revision(session)
    assert grounding(alpha)["status"] == "ungrounded"
    beta = grounding("/api/concepts/demo-context/beta")
    assert beta["blocked_by"] == [ALPHA]


def test_a_witness_below_its_strength_target_does_not_ground(client: TestClient) -> None:
    """A passing run of a witness whose checks catch too few mutants is not evidence; a strength
    record for other code (stale) leaves the run to decide."""
    from server.models import WitnessStrength
    from server.store import bump_revision
    from server.witnesses.strength import code_hash

    engine = client.app.state.engine  # type: ignore[attr-defined]
    alpha = "/api/concepts/demo-context/alpha"
    with unit_of_work(engine) as session:
        witness = ground_alpha(session)
        strength = WitnessStrength(witness_key=witness.key, code_hash="0" * 64, mutants=10,
                                   caught=1, total=10, survivors=[])  # fmt: skip
        session.add(strength)
        bump_revision(session)
    assert client.get(alpha).json()["grounding"]["status"] == "fully-grounded"  # stale record
    with unit_of_work(engine) as session:
        witness = session.exec(select(Witness).where(Witness.concept_key == ALPHA)).one()
        row = session.exec(select(WitnessStrength)).one()
        row.code_hash = code_hash(witness.code, witness.checks)
        session.add(row)
        bump_revision(session)
    grounding = client.get(alpha).json()["grounding"]
    assert grounding["status"] == "ungrounded"
    assert grounding["evidence"]["witnesses_passing"] == 0
    with unit_of_work(engine) as session:
        row = session.exec(select(WitnessStrength)).one()
        row.caught = 9
        session.add(row)
        bump_revision(session)
    assert client.get(alpha).json()["grounding"]["status"] == "fully-grounded"
