"""Regular expressions from checks, matched in linear time (RE2): a pattern cannot stall.

Python's ``re`` backtracks: ``(a+)+$`` against ``"a" * 27 + "b"`` takes seconds, and longer
inputs take longer than any run. RE2 matches in time linear in the text and refuses what it
cannot match that way (backreferences, lookaround): such a pattern is refused where the check
is written, with RE2's reason, instead of being matched some other way.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

MAX_PATTERN_CHARS = 2_000
_COMPILE_MEMORY = 8 << 20  # RE2's budget for one compiled pattern


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the reason is returned, not printed to stderr
    options.max_mem = _COMPILE_MEMORY
    return options


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern; raises ValueError saying why RE2 refuses it."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"the pattern is longer than {MAX_PATTERN_CHARS} characters")
    try:
        return re2.compile(pattern, options=_options())
    except re2.error as error:
        reason = error.args[0] if error.args else "refused"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", errors="replace")
        raise ValueError(
            f"the pattern {pattern[:200]!r} cannot be matched in linear time (RE2: {reason}); "
            "backreferences and lookaround are not supported"
        ) from None


def pattern_problem(pattern: str) -> str | None:
    """None when RE2 accepts ``pattern``, else why not."""
    try:
        compile_pattern(pattern)
    except ValueError as error:
        return str(error)
    return None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` occurs in ``text`` (like ``re.search``), in linear time."""
    return compile_pattern(pattern).search(text) is not None
