"""Learning paths on a generated graph: plan, fringe, downstream, focus and derived status.

    python bench/learning.py [--concepts 10000] [--edges 30000] [--repeat 20] [--seed 1]

The graph is layered and acyclic (each concept's prerequisites come from earlier layers), and
a third of the concepts are marked learned. Prints the median and worst time of each operation
in milliseconds against the 50 ms aim, with its ratio to that aim (below 1 is within it).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from server.learning.graph import PrereqGraph

AIM_MS = 50.0


def generate(concepts: int, edges: int, seed: int) -> PrereqGraph:
    rng = random.Random(seed)
    keys = [f"concept:bench/c{i}" for i in range(concepts)]
    links: set[tuple[str, str]] = set()
    while len(links) < edges:
        later = rng.randrange(1, concepts)
        # mostly near prerequisites (a deep graph), some far ones (long-range structure)
        span = rng.choice((10, 100, later))
        earlier = rng.randrange(max(0, later - span), later)
        links.add((keys[later], keys[earlier]))
    return PrereqGraph.build(
        ((k, k, rng.choice((None, 20, 45))) for k in keys),
        ((a, b, "prerequisite", "needs it") for a, b in sorted(links)),
    )


def measure(repeat: int, action: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concepts", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    start = time.perf_counter()
    graph = generate(args.concepts, args.edges, args.seed)
    built_ms = (time.perf_counter() - start) * 1000
    rng = random.Random(args.seed + 1)
    keys = graph.order
    learned = set(rng.sample(keys, len(keys) // 3))
    local = {k: rng.random() > 0.05 for k in keys}
    grounded = graph.fully_grounded(local)
    deep = keys[-1]  # the last in learning order: the longest plans
    deep_unlearned = next(k for k in reversed(keys) if k not in learned)
    root = keys[0]  # first in learning order: the widest downstream
    middle = keys[len(keys) // 2]

    def regrounding() -> object:
        moved = dict(local)
        moved[middle] = not moved[middle]
        return graph.regrounded(grounded, moved, [middle])

    cases: list[tuple[str, Callable[[], object]]] = [
        ("plan to the deepest concept, nothing learned", lambda: graph.plan(deep, set())),
        ("plan to the deepest concept, 1/3 learned", lambda: graph.plan(deep_unlearned, learned)),
        ("fringe, 1/3 learned", lambda: graph.fringe(learned)),
        ("downstream of the first concept", lambda: graph.downstream(root)),
        ("focus both ways, depth 2", lambda: graph.focus(middle, "both", 2)),
        ("derived status, whole graph", lambda: graph.fully_grounded(local)),
        ("derived status, one concept's evidence moved", regrounding),
    ]
    print(f"graph: {len(keys)} concepts, {sum(len(v) for v in graph.prereqs.values())} "
          f"prerequisite edges, built in {built_ms:.0f} ms (once per store revision)")  # fmt: skip
    print(f"{'operation':<48} {'median ms':>10} {'worst ms':>10} {'/ aim':>7}")
    for name, action in cases:
        median, worst = measure(args.repeat, action)
        print(f"{name:<48} {median:>10.2f} {worst:>10.2f} {median / AIM_MS:>7.2f}")


if __name__ == "__main__":
    main()
