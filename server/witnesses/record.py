"""The committed strength record, loaded into the store by ingest (never commits).

``readingroom check --mutants --record content/witness-strength.json`` writes, per witness,
the hash of the code and checks it measured and how many of its mutants they caught. Measuring
takes about half an hour for the corpus, so a fresh store would otherwise show every witness
as never measured. Ingest loads each entry whose hash matches the witness's current code and
checks into ``witness_strength`` with origin ``record``; an entry whose hash no longer matches
says nothing about the current code and is not loaded (a record row loaded earlier is removed).
A strength measured in this store (origin ``run``) for the current code is kept: it is the
newer word.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import or_
from sqlmodel import Session, col, select

from server.models import Witness, WitnessStrength, utcnow
from server.witnesses.mutants import DEFAULT_CAP
from server.witnesses.strength import code_hash

RECORD_FILE = "witness-strength.json"


class RecordEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code_hash: str = Field(min_length=64, max_length=64)
    mutants: int = Field(ge=0)
    total: int = Field(ge=0)
    caught: int = Field(ge=0)
    survivors: list[str] = Field(default_factory=list)
    descriptions: dict[str, str] = Field(default_factory=dict)  # survivor id -> its change


class StrengthRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: float
    cap: int = Field(default=DEFAULT_CAP, ge=1)
    witnesses: dict[str, RecordEntry] = Field(default_factory=dict)


def parse_record(text: str) -> StrengthRecord:
    """The record in ``text``; raises ValueError naming what is wrong."""
    try:
        return StrengthRecord.model_validate(json.loads(text))
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed JSON: {error.msg} (line {error.lineno})") from error
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise ValueError(f"{where}: {first['msg']}") from error


def load_record(session: Session, record: StrengthRecord | None) -> int:
    """Make the store's record-origin strengths match ``record``; how many it now shows."""
    entries = record.witnesses if record is not None else {}
    wanted = col(WitnessStrength.witness_key).in_(sorted(entries))
    rows = {
        row.witness_key: row
        for row in session.exec(
            select(WitnessStrength).where(or_(wanted, col(WitnessStrength.origin) == "record"))
        )
    }
    keys = sorted(entries.keys() | rows.keys())
    witnesses = {w.key: w for w in session.exec(select(Witness).where(col(Witness.key).in_(keys)))}
    shown = 0
    for key in keys:
        witness, row, entry = witnesses.get(key), rows.get(key), entries.get(key)
        current = code_hash(witness.code, witness.checks) if witness is not None else None
        if row is not None and row.origin == "run" and row.code_hash == current:
            continue  # measured here for this very code
        if entry is None or entry.code_hash != current:
            if row is not None and row.origin == "record":
                session.delete(row)
            continue
        assert witness is not None
        shown += 1
        if row is not None and row.origin == "record" and _same(row, entry):
            continue
        if row is None:
            row = WitnessStrength(witness_key=key, code_hash=entry.code_hash)
        row.code_hash, row.origin = entry.code_hash, "record"
        row.mutants, row.caught, row.total = entry.mutants, entry.caught, entry.total
        row.survivors = [
            {"id": i, "description": entry.descriptions.get(i, "")} for i in entry.survivors
        ]
        row.computed_at = utcnow()
        session.add(row)
    return shown


def _same(row: WitnessStrength, entry: RecordEntry) -> bool:
    return (row.code_hash, row.mutants, row.caught, row.total) == (
        entry.code_hash, entry.mutants, entry.caught, entry.total,
    ) and row.survivors == [
        {"id": i, "description": entry.descriptions.get(i, "")} for i in entry.survivors
    ]  # fmt: skip
