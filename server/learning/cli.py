"""``readingroom plan KEY``: the learning plan to a concept, as the API gives it."""

from __future__ import annotations

import json

import click

from server.cli import database_option, settings_for
from server.db import make_engine, unit_of_work
from server.learning import service
from server.people.identity import LOCAL_NAME


def render_plan(plan: dict[str, object]) -> str:
    """The plan as text: one numbered step per line, each with the reasons that need it."""
    target = plan["target"]
    assert isinstance(target, dict)
    steps = plan["steps"]
    assert isinstance(steps, list)
    lines = [f"Plan to {target['title']} ({target['key']})"]
    if not steps:
        lines.append("  already learned: nothing to do")
    for step in steps:
        mark = {"fully-grounded": "fully grounded", "grounded": "grounded"}.get(
            step["status"], "not grounded"
        )
        lines.append(
            f"{step['position']:>3}. {step['key']}  {step['title']}  "
            f"~{step['learn_time_min']} min  [{mark}]"
        )
        for edge in step["needed_by"]:
            lines.append(f"       needed by {edge['from']}: {edge['reason']}")
    learned = plan["learned_prerequisites"]
    assert isinstance(learned, list)
    lines.append(
        f"{plan['count']} step(s), about {plan['total_time_min']} min; "
        f"{len(learned)} prerequisite(s) already learned"
    )
    return "\n".join(lines) + "\n"


@click.command("plan")
@click.argument("key")
@click.option("--learner", default=LOCAL_NAME, help="Whose progress (default: the local learner).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@database_option
def plan_command(key: str, learner: str, as_json: bool, database: str | None) -> None:
    """Print the learning plan to the concept KEY: unlearned prerequisites in learning order."""
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    try:
        migrations.ensure_current(engine)
        with unit_of_work(engine, write=False) as session:
            plan = service.plan(session, learner, key)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(plan, indent=2, ensure_ascii=False))
    else:
        click.echo(render_plan(plan), nl=False)
