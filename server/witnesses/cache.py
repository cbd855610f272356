"""The cache key of a stored witness: its code, its checks and the environment."""

from __future__ import annotations

from server.models import Witness
from server.witnesses.environment import cache_key


def current_cache_key(witness: Witness) -> str:
    return cache_key(witness.code, witness.checks)
