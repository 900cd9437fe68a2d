"""Errors the GPU host reports, with the project's API error codes."""

from __future__ import annotations


class GpuError(Exception):
    """A request refused: ``code`` is the API error code, ``status`` its HTTP status."""

    STATUS = {"VALIDATION_ERROR": 400, "NOT_FOUND": 404, "VRAM_INSUFFICIENT": 507,
              "SERVICE_UNAVAILABLE": 503}

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = self.STATUS.get(code, 500)
