"""Documentation contracts: every CLI command and option and every setting is in the README."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli import main
from server.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found.extend(commands(command, f"{prefix}{name} "))
    return found


def test_every_command_is_in_the_readme() -> None:
    for name, _ in commands(main):
        top = name.split(" ")[0]
        assert f"readingroom {top}" in README, f"README does not mention `readingroom {top}`"
        leaf = name.split(" ")[-1]
        assert leaf in README, f"README does not mention `{name}`"


def test_every_option_is_in_the_readme() -> None:
    for name, command in commands(main):
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in param.opts:
                    if flag.startswith("--"):
                        assert flag in README, f"README does not document {flag} of `{name}`"


def test_every_setting_is_in_the_readme() -> None:
    for field in Settings.model_fields:
        variable = f"READINGROOM_{field.upper()}"
        assert variable in README, f"README does not document {variable}"


def test_the_readme_links_the_authoring_guide() -> None:
    assert "content/README.md" in README
    assert (ROOT / "content" / "README.md").exists()
