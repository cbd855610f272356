"""``readingroom witness run FILE.py``: run one file in the sandbox and print its result."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from server.errors import ReadingRoomError
from server.witnesses.result import RunResult

UNSAFE_HELP = (
    "UNSAFE: run without the sandbox, with this user's full access to files, secrets and "
    "network. Only for a single trusted local user on their own code. Same as "
    "READINGROOM_UNSAFE_UNCONFINED_WITNESSES=true."
)


# C0 controls but \t and \n, DEL, C1 controls, and the bidirectional overrides and isolates
# that reorder what a terminal shows ("Trojan Source").
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x0D:
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (ESC sequences, ``\\r``, other C0
    and C1 controls, bidi overrides) shown escaped; newlines and tabs kept."""
    return _CONTROLS.sub(_escape, text)


def _read_checks(path: Path) -> list[dict[str, Any]]:
    """A YAML/JSON list of checks, or a witness entry (a mapping with ``checks``).

    Read as content is: at most ``MAX_FILE_BYTES``, strict UTF-8, and loaded by the bounded
    YAML loader (alias expansion and nesting capped before anything is built); problems are
    ``file:line: message``.
    """
    import yaml

    from server.ingest.files import read_content_file
    from server.ingest.problems import Problems
    from server.ingest.yamlmap import YamlDocument, yaml_error_line

    def refuse(line: int, message: str) -> click.BadParameter:
        return click.BadParameter(printable(f"{path}:{line}: {message}"), param_hint="--checks")

    resolved = path.resolve()  # the user named this file: a symlink to it is fine
    problems = Problems()
    text = read_content_file(resolved, str(path), resolved.parent, problems)
    if text is None:
        problem = problems.items[0]
        raise refuse(problem.line, problem.message)
    try:
        data = YamlDocument(text).data
    except yaml.YAMLError as error:
        raise refuse(*yaml_error_line(error, first_line=1)) from None
    if isinstance(data, dict) and "checks" in data:
        data = data["checks"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise refuse(1, "expected a list of checks")
    return data


def _summary(result: RunResult) -> str:
    how = f"exit code {result.exit_code}" if result.signal is None else f"signal {result.signal}"
    lines = [f"{result.status} in {result.duration_ms:.0f} ms ({how})"]
    if not result.confined:
        lines.append("warning: ran WITHOUT the sandbox (unsafe mode)")
    if result.message:
        lines.append(result.message)
    for check in result.checks:
        mark = "ok  " if check.ok else "FAIL"
        lines.append(f"  {mark} {check.name}" + (f": {check.detail}" if check.detail else ""))
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if text:
            lines.append(f"--- {name}")
            lines.append(text.rstrip("\n"))
    return printable("\n".join(lines))


@click.group("witness")
def witness_group() -> None:
    """Code witnesses: run them in the sandbox."""


@witness_group.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.1, max=600),
    default=None,
    help="Wall-clock limit in seconds (default: READINGROOM_WITNESS_TIMEOUT_S, 10).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (DESIGN.md §5).")
@click.option(
    "--checks",
    "checks_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file with the checks to apply (content/README.md syntax); "
    "without it the file passes when it exits 0.",
)
@click.option("--unsafe-no-sandbox", "unsafe", is_flag=True, help=UNSAFE_HELP)
def run(
    file: Path, timeout_s: float | None, as_json: bool, checks_file: Path | None, unsafe: bool
) -> None:
    """Run FILE.py in the sandbox; exit 0 when it passes, 1 otherwise."""
    from server.config import Settings
    from server.witnesses.judge_pool import set_default_pool_size
    from server.witnesses.sandbox import run_in_sandbox

    settings = Settings()
    set_default_pool_size(0)  # one run: its judge starts with it, none is kept waiting
    checks = _read_checks(checks_file) if checks_file else None
    try:
        result = run_in_sandbox(
            file.read_text(encoding="utf-8"),
            checks=checks,
            timeout_s=timeout_s or settings.witness_timeout_s,
            unconfined=unsafe or settings.unsafe_unconfined_witnesses,
        )
    except ReadingRoomError as error:
        click.echo(printable(f"error: {error.message}"), err=True)
        for detail in error.details:
            click.echo(printable(str(detail)), err=True)
        sys.exit(1)
    click.echo(result.model_dump_json(indent=2) if as_json else _summary(result))
    if result.status == "sandbox-unavailable":
        click.echo(f"error: {printable(result.message or '')}", err=True)
    sys.exit(0 if result.passed else 1)


def check_through_queue(
    database_url: str, engine: Any, todo: list[Any], jobs: int | None, force: bool
) -> list[Any]:
    """``readingroom check`` on PostgreSQL: defer a job per witness and follow them.

    Workers anywhere take the jobs; when none has been heard from, this command runs a worker
    itself until the queue has caught up (its sandbox must work, as for any run here).
    """
    import os

    from server.witnesses import jobs as queue

    since = queue.newest_run_ids(engine, [job.key for job in todo])
    app = queue.job_app(database_url)
    with app.open():
        ids = queue.defer_checks(app, engine, todo, priority=queue.USER_PRIORITY, force=force)
    here = None
    if queue.live_workers(engine) == 0:
        from server.cli import _require_sandbox

        _require_sandbox()
        click.echo("no `readingroom worker` is taking jobs: running them here", err=True)
        options = queue.WorkerOptions(concurrency=jobs or max(1, os.cpu_count() or 1), wait=False)
        here = queue.BackgroundWorker(database_url, engine, options).start()
    else:
        click.echo(f"{len(ids)} job(s) in the queue for the workers", err=True)
    try:
        with click.progressbar(
            length=len(ids), label="checking witnesses", file=sys.stderr
        ) as bar:
            ended = queue.follow(
                engine,
                ids,
                on_done=lambda _key, _status: bar.update(1),
                still_running=None if here is None else here.running,
            )
    except KeyboardInterrupt:
        click.echo("stopped following; the jobs stay in the queue for the workers", err=True)
        raise
    finally:
        if here is not None:
            here.stop()
    return queue.outcomes_of(engine, ended, since)


