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
    "IMAGE_TOO_LARGE": 413,
    "INVALID_IMAGE": 400,
    "NO_FACE_DETECTED": 422,
    "MULTIPLE_FACES": 422,
    "LICENSE_RESTRICTED": 451,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "STT_FAILED": 500,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
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
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        if status == 405 and not _served(request):
            # only the web client's GET catch-all matched: the path does not exist
            return envelope("NOT_FOUND", f"no such path {request.url.path}", 404)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 400: "VALIDATION_ERROR"}.get(
            status, "INTERNAL_ERROR")
        resp = envelope(code, str(exc.detail), status)
        if exc.headers and "Allow" in exc.headers:
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp


def _served(request: Request) -> bool:
    """Whether the route that refused the method serves this path (not a ``{...:path}``
    catch-all such as the web client's, which takes any GET)."""
    route = request.scope.get("route")
    return route is not None and ":path}" not in getattr(route, "path", ":path}")
