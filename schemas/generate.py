"""Write the JSON Schema of authored content next to this file: ``python -m schemas.generate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from schemas.content import ConceptFrontMatter, SourceSpec, TombstoneSpec

HERE = Path(__file__).resolve().parent


def schema_files() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every authored document kind."""

    def titled(schema: dict[str, Any], title: str, model: type[BaseModel] | None) -> dict[str, Any]:
        header = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title}
        if model is not None and model.__doc__:
            header["description"] = model.__doc__.strip()
        return {**header, **{k: v for k, v in schema.items() if k != "title"}}

    return {
        "concept.schema.json": titled(
            ConceptFrontMatter.model_json_schema(), "Concept front matter", ConceptFrontMatter
        ),
        "sources.schema.json": titled(
            TypeAdapter(list[SourceSpec]).json_schema(), "content/sources.yaml", None
        ),
        "tombstones.schema.json": titled(
            TypeAdapter(list[TombstoneSpec]).json_schema(), "content/tombstones.yaml", None
        ),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    for name, schema in schema_files().items():
        (HERE / name).write_text(render(schema), encoding="utf-8")
        print(f"wrote schemas/{name}")


if __name__ == "__main__":
    main()
