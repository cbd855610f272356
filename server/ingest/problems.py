"""Problems found in content, each pinned to ``file:line``."""

from __future__ import annotations

from dataclasses import dataclass

from server.errors import ContentError


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class Problems:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, file: str, line: int, message: str) -> None:
        self.items.append(Problem(file, max(line, 1), message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            ordered = sorted(set(self.items))
            raise ContentError(
                f"{len(ordered)} problem(s) in content; nothing was written",
                [str(problem) for problem in ordered],
            )