def check_mutants(
    database_url: str, keys: list[str], jobs: int | None, force: bool, record: Path | None
) -> int:
    """``readingroom check --mutants``: measure each witness's strength; the exit code.

    The witnesses themselves are checked first (cached like any check); a witness that does
    not pass has no meaningful strength and fails the command.
    """
    from server import migrations
    from server.db import make_engine, unit_of_work
    from server.witnesses import service, strength
    from server.witnesses.mutants import DEFAULT_CAP

    engine = make_engine(database_url)
    try:
        migrations.ensure_current(engine)
        with unit_of_work(engine, write=False) as session:
            witnesses = service.select_witnesses(session, keys)
            todo, outcomes = service.plan_checks(session, witnesses, force=force)
        with click.progressbar(
            length=len(todo), label="checking witnesses", file=sys.stderr
        ) as bar:
            done = service.run_jobs(todo, workers=jobs, on_done=lambda _j, _r: bar.update(1))
        with unit_of_work(engine) as session:
            outcomes += service.record_runs(session, done)
        failing = {o.key: o.status for o in outcomes if o.status != "passed"}
        passing = [w for w in witnesses if w.key not in failing]
        with unit_of_work(engine, write=False) as session:
            plans, mutant_jobs = strength.plan_mutants(session, passing, DEFAULT_CAP, force)
        measures, ran = [], []
        with click.progressbar(
            length=len(mutant_jobs), label="running mutants", file=sys.stderr
        ) as bar:
            for plan in plans:  # recorded witness by witness: an interrupted run keeps its work
                mine = [j for j in mutant_jobs if j.key.partition("#")[0] == plan.witness.key]
                done_here = strength.run_mutants(mine, jobs, on_done=lambda _j, _r: bar.update(1))
                with unit_of_work(engine) as session:
                    measures += strength.record_mutant_runs(session, [plan], done_here)
                ran += done_here
    finally:
        engine.dispose()
    measured = {m.key: m for m in measures}
    cached = sum(plan.cached for plan in plans)
    click.echo(mutant_table(witnesses, measured, failing))
    below = [m.key for m in measures if not m.meets_target]
    unmeasured = [w.key for w in witnesses if w.key not in measured]
    click.echo(
        f"{len(witnesses)} witness(es), at most {DEFAULT_CAP} mutants each: "
        f"{len(measures) - len(below)} meet the target ({strength.TARGET:.0%}), {len(below)} "
        f"below, {len(unmeasured)} not measured; {len(ran)} mutant run(s), {cached} cached"
    )
    if record is not None:
        write_record(record, [p for p in plans if p.witness.key in measured], measured)
        click.echo(f"strength record written to {record}")
    return 1 if below or unmeasured else 0


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def mutant_table(witnesses: list[Any], measured: dict[str, Any], failing: dict[str, str]) -> str:
    """One row per witness (mutants, caught, share, verdict), its survivors under it."""
    width = max([len(w.key) for w in witnesses] + [7])
    lines = [f"{'witness':<{width}}  mutants  caught  share  result"]
    for witness in witnesses:
        result = measured.get(witness.key)
        if result is None:
            why = failing.get(witness.key)
            status = f"not measured: the witness {why}" if why else "not measured"
            lines.append(f"{witness.key:<{width}}  {'-':>7}  {'-':>6}  {'-':>5}  {status}")
            continue
        verdict = "weak" if result.weak else ("ok" if result.meets_target else "BELOW TARGET")
        notes = [f"of {result.total}"] if result.total > result.mutants else []
        declared = len(result.survivors) - len(result.unexplained)
        notes += [f"{declared} equivalent"] if declared else []
        of = f" ({'; '.join(notes)})" if notes else ""
        lines.append(
            f"{witness.key:<{width}}  {result.mutants:>7}  {result.caught:>6}  "
            f"{_share(result.share):>5}  {verdict}{of}"
        )
        for survivor in result.survivors:
            why = result.equivalent.get(survivor["id"])
            note = f"  [equivalent: {why}]" if why else ""
            lines.append(f"    survivor {survivor['id']}  {survivor['description']}{note}")
    return printable("\n".join(lines))


def write_record(path: Path, plans: list[Any], measured: dict[str, Any]) -> None:
    """The committed strength record the content gate reads: by witness key, hash-keyed."""
    import json

    from server.witnesses import strength
    from server.witnesses.mutants import DEFAULT_CAP

    previous: dict[str, Any] = {}
    if path.exists():
        previous = json.loads(path.read_text(encoding="utf-8")).get("witnesses", {})
    for plan in plans:
        result = measured[plan.witness.key]
        previous[plan.witness.key] = {
            "code_hash": strength.code_hash(plan.witness.code, plan.witness.checks),
            "mutants": result.mutants,
            "total": result.total,
            "caught": result.caught,
            "survivors": [s["id"] for s in result.survivors],
            "descriptions": {s["id"]: s["description"] for s in result.survivors},
        }
    data = {
        "target": strength.TARGET,
        "cap": DEFAULT_CAP,
        "witnesses": dict(sorted(previous.items())),
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
