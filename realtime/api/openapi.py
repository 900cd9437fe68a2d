"""``/api/openapi.json`` as the server really answers: no phantom 422.

FastAPI adds a 422 ``HTTPValidationError`` to every route that takes input; this server answers
invalid input with 400 in the seeds' error envelope (``realtime.errors``), which each route
declares (``realtime.api.schemas.errors``). So the 422s and their schemas are taken out, and the
document is checked to declare an envelope for every error status it lists.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")


def clean(spec: dict) -> dict:
    for path in spec.get("paths", {}).values():
        for op in path.values():
            if isinstance(op, dict):
                op.get("responses", {}).pop("422", None)
    schemas = spec.get("components", {}).get("schemas", {})
    for name in _FASTAPI_ONLY:
        schemas.pop(name, None)
    return spec


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = clean(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes, tags=app.openapi_tags, servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
