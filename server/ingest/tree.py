"""Read a content tree: the small YAML files and the list of concept files with their hashes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from schemas.content import SourceSpec, TombstoneSpec
from server.ingest.problems import Problems
from server.ingest.yamlmap import YamlDocument, yaml_error_line

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Model = TypeVar("Model", bound=BaseModel)


@dataclass
class ConceptFile:
    path: Path
    relative: str  # "<context>/<slug>.md", the key of the file's ingest record
    display: str  # what messages print, e.g. "content/generative-models/normalizing-flows.md"
    context: str
    slug: str
    text: str
    digest: str


@dataclass
class ContentTree:
    root: Path
    contexts: dict[str, tuple[str, int]]
    sources: list[tuple[SourceSpec, int]]
    tombstones: list[tuple[TombstoneSpec, int]]
    concept_files: list[ConceptFile]
    # ids of every entry in sources.yaml, valid or not: citing a broken entry is not a second error
    named_sources: set[str]
    meta_digest: str
    display: dict[str, str]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def display_root(root: Path) -> str:
    try:
        return str(root.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(root)


def read_tree(root: Path, problems: Problems) -> ContentTree:
    shown = display_root(root)
    display = {
        name: f"{shown}/{name}" for name in ("contexts.yaml", "sources.yaml", "tombstones.yaml")
    }
    meta_texts = []
    contexts: dict[str, tuple[str, int]] = {}
    doc = _load(root / "contexts.yaml", display["contexts.yaml"], problems, required=True)
    meta_texts.append(_text(root / "contexts.yaml"))
    if doc is not None and doc.data is not None:
        if not isinstance(doc.data, dict):
            problems.add(display["contexts.yaml"], 1, "contexts.yaml must map slug -> title")
        else:
            for slug, title in doc.data.items():
                line = doc.line_of((slug,))
                if not isinstance(slug, str) or not _is_slug(slug):
                    problems.add(display["contexts.yaml"], line, f"bad context slug {slug!r}")
                elif not isinstance(title, str) or not title.strip():
                    problems.add(display["contexts.yaml"], line, f"context '{slug}' has no title")
                else:
                    contexts[slug] = (title, line)
    sources, named_sources = _load_list(
        root / "sources.yaml", display["sources.yaml"], SourceSpec, problems
    )
    meta_texts.append(_text(root / "sources.yaml"))
    tombstones, _ = _load_list(
        root / "tombstones.yaml", display["tombstones.yaml"], TombstoneSpec, problems, False
    )
    meta_texts.append(_text(root / "tombstones.yaml"))
    files = []
    for path in sorted(root.glob("*/*.md")):
        context, slug = path.parent.name, path.stem
        relative = f"{context}/{path.name}"
        file = ConceptFile(
            path=path,
            relative=relative,
            display=f"{shown}/{relative}",
            context=context,
            slug=slug,
            text=path.read_text(encoding="utf-8"),
            digest="",
        )
        file.digest = digest(file.text)
        files.append(file)
    return ContentTree(
        root=root,
        contexts=contexts,
        sources=sources,
        tombstones=tombstones,
        concept_files=files,
        named_sources=named_sources,
        meta_digest=digest("\0".join(meta_texts)),
        display=display,
    )


def _is_slug(value: str) -> bool:
    return re.match(SLUG, value) is not None


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _load(path: Path, shown: str, problems: Problems, required: bool) -> YamlDocument | None:
    if not path.exists():
        if required:
            problems.add(shown, 1, f"missing file {path.name}")
        return None
    try:
        return YamlDocument(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        problems.add(shown, *yaml_error_line(error, first_line=1))
        return None


def _load_list(
    path: Path, shown: str, model: type[Model], problems: Problems, required: bool = True
) -> tuple[list[tuple[Model, int]], set[str]]:
    """Valid entries with their lines, and the ids of every entry (valid or not)."""
    doc = _load(path, shown, problems, required)
    if doc is None or doc.data is None:
        return [], set()
    if not isinstance(doc.data, list):
        problems.add(shown, 1, f"{path.name} must be a YAML list")
        return [], set()
    items: list[tuple[Model, int]] = []
    named = {str(raw["id"]) for raw in doc.data if isinstance(raw, dict) and "id" in raw}
    for index, raw in enumerate(doc.data):
        try:
            items.append((model.model_validate(raw), doc.line_of((index,))))
        except ValidationError as error:
            for item in error.errors():
                line = doc.line_of((index, *item["loc"]))
                field_name = next((str(p) for p in reversed(item["loc"]) if isinstance(p, str)), "")
                if item["type"] == "missing":
                    problems.add(shown, line, f"missing required field '{field_name}'")
                else:
                    where = ".".join(str(p) for p in item["loc"])
                    problems.add(shown, line, f"{where}: {item['msg']}")
    return items, named
