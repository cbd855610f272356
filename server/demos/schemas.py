"""Request and response models of ``POST /api/demos/evaluate``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Interval = tuple[float, float]
Box = tuple[Interval, Interval]
MaybeFloat = float | None
"""A number, or null where the value is not finite (zero density, an overflowed image)."""


class DemoRequest(BaseModel):
    """A flow spec and what to evaluate on the plane."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    spec: dict[str, Any] = Field(description="A 2-D chain spec, as server.kernels.build takes.")
    bounds: Box = Field(((-4.0, 4.0), (-4.0, 4.0)), description="[[xmin, xmax], [ymin, ymax]]")
    resolution: int | tuple[int, int] = Field(
        64, description="Grid points per axis, or [nx, ny]; each at least 2."
    )
    samples: int = Field(500, ge=0, description="Number of samples drawn from the flow.")
    seed: int = Field(0, ge=0)
    latent_bounds: Box = Field(
        ((-3.0, 3.0), (-3.0, 3.0)), description="Box of the latent grid whose lines are warped."
    )
    grid_lines: int = Field(11, ge=0, description="Latent grid lines per axis.")
    line_points: int = Field(101, ge=2, description="Points along each grid line.")
    layers: int | None = Field(
        None, ge=0, description="Use only the first k layers (to show a chain step by step)."
    )

    @field_validator("bounds", "latent_bounds")
    @classmethod
    def _increasing(cls, box: Box) -> Box:
        for name, (low, high) in zip("xy", box, strict=True):
            if not low < high:
                raise ValueError(f"{name} interval must have min < max, got [{low}, {high}]")
        return box

    @field_validator("resolution")
    @classmethod
    def _at_least_two(cls, resolution: int | tuple[int, int]) -> int | tuple[int, int]:
        counts = (resolution, resolution) if isinstance(resolution, int) else resolution
        if min(counts) < 2:
            raise ValueError(f"resolution must be at least 2 per axis, got {resolution}")
        return resolution

    def grid_shape(self) -> tuple[int, int]:
        """(nx, ny)."""
        if isinstance(self.resolution, int):
            return self.resolution, self.resolution
        return self.resolution


class Grid(BaseModel):
    x: list[float]
    y: list[float]


class GridLine(BaseModel):
    """The image under the flow of the latent line ``axis = value``."""

    axis: Literal["x", "y"]
    value: float
    points: list[list[MaybeFloat]]


class Samples(BaseModel):
    latent: list[list[float]]
    points: list[list[MaybeFloat]]
    log_det: list[MaybeFloat] = Field(description="log|det df/dz| at each latent point.")
    log_density: list[MaybeFloat]


class DemoState(BaseModel):
    """Density fields are [ny][nx]: row j is y = grid.y[j], column i is x = grid.x[i]."""

    layers: int = Field(description="Number of layers evaluated.")
    dtype: str
    grid: Grid
    base_log_density: list[list[MaybeFloat]] = Field(description="log p_Z(f⁻¹(x)).")
    log_volume: list[list[MaybeFloat]] = Field(description="log|det df⁻¹/dx|, per grid point.")
    log_density: list[list[MaybeFloat]] = Field(description="log p(x), their sum.")
    grid_lines: list[GridLine]
    samples: Samples
