"""Pages and prompts through ``readingroom serve`` itself, against a bare Starlette app serving
the same bytes: the concept JSON, the HTML concept page, a prompt and an object by key.

    python bench/pages.py [--seconds 10] [--repeat 3] [--connections 8]

Both servers run side by side in one run, on loopback; wrk (Debian package ``wrk``) drives
each route with one thread and ``--connections`` connections, bare then ours, ``--repeat``
times, and the median ratio is printed (aim: each >= 0.6). The start-up witness check is off
(it would change the served bytes during the measurement), and the bytes are compared with
the bare app's before and after.

On Linux the CPU time each server process spent per request is printed too, and its ratio
(bare over ours): on a machine shared with other work that ratio moves far less than the
rates do, which depend on what else ran in the same seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import free_port, running, serving, wait_for

NF = "generative-models/normalizing-flows"
ROUTES = {
    "concept JSON": f"/api/concepts/{NF}",
    "HTML concept page": f"/concepts/{NF}",
    "prompt": f"/api/objects/concept:{NF}/prompt",
    "object by key": f"/api/objects/claim:{NF}/rezende-definition",
}
AIM = 0.6
BARE_APP = """
import json, sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
served = json.load(open(sys.argv[1]))
def route(path, body_file, media_type):
    body = open(body_file, "rb").read()
    async def endpoint(request):
        return Response(body, headers={"content-type": media_type})
    return Route(path, endpoint)
app = Starlette(routes=[route(*item) for item in served])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read()), str(response.headers["content-type"])


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process and its threads so far (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int, pid: int) -> tuple[float, float | None]:
    """Requests per second, and the server's CPU microseconds per request (Linux)."""
    before = cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    after = cpu_seconds(pid)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    if not match or not done or "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk failed on {url}:\n{out}")
    spent = None if before is None or after is None else (after - before) * 1e6
    return float(match.group(1)), None if spent is None else spent / max(1, int(done.group(1)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in ROUTES}
    cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in ROUTES}
    sizes: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory() as tmp_name,
        serving(Path(tmp_name), f"sqlite:///{tmp_name}/bench.db") as (ours_url, ours),
    ):
        tmp = Path(tmp_name)
        served = []
        for n, (name, path) in enumerate(ROUTES.items()):
            body, media_type = fetch(ours_url + path)
            (tmp / f"body{n}").write_bytes(body)
            served.append([path, str(tmp / f"body{n}"), media_type])
            sizes[name] = len(body)
        (tmp / "served.json").write_text(json.dumps(served))
        bare_port = free_port()
        bare_url = f"http://127.0.0.1:{bare_port}"
        with running(BARE_APP, str(tmp / "served.json"), str(bare_port)) as bare:
            wait_for(bare_url + ROUTES["concept JSON"], bare)

            def same_bytes(when: str) -> None:
                for name, path in ROUTES.items():
                    if fetch(ours_url + path) != fetch(bare_url + path):
                        raise SystemExit(f"{name}: the served bytes differ {when}")

            same_bytes("before the measurement")
            load = (args.seconds, args.connections)
            for _ in range(args.repeat):
                for name, path in ROUTES.items():
                    bare_rate, bare_cpu = wrk(bare_url + path, *load, bare.pid)
                    ours_rate, ours_cpu = wrk(ours_url + path, *load, ours.pid)
                    results[name].append((bare_rate, ours_rate))
                    if bare_cpu and ours_cpu:
                        cpu[name].append((bare_cpu, ours_cpu))
            same_bytes("after the measurement")
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, median of {args.repeat}, loopback")
    print(f"{'route':<20} {'bytes':>8} {'bare req/s':>11} {'ours req/s':>11} {'ratio':>6}  aim")
    for name, runs in results.items():
        ratio = statistics.median(o / b for b, o in runs)
        bare_rate = statistics.median(b for b, _ in runs)
        ours_rate = statistics.median(o for _, o in runs)
        verdict = "met" if ratio >= AIM else "SHORT"
        print(
            f"{name:<20} {sizes[name]:>8} {bare_rate:>11.0f} {ours_rate:>11.0f} {ratio:>6.2f}"
            f"  >= {AIM} {verdict}"
        )
    if all(cpu.values()):
        print("server CPU per request, median (ratio: bare over ours)")
        print(f"{'route':<20} {'bare us':>8} {'ours us':>8} {'ratio':>6}")
        for name, spent in cpu.items():
            bare_us = statistics.median(b for b, _ in spent)
            ours_us = statistics.median(o for _, o in spent)
            ratio = statistics.median(b / o for b, o in spent)
            print(f"{name:<20} {bare_us:>8.1f} {ours_us:>8.1f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
