"""Read a content tree: the small YAML files and the list of concept files with their hashes."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from schemas.content import SourceSpec, TombstoneSpec
from server.ingest.files import concept_paths, read_content_file
from server.ingest.problems import Problems
from server.ingest.yamlmap import YamlDocument, yaml_error_line
from server.witnesses.record import RECORD_FILE, StrengthRecord, parse_record

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Model = TypeVar("Model", bound=BaseModel)


@dataclass
class ConceptFile:
    path: str
    relative: str  # "<context>/<slug>.md", the key of the file's ingest record
    display: str  # what messages print, e.g. "content/generative-models/normalizing-flows.md"
    context: str
    slug: str
    text: str
    digest: str
    readable: bool = True  # False: a problem was recorded and ``text`` is empty


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
    # False when sources.yaml is missing or could not be read: citations are not checked
    sources_readable: bool = True
    # the committed witness strength record (witness-strength.json), when there is one
    strength: StrengthRecord | None = None


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
    meta_texts: list[str] = []
    contexts: dict[str, tuple[str, int]] = {}
    doc = _load(root, "contexts.yaml", display["contexts.yaml"], problems, meta_texts, True)
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
    sources_before = len(problems.items)
    sources, named_sources = _load_list(
        root, "sources.yaml", display["sources.yaml"], SourceSpec, problems, meta_texts
    )
    sources_readable = bool(sources or named_sources) or len(problems.items) == sources_before
    tombstones, _ = _load_list(
        root,
        "tombstones.yaml",
        display["tombstones.yaml"],
        TombstoneSpec,
        problems,
        meta_texts,
        required=False,
    )
    strength = _load_strength(root, f"{shown}/{RECORD_FILE}", problems, meta_texts)
    files = []
    for path, context, name in concept_paths(root, shown, problems):
        slug = name.removesuffix(".md")
        relative = f"{context}/{name}"
        text = read_content_file(path, f"{shown}/{relative}", root, problems)
        file = ConceptFile(
            path=path,
            relative=relative,
            display=f"{shown}/{relative}",
            context=context,
            slug=slug,
            text=text or "",
            digest="",
            readable=text is not None,
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
        sources_readable=sources_readable,
        strength=strength,
    )


def _is_slug(value: str) -> bool:
    return re.match(SLUG, value) is not None


def _load(
    root: Path, name: str, shown: str, problems: Problems, texts: list[str], required: bool
) -> YamlDocument | None:
    """Parse ``root/name``; its text (or "" when absent or unreadable) joins ``texts``."""
    path = root / name
    if not os.path.lexists(path):
        texts.append("")
        if required:
            problems.add(shown, 1, f"missing file {name}")
        return None
    text = read_content_file(path, shown, root, problems)
    texts.append(text or "")
    if text is None:
        return None
    try:
        return YamlDocument(text)
    except yaml.YAMLError as error:
        problems.add(shown, *yaml_error_line(error, first_line=1))
        return None


def _load_strength(
    root: Path, shown: str, problems: Problems, texts: list[str]
) -> StrengthRecord | None:
    """The optional strength record; its text joins ``texts`` so a new record is ingested."""
    path = root / RECORD_FILE
    if not os.path.lexists(path):
        return None
    text = read_content_file(path, shown, root, problems)
    texts.append(text or "")
    if text is None:
        return None
    try:
        return parse_record(text)
    except ValueError as error:
        problems.add(shown, 1, str(error))
        return None


def _load_list(
    root: Path,
    name: str,
    shown: str,
    model: type[Model],
    problems: Problems,
    texts: list[str],
    required: bool = True,
) -> tuple[list[tuple[Model, int]], set[str]]:
    """Valid entries with their lines, and the ids of every entry (valid or not)."""
    doc = _load(root, name, shown, problems, texts, required)
    if doc is None or doc.data is None:
        return [], set()
    if not isinstance(doc.data, list):
        problems.add(shown, 1, f"{name} must be a YAML list")
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
