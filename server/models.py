"""SQLModel tables: the store.

Objects are addressed by their stable key (``kind:path``); notes and reviews are attached by
key, so content edits never orphan them silently. The ``object_key`` registry remembers every
key ever used: active, alias of another key, or tombstone with a reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, MetaData, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# Named constraints, so Alembic migrations are reproducible on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)

OBJECT_KINDS = ("concept", "equation", "witness", "source", "claim", "misconception", "demo")
LINK_TYPES = ("prerequisite", "next", "contrast", "definition", "related")
STANCES = ("supports", "contrasts", "mentions")
VERDICTS = ("unreviewed", "bounded", "supported", "partial", "unsupported", "contested")
SUBSTANTIVE_VERDICTS = frozenset({"supported", "partial", "unsupported", "contested"})
ROLES = ("learner", "reviewer", "editor", "admin")


def utcnow() -> datetime:
    return datetime.now(UTC)


def json_column() -> Any:
    return Column(JSON, nullable=False)


class Context(SQLModel, table=True):
    slug: str = Field(primary_key=True, max_length=100)
    title: str = Field(max_length=200)


class ObjectKey(SQLModel, table=True):
    """Every key ever used: ``active``, ``alias`` (of ``target``) or ``tombstone``."""

    __tablename__ = "object_key"

    key: str = Field(primary_key=True, max_length=400)
    kind: str = Field(max_length=20)
    status: str = Field(max_length=20, index=True)
    target: str | None = Field(default=None, max_length=400)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    # The object's identity, so that a key is never reused for a different object.
    owner: str | None = Field(default=None, max_length=400)
    updated_at: datetime = Field(default_factory=utcnow)


class Concept(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    context: str = Field(foreign_key="context.slug", max_length=100, index=True)
    slug: str = Field(max_length=200)
    title: str = Field(max_length=300)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    # bridge, sections, storyboard, visual_inquiry, practice, research
    data: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    source_file: str = Field(max_length=500)
    position: int = 0


class ConceptLink(SQLModel, table=True):
    __tablename__ = "concept_link"
    __table_args__ = (UniqueConstraint("from_key", "to_key", "type", name="uq_concept_link_edge"),)

    id: int | None = Field(default=None, primary_key=True)
    from_key: str = Field(max_length=400, index=True)
    to_key: str = Field(max_length=400, index=True)
    type: str = Field(max_length=20)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    gate: str | None = Field(default=None, sa_column=Column(Text))
    position: int = 0


class Equation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    concept_key: str = Field(max_length=400, index=True)
    label: str = Field(max_length=300)
    latex: str = Field(sa_column=Column(Text, nullable=False))
    statement: str = Field(sa_column=Column(Text, nullable=False))
    symbols: list[dict[str, str]] = Field(default_factory=list, sa_column=json_column())
    position: int = 0


class Witness(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    concept_key: str = Field(max_length=400, index=True)
    language: str = Field(max_length=30, default="python")
    code: str = Field(sa_column=Column(Text, nullable=False))
    demonstrates: str = Field(sa_column=Column(Text, nullable=False))
    checks: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column())
    timeout_s: float = 10.0
    # Mutants the content declares equivalent to the code: [{id, why}].
    equivalent_mutants: list[dict[str, str]] = Field(default_factory=list, sa_column=json_column())
    line: int = 0
    position: int = 0


class WitnessRun(SQLModel, table=True):
    """One recorded run of a witness: kept by key, so history survives content edits."""

    __tablename__ = "witness_run"

    id: int | None = Field(default=None, primary_key=True)
    witness_key: str = Field(max_length=400, index=True)
    cache_key: str = Field(max_length=64, index=True)
    status: str = Field(max_length=30)
    exit_code: int | None = None
    signal: int | None = None
    duration_ms: float = 0.0
    stdout: str = Field(default="", sa_column=Column(Text, nullable=False))
    stderr: str = Field(default="", sa_column=Column(Text, nullable=False))
    outputs_digest: str = Field(default="", max_length=64)
    checks: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column())
    environment: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    cached: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)


class MutantRun(SQLModel, table=True):
    """The verdict on one mutant of a witness, cached by the mutant's own run cache key."""

    __tablename__ = "mutant_run"

    id: int | None = Field(default=None, primary_key=True)
    witness_key: str = Field(max_length=400, index=True)
    mutant_id: str = Field(max_length=80)
    cache_key: str = Field(max_length=64, unique=True)
    status: str = Field(max_length=30)
    duration_ms: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class WitnessStrength(SQLModel, table=True):
    """How many of a witness's mutants its checks catch; stale once its code or checks change."""

    __tablename__ = "witness_strength"

    id: int | None = Field(default=None, primary_key=True)
    witness_key: str = Field(max_length=400, unique=True)
    code_hash: str = Field(max_length=64)
    mutants: int = 0
    caught: int = 0
    total: int = 0  # distinct mutants of the code before the cap
    survivors: list[dict[str, str]] = Field(default_factory=list, sa_column=json_column())
    computed_at: datetime = Field(default_factory=utcnow)
    # "run": measured in this store by check --mutants; "record": ingested from the committed
    # strength record (content/witness-strength.json), measured elsewhere on the same code
    origin: str = Field(default="run", max_length=20)


