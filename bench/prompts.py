"""Grounded prompt for the largest object: in-process build time and the API on loopback.

    python bench/prompts.py [--repeat 2000] [--requests 1000] [--content content]

The largest object is the one whose grounded prompt, unbudgeted, is longest. In-process
figures (aim: under 2 ms median for the request path):

- builder: ``build_prompt`` + text rendering over already-gathered evidence (pure);
- request path: what a request does, in a fresh read session each time (resolve the key,
  check the store fingerprint, reuse gathered evidence, read my note, build, render);
- cold: the same with the evidence cache cleared first (gathering from the store).

Then ``GET /api/objects/{key}/prompt`` through uvicorn in a subprocess, one keep-alive
httpx client: median latency and requests per second, side by side with a bare async
endpoint in the same server returning the same bytes (the ceiling).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import ROOT, free_port, running, wait_for
from server import migrations
from server.config import Settings
from server.db import make_engine, unit_of_work
from server.ingest.service import ingest
from server.models import ObjectKey
from server.tutor import cache
from server.tutor.builder import build_prompt
from server.tutor.formats import render_text
from server.tutor.service import learner_for, prompt_for_key

SERVER = """
import sys
import uvicorn
from fastapi.responses import PlainTextResponse
from server.app import create_app
from server.config import Settings
from server.db import unit_of_work
from server.tutor.service import prompt_for_key

settings = Settings(database_url=sys.argv[1], ingest_on_start=False, check_witnesses_on_start=False)
app = create_app(settings)
body = {}


@app.get("/bench/bare/{key:path}")
async def bare(key: str) -> PlainTextResponse:
    # The ceiling: the same bytes from an async endpoint with no session and no work.
    if key not in body:
        with unit_of_work(app.state.engine, write=False) as session:
            body[key] = prompt_for_key(session, settings, key)
    return PlainTextResponse(body[key])


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def median_ms(run: Callable[[], object], repeat: int) -> float:
    for _ in range(min(50, repeat)):
        run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        run()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def largest_object(url: str) -> tuple[str, int]:
    engine = make_engine(url)
    unbudgeted = Settings(database_url=url, prompt_budget_chars=10**9)
    with unit_of_work(engine, write=False) as session:
        keys = list(session.exec(select(ObjectKey.key).where(ObjectKey.status == "active")))
        sizes = {k: len(str(prompt_for_key(session, unbudgeted, k))) for k in keys}
    engine.dispose()
    key = max(sorted(sizes), key=lambda k: sizes[k])
    return key, sizes[key]


def in_process(url: str, key: str, repeat: int) -> dict[str, float]:
    settings = Settings(database_url=url)
    learner = learner_for(settings)
    engine = make_engine(url)

    def request_path() -> object:
        with unit_of_work(engine, write=False) as session:
            return prompt_for_key(session, settings, key, learner=learner)

    def cold() -> object:
        cache.clear()
        return request_path()

    with unit_of_work(engine, write=False) as session:
        gathered = cache.evidence_for(session, cache.snapshot(session), key)

    def builder() -> object:
        prompt = build_prompt(
            gathered, site_name=settings.site_name, budget_chars=settings.prompt_budget_chars
        )
        return render_text(prompt)

    figures = {
        "builder": median_ms(builder, repeat),
        "request path": median_ms(request_path, repeat),
        "cold": median_ms(cold, max(20, repeat // 20)),
        "chars": float(len(str(request_path()))),
    }
    engine.dispose()
    return figures


def latency(client: httpx.Client, path: str, requests: int) -> tuple[float, float, bytes]:
    """Median latency (ms) and rate (req/s) of ``requests`` sequential GETs, after warm-up."""
    for _ in range(50):
        client.get(path).raise_for_status()
    times = []
    began = time.perf_counter()
    for _ in range(requests):
        start = time.perf_counter_ns()
        response = client.get(path)
        times.append(time.perf_counter_ns() - start)
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    return statistics.median(times) / 1e6, requests / elapsed, response.content


def through_api(url: str, key: str, requests: int) -> dict[str, tuple[float, float, bytes]]:
    port = free_port()
    with running(SERVER, url, str(port)) as server:
        wait_for(f"http://127.0.0.1:{port}/bench/bare/{key}", server, timeout=60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            ours = latency(client, f"/api/objects/{key}/prompt", requests)
            bare = latency(client, f"/bench/bare/{key}", requests)
    assert ours[2] == bare[2], "the bare endpoint serves the same bytes"
    return {"ours": ours, "bare": bare}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--content", type=Path, default=ROOT / "content")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        migrations.upgrade(engine)
        with unit_of_work(engine) as session:
            ingest(session, args.content)
        engine.dispose()
        key, full = largest_object(url)
        figures = in_process(url, key, args.repeat)
        api = through_api(url, key, args.requests)
    print(f"largest object             {key}")
    print(f"grounded prompt chars      {full} unbudgeted, {figures['chars']:.0f} within budget")
    print(f"builder (pure) median      {figures['builder']:8.3f} ms")
    print(f"request path median        {figures['request path']:8.3f} ms   (aim: < 2 ms)")
    print(f"cold (gather) median       {figures['cold']:8.3f} ms")
    (ours_ms, ours_rate, body), (bare_ms, bare_rate, _) = api["ours"], api["bare"]
    print(f"API on loopback, one keep-alive httpx client, {len(body)} bytes:")
    print(f"  GET .../prompt           {ours_ms:8.3f} ms median {ours_rate:8.0f} req/s")
    print(f"  bare async endpoint      {bare_ms:8.3f} ms median {bare_rate:8.0f} req/s")
    print(f"  ratio ours / bare rate   {ours_rate / bare_rate:8.2f}")


if __name__ == "__main__":
    main()
