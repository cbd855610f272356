"""The JSON Schema files in schemas/ are generated from the models and must be current."""

from __future__ import annotations

from pathlib import Path

import yaml

from schemas.generate import HERE, render, schema_files


def test_generated_schemas_are_current() -> None:
    for name, schema in schema_files().items():
        path = HERE / name
        assert path.exists(), f"schemas/{name} is missing: run python -m schemas.generate"
        assert path.read_text(encoding="utf-8") == render(schema), (
            f"schemas/{name} is stale: run python -m schemas.generate"
        )


def test_bundled_front_matter_validates_against_the_schema() -> None:
    import jsonschema

    schema = (HERE / "concept.schema.json").read_text(encoding="utf-8")
    validator = jsonschema.Draft202012Validator(yaml.safe_load(schema))
    content = Path(__file__).resolve().parent.parent / "content"
    files = sorted(content.glob("*/*.md"))
    assert files, "the bundled content has concept files"
    for path in files:
        front = path.read_text(encoding="utf-8").split("\n---\n", 1)[0].removeprefix("---\n")
        data = yaml.safe_load(front)
        data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
        errors = [e.message for e in validator.iter_errors(_jsonable(data))]
        assert errors == [], f"{path}: {errors}"


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
