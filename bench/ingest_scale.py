"""Ingest at 100, 1,000 and 10,000 generated concepts: full, unchanged and one-changed.

    python bench/ingest_scale.py [--sizes 100,1000,10000] [--database POSTGRESQL_ADMIN_URL]

Each size runs in a fresh process, so its peak RSS is that of one full ingest followed by
the re-ingests. Concepts form one prerequisite chain as deep as the store (each page needs
the one before it). Prints wall times (and the re-ingests' process CPU time, which a busy
machine inflates less), peak RSS and the ratios against the aims
(full ingest of 10,000 at most 300 MiB peak; either re-ingest under 1 s).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PAGE = """---
title: Generated concept {index}
summary: A generated concept page, number {index}.
bridge: It leads on to the next page.
{links}equations:
  - id: scale
    label: Scaling
    latex: 'x = a z'
    statement: x is z scaled by a.
    symbols:
      - symbol: a
        meaning: the scale
witnesses:
  - id: double
    demonstrates: Doubling a number.
    checks:
      - kind: stdout
        expected: |
          value: 2.0
        tolerance: 0.001
sources:
  - source: smith-2020-example
    grounds: Grounds the scaling equation.
claims:
  - id: scaling-claim
    text: Scaling by a changes density by 1/|a| (version {version}).
    support:
      - source: smith-2020-example
        stance: supports
        locator: {{section: "2 Scaling", page: 3}}
    reviews:
      - verdict: bounded
        reviewer: bench reviewer
        date: 2026-01-02
        summary: A bounded summary.
        caveats: Only in one dimension.
misconceptions:
  - id: no-change
    belief: Scaling leaves density unchanged.
    why_wrong: Volume changes.
    exposed_by: [demo:bench/{slug}/stretch]
demos:
  - id: stretch
    title: Stretch
    spec:
      type: chain
      dim: 2
      base: {{type: normal}}
      layers: [{{type: affine, A: [[2, 0], [0, 1]], b: [0, 0]}}]
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
  open_question: What is concept {index}?
  evidence: [smith-2020-example]
  resolves: [The learner can say it]
---

## Intuition

Scale $z$ by $a$; page {index} of the generated store.

## Math

{{{{ equation scale }}}}

## Code

```python witness=double
print("value:", 2.0)
```

## Interactive Demo

{{{{ demo stretch }}}}
"""

PREREQUISITE = """links:
  - to: concept:bench/{target}
    type: prerequisite
    reason: It builds on the page before.
"""

SOURCES = """- id: smith-2020-example
  title: An Example Source
  authors: [A. Smith]
  year: 2020
"""


def slug_of(index: int) -> str:
    return f"concept-{index:05d}"


def page_text(index: int, version: int = 0) -> str:
    links = PREREQUISITE.format(target=slug_of(index - 1)) if index else ""
    return PAGE.format(index=index, slug=slug_of(index), links=links, version=version)


def generate(root: Path, concepts: int) -> None:
    """A store of ``concepts`` pages in one context; page i has page i-1 as prerequisite."""
    (root / "bench").mkdir(parents=True)
    (root / "contexts.yaml").write_text("bench: Benchmark Concepts\n")
    (root / "sources.yaml").write_text(SOURCES)
    for index in range(concepts):
        (root / "bench" / f"{slug_of(index)}.md").write_text(page_text(index))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(concepts: int, database: str | None) -> dict[str, float]:
    """In this process: generate, migrate, ingest fully, then re-ingest twice."""
    from server import migrations
    from server.db import make_engine, unit_of_work
    from server.ingest.service import ingest

    with tempfile.TemporaryDirectory() as tmp, scratch_database(database, tmp) as url:
        root = Path(tmp) / "content"
        generate(root, concepts)
        engine = make_engine(url)
        migrations.upgrade(engine)

        cpu: dict[str, list[float]] = {"unchanged": [], "changed": []}

        def timed(kind: str = "") -> float:
            start, start_cpu = time.perf_counter(), time.process_time()
            with unit_of_work(engine) as session:
                ingest(session, root)
            if kind:
                cpu[kind].append(time.process_time() - start_cpu)
            return time.perf_counter() - start

        before = peak_rss_mib()
        full = timed()
        after_full = peak_rss_mib()
        unchanged = min(timed("unchanged") for _ in range(3))
        changed = []
        for version in (1, 2, 3):
            middle = concepts // 2
            (root / "bench" / f"{slug_of(middle)}.md").write_text(page_text(middle, version))
            changed.append(timed("changed"))
        engine.dispose()
    return {
        "full_s": full,
        "unchanged_s": unchanged,
        "one_changed_s": min(changed),
        "unchanged_cpu_s": min(cpu["unchanged"]),
        "one_changed_cpu_s": min(cpu["changed"]),
        "rss_before_mib": before,
        "rss_full_mib": after_full,
    }


@contextmanager
def scratch_database(admin_url: str | None, tmp: str) -> Iterator[str]:
    """A fresh SQLite file, or a scratch PostgreSQL database made and dropped on ``admin_url``."""
    if admin_url is None:
        yield f"sqlite:///{tmp}/bench.db"
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from server.db import make_engine, normalise_url

    name = f"readingroom_ingest_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(admin_url)).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument(
        "--database", default=None, help="admin URL of a PostgreSQL server (default: SQLite)"
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.database)))
        return
    print(
        f"{'concepts':>9} {'full':>9} {'peak RSS':>10} {'unchanged':>10} {'one changed':>12}"
        "   (process CPU time of the re-ingests)"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        command = [sys.executable, __file__, "--child", str(size)]
        if args.database:
            command += ["--database", args.database]
        out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{size:>9} {row['full_s']:>8.2f}s {row['rss_full_mib']:>6.0f} MiB "
            f"{row['unchanged_s'] * 1000:>8.0f}ms {row['one_changed_s'] * 1000:>10.0f}ms"
            f"   ({row['unchanged_cpu_s'] * 1000:.0f} ms, {row['one_changed_cpu_s'] * 1000:.0f} ms)"
        )
    print("aims at 10,000: peak RSS <= 300 MiB (ratio to aim printed as RSS/300),")
    print(
        f"re-ingest < 1 s; last row: RSS/aim {row['rss_full_mib'] / 300:.2f}, "
        f"unchanged/aim {row['unchanged_s']:.2f}, one-changed/aim {row['one_changed_s']:.2f}"
    )


if __name__ == "__main__":
    main()
