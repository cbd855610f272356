"""Parse one concept file: front matter, the four body sections and the witness blocks.

Everything a file defines or refers to is also summarised in a JSON-able *manifest*, so the
cross-file checks (unknown sources, dangling links, cycles, reused keys) can run over unchanged
files without parsing them again.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pydantic import ValidationError

from schemas.content import ConceptFrontMatter, DemoControl, VariableCheck
from server.demos.controls import (
    BindingError,
    checked_values,
    default_value,
    linear_signs,
    with_value,
)
from server.ingest.problems import Problems
from server.ingest.yamlmap import YamlDocument, yaml_error_line
from server.keys import anchor_for, child_key, concept_key
from server.render.math import latex_problem

SECTIONS = (
    (
        "intuition",
        "01",
        "Intuition",
        "Build the mental picture first so the rest of the page has something to attach to.",
    ),
    (
        "math",
        "02",
        "Math",
        "Translate the story into symbols, assumptions, and a derivation you can inspect.",
    ),
    (
        "code",
        "03",
        "Code",
        "Keep the implementation aligned with the notation so the algorithm is legible.",
    ),
    (
        "interactive-demo",
        "04",
        "Interactive Demo",
        "Use direct manipulation to connect the explanation to a moving system.",
    ),
)
SECTION_TITLES = [title for _, _, title, _ in SECTIONS]
WITNESS_INFO = re.compile(r"^(?P<lang>[A-Za-z0-9_+-]+)\s+witness(?:=(?P<id>\S*))?(?:\s.*)?$")
PLACEMENT = re.compile(r"^\{\{\s*(equation|demo)\s+([a-z0-9-]+)\s*\}\}$")
ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_CONTROLS = 32
MAX_CORNER_CONTROLS = 8
"""Up to this many controls, every corner of their ranges (2 ** 8 specs at most) is built."""
"""A demo state's controls are a few sliders, shown in its page and prompts."""


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    """One parser for every file (building one costs more than parsing a page)."""
    return MarkdownIt("commonmark", {"html": False}).use(dollarmath_plugin).enable("table")


@dataclass
class WitnessBlock:
    id: str
    language: str
    code: str
    line: int


