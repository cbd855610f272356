"""The body of a new review. Reviewer and time are never taken from it: they come from the
account the request acts for."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

REVIEW_VERDICTS = ("bounded", "supported", "partial", "unsupported", "contested")
MAX_SUMMARY_CHARS = 1200  # as for reviews written in content
MAX_CAVEATS_CHARS = 1200
MAX_ID = 2**31 - 1  # review ids fit the database's integer


class SupportCheck(BaseModel):
    """What the reviewer did with one support link of the claim, named by its source."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=400, description="source id or source key")
    checked: bool = Field(
        default=False, description="the cited text was read at the link's locator"
    )
    link: int | None = Field(
        default=None,
        ge=0,
        le=49,
        description="which of the claim's support links (0-based), when a source is cited twice;"
        " without it the check covers every link to that source",
    )
    stance: Literal["supports", "contrasts", "mentions"] | None = Field(
        default=None, description="the stance found there (default: the link's own)"
    )


class NewReview(BaseModel):
    # Fields it does not define (a "reviewer" or "date", say) are ignored, never used.
    model_config = ConfigDict(extra="ignore")

    verdict: Literal["bounded", "supported", "partial", "unsupported", "contested"]
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)
    caveats: str = Field(default="", max_length=MAX_CAVEATS_CHARS)
    support: list[SupportCheck] = Field(default_factory=list, max_length=50)
    supersedes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="id of the review of this claim that this one corrects",
    )

    @field_validator("summary")
    @classmethod
    def summary_says_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the summary is blank")
        return value.strip()
