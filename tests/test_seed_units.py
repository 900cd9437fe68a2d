"""Pieces of the seeds' REST compatibility that need no server: language detection, lenient
bodies, model choice, settings, the character import, story counting, the OpenAPI document."""

from __future__ import annotations

import json
import logging

import pytest

from realtime.api.chat import ChatBody, _pick_model
from realtime.api.tts import TTSBody
from realtime.characters.importer import import_dir
from realtime.characters.model import CharacterCreate, CharacterIn
from realtime.config import Settings
from realtime.errors import ApiError
from realtime.pipeline.language import detect_language
from realtime.pipeline.story import build_messages, count_chapters, StoryRequest
from realtime.store.long_sqlite import SqliteLongTermStore


@pytest.mark.parametrize("text,default,expected", [
    ("안녕하세요, 반갑습니다!", "en", "ko"),
    ("오늘 BTS 콘서트 갈래?", "en", "ko"),  # Hangul outweighs a Latin acronym
    ("ㅋㅋㅋ", "en", "ko"),  # bare jamo
    ("Hello there, how are you?", "ko", "en"),
    ("Ça va très bien", "ko", "en"),  # every Latin script text: en
    ("こんにちは、元気ですか", "ko", "ja"),
    ("漢字とひらがな", "ko", "ja"),  # Han with kana: Japanese
    ("韓國語 한국어", "en", "ko"),  # Han with Hangul: Korean
    ("你好，世界", "ko", "zh"),
    ("123 !!! 😀", "en", "en"),  # no letters: the default
    ("123 !!! 😀", "ko", "ko"),
    ("", "ko", "ko"),
])
def test_detect_language(text, default, expected):
    assert detect_language(text, default) == expected


def test_unknown_keys_are_ignored_and_logged_once(caplog):
    caplog.set_level(logging.WARNING, logger="realtime.lenient")
    body = {"messages": [{"role": "user", "content": "hi", "timestamp": 1}],
            "character_name": "x", "zz_unique_key": 1}
    for _ in range(3):
        parsed = ChatBody.model_validate(body)
    assert not hasattr(parsed, "zz_unique_key") and "zz_unique_key" not in parsed.model_dump()
    logged = [r.getMessage() for r in caplog.records if "zz_unique_key" in r.getMessage()]
    assert len(logged) == 1, logged


def test_tts_body_takes_both_seed_shapes():
    a = TTSBody.model_validate({"text": "안녕", "voice_id": "default", "speed": 1.0,
                                "language": "ko"})
    b = TTSBody.model_validate({"text": "안녕", "text_lang": "all_ko", "ref_audio_path": "/r.wav",
                                "prompt_lang": "ko", "media_type": "wav", "temperature": 1.0,
                                "top_k": 5, "speed_factor": 1.5, "streaming_mode": 2})
    assert a.language == "ko" and b.text_lang == "all_ko" and b.speed_factor == 1.5
    for bad in ({"text": "x", "speed": 3.0}, {"text": "x", "media_type": "aac"},
                {"text": "x", "streaming_mode": 7}, {"text": "x", "language": "korean"}):
        with pytest.raises(ValueError):
            TTSBody.model_validate(bad)


def test_model_fallback_and_strict():
    s = Settings(_env_file=None)
    assert _pick_model(s, None) == s.llm_default_model
    assert _pick_model(s, "gemma-3-27b-it") == s.llm_default_model
    strict = Settings(_env_file=None, llm_strict_models=True)
    with pytest.raises(ApiError) as err:
        _pick_model(strict, "gemma-3-27b-it")
    assert err.value.code == "VALIDATION_ERROR" and err.value.status == 400
    assert strict.llm_default_model in err.value.message  # the choices are listed


def test_max_tokens_defaults():
    assert Settings(_env_file=None).llm_max_tokens == 200  # embedded CPU model
    assert Settings(_env_file=None, llm_base_url="http://gpu:8001/v1").llm_max_tokens == 512
    assert Settings(_env_file=None, llm_max_tokens=77).llm_max_tokens == 77


def test_cors_origins_setting(monkeypatch):
    monkeypatch.setenv("AVATAR_CORS_ORIGINS", "http://localhost:3000/, https://app.example")
    assert Settings(_env_file=None).cors_origins == ["http://localhost:3000",
                                                      "https://app.example"]
    monkeypatch.setenv("AVATAR_CORS_ORIGINS", '["*", "http://localhost:3000"]')
    assert Settings(_env_file=None).cors_origins == ["*", "http://localhost:3000"]
    monkeypatch.setenv("AVATAR_CORS_ORIGINS", "localhost:3000")
    with pytest.raises(ValueError, match="not origins"):
        Settings(_env_file=None)


