"""Full-text search: ranked, escaped, kept at ingest, and unbreakable by hostile queries."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.ingest.service import ingest
from server.models import SearchDocument
from server.search import service
from tests.conftest import VALID_CONTENT


def found(client: TestClient, q: str) -> list[str]:
    response = client.get("/api/search", params={"q": q})
    assert response.status_code == 200, response.text
    return [r["key"] for r in response.json()["data"]]


def test_a_claim_is_found_by_a_word_of_its_text(client: TestClient) -> None:
    keys = found(client, "scaling changes")
    assert "claim:demo-context/alpha/scaling-claim" in keys
    assert "claim:demo-context/beta/scaling-claim" in keys
    data = client.get("/api/search", params={"q": "scaling changes"}).json()["data"]
    result = next(r for r in data if r["key"] == "claim:demo-context/alpha/scaling-claim")
    assert result["url"] == (
        "/concepts/demo-context/alpha#claim/concept-notebook/demo-context/alpha/scaling-claim"
    )
    assert "<mark>Scaling</mark>" in result["snippet_html"]
    assert "\ue000" not in result["snippet"] and "Scaling by a" in result["snippet"]


def test_titles_summaries_and_sources_are_searched(client: TestClient) -> None:
    assert found(client, "alpha")[0] == "concept:demo-context/alpha"  # the title ranks first
    assert "concept:demo-context/beta" in found(client, "second fixture")
    assert found(client, "journal examples") == ["source:smith-2020-example"]
    assert found(client, "smi") == ["source:smith-2020-example"]  # the last word as a prefix


def test_every_word_must_match(client: TestClient) -> None:
    assert found(client, "alpha zebra") == []
    assert found(client, "") == []


@pytest.mark.parametrize(
    "q",
    [
        '"', '""', "'", "NEAR(alpha beta)", "alpha NEAR beta", "*", "a*", "alpha OR", "AND",
        "NOT alpha", "title:alpha", "^alpha", "(alpha", "alpha)", "-alpha", "+", "!", "&|!:*<>",
        "alpha & beta", "'); DROP TABLE concept; --", "\x00", "\\", "ünïcödé", "日本語",
        "x" * 3900, "alpha " * 600, "<script>alert(1)</script>",
    ],
)  # fmt: skip
def test_hostile_queries_answer_without_error(client: TestClient, q: str) -> None:
    response = client.get("/api/search", params={"q": q})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["terms"]) <= service.MAX_TERMS
    assert all(len(t) <= service.MAX_TERM_CHARS for t in body["terms"])


def test_operators_are_plain_words(client: TestClient) -> None:
    # 'alpha OR zebra' would find alpha if OR were an operator; here every word must match
    assert found(client, "alpha OR zebra") == []
    assert found(client, '("alpha"*)')[0] == "concept:demo-context/alpha"
    assert found(client, "NEAR(alpha)") == []  # 'near' is a word the text lacks


def test_a_query_too_long_for_the_api_is_refused_not_crashed(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "x" * 5000})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


def test_snippets_are_escaped() -> None:
    marked = "<b>&" + "\ue000" + "hit" + "\ue001" + "</b>"
    assert service.snippet_html(marked) == "&lt;b&gt;&amp;<mark>hit</mark>&lt;/b&gt;"


def test_terms_are_bounded() -> None:
    assert service.terms_of("Alpha alpha BETA") == ["alpha", "beta"]
    assert len(service.terms_of(" ".join(f"w{i}" for i in range(100)))) == service.MAX_TERMS
    assert service.terms_of('"*" NEAR() _ -') == ["near"]


def ids_of(session: Session, concept_path: str) -> dict[str, int | None]:
    docs = session.exec(select(SearchDocument)).all()
    return {d.key: d.id for d in docs if concept_path in d.key}


def test_the_index_follows_ingest_and_is_built_for_an_older_store(
    session: Session, content_copy: Path
) -> None:
    root = content_copy
    ingest(session, root)
    assert (
        service.search(session, "first fixture")["data"][0]["key"] == "concept:demo-context/alpha"
    )
    beta_ids = ids_of(session, "demo-context/beta")
    alpha = root / "demo-context" / "alpha.md"
    alpha.write_text(alpha.read_text().replace("The first fixture", "A zeppelin"))
    ingest(session, root)
    assert ids_of(session, "demo-context/beta") == beta_ids  # only alpha's were rewritten
    assert service.search(session, "first fixture")["count"] == 0
    assert service.search(session, "zeppelin")["data"][0]["key"] == "concept:demo-context/alpha"
    for doc in session.exec(select(SearchDocument)):
        session.delete(doc)
    session.flush()
    assert service.search(session, "zeppelin")["count"] == 0
    ingest(session, root)  # nothing changed, but the index was empty: it is built
    assert service.search(session, "zeppelin")["count"] == 1


def test_a_removed_concept_leaves_the_index(session: Session, content_copy: Path) -> None:
    ingest(session, content_copy)
    assert service.search(session, "second fixture")["count"] == 1
    (content_copy / "demo-context" / "beta.md").unlink()
    alpha = content_copy / "demo-context" / "alpha.md"
    link = "  - to: concept:demo-context/beta\n    type: next\n    reason: Beta builds on alpha.\n"
    alpha.write_text(alpha.read_text().replace(link + "    gate: Predict first.\n", "  []\n"))
    ingest(session, content_copy)
    assert service.search(session, "second fixture")["count"] == 0
    assert not [k for k in ids_of(session, "demo-context/beta")]
    assert ids_of(session, "demo-context/alpha")


def test_many_changed_concepts_rebuild_the_index(
    session: Session, content_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.search import index

    ingest(session, content_copy)
    monkeypatch.setattr(index, "MAX_REFRESH", 1)
    alpha = content_copy / "demo-context" / "alpha.md"
    alpha.write_text(alpha.read_text().replace("The first fixture", "A zeppelin"))
    beta = content_copy / "demo-context" / "beta.md"
    beta.write_text(beta.read_text().replace("The second fixture", "A dirigible"))
    ingest(session, content_copy)
    assert service.search(session, "zeppelin")["count"] == 1
    assert service.search(session, "dirigible")["count"] == 1
    assert service.search(session, "smith")["count"] == 1


def test_the_index_is_built_on_the_valid_tree(session: Session) -> None:
    ingest(session, VALID_CONTENT)
    kinds = {d.kind for d in session.exec(select(SearchDocument))}
    assert kinds == {"concept", "claim", "source"}


def test_indexed_text_shows_math_as_characters_and_leaves_fenced_code_out() -> None:
    from server.search.index import clean

    text = "The preimage $f^{-1}(x)$ of $x_1$.\n\n```python\nz_1 = x_1 * 2\n```\nAfter $\\bad{$."
    cleaned = clean(text)
    assert "^{" not in cleaned and "x_1" not in cleaned and "z_1" not in cleaned
    assert "f−1(x)" in cleaned or "f-1(x)" in cleaned
    assert "After" in cleaned
