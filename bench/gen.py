"""A generated content tree of N concept pages, for benchmarks at scale.

    python bench/gen.py OUT_DIR --concepts 1000

Concepts are spread over contexts of at most ``PER_CONTEXT`` pages. Each page has what a real
page has (an equation, a witness, a source it grounds on, a reviewed claim, a misconception, a
demo state, the practice loop) and links: a prerequisite on the page before it in its
context, a ``next`` to the page after it, and a ``related`` link to the same place in the
previous context, so lists, the graph and pages all grow with N.

``write_tree`` is importable: ``write_tree(path, n)`` writes the tree and returns the keys of
its concepts; ``touch_one(path, i)`` changes one page's summary (for re-ingest timing).
"""

from __future__ import annotations

import argparse
from pathlib import Path

PER_CONTEXT = 100
SOURCES_EVERY = 10
SPEC = (
    "{type: chain, dim: 2, base: {type: normal}, "
    "layers: [{type: affine, A: [[2, 0], [0, 1]], b: [0, 0]}]}"
)


def context_slug(c: int) -> str:
    return f"context-{c:04d}"


def concept_slug(i: int) -> str:
    return f"concept-{i:05d}"


def concept_key(i: int) -> str:
    return f"concept:{context_slug(i // PER_CONTEXT)}/{concept_slug(i)}"


def source_id(i: int) -> str:
    return f"author-{2000 + (i // SOURCES_EVERY) % 25}-source-{i // SOURCES_EVERY:05d}"


def page(i: int, n: int) -> str:
    place, context = i % PER_CONTEXT, i // PER_CONTEXT
    links = []
    if place > 0:
        links.append((concept_key(i - 1), "prerequisite", "Builds on the page before."))
    if place < PER_CONTEXT - 1 and i + 1 < n:
        links.append((concept_key(i + 1), "next", "The page after."))
    if context > 0:
        links.append((concept_key(i - PER_CONTEXT), "related", "The same place, one context back."))
    return page_text(i, context_slug(context), concept_slug(i), links, source_id(i))


def page_text(
    i: int, context: str, slug: str, links: list[tuple[str, str, str]], source: str,
    version: int = 0, scale: int | None = None,
) -> str:  # fmt: skip
    """Page ``i`` of a generated tree, in ``context`` under ``slug``, with ``links`` (to,
    type, reason) and one ``source``; a new ``version`` changes its claim's text. Its
    equation and code scale by ``scale`` + 2 (default ``i`` + 2): one ``scale`` for every
    page makes their math and code the same, as a store of copies has."""
    k = i if scale is None else scale
    link_lines = (
        "".join(
            f"  - to: {to}\n    type: {kind}\n    reason: {reason}\n" for to, kind, reason in links
        )
        or "  []\n"
    )
    demo = f"demo:{context}/{slug}/stretch"
    edition = f" (version {version})" if version else ""
    return f"""---
title: Generated concept {i}
summary: Generated page number {i}, for measuring lists and pages at scale.
bridge: Page {i} leads to page {i + 1}.
links:
{link_lines}equations:
  - id: scale
    label: Scaling {i}
    latex: 'x = {k + 2} z'
    statement: x is z scaled by {k + 2}.
    symbols:
      - symbol: z
        meaning: the base variable
witnesses:
  - id: double
    demonstrates: Doubling a number.
    checks:
      - kind: stdout
        expected: |
          value: {2 * k}.0
        tolerance: 0.001
sources:
  - source: {source}
    grounds: Grounds the scaling equation of page {i}.
claims:
  - id: scaling-claim
    text: Scaling by {k + 2} changes density by 1/{k + 2}{edition}.
    support:
      - source: {source}
        stance: supports
        locator: {{section: "2 Scaling", page: {1 + i % 40}}}
    reviews:
      - verdict: bounded
        reviewer: generated reviewer
        date: 2026-01-02
        summary: A bounded summary.
        caveats: Only in one dimension.
misconceptions:
  - id: no-change
    belief: Scaling leaves density unchanged.
    why_wrong: Volume changes.
    exposed_by: [{demo}]
demos:
  - id: stretch
    title: Stretch {i}
    spec: {SPEC}
    controls:
      - {{name: scale, label: Stretch along x, paths: ["layers[0].A[0][0]"], min: 0.5, max: 4,
         step: 0.5}}
    caption: Density halves where space doubles.
storyboard:
  prompt: Pick a change.
  choices:
    - {{label: Density falls, feedback: Yes., correct: true}}
    - {{label: Nothing, feedback: No.}}
visual_inquiry:
  question: Which object?
  prompt: Pick a cue.
  choices:
    - {{label: Grid, feedback: Good.}}
    - {{label: Points, feedback: Fine.}}
practice:
  prediction_prompt: Predict.
  hints: [One, Two, Three]
  rubric: [Concrete.]
research:
  open_question: What does page {i} add?
  evidence: [Source ids to inspect, {source}]
  resolves: [The learner can say it]
---

## Intuition

Scale $z$ by ${k + 2}$: page {i} says *why* the density falls.

## Math

{{{{ equation scale }}}}

## Code

```python witness=double
value = {k}.0 * 2
print("value:", value)
```

## Interactive Demo

{{{{ demo stretch }}}}
"""


def sources_text(ids: list[str]) -> str:
    """``sources.yaml`` of generated sources; an id reads ``author-YEAR-...``."""
    return "".join(
        f"- id: {s}\n  authors: [Generated Author]\n  year: {s.split('-')[1]}\n"
        f"  title: Generated source {s}\n  venue: Journal of Examples\n"
        f"  url: https://example.org/{s}\n"
        for s in ids
    )


def write_tree(root: Path, n: int) -> list[str]:
    """Write ``n`` generated concept pages under ``root``; the keys of the concepts."""
    root.mkdir(parents=True, exist_ok=True)
    contexts = (n + PER_CONTEXT - 1) // PER_CONTEXT
    (root / "contexts.yaml").write_text(
        "".join(f"{context_slug(c)}: Generated context {c}\n" for c in range(contexts)),
        encoding="utf-8",
    )
    sources = sorted({source_id(i) for i in range(n)})
    (root / "sources.yaml").write_text(sources_text(sources), encoding="utf-8")
    for i in range(n):
        folder = root / context_slug(i // PER_CONTEXT)
        folder.mkdir(exist_ok=True)
        (folder / f"{concept_slug(i)}.md").write_text(page(i, n), encoding="utf-8")
    return [concept_key(i) for i in range(n)]


def touch_one(root: Path, i: int) -> Path:
    """Change page ``i``'s summary; the file that changed."""
    path = root / context_slug(i // PER_CONTEXT) / f"{concept_slug(i)}.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("summary: Generated page", "summary: Edited page", 1), "utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--concepts", type=int, default=1000)
    args = parser.parse_args()
    keys = write_tree(args.out, args.concepts)
    print(f"{len(keys)} concepts under {args.out}")


if __name__ == "__main__":
    main()
