"""``/docs`` (Swagger UI) and ``/redoc`` served entirely from this server.

The Swagger UI and ReDoc bundles come from the ``fastapi-offline`` package (MIT; it ships
Swagger UI, Apache-2.0, and ReDoc, MIT); the small start-up scripts are ours, as files, so the
pages need no inline script and keep a Content-Security-Policy of their own origin only.
"""
