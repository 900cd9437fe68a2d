"""/api/openapi.json generates a working client: @hey-api/openapi-ts (an npm OpenAPI generator,
a dev dependency of client-web) makes a TypeScript client, ``tsc --strict`` type-checks a small
program against it, and the program calls the live server through it (client-web/e2e/
openapi-client.mjs and openapi-client/main.ts)."""

from __future__ import annotations

import pytest

from tests.web_e2e import ensure_web_built, run_node

pytestmark = pytest.mark.slow


def test_generated_typescript_client_calls_the_server(live, tmp_path):
    ensure_web_built()  # Node and client-web's npm packages
    r = run_node("openapi-client.mjs", live.url, str(tmp_path), timeout=180)
    default = live.services.settings.llm_default_model
    assert r["health"] == "healthy" and default in r["models"]
    chat = r["chat"]
    assert chat["status"] == 200 and chat["content"] and chat["model"] == default
    assert chat["requested"] == "gemma-3-27b-it" and chat["language"] == "ko"
    assert chat["promptTokens"] > 0
    assert r["tts"]["status"] == 200 and r["tts"]["duration"] > 0.5 and r["tts"]["language"] == "ko"
    assert r["wav"]["type"] == "audio/wav" and r["wav"]["bytes"] > 10_000
    assert r["character"] == {"status": 201, "id": r["character"]["id"], "language": "ko"}
    assert r["character"]["id"].startswith("gen-")
    assert r["notFound"] == {"status": 404, "code": "NOT_FOUND"}
    assert r["invalid"] == {"status": 400, "code": "VALIDATION_ERROR"}
    assert r["voices"] >= 3