def test_character_seed_keys():
    c = CharacterIn.model_validate({
        "name": "헤르미온느", "persona": "책을 좋아한다", "description": "학생",
        "model_url": "/api/models/abc.glb", "thumbnail_url": "/t.png", "voice_id": "espeak:ko",
        "likes": "책, 공부", "age": 17})
    assert c.language == "ko" and c.description == "학생\n책을 좋아한다"
    assert c.avatar_url == "/api/models/abc.glb" and c.thumbnail_url == "/t.png"
    assert c.voice.voice_id == "espeak:ko" and c.likes == ["책", "공부"] and c.age == "17"
    assert CharacterIn.model_validate({"name": "Bob"}).language == "en"
    assert CharacterIn.model_validate({"name": "Bob", "language": "ko"}).language == "ko"
    assert CharacterIn.model_validate({"name": "Bob", "voice_id": "default"}).voice.voice_id is None
    with pytest.raises(ValueError):
        CharacterCreate.model_validate({"name": "x", "id": "no spaces"})


async def test_import_dir(tmp_path):
    store = SqliteLongTermStore(tmp_path / "h.sqlite3")
    await store.start()
    chars = tmp_path / "chars"
    chars.mkdir()
    (chars / "yuzu.json").write_text(json.dumps({"name": "유즈", "likes": "귤"}), "utf-8")
    (chars / "set.json").write_text(json.dumps([{"id": "a1", "name": "A"},
                                                {"id": "b2", "name": "B"}]), "utf-8")
    try:
        report = await import_dir(store, chars)
        assert report.ok and sorted(report.imported) == ["a1", "b2", "yuzu"]
        doc = await store.get_character("yuzu")
        assert doc["owner"] is None and doc["language"] == "ko" and doc["likes"] == ["귤"]
        again = await import_dir(store, chars)
        assert sorted(again.replaced) == ["a1", "b2", "yuzu"]
        assert (await store.get_character("yuzu"))["created_at"] == doc["created_at"]
        # one bad file: nothing is written
        (chars / "mina.json").write_text(json.dumps({"name": "Not Mina"}), "utf-8")  # a preset
        (chars / "zed.json").write_text(json.dumps({"name": "Zed"}), "utf-8")
        (chars / "broken.json").write_text("{", "utf-8")
        bad = await import_dir(store, chars)
        assert not bad.ok and {w for w, _ in bad.failed} == {"mina", "broken.json"}
        assert await store.get_character("zed") is None
    finally:
        await store.close()


def test_story_prompt_and_counts():
    ko = build_messages(StoryRequest("기사 이야기", "medium", "fantasy"), "ko")
    assert "3개의 장" in ko[0]["content"] and "fantasy" in ko[0]["content"]
    assert ko[1] == {"role": "user", "content": "기사 이야기"}
    assert "1 chapter" in build_messages(StoryRequest("a knight", "short"), "en")[0]["content"]
    assert count_chapters("") == 0 and count_chapters("Once upon a time.") == 1
    assert count_chapters("Chapter 1: A\ntext\nChapter 2: B\ntext\n## Chapter 3 - C\n") == 3
    assert count_chapters("제1장: 시작\n옛날에\n제 2 장 끝\n그리고") == 2


def test_openapi_has_no_phantom_422_and_typed_answers(tmp_path):
    from realtime.app import create_app

    spec = create_app(Settings(_env_file=None, storage_dir=tmp_path)).openapi()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    ops = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]
    assert len(ops) >= 17
    for path, method, op in ops:
        responses = op["responses"]
        assert "422" not in responses, (method, path)
        for status, r in responses.items():
            if status.startswith(("4", "5")):
                ref = r["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorEnvelope"), (method, path, status)
        ok = next(r for s, r in responses.items() if s.startswith("2"))
        if method == "delete" and "204" in responses:
            assert "content" not in responses["204"], (method, path)  # 204: no body
            continue
        content = ok["content"]
        if "text/event-stream" in content:
            continue
        if "application/json" not in content:  # a file (GLB, PNG): its media types are named
            assert {"model/gltf-binary", "image/png"} & set(content), (method, path, content)
            continue
        assert content["application/json"]["schema"].get("$ref"), (method, path)
        if method == "post" or "{" in path or path.startswith("/api/sessions"):
            assert "400" in responses or "404" in responses, (method, path)
    assert "audio/wav" in spec["paths"]["/api/tts"]["post"]["responses"]["200"]["content"]
