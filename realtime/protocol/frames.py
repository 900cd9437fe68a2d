"""A client's JSON text frame -> its event object, checked the same way on every endpoint."""

from __future__ import annotations

import orjson

from realtime.errors import ProtocolError


def parse_event(raw: str, max_bytes: int) -> dict:
    """-> the event (a JSON object whose ``type`` is a string). Raises ``ProtocolError``:
    ``MESSAGE_TOO_LARGE`` (over ``max_bytes`` of UTF-8), ``INVALID_JSON``, ``VALIDATION_ERROR``."""
    if len(raw) > max_bytes or len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ProtocolError("MESSAGE_TOO_LARGE", f"message over {max_bytes} bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("INVALID_JSON", f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("VALIDATION_ERROR", "a message is a JSON object with a 'type'")
    return data
