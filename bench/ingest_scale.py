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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import gen
from bench.servers import ROOT, scratch_postgresql

CONTEXT = "bench"
SOURCE = "author-2020-source-00000"


def page_text(index: int, version: int = 0) -> str:
    """Page ``index`` of the chain: it needs the page before it; its math and code are every
    page's."""
    before = f"concept:{CONTEXT}/{gen.concept_slug(index - 1)}"
    links = [(before, "prerequisite", "It builds on the page before.")] if index else []
    slug = gen.concept_slug(index)
    return gen.page_text(index, CONTEXT, slug, links, SOURCE, version, scale=0)


def generate(root: Path, concepts: int) -> None:
    """A store of ``concepts`` pages in one context; page i has page i-1 as prerequisite."""
    (root / CONTEXT).mkdir(parents=True)
    (root / "contexts.yaml").write_text(f"{CONTEXT}: Benchmark Concepts\n")
    (root / "sources.yaml").write_text(gen.sources_text([SOURCE]))
    for index in range(concepts):
        (root / CONTEXT / f"{gen.concept_slug(index)}.md").write_text(page_text(index))


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
        middle = root / CONTEXT / f"{gen.concept_slug(concepts // 2)}.md"
        for version in (1, 2, 3):
            middle.write_text(page_text(concepts // 2, version))
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
    with scratch_postgresql(admin_url, "readingroom_ingest") as url:
        yield url


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
