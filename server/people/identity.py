"""Who is asking: a person's name and role, and what each role may do."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

LOCAL_NAME = "local"

# Roles in increasing power; each may do what the ones before it may.
ROLE_ORDER = ("learner", "reviewer", "editor", "admin")


@dataclass(frozen=True, slots=True)
class Person:
    """The person a request acts for. ``local`` is the one learner of local mode."""

    name: str
    role: str
    local: bool = False

    def has_role(self, role: str) -> bool:
        """Whether this person's role is ``role`` or a more powerful one."""
        return ROLE_ORDER.index(self.role) >= ROLE_ORDER.index(role)


LOCAL_PERSON = Person(LOCAL_NAME, "admin", local=True)


def hash_token(token: str) -> str:
    """Tokens are stored only as this digest (they are long and random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
