"""Pydantic models of authored content: a concept file's front matter and ``sources.yaml``.

``python -m schemas.generate`` writes their JSON Schema next to this file; a test fails when
the generated files are stale.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=120)]
ObjectKeyStr = Annotated[
    str,
    StringConstraints(
        pattern=r"^(concept|equation|witness|source|claim|misconception|demo):[a-z0-9/-]+$",
        max_length=400,
    ),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
LinkType = Literal["prerequisite", "next", "contrast", "definition", "related"]
Stance = Literal["supports", "contrasts", "mentions"]
Verdict = Literal["unreviewed", "bounded", "supported", "partial", "unsupported", "contested"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(Strict):
    to: ObjectKeyStr
    type: LinkType
    reason: Text
    gate: Text | None = None


class Symbol(Strict):
    symbol: Text
    meaning: Text


class EquationSpec(Strict):
    id: Id
    label: Text
    latex: Text
    statement: Text
    symbols: list[Symbol] = Field(default_factory=list)


class KernelCall(Strict):
    spec: dict[str, Any]
    op: Literal["log_prob", "forward", "inverse", "forward_logdet", "inverse_logdet"]
    input: list[Any]
    index: int | None = None


class StdoutCheck(Strict):
    kind: Literal["stdout"]
    expected: str
    tolerance: float = Field(default=1e-9, ge=0)


class VariableCheck(Strict):
    kind: Literal["variable"]
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    kernel: KernelCall
    tolerance: float = Field(default=1e-9, ge=0)


class InvariantCheck(Strict):
    kind: Literal["invariant"]
    invariant: Literal["round-trip", "logdet-jacobian", "normalisation"]
    forward: str | None = None
    inverse: str | None = None
    logdet: str | None = None
    log_density: str | None = None
    points: list[list[float]] | None = None
    box: list[list[float]] | None = None
    resolution: int = Field(default=200, ge=10, le=2000)
    tolerance: float = Field(default=1e-6, ge=0)

    @model_validator(mode="after")
    def needs_names(self) -> InvariantCheck:
        needed = {
            "round-trip": ("forward", "inverse", "points"),
            "logdet-jacobian": ("forward", "logdet", "points"),
            "normalisation": ("log_density", "box"),
        }[self.invariant]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"invariant '{self.invariant}' needs {', '.join(missing)}")
        return self


class ErrorCheck(Strict):
    kind: Literal["error"]
    exception: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]
    match: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @field_validator("match")
    @classmethod
    def linear_time_pattern(cls, value: str | None) -> str | None:
        """Matched with RE2 (linear time): a pattern RE2 cannot compile is refused here."""
        if value is not None:
            from server.witnesses.patterns import pattern_problem

            problem = pattern_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value


Check = Annotated[
    StdoutCheck | VariableCheck | InvariantCheck | ErrorCheck, Field(discriminator="kind")
]


class EquivalentMutant(Strict):
    """A mutant (``readingroom check --mutants``) that behaves exactly like the witness."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z-]+-[0-9a-f]{8}(-[0-9]+)?$")]
    why: Annotated[str, StringConstraints(min_length=1, max_length=600)]


class WitnessSpec(Strict):
    id: Id
    demonstrates: Text
    language: Literal["python"] = "python"
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    checks: list[Check] = Field(default_factory=list)
    equivalent_mutants: list[EquivalentMutant] = Field(default_factory=list)

    @model_validator(mode="after")
    def equivalents_once(self) -> WitnessSpec:
        ids = [e.id for e in self.equivalent_mutants]
        if len(ids) != len(set(ids)):
            raise ValueError("a mutant is listed as equivalent more than once")
        return self


class ConceptSourceSpec(Strict):
    source: Id
    grounds: Text


class Locator(Strict):
    section: str | None = None
    equation: str | None = None
    page: int | str | None = None
    quote: Annotated[str, StringConstraints(max_length=600)] | None = None

    @model_validator(mode="after")
    def not_empty(self) -> Locator:
        if not any((self.section, self.equation, self.page, self.quote)):
            raise ValueError("a locator needs at least one of section, equation, page, quote")
        return self


class SupportSpec(Strict):
    source: Id
    stance: Stance
    locator: Locator
    checked: bool = False


class ReviewSpec(Strict):
    verdict: Verdict
    reviewer: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    date: dt.date
    summary: Annotated[str, StringConstraints(min_length=1, max_length=1200)]
    caveats: Annotated[str, StringConstraints(max_length=1200)] = ""


class ClaimSpec(Strict):
    id: Id
    text: Text
    support: list[SupportSpec] = Field(min_length=1)
    reviews: list[ReviewSpec] = Field(default_factory=list)


class MisconceptionSpec(Strict):
    id: Id
    belief: Text
    why_wrong: Text
    exposed_by: list[ObjectKeyStr] = Field(min_length=1)


class DemoSpec(Strict):
    id: Id
    title: Text
    spec: dict[str, Any]
    controls: dict[str, Any] = Field(default_factory=dict)
    caption: Text


class Choice(Strict):
    label: Text
    feedback: Text
    correct: bool = False


class Storyboard(Strict):
    prompt: Text
    choices: list[Choice] = Field(min_length=2)


class VisualInquiry(Strict):
    question: Text
    prompt: Text
    choices: list[Choice] = Field(min_length=2)


class Practice(Strict):
    prediction_prompt: Text
    hints: list[Text] = Field(min_length=1, max_length=3)
    rubric: list[Text] = Field(min_length=1)


class Research(Strict):
    open_question: Text
    evidence: list[Text] = Field(min_length=1)
    resolves: list[Text] = Field(min_length=1)


class ConceptFrontMatter(Strict):
    """The YAML front matter of ``content/<context>/<slug>.md``."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    summary: Text
    bridge: Text
    links: list[Link] = Field(default_factory=list)
    equations: list[EquationSpec] = Field(default_factory=list)
    witnesses: list[WitnessSpec] = Field(default_factory=list)
    sources: list[ConceptSourceSpec] = Field(default_factory=list)
    claims: list[ClaimSpec] = Field(default_factory=list)
    misconceptions: list[MisconceptionSpec] = Field(default_factory=list)
    demos: list[DemoSpec] = Field(default_factory=list)
    storyboard: Storyboard
    visual_inquiry: VisualInquiry
    practice: Practice
    research: Research
    # old key -> the key that now answers for it (a key this file defines)
    aliases: dict[ObjectKeyStr, ObjectKeyStr] = Field(default_factory=dict)


class SourceSpec(Strict):
    """One entry of ``content/sources.yaml``."""

    id: Id
    authors: list[Annotated[str, StringConstraints(min_length=1)]] = Field(min_length=1)
    year: int = Field(ge=1000, le=2100)
    title: Text
    venue: str | None = None
    doi: Annotated[str, StringConstraints(pattern=r"^10\.\d{4,9}/\S+$")] | None = None
    arxiv: Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d{4,5}(v\d+)?$")] | None = None
    # pages link to it: only web addresses, never javascript: or data: URLs
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=1000)] | None = None


class TombstoneSpec(Strict):
    """One entry of ``content/tombstones.yaml``."""

    key: ObjectKeyStr
    reason: Text
