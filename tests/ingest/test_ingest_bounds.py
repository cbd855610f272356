"""Hostile content trees: each refusal is a ``file:line: message`` and nothing is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from server.cli import main
from server.db import unit_of_work
from server.errors import ContentError
from server.ingest.files import MAX_FILE_BYTES
from server.ingest.service import ingest
from server.ingest.yamlmap import MAX_DEPTH, YamlDocument, YamlLimitError
from server.models import Concept, ObjectKey
from tests.conftest import FIXTURES

CASES = FIXTURES / "content" / "cases"
ALPHA = "content/demo-context/alpha.md"
ROOT = Path(__file__).resolve().parents[2]


def problems_of(engine: Engine, root: Path) -> list[str]:
    with pytest.raises(ContentError) as caught, unit_of_work(engine) as session:
        ingest(session, root)
    return [str(d).replace(str(root), "content") for d in caught.value.details]


def nothing_written(engine: Engine) -> bool:
    with unit_of_work(engine, write=False) as session:
        concepts = session.exec(select(func.count()).select_from(Concept)).one()
        keys = session.exec(select(func.count()).select_from(ObjectKey)).one()
    return concepts == 0 and keys == 0


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "alias-bomb",  # nine levels of nine aliases: 387 million nodes from 2.6 KB
            [
                f"{ALPHA}:57: YAML alias expansion is over the limit of 100000 nodes "
                "(after 37 aliases)"
            ],
        ),
        ("too-many-aliases", [f"{ALPHA}:53: YAML has more aliases than the limit of 200"]),
        ("recursive-alias", [f"{ALPHA}:52: YAML alias *me is inside its own anchor"]),
        ("deep-check-input", [f"{ALPHA}:31: YAML nests deeper than the limit of 32 levels"]),
        (
            "check-over-budget",
            [
                f"{ALPHA}:26: witness 'double': check 2: kernel spec refused: "
                "spec.dim = 100000000 is over the limit of 256",
                f"{ALPHA}:32: witness 'double': check 3: a normalisation grid of 2000 ** 3 "
                "cells is over the limit of 4000000",
            ],
        ),
        (
            "demo-over-budget",
            [
                f"{ALPHA}:50: demo 'stretch': flow spec refused: "
                "spec.layers[0].bins = 30000 is over the limit of 256"
            ],
        ),
        (
            "invalid-utf8",
            [f"{ALPHA}:3: is not valid UTF-8: byte 0xe9 at column 40 (invalid continuation byte)"],
        ),
    ],
)
def test_a_hostile_concept_file_is_refused_at_its_line(
    engine: Engine, content_copy: Path, case: str, expected: list[str]
) -> None:
    shutil.copyfile(CASES / f"{case}.md", content_copy / "demo-context" / "alpha.md")
    assert problems_of(engine, content_copy) == expected
    assert nothing_written(engine)


def test_a_file_over_the_size_cap_is_refused(engine: Engine, content_copy: Path) -> None:
    alpha = content_copy / "demo-context" / "alpha.md"
    padding = "\n" + "x" * 100 + "\n"
    alpha.write_text(alpha.read_text() + padding * (MAX_FILE_BYTES // len(padding) + 1))
    assert problems_of(engine, content_copy) == [
        f"{ALPHA}:1: is over the size limit of {MAX_FILE_BYTES} bytes"
    ]
    assert nothing_written(engine)


def test_a_file_just_under_the_size_cap_is_read(engine: Engine, content_copy: Path) -> None:
    alpha = content_copy / "demo-context" / "alpha.md"
    text = alpha.read_text()
    alpha.write_text(text + "x" * (MAX_FILE_BYTES - len(text.encode())))
    with unit_of_work(engine) as session:
        assert ingest(session, content_copy).parsed == 2


def test_invalid_utf8_in_sources_yaml_is_a_problem_not_a_traceback(
    engine: Engine, content_copy: Path
) -> None:
    sources = content_copy / "sources.yaml"
    sources.write_bytes(sources.read_bytes() + b"\n# \xff\xfe\n")
    [problem] = problems_of(engine, content_copy)
    assert problem.startswith("content/sources.yaml:")
    assert "is not valid UTF-8: byte 0xff" in problem
    assert nothing_written(engine)


def test_an_alias_bomb_in_sources_yaml_is_refused(engine: Engine, content_copy: Path) -> None:
    laughs = ["- id: bomb", "  authors: [a]", "  year: 2020", "  title: &l0 [lol, lol, lol]"]
    for level in range(1, 14):
        laughs.append(f"  venue{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 3)}]")
    (content_copy / "sources.yaml").write_text("\n".join(laughs) + "\n")
    [problem] = problems_of(engine, content_copy)
    assert problem.startswith("content/sources.yaml:")
    assert "YAML alias expansion is over the limit of 100000 nodes" in problem


def test_deep_block_nesting_is_refused_as_well_as_flow_nesting() -> None:
    text = "".join(f"{'  ' * level}k{level}:\n" for level in range(MAX_DEPTH + 5)) + "  " * 40 + "v"
    with pytest.raises(YamlLimitError) as caught:
        YamlDocument(text)
    assert caught.value.message == f"YAML nests deeper than the limit of {MAX_DEPTH} levels"
    assert caught.value.line == MAX_DEPTH


def test_a_few_ordinary_aliases_are_still_allowed() -> None:
    doc = YamlDocument("base: &b {type: normal}\nfirst: {base: *b}\nsecond: {base: *b}\n")
    assert doc.data["second"]["base"] == {"type": "normal"}


def _outside(tmp_path: Path) -> Path:
    """A valid concept file outside the content tree (what a symlink might point at)."""
    target = tmp_path / "elsewhere" / "secret.md"
    target.parent.mkdir()
    shutil.copyfile(FIXTURES / "content/valid/demo-context/alpha.md", target)
    return target


def test_a_symlinked_file_leaving_the_tree_is_refused(
    engine: Engine, content_copy: Path, tmp_path: Path
) -> None:
    alpha = content_copy / "demo-context" / "alpha.md"
    alpha.unlink()
    alpha.symlink_to(_outside(tmp_path))
    assert problems_of(engine, content_copy) == [
        f"{ALPHA}:1: is a symlink to outside the content tree; symlinks are not followed"
    ]
    assert nothing_written(engine)


def test_a_symlink_within_the_tree_is_refused_too(engine: Engine, content_copy: Path) -> None:
    alpha = content_copy / "demo-context" / "alpha.md"
    kept = content_copy / "alpha.txt"
    alpha.rename(kept)
    alpha.symlink_to(kept)
    assert problems_of(engine, content_copy) == [
        f"{ALPHA}:1: is a symlink (within the content tree); symlinks are not followed"
    ]


def test_a_symlinked_context_directory_is_refused(
    engine: Engine, content_copy: Path, tmp_path: Path
) -> None:
    outside = _outside(tmp_path).parent
    (content_copy / "elsewhere").symlink_to(outside, target_is_directory=True)
    assert problems_of(engine, content_copy) == [
        "content/elsewhere:1: is a symlink to outside the content tree; symlinks are not followed"
    ]
    assert nothing_written(engine)


def test_a_symlinked_sources_yaml_is_refused(
    engine: Engine, content_copy: Path, tmp_path: Path
) -> None:
    target = tmp_path / "sources.yaml"
    (content_copy / "sources.yaml").rename(target)
    (content_copy / "sources.yaml").symlink_to(target)
    problems = problems_of(engine, content_copy)
    assert problems[0] == (
        "content/sources.yaml:1: is a symlink to outside the content tree; "
        "symlinks are not followed"
    )
    assert nothing_written(engine)


def test_a_dangling_symlink_is_refused_not_a_traceback(engine: Engine, content_copy: Path) -> None:
    (content_copy / "demo-context" / "gamma.md").symlink_to(content_copy / "nowhere.md")
    assert problems_of(engine, content_copy) == [
        "content/demo-context/gamma.md:1: is a symlink (within the content tree); "
        "symlinks are not followed"
    ]


def test_a_named_pipe_is_refused_without_blocking(engine: Engine, content_copy: Path) -> None:
    os.mkfifo(content_copy / "demo-context" / "gamma.md")
    assert problems_of(engine, content_copy) == [
        "content/demo-context/gamma.md:1: is not a regular file (a named pipe)"
    ]
    assert nothing_written(engine)


def test_a_directory_named_like_a_concept_file_is_refused(
    engine: Engine, content_copy: Path
) -> None:
    (content_copy / "demo-context" / "gamma.md").mkdir()
    assert problems_of(engine, content_copy) == [
        "content/demo-context/gamma.md:1: is not a regular file (a directory)"
    ]


def test_ingest_on_the_command_line_prints_the_problems_without_a_traceback(
    tmp_path: Path, database_url: str, content_copy: Path
) -> None:
    shutil.copyfile(CASES / "invalid-utf8.md", content_copy / "demo-context" / "alpha.md")
    result = CliRunner().invoke(main, ["ingest", str(content_copy), "--database", database_url])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: 1 problem(s) in content; nothing was written"
    assert result.stderr.splitlines()[1].endswith(
        "demo-context/alpha.md:3: is not valid UTF-8: byte 0xe9 at column 40 "
        "(invalid continuation byte)"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("case", ["invalid-utf8", "alias-bomb"])
def test_serve_with_broken_content_prints_the_problems_and_exits_non_zero(
    tmp_path: Path, content_copy: Path, case: str
) -> None:
    shutil.copyfile(CASES / f"{case}.md", content_copy / "demo-context" / "alpha.md")
    env = {k: v for k, v in os.environ.items() if not k.startswith("READINGROOM_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--port",
            "0",
            "--content",
            str(content_copy),
        ],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT), "READINGROOM_CHECK_WITNESSES_ON_START": "false"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: 1 problem(s) in content; nothing was written"
    assert lines[1].startswith("content/demo-context/alpha.md:")  # shown relative to the cwd


def test_a_demo_with_too_many_controls_is_refused(engine: Engine, content_copy: Path) -> None:
    control = '{{name: c{i}, label: C, paths: ["layers[0].b[0]"], min: -1, max: 1, step: 0.5}}'
    controls = "[" + ", ".join(control.format(i=i) for i in range(40)) + "]"
    alpha = content_copy / "demo-context" / "alpha.md"
    text = alpha.read_text()
    alpha.write_text(text.replace(text.splitlines()[50], f"    controls: {controls}"))
    assert problems_of(engine, content_copy) == [
        f"{ALPHA}:51: demo 'stretch': 40 controls; the limit is 32"
    ]
    assert nothing_written(engine)
