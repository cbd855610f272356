"""Learning fixtures: a small generated content tree with a diamond and a chain of
prerequisites, and a way to rewrite it (rename a concept, add a witness run, ingest)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from server.app import create_app
from server.db import unit_of_work
from server.ingest.service import ingest
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

CTX = "demo-context"
# base <- left, right <- top <- peak (a diamond under top); lone has no prerequisites.
PREREQUISITES: dict[str, list[str]] = {
    "base": [],
    "left": ["base"],
    "right": ["base"],
    "top": ["left", "right"],
    "peak": ["top"],
    "lone": [],
}


def key(slug: str) -> str:
    return f"concept:{CTX}/{slug}"


def concept_file(
    slug: str,
    prerequisites: list[str],
    *,
    learn_time: int | None = None,
    aliases: dict[str, str] | None = None,
    reviewed: bool = True,
) -> str:
    links = "".join(
        f"  - to: {key(p)}\n    type: prerequisite\n    reason: {slug} needs {p}.\n"
        for p in prerequisites
    )
    verdict = "supported" if reviewed else "bounded"
    lines = [
        "---",
        f"title: Concept {slug}",
        f"summary: The {slug} concept.",
        "bridge: A bridge.",
        *([f"learn_time: {learn_time}"] if learn_time else []),
        "links:" + ("\n" + links.rstrip("\n") if links else " []"),
        "claims:",
        "  - id: main",
        f"    text: A claim about {slug}.",
        "    support:",
        "      - source: smith-2020-example",
        "        stance: supports",
        "        locator: {page: 1}",
        "    reviews:",
        f"      - verdict: {verdict}",
        "        reviewer: fixture reviewer",
        "        date: 2026-01-02",
        "        summary: Checked.",
        "storyboard:",
        "  prompt: Pick.",
        "  choices:",
        "    - {label: A, feedback: Yes., correct: true}",
        "    - {label: B, feedback: No.}",
        "visual_inquiry:",
        "  question: Which?",
        "  prompt: Pick.",
        "  choices:",
        "    - {label: A, feedback: Good.}",
        "    - {label: B, feedback: Fine.}",
        "practice:",
        "  prediction_prompt: Predict.",
        "  hints: [One]",
        "  rubric: [Concrete.]",
        "research:",
        "  open_question: Why?",
        "  evidence: [smith-2020-example]",
        "  resolves: [It]",
    ]
    if aliases:
        lines.append("aliases:")
        lines.extend(f"  {old}: {new}" for old, new in aliases.items())
    lines += ["---", "", "## Intuition", "", f"About {slug}.", ""]
    lines += ["## Math", "", "No equation.", "", "## Code", "", "No code.", ""]
    lines += ["## Interactive Demo", "", "No demo.", ""]
    return "\n".join(lines)


@dataclass
class Tree:
    root: Path
    engine: Engine
    prerequisites: dict[str, list[str]] = field(default_factory=dict)

    def write(self, slug: str, **extra: object) -> None:
        text = concept_file(slug, self.prerequisites[slug], **extra)  # type: ignore[arg-type]
        (self.root / CTX / f"{slug}.md").write_text(text, encoding="utf-8")

    def ingest(self) -> None:
        with unit_of_work(self.engine) as session:
            ingest(session, self.root)

    def rename(self, old: str, new: str) -> None:
        """Rename concept ``old`` to ``new`` (an alias), pointing its dependents at it."""
        (self.root / CTX / f"{old}.md").unlink()
        self.prerequisites[new] = self.prerequisites.pop(old)
        for slug, prereqs in self.prerequisites.items():
            self.prerequisites[slug] = [new if p == old else p for p in prereqs]
        aliases = {key(old): key(new), f"claim:{CTX}/{old}/main": f"claim:{CTX}/{new}/main"}
        for slug in self.prerequisites:
            if slug == new:
                self.write(slug, aliases=aliases)
            else:
                self.write(slug)
        self.ingest()


def make_tree(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copyfile(VALID_CONTENT / "contexts.yaml", root / "contexts.yaml")
    shutil.copyfile(VALID_CONTENT / "sources.yaml", root / "sources.yaml")
    (root / CTX).mkdir()
    for slug, prereqs in PREREQUISITES.items():
        text = concept_file(slug, prereqs, learn_time=45 if slug == "top" else None)
        (root / CTX / f"{slug}.md").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def tree_client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Tree]]:
    root = make_tree(tmp_path / "content")
    app = create_app(make_settings(database_url, root))
    with TestClient(app, client=LOOPBACK) as client:
        yield client, Tree(root, app.state.engine, {k: list(v) for k, v in PREREQUISITES.items()})
