"""The one error the kernels raise on purpose."""

from __future__ import annotations

from server.errors import InvalidInput


class SpecError(InvalidInput):
    """A flow spec or a flow input that cannot be used (the API answers 422).

    Messages name the place (``layers[2] (planar)``, ``base``, ``x``) and the offending value.
    """
