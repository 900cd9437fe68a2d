"""The seeds' client contract beyond the verbatim examples (tests/seed_examples): Korean-first
language choice, speed through every engine, GPT-SoVITS parameters on the wire, chosen character
ids, 404 for any unknown path, and CORS with credentials (a real preflight, and headless Chromium
on another origin with ``credentials: 'include'``)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import threading

import httpx
import pytest

from tests.conftest import serve
from tests.stand_ins.sovits_api_v2 import create_stand_in, run_stand_in
from tests.web_e2e import ensure_web_built, run_node
from tests.wsclient import Client

pytestmark = pytest.mark.slow


@pytest.fixture
async def http(live):
    async with httpx.AsyncClient(base_url=live.url, timeout=120) as client:
        yield client


def ok(r: httpx.Response) -> dict:
    assert r.status_code in (200, 201), r.text
    return r.json()["data"]


async def tts_seconds(http, **body) -> float:
    return ok(await http.post("/api/tts", json=body))["duration"]


async def test_korean_text_without_language_is_read_by_the_korean_voice(http):
    text = "안녕하세요, 반갑습니다. 오늘 날씨가 좋네요."

    async def mouth(**lang) -> list[str]:  # the viseme sequence: what the voice pronounced
        d = ok(await http.post("/api/tts", json={"text": text, **lang}))
        return [v["viseme"] for v in d["visemes"] if v["viseme"] != "sil"], d["language"]

    auto, ko, en = await mouth(), await mouth(language="ko"), await mouth(language="en")
    assert auto[1] == ko[1] == "ko" and auto[0] == ko[0] != en[0]
    wav = await http.post("/api/tts", json={"text": text, "return_binary": True})
    assert wav.headers["x-language"] == "ko" and wav.content[:4] == b"RIFF"


@pytest.mark.parametrize("language,text,fast", [
    # Piper (length_scale = 1/speed): its phonemes have a floor of one frame, so 2.0 gives
    # ~0.62 of the time, not 0.5 (docs/seeds-differences.md)
    ("en", "Good morning. The ferry leaves at noon, so we have time for coffee.", (0.5, 0.7)),
    ("ko", "좋은 아침이에요. 배는 정오에 떠나니까 커피 마실 시간이 있어요.", (0.4, 0.6)),  # espeak
])
async def test_speed_changes_the_duration(http, language, text, fast):
    d = {s: await tts_seconds(http, text=text, language=language, speed=s)
         for s in (0.5, 1.0, 2.0)}
    assert fast[0] <= d[2.0] / d[1.0] <= fast[1], d
    assert 1.6 <= d[0.5] / d[1.0] <= 2.3, d  # about double
    alias = await tts_seconds(http, text=text, language=language, speed_factor=2.0)
    assert fast[0] <= alias / d[1.0] <= fast[1], (alias, d)  # speed_factor: the same thing


async def test_gpt_sovits_gets_speed_streaming_mode_and_reference(second_app):
    """The GPT-SoVITS engine (against the api_v2 stand-in) receives the request's speed as
    speed_factor, streaming_mode (TTS body) / tts_streaming_mode (chat), and ref_audio_path."""
    stand_in = create_stand_in(check_refs=False)  # the seeds' paths exist on their GPU host
    with run_stand_in(stand_in) as sovits_url, second_app(
            tts_engine="gpt_sovits", tts_sovits_url=sovits_url,
            tts_sovits_ref_audio_path="/srv/ref.wav", tts_sovits_prompt_text="기준 음성",
            tts_sovits_streaming_mode=1) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            sent = stand_in.state.requests

            async def last(**body) -> dict:
                sent.clear()
                r = await http.post("/api/tts", json={"text": "안녕하세요.", **body})
                assert r.status_code == 200, r.text
                return sent[-1]["json"]

            plain = await last()
            assert plain["speed_factor"] == 1.0 and plain["streaming_mode"] == 1
            assert plain["ref_audio_path"] == "/srv/ref.wav" and plain["text_lang"] == "ko"
            fast = await last(speed=2.0, streaming_mode=0)
            assert fast["speed_factor"] == 2.0 and fast["streaming_mode"] == 0
            seed = await last(text_lang="ko", ref_audio_path="/opt/GPT-SoVITS/ref_audio.wav",
                              prompt_lang="ko", prompt_text="참조", speed_factor=1.5)
            assert seed["ref_audio_path"] == "/opt/GPT-SoVITS/ref_audio.wav"
            assert seed["prompt_text"] == "참조" and seed["speed_factor"] == 1.5
            t1 = ok(await http.post("/api/tts", json={"text": "안녕하세요 여러분."}))["duration"]
            t2 = ok(await http.post("/api/tts", json={"text": "안녕하세요 여러분.",
                                                       "speed": 2.0}))["duration"]
            assert 0.4 <= t2 / t1 <= 0.62, (t1, t2)

            sent.clear()
            r = await http.post("/api/chat", json={
                "messages": [{"role": "user", "content": "안녕!"}], "max_tokens": 8,
                "tts_streaming_mode": 3})
            assert r.status_code == 200, r.text
            assert sent and {q["json"]["streaming_mode"] for q in sent} == {3}


async def test_unknown_paths_are_not_found_whatever_the_method(http):
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        for path in ("/api/models/upload", "/api/system/nothing", "/api/auth/logout", "/nothing"):
            r = await http.request(method, path, headers={"accept": "application/json"})
            assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND", (method, path)
    r = await http.post("/api/chat/models")  # a real path, another method: 405 with Allow
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_characters_keep_a_chosen_id(http):
    body = {"id": "yuzu-test", "name": "유즈", "personality": "밝다", "persona": "귤을 좋아한다",
            "voice_id": "espeak:ko", "thumbnail_url": "/img/yuzu.png", "language": None}
    c = ok(await http.post("/api/characters", json=body))
    assert c["id"] == "yuzu-test" and c["language"] == "ko" and c["voice"]["voice_id"] == "espeak:ko"
    assert c["thumbnail_url"] == "/img/yuzu.png" and "귤을 좋아한다" in c["description"]
    assert ok(await http.get("/api/characters/yuzu-test"))["name"] == "유즈"
    for taken in ("yuzu-test", "mina"):
        r = await http.post("/api/characters", json={**body, "id": taken})
        assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"
    d = ok(await http.post("/api/chat", json={"character_id": "yuzu-test", "max_tokens": 8,
                                              "messages": [{"role": "user", "content": "?"}],
                                              "tts_enabled": False}))
    assert d["language"] == "ko"
    assert (await http.delete("/api/characters/yuzu-test")).status_code == 204


@pytest.mark.parametrize("persona,language", [("밝고 명랑한 10대 소녀", "ko"),
                                              ("A calm old librarian", "en")])
async def test_persona_without_character_takes_its_language(http, persona, language):
    d = ok(await http.post("/api/chat", json={
        "persona": persona, "messages": [{"role": "user", "content": "?!"}], "max_tokens": 8,
        "tts_enabled": False}))
    assert d["language"] == language


async def test_ws_input_text_language_from_the_script(live):
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=6)
    try:
        session = live.session(c)
        assert session.language == "en"  # mina
        await c.turn("안녕하세요! 잘 지내요?")
        assert session.language == "ko"
        await c.turn("Hello again!")
        assert session.language == "en"
        await c.send({"type": "session.update", "language": "en"})
        await c.expect("session.updated")
        await c.turn("한국어로 말해도 영어로 둘게요")  # a language given: no detection
        assert session.language == "en"
    finally:
        await c.close()


# ------------------------------------------------------------------------------------ CORS
class _Page(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        body = b"<!doctype html><title>seed frontend</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def frontend():
    """A page server standing in for the seeds' Next.js dev server (another origin)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    yield f"http://127.0.0.1:{port}", f"http://localhost:{port}"  # two origins
    server.shutdown()


