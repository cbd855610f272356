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
    FiniteFloat,
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


SpecPath = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]{1,4}\]|\.[A-Za-z_][A-Za-z0-9_]*)*$",
        max_length=200,
    ),
]
"""A place in a flow spec: keys joined by dots, list indices in brackets, ``layers[0].A[0][0]``."""


class DemoControl(Strict):
    """One slider of a demo state and the numbers of the spec it moves.

    Moving it to ``v`` sets the number at ``paths[i]`` to ``factors[i] * v`` (every factor is 1
    unless given), so one control can move a tied parameter such as a scale on both axes. Its
    default is the spec's own number at the first path divided by its factor.
    """

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
    label: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    paths: list[SpecPath] = Field(min_length=1, max_length=8)
    factors: list[FiniteFloat] | None = None
    min: FiniteFloat
    max: FiniteFloat
    step: FiniteFloat = Field(gt=0)
    meaning: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DemoControl:
        if not self.min < self.max:
            raise ValueError(f"control '{self.name}': min {self.min} is not below max {self.max}")
        if self.step > self.max - self.min:
            raise ValueError(f"control '{self.name}': step {self.step} is wider than its range")
        if self.factors is not None:
            if len(self.factors) != len(self.paths):
                raise ValueError(
                    f"control '{self.name}': {len(self.factors)} factors for "
                    f"{len(self.paths)} paths"
                )
            if any(factor == 0 for factor in self.factors):
                raise ValueError(f"control '{self.name}': a factor of 0 moves nothing")
        return self

    def factor(self, index: int) -> float:
        return 1.0 if self.factors is None else self.factors[index]


class DemoSpec(Strict):
    id: Id
    title: Text
    spec: dict[str, Any]
    controls: list[DemoControl] = Field(default_factory=list)
    caption: Text

    @model_validator(mode="after")
    def _distinct_controls(self) -> DemoSpec:
        names = [control.name for control in self.controls]
        if len(names) != len(set(names)):
            raise ValueError(f"demo '{self.id}': two controls share a name")
        if "layers" in names:
            raise ValueError(f"demo '{self.id}': 'layers' names the page's own layer slider")
        return self


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
    # minutes a learner needs for this concept, for learning plans (default 30 when missing)
    learn_time: int | None = Field(
        default=None,
        ge=1,
        le=6000,
        description="Minutes a learner needs for this concept (learning plans); default 30.",
    )
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
