"""Build raw outputs as the harness writes them, for judging in-process."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from server.witnesses.judge import MAGIC


def raw_output(
    values: dict[str, Any] | None = None,
    *,
    exit_code: int = 0,
    exception: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> bytes:
    """``values`` maps request ids to arrays; ``errors`` to the error a request gave."""
    entries: list[dict[str, Any]] = []
    payload = b""
    for key, value in (values or {}).items():
        array = np.ascontiguousarray(value, dtype="<f8")
        entries.append({"id": key, "shape": list(array.shape)})
        payload += array.tobytes()
    for key, error in (errors or {}).items():
        entries.append({"id": key, "error": error})
    manifest = {"exit_code": exit_code, "exception": exception, "values": entries}
    return frame(manifest, payload)


def frame(manifest: Any, payload: bytes = b"") -> bytes:
    encoded = json.dumps(manifest).encode()
    return MAGIC + struct.pack("<Q", len(encoded)) + encoded + payload


def raised(exception: str, message: str) -> dict[str, Any]:
    names = [exception, f"builtins.{exception}", "Exception", "BaseException"]
    return {"type": exception, "names": names, "message": message}