@dataclass
class ParsedConcept:
    file: str
    context: str
    slug: str
    key: str
    front: ConceptFrontMatter
    sections: list[dict[str, Any]]
    witness_blocks: dict[str, WitnessBlock]
    manifest: dict[str, Any] = field(default_factory=dict)


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """(front matter, body, 1-based line where the body starts), or None without front matter."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
    return None


def parse_concept_file(
    file: str, context: str, slug: str, text: str, problems: Problems
) -> ParsedConcept | None:
    """Parse one file; every problem goes to ``problems``. None when it cannot be used at all."""
    split = split_front_matter(text)
    if split is None:
        problems.add(file, 1, "missing YAML front matter: the file must start with a '---' line")
        return None
    front_text, body, body_line = split
    try:
        doc = YamlDocument(front_text, first_line=2)
    except yaml.YAMLError as error:
        problems.add(file, *yaml_error_line(error, first_line=2))
        return None
    if not isinstance(doc.data, dict):
        problems.add(file, 2, "front matter must be a YAML mapping")
        return None
    try:
        front = ConceptFrontMatter.model_validate(doc.data)
    except ValidationError as error:
        for item in error.errors():
            problems.add(file, doc.line_of(item["loc"]), _describe(item))
        return None
    key = concept_key(context, slug)
    tokens = markdown_parser().parse(body)
    sections = _parse_sections(file, body, tokens, body_line, problems)
    blocks = _parse_witness_blocks(file, tokens, body_line, problems)
    parsed = ParsedConcept(file, context, slug, key, front, sections, blocks)
    _check_local(parsed, doc, problems)
    parsed.manifest = build_manifest(parsed, doc)
    return parsed


def _describe(item: Any) -> str:
    loc = item["loc"]
    field_name = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
    if item["type"] == "missing":
        return f"missing required field '{field_name}'"
    if item["type"] == "extra_forbidden":
        return f"unknown field '{field_name}'"
    where = ".".join(str(part) for part in loc)
    return f"{where}: {item['msg']}"


def _parse_sections(
    file: str, body: str, tokens: list[Token], first: int, problems: Problems
) -> list[dict[str, Any]]:
    found: list[tuple[str, int, int]] = []  # title, heading line index, content start index
    lines = body.split("\n")
    in_fence = False
    for index, text in enumerate(lines):
        if text.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if not in_fence and text.startswith("## "):
            found.append((text[3:].strip(), index, index + 1))
    titles = [title for title, _, _ in found]
    if titles != SECTION_TITLES:
        line = first + (found[0][1] if found else 0)
        problems.add(
            file,
            line,
            "body sections must be exactly '## Intuition', '## Math', '## Code', "
            f"'## Interactive Demo' in that order (found {titles or 'none'})",
        )
    sections = []
    for position, (title, heading, start) in enumerate(found):
        end = found[position + 1][1] if position + 1 < len(found) else len(lines)
        spec = next((s for s in SECTIONS if s[2] == title), None)
        sections.append(
            {
                "id": spec[0] if spec else title.lower(),
                "number": spec[1] if spec else f"{position + 1:02d}",
                "title": title,
                "tagline": spec[3] if spec else "",
                "markdown": "\n".join(lines[start:end]).strip("\n"),
                "line": first + heading,
            }
        )
    for token in tokens:
        block_line = first + (token.map[0] if token.map else 0)
        for math in [token, *(token.children or [])]:
            if math.type in ("math_inline", "math_block") and math.content.strip():
                reason = latex_problem(math.content)
                if reason:
                    problems.add(file, block_line, f"LaTeX does not parse: {reason}")
    return sections


def _parse_witness_blocks(
    file: str, tokens: list[Token], first: int, problems: Problems
) -> dict[str, WitnessBlock]:
    blocks: dict[str, WitnessBlock] = {}
    for token in tokens:
        if token.type != "fence":
            continue
        match = WITNESS_INFO.match(token.info.strip())
        if not match:
            continue
        line = first + (token.map[0] if token.map else 0)
        witness_id = match.group("id")
        if not witness_id:
            problems.add(file, line, "witness block has no id: write ```python witness=<id>")
            continue
        if not ID.match(witness_id):
            problems.add(file, line, f"witness id '{witness_id}' must look like 'linear-flow'")
            continue
        if witness_id in blocks:
            problems.add(file, line, f"duplicate witness block '{witness_id}'")
            continue
        blocks[witness_id] = WitnessBlock(witness_id, match.group("lang"), token.content, line)
    return blocks


def _check_local(parsed: ParsedConcept, doc: YamlDocument, problems: Problems) -> None:
    """Checks that need only this file."""
    front, file = parsed.front, parsed.file
    declared = {w.id for w in front.witnesses}
    for index, witness in enumerate(front.witnesses):
        if witness.id not in parsed.witness_blocks:
            problems.add(
                file,
                doc.line_of(("witnesses", index, "id")),
                f"witness '{witness.id}' has no code block: add ```python witness={witness.id}",
            )
    for block in parsed.witness_blocks.values():
        if block.id not in declared:
            problems.add(
                file, block.line, f"witness block '{block.id}' has no entry under 'witnesses'"
            )
        if block.language != "python":
            problems.add(file, block.line, f"witness '{block.id}': only python is supported")
    for index, equation in enumerate(front.equations):
        reason = latex_problem(equation.latex)
        if reason:
            line = doc.line_of(("equations", index, "latex"))
            problems.add(file, line, f"equation '{equation.id}': LaTeX does not parse: {reason}")
    _check_demo_specs(parsed, doc, problems)
    _check_witness_budgets(parsed, doc, problems)


def _check_demo_specs(parsed: ParsedConcept, doc: YamlDocument, problems: Problems) -> None:
    """A demo state must evaluate on the default grid within the budget, as its page asks, and
    so must every spec its controls can reach: each path names a number, the default lies in
    the range, and the spec builds at the range's ends, its default and evenly between."""
    from server.demos.schemas import DemoRequest
    from server.demos.service import check_demo_request
    from server.errors import InvalidInput, PayloadTooLarge
    from server.kernels import build

    def refused(spec: dict[str, Any]) -> str | None:
        try:
            check_demo_request(DemoRequest(spec=spec))
            build(spec)
        except (InvalidInput, PayloadTooLarge) as error:
            return str(error)
        return None

    for index, demo in enumerate(parsed.front.demos):
        if len(demo.controls) > MAX_CONTROLS:
            problems.add(
                parsed.file,
                doc.line_of(("demos", index, "controls")),
                f"demo '{demo.id}': {len(demo.controls)} controls; the limit is {MAX_CONTROLS}",
            )
        reason = refused(demo.spec)
        if reason is not None:
            line = doc.line_of(("demos", index, "spec"))
            problems.add(parsed.file, line, f"demo '{demo.id}': flow spec refused: {reason}")
            continue
        bound = [
            _check_control(parsed.file, doc.line_of(("demos", index, "controls", c)), demo.id,
                           demo.spec, control, refused, problems)
            for c, control in enumerate(demo.controls[:MAX_CONTROLS])
        ]  # fmt: skip
        if demo.controls and all(bound) and len(demo.controls) <= MAX_CORNER_CONTROLS:
            line = doc.line_of(("demos", index, "controls"))
            _check_corners(parsed.file, line, demo.id, demo.spec, demo.controls, refused, problems)


def _check_control(
    file: str,
    line: int,
    demo_id: str,
    spec: dict[str, Any],
    control: DemoControl,
    refused: Callable[[dict[str, Any]], str | None],
    problems: Problems,
) -> bool:
    """One control alone: its paths, its default, and the spec along its range."""
    where = f"demo '{demo_id}': control '{control.name}'"
    try:
        default = default_value(spec, control)
    except BindingError as error:
        problems.add(file, line, f"{where}: {error}")
        return False
    previous: tuple[float, list[tuple[int, float]]] | None = None
    for value in checked_values(control, default):
        moved = with_value(spec, control, value)
        reason = refused(moved)
        if reason is not None:
            problems.add(file, line, f"{where}: at {value:g} the flow spec is refused: {reason}")
            return False
        signs = linear_signs(moved)
        if previous is not None and previous[1] != signs:
            problems.add(
                file,
                line,
                f"{where}: a linear layer's matrix turns singular between "
                f"{previous[0]:g} and {value:g}",
            )
            return False
        previous = (value, signs)
    return True


