"""The REST error envelope ``{success:false, error:{code, message}}`` and its handlers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

STATUS_CODES = {
    "VALIDATION_ERROR": 400,
    "TEXT_TOO_LONG": 400,
    "INVALID_AUDIO": 400,
    "AUDIO_TOO_LONG": 400,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "STT_FAILED": 500,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "RATE_LIMITED": 429,
    "GENERATION_FAILED": 500,
    "TTS_FAILED": 500,
    "INTERNAL_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
    "VRAM_INSUFFICIENT": 507,
}


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None, *,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_CODES.get(code, 500)
        self.retry_after = retry_after


class ProtocolError(Exception):
    """A WebSocket message was refused: becomes an ``error`` event; the session carries on."""

    def __init__(self, code: str, message: str, response_id: int | None = None, *,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.response_id = response_id
        self.retry_after = retry_after


def envelope(code: str, message: str, status: int,
             retry_after: float | None = None) -> JSONResponse:
    error: dict = {"code": code, "message": message}
    headers = None
    if retry_after is not None:
        error["retry_after"] = retry_after
        headers = {"Retry-After": str(max(1, round(retry_after)))}
    return JSONResponse({"success": False, "error": error}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return envelope(exc.code, exc.message, exc.status, exc.retry_after)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return envelope("VALIDATION_ERROR", "; ".join(parts) or "invalid request", 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "VALIDATION_ERROR", 400: "VALIDATION_ERROR"}.get(
            exc.status_code, "INTERNAL_ERROR")
        return envelope(code, str(exc.detail), exc.status_code)
