"""Errors of avatar jobs, with the code and HTTP status the API gives them (the project's
envelope: ``{success: false, error: {code, message}}``)."""

from __future__ import annotations

STATUS = {
    "VALIDATION_ERROR": 400,
    "NOT_FOUND": 404,
    "INVALID_IMAGE": 400,
    "PAYLOAD_TOO_LARGE": 413,
    "IMAGE_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "NO_FACE_DETECTED": 422,
    "MULTIPLE_FACES": 422,
    "LICENSE_RESTRICTED": 451,
    "GENERATION_FAILED": 500,
    "CHECK_FAILED": 500,
    "SERVICE_UNAVAILABLE": 503,
}


class JobError(Exception):
    """A job (or an upload) refused or failed for a reason the user can read."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self):  # raised in the job process, read back in the server
        return (type(self), (self.code, self.message))

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 500)

    def to_doc(self) -> dict:
        return {"code": self.code, "message": self.message}
