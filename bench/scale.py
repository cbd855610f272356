"""Lists, the graph and pages at scale: 100, 1,000 and 10,000 generated concepts.

    python bench/scale.py [--sizes 100,1000,10000] [--samples 20] [--only p99]

For each size a content tree is generated (``bench/gen.py``), ingested with ``readingroom
ingest``, and served by ``readingroom serve`` (no start-up ingest, no start-up witness check).
One keep-alive client then measures, in milliseconds on loopback:

- the first page of each list (``/api/concepts``, ``/api/sources``, ``/api/claims``, the review
  queue, ``/api/notes``) and the index page: the first request and the median of the rest;
- the whole graph: the first request (it builds the cache) and the median from the cache;
- a cold concept page (a page never asked for before, JSON and HTML) and a warm one;
- the p99 of a cached route alone, and while another client loops the whole graph.

Aims at 10,000 concepts: every list page < 20 ms, whole graph from cache < 100 ms, cold
concept page < 10 ms, cached p99 under the graph loop < 2x alone. ``--only p99`` measures the
last of these alone.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gen import concept_key, write_tree
from bench.servers import env, readingroom, serving

LISTS = {
    "concepts, first page": "/api/concepts",
    "sources, first page": "/api/sources",
    "claims, first page": "/api/claims",
    "review queue, first page": "/api/claims?needs=review",
    "notes, first page": "/api/notes",
    "index page": "/",
}
LIST_AIM_MS, GRAPH_AIM_MS, COLD_AIM_MS, P99_AIM = 20.0, 100.0, 10.0, 2.0


class Client:
    """One keep-alive connection; ``get`` answers the milliseconds a 200 took."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> float:
        started = time.perf_counter()
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        return elapsed


def page_path(i: int, html: bool = False) -> str:
    path = concept_key(i).partition(":")[2]
    return f"/concepts/{path}" if html else f"/api/concepts/{path}"


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


Figures = dict[str, tuple[float, float | None]]


def measure(port: int, n: int, samples: int, only_p99: bool = False) -> Figures:
    """name -> (figure, its aim or None); figures in ms except the p99 ratio."""
    client = Client(port)
    # Warm the process (templates, statements) on a page the measurements never ask for.
    for path in (page_path(n - 1), page_path(n - 1, html=True), "/api/concepts?limit=1"):
        client.get(path)
    if only_p99:
        client.get("/api/graph")  # the cache the loop is served from
        return p99_figures(client, port, page_path(0))
    figures: Figures = {}
    for name, path in LISTS.items():
        first = client.get(path)  # the claims lists read their order here, once per revision
        rest = statistics.median(client.get(path) for _ in range(samples))
        figures[f"{name}: first"] = (first, None)
        figures[f"{name}: median"] = (rest, LIST_AIM_MS)
    figures["whole graph: first (builds the cache)"] = (client.get("/api/graph"), None)
    warm_graph = statistics.median(client.get("/api/graph") for _ in range(max(3, samples // 4)))
    figures["whole graph: from the cache"] = (warm_graph, GRAPH_AIM_MS)
    step = max(1, n // (samples + 1))
    cold = [client.get(page_path(i)) for i in range(1, n, step)][:samples]
    figures["cold concept page (JSON)"] = (statistics.median(cold), COLD_AIM_MS)
    cold_html = [client.get(page_path(i, html=True)) for i in range(2, n, step)][:samples]
    figures["cold concept page (HTML)"] = (statistics.median(cold_html), COLD_AIM_MS)
    warm = page_path(0)
    client.get(warm)
    figures["warm concept page (JSON)"] = (
        statistics.median(client.get(warm) for _ in range(samples)),
        None,
    )
    return figures | p99_figures(client, port, warm)


def p99_figures(client: Client, port: int, warm: str) -> Figures:
    """The p99 of the cached page ``warm`` alone, and while another client loops the graph."""
    client.get(warm)
    alone = [client.get(warm) for _ in range(500)]
    stop = threading.Event()

    def loop_graph() -> None:
        looping = Client(port)
        while not stop.is_set():
            looping.get("/api/graph")

    looper = threading.Thread(target=loop_graph, daemon=True)
    looper.start()
    time.sleep(0.2)
    try:
        loaded = [client.get(warm) for _ in range(500)]
    finally:
        stop.set()
        looper.join(timeout=120)
    return {
        "cached page p99 alone": (p99(alone), None),
        "cached page p99 while the graph loops": (p99(loaded), None),
        "  ratio (under the loop / alone)": (p99(loaded) / p99(alone), P99_AIM),
    }


def run_size(n: int, samples: int, only_p99: bool = False) -> Figures:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        write_tree(tmp / "content", n)
        database = f"sqlite:///{tmp}/scale.db"
        settings = {"READINGROOM_INGEST_ON_START": "false"}
        started = time.perf_counter()
        subprocess.run(
            [*readingroom(), "ingest", str(tmp / "content")], env=env(database, settings),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"{n} concepts: generated and ingested in {time.perf_counter() - started:.1f} s")
        with serving(tmp, database, settings=settings, timeout=600) as (base, _):
            return measure(int(base.rpartition(":")[2]), n, samples, only_p99)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--only", choices=["p99"], default=None, help="measure only this part")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {n: run_size(n, args.samples, args.only == "p99") for n in sizes}
    names = list(results[sizes[0]])
    print()
    header = "".join(f"{n:>10}" for n in sizes)
    print(f"{'ms (ratio where named)':<44}{header}  aim at {sizes[-1]}")
    for name in names:
        row = "".join(f"{results[n][name][0]:>10.2f}" for n in sizes)
        figure, aim = results[sizes[-1]][name]
        verdict = "" if aim is None else f"< {aim:g} {'met' if figure < aim else 'SHORT'}"
        print(f"{name:<44}{row}  {verdict}")
    cold = "cold concept page (JSON)"
    if cold not in results[sizes[0]]:
        return
    growth = results[sizes[-1]][cold][0] / results[sizes[0]][cold][0]
    print(f"cold concept page, {sizes[-1]} vs {sizes[0]} concepts: {growth:.2f}x (aim: about 1)")


if __name__ == "__main__":
    main()