@pytest.fixture
def cors_app(second_app, frontend):
    listed, _ = frontend
    with second_app(cors_origins=[listed]) as (url, app):
        yield url


async def test_cors_preflight_with_credentials(cors_app, frontend):
    listed, other = frontend
    ask = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    async with httpx.AsyncClient(base_url=cors_app, timeout=30) as http:
        r = await http.options("/api/chat", headers={"Origin": listed, **ask})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == listed
        assert r.headers["access-control-allow-credentials"] == "true"
        assert "POST" in r.headers["access-control-allow-methods"]
        r = await http.options("/api/chat", headers={"Origin": other, **ask})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        r = await http.get("/api/health", headers={"Origin": listed})
        assert r.headers["access-control-allow-origin"] == listed
        assert r.headers["access-control-allow-credentials"] == "true"


def test_cors_in_chromium_with_credentials(cors_app, frontend):
    """The seeds' frontend calls the API from its own origin with credentials: 'include'."""
    ensure_web_built()  # Chromium and Node (the page itself is not the web client)
    listed, other = frontend
    r = run_node("cors.mjs", cors_app, listed + "/", other + "/", timeout=120)["results"]
    allowed, refused = r[listed + "/"], r[other + "/"]
    assert allowed["origin"] == listed and allowed["status"] == 200 and allowed["success"]
    assert allowed["content"] and allowed["sessionId"]
    assert refused["origin"] == other and "Failed to fetch" in refused["error"]
    assert any("CORS" in e for e in refused["consoleErrors"]), refused


async def test_cors_star_and_listed_origins():
    """``["*", listed]``: any origin without credentials, the listed one with them."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from realtime.api.cors import CorsByOrigin

    inner = Starlette(routes=[Route("/x", lambda r: PlainTextResponse("x"))])
    app = CorsByOrigin(inner, ["*", "http://localhost:3000"])
    with serve(app, lifespan="off") as url:
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.get("/x", headers={"Origin": "http://elsewhere.test"})
            assert r.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in r.headers
            r = await http.get("/x", headers={"Origin": "http://localhost:3000"})
            assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
            assert r.headers["access-control-allow-credentials"] == "true"