class Source(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    slug: str = Field(max_length=200, unique=True)
    title: str = Field(max_length=500)
    authors: list[str] = Field(default_factory=list, sa_column=json_column())
    year: int
    venue: str | None = Field(default=None, max_length=500)
    doi: str | None = Field(default=None, max_length=200)
    arxiv: str | None = Field(default=None, max_length=50)
    url: str | None = Field(default=None, max_length=1000)
    position: int = 0


class ConceptSource(SQLModel, table=True):
    __tablename__ = "concept_source"
    __table_args__ = (UniqueConstraint("concept_key", "source_key", name="uq_concept_source_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    concept_key: str = Field(max_length=400, index=True)
    source_key: str = Field(max_length=400, index=True)
    grounds: str = Field(sa_column=Column(Text, nullable=False))
    position: int = 0


class Claim(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    concept_key: str = Field(max_length=400, index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    position: int = 0


class ClaimSupport(SQLModel, table=True):
    __tablename__ = "claim_support"

    id: int | None = Field(default=None, primary_key=True)
    claim_key: str = Field(max_length=400, index=True)
    source_key: str = Field(max_length=400, index=True)
    stance: str = Field(max_length=20)
    locator: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    checked: bool = False
    position: int = 0


class ClaimReview(SQLModel, table=True):
    """Append-only review history of a claim; ``origin`` is ``content`` or ``api``."""

    __tablename__ = "claim_review"

    id: int | None = Field(default=None, primary_key=True)
    claim_key: str = Field(max_length=400, index=True)
    verdict: str = Field(max_length=20)
    reviewer: str = Field(max_length=200)
    reviewed_on: date
    summary: str = Field(sa_column=Column(Text, nullable=False))
    caveats: str = Field(default="", sa_column=Column(Text, nullable=False))
    origin: str = Field(default="content", max_length=20)
    fingerprint: str = Field(default="", max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    # Per support link, what the reviewer did: [{"source", "checked", "stance"}].
    support: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column())
    # The review of the same claim this one corrects (history is never rewritten); a review is
    # corrected at most once, so two reviewers racing to correct it cannot both win.
    supersedes: int | None = Field(default=None, unique=True)


class Misconception(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    concept_key: str = Field(max_length=400, index=True)
    belief: str = Field(sa_column=Column(Text, nullable=False))
    why_wrong: str = Field(sa_column=Column(Text, nullable=False))
    exposed_by: list[str] = Field(default_factory=list, sa_column=json_column())
    position: int = 0


class DemoState(SQLModel, table=True):
    __tablename__ = "demo_state"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    concept_key: str = Field(max_length=400, index=True)
    title: str = Field(max_length=300)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    controls: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column())
    caption: str = Field(sa_column=Column(Text, nullable=False))
    position: int = 0


class IngestedFile(SQLModel, table=True):
    """Content file hashes and what each file defines, so unchanged files are skipped."""

    __tablename__ = "ingested_file"

    path: str = Field(primary_key=True, max_length=500)
    content_hash: str = Field(max_length=64)
    manifest: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    ingested_at: datetime = Field(default_factory=utcnow)


class StoreRevision(SQLModel, table=True):
    """A counter bumped by every write that changes what a page shows (cache invalidation)."""

    __tablename__ = "store_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    role: str = Field(max_length=20)
    token_hash: str | None = Field(default=None, max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class UserSession(SQLModel, table=True):
    """A page session: only the digest of the cookie's random value is stored."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=128, unique=True)
    user_name: str = Field(max_length=100, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class LoginThrottle(SQLModel, table=True):
    """Failed logins per scope (``name:...`` or ``client:...``), shared by every worker."""

    __tablename__ = "login_throttle"

    scope: str = Field(primary_key=True, max_length=200)
    failures: int = 0
    blocked_until: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Note(SQLModel, table=True):
    """One note and one next action per (learner, object key), optimistically versioned."""

    __table_args__ = (UniqueConstraint("learner", "object_key", name="uq_note_learner_object"),)

    id: int | None = Field(default=None, primary_key=True)
    learner: str = Field(max_length=100, index=True)
    object_key: str = Field(max_length=400, index=True)
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    next_action: str = Field(default="", sa_column=Column(Text, nullable=False))
    checklist: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class LearnerProgress(SQLModel, table=True):
    """What one learner marked on one concept: ``learned`` and ``starred``.

    Kept under the key it was written on (like notes); a renamed concept's old key resolves
    through its alias when the learner's state is read, so renames keep the state.
    """

    __tablename__ = "learner_progress"
    __table_args__ = (
        UniqueConstraint("learner", "concept_key", name="uq_learner_progress_learner_concept"),
    )

    id: int | None = Field(default=None, primary_key=True)
    learner: str = Field(max_length=100, index=True)
    concept_key: str = Field(max_length=400, index=True)
    learned: bool = False
    starred: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class SearchDocument(SQLModel, table=True):
    """One searchable object (concept, claim or source), rebuilt from the store at ingest.

    The full-text index over it belongs to the backend and is made by the migration: an FTS5
    table kept in step by triggers on SQLite, a generated tsvector column with a GIN index on
    PostgreSQL (``server.search.index``).
    """

    __tablename__ = "search_document"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    kind: str = Field(max_length=20)
    title: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    url: str = Field(max_length=1000)
