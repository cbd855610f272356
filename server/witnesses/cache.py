"""The cache key of a witness run: its code, its checks and the environment."""

from __future__ import annotations

import hashlib
import json

from server.models import Witness


def current_cache_key(witness: Witness) -> str:
    from server.witnesses.environment import environment_fingerprint

    payload = json.dumps(
        {"code": witness.code, "checks": witness.checks, "env": environment_fingerprint()},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