def _check_corners(
    file: str,
    line: int,
    demo_id: str,
    spec: dict[str, Any],
    controls: list[DemoControl],
    refused: Callable[[dict[str, Any]], str | None],
    problems: Problems,
) -> None:
    """The controls together: the spec must build at every corner of their box of ranges.

    A matrix's determinant and a planar layer's wᵀu are multilinear in separate entries, so
    the same sign at every corner means no combination inside the box is singular or folds.
    """
    signs = linear_signs(spec)
    for corner in itertools.product(*((c.min, c.max) for c in controls)):
        moved = spec
        for control, value in zip(controls, corner, strict=True):
            moved = with_value(moved, control, value)
        reason = refused(moved)
        if reason is None and linear_signs(moved) != signs:
            reason = "a linear layer's matrix changes the sign of its determinant"
        if reason is not None:
            at = ", ".join(f"{c.name} = {v:g}" for c, v in zip(controls, corner, strict=True))
            problems.add(file, line, f"demo '{demo_id}': with {at} together: {reason}")
            return


def _check_witness_budgets(parsed: ParsedConcept, doc: YamlDocument, problems: Problems) -> None:
    """A check's kernel call and a normalisation grid must be within the host's budget."""
    from server.errors import InvalidInput, PayloadTooLarge
    from server.kernels.cost import MAX_GRID_CELLS, check_kernel_call

    for w, witness in enumerate(parsed.front.witnesses):
        for c, check in enumerate(witness.checks):
            line = doc.line_of(("witnesses", w, "checks", c))
            where = f"witness '{witness.id}': check {c + 1}"
            if isinstance(check, VariableCheck):
                try:
                    check_kernel_call(check.kernel.spec, check.kernel.op, check.kernel.input)
                except (InvalidInput, PayloadTooLarge) as error:
                    problems.add(parsed.file, line, f"{where}: kernel spec refused: {error}")
            elif check.kind == "invariant" and check.invariant == "normalisation":
                dims, cells = len(check.box or []), 1
                for _ in range(dims):  # stops as soon as it is over: no giant power
                    cells *= check.resolution
                    if cells > MAX_GRID_CELLS:
                        problems.add(
                            parsed.file,
                            line,
                            f"{where}: a normalisation grid of {check.resolution} ** {dims} "
                            f"cells is over the limit of {MAX_GRID_CELLS}",
                        )
                        break


def build_manifest(parsed: ParsedConcept, doc: YamlDocument) -> dict[str, Any]:
    """What the file defines and what it refers to, with lines, for cross-file checks."""
    front = parsed.front
    ctx, slug = parsed.context, parsed.slug
    defines: dict[str, int] = {parsed.key: 2}
    duplicates: list[dict[str, Any]] = []
    children: list[tuple[str, str, list[str]]] = [
        ("equation", "equations", [item.id for item in front.equations]),
        ("witness", "witnesses", [item.id for item in front.witnesses]),
        ("claim", "claims", [item.id for item in front.claims]),
        ("misconception", "misconceptions", [item.id for item in front.misconceptions]),
        ("demo", "demos", [item.id for item in front.demos]),
    ]
    for kind, field_name, ids in children:
        for index, object_id in enumerate(ids):
            key = child_key(kind, ctx, slug, object_id)
            line = doc.line_of((field_name, index, "id"))
            if key in defines:
                duplicates.append({"key": key, "line": line, "first": defines[key]})
            else:
                defines[key] = line
    return {
        "key": parsed.key,
        "title": front.title,
        "defines": defines,
        "duplicates": duplicates,
        "aliases": [
            {"from": old, "to": new, "line": doc.line_of(("aliases", old))}
            for old, new in front.aliases.items()
        ],
        "links": [
            {"to": link.to, "type": link.type, "line": doc.line_of(("links", i))}
            for i, link in enumerate(front.links)
        ],
        "sources": [
            {"source": s.source, "line": doc.line_of(("sources", i, "source"))}
            for i, s in enumerate(front.sources)
        ]
        + [
            {
                "source": support.source,
                "line": doc.line_of(("claims", i, "support", j, "source")),
                "claim": claim.id,
            }
            for i, claim in enumerate(front.claims)
            for j, support in enumerate(claim.support)
        ],
        "exposed_by": [
            {
                "key": key,
                "line": doc.line_of(("misconceptions", i, "exposed_by", j)),
                "misconception": m.id,
            }
            for i, m in enumerate(front.misconceptions)
            for j, key in enumerate(m.exposed_by)
        ],
        "anchor": anchor_for(parsed.key),
    }
