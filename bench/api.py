"""GET /api/concepts/{context}/{slug} on loopback, against a bare Starlette endpoint
returning the same bytes. Both run as one uvicorn worker; wrk drives 8 connections.

    python bench/api.py [--seconds 10] [--path /api/concepts/generative-models/normalizing-flows]

Needs wrk (Debian package ``wrk``). Prints both rates and their ratio (aim: >= 0.5).
The start-up witness check is off: its runs would change the served page during the
measurement. The bytes are compared with the bare endpoint's before and after.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import free_port, running, wait_for

BARE_APP = """
import sys
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
BODY = open(sys.argv[1], "rb").read()
async def page(request):
    return Response(BODY, media_type="application/json")
app = Starlette(routes=[Route("{path}", page)])
import uvicorn
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""
OUR_APP = """
import sys
import uvicorn
from server.app import create_app
from server.config import Settings
# no start-up witness check: its runs would change the page while it is measured
app = create_app(Settings(database_url=sys.argv[1], check_witnesses_on_start=False))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def wrk(url: str, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", url], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match or "Non-2xx" in out:
        raise SystemExit(f"wrk failed:\n{out}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--path", default="/api/concepts/generative-models/normalizing-flows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours_port, bare_port = free_port(), free_port()
        with running(OUR_APP, f"sqlite:///{tmp}/bench.db", str(ours_port)) as ours:
            body = wait_for(f"http://127.0.0.1:{ours_port}{args.path}", ours)
            (Path(tmp) / "body.json").write_bytes(body)
            bare_app = BARE_APP.replace("{path}", args.path)
            with running(bare_app, f"{tmp}/body.json", str(bare_port)) as bare:
                assert wait_for(f"http://127.0.0.1:{bare_port}{args.path}", bare) == body
                bare_rate = wrk(f"http://127.0.0.1:{bare_port}{args.path}", args.seconds)
                ours_rate = wrk(f"http://127.0.0.1:{ours_port}{args.path}", args.seconds)
                after = wait_for(f"http://127.0.0.1:{ours_port}{args.path}", ours)
                if after != body:
                    raise SystemExit("the page changed during the measurement: ratio not valid")
    print(f"page bytes                 {len(body)}")
    print(f"bare Starlette             {bare_rate:10.0f} req/s")
    print(f"reading room               {ours_rate:10.0f} req/s")
    print(f"ratio ours / bare          {ours_rate / bare_rate:10.2f}   (aim: >= 0.5)")


if __name__ == "__main__":
    main()
