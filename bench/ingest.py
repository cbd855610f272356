"""Ingest of 1,000 generated concept pages, then a re-ingest with nothing changed.

    python bench/ingest.py [--pages 1000] [--database URL]

Prints both times and their ratio (aim: the unchanged re-ingest at least 20x faster).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from server import migrations
from server.db import make_engine, unit_of_work
from server.ingest.service import ingest

TEMPLATE = Path(__file__).resolve().parent.parent / "tests/fixtures/content/valid"


def generate(root: Path, pages: int) -> None:
    (root / "bench").mkdir(parents=True)
    (root / "contexts.yaml").write_text("bench: Benchmark Concepts\n")
    shutil.copyfile(TEMPLATE / "sources.yaml", root / "sources.yaml")
    text = (TEMPLATE / "demo-context" / "alpha.md").read_text()
    for index in range(pages):
        slug = f"page-{index:04d}"
        following = f"page-{(index + 1) % pages:04d}"
        page = (
            text.replace("concept:demo-context/beta", f"concept:bench/{following}")
            .replace("demo:demo-context/alpha/stretch", f"demo:bench/{slug}/stretch")
            .replace("title: Alpha", f"title: Generated page {index}")
        )
        (root / "bench" / f"{slug}.md").write_text(page)


def timed(engine_url: str, root: Path) -> float:
    engine = make_engine(engine_url)
    start = time.perf_counter()
    with unit_of_work(engine) as session:
        ingest(session, root)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--database", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "content"
        generate(root, args.pages)
        url = args.database or f"sqlite:///{tmp}/bench.db"
        migrations.upgrade(make_engine(url))
        full = timed(url, root)
        unchanged = statistics.median(timed(url, root) for _ in range(args.repeat))
    print(f"pages                      {args.pages}")
    print(f"full ingest                {full * 1000:10.1f} ms")
    print(f"unchanged re-ingest (med.) {unchanged * 1000:10.1f} ms")
    print(f"ratio full / unchanged     {full / unchanged:10.1f}x   (aim: >= 20x)")


if __name__ == "__main__":
    main()
