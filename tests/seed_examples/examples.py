"""The design documents' REST examples, copied verbatim with their line numbers.

``seed`` is ``FILE:FIRST-LAST`` in ``shared/seeds/`` (``000_…`` the Avatar Forge plan, ``001_…``
the Phase-5 guide); ``text`` is those lines exactly as written there (``test_copies_match_the_seeds``
checks that where the seeds are at hand). ``kind``: ``curl`` (a command line), ``json METHOD PATH``
(a request body shown under its endpoint's heading), ``line`` (the endpoint's heading line,
``METHOD PATH`` in backticks, for requests without a body).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    name: str
    seed: str
    kind: str
    text: str

    @property
    def file(self) -> str:
        return self.seed.split(":")[0]

    @property
    def lines(self) -> tuple[int, int]:
        first, last = self.seed.split(":")[1].split("-")
        return int(first), int(last)


def _ex(name: str, seed: str, kind: str, text: str) -> Example:
    return Example(name, seed, kind, text.removeprefix("\n"))


EXAMPLES = [
    _ex('health', "000:1781-1781", 'line', r"""
`GET /api/health`"""),
    _ex('docs', "000:1809-1809", 'line', r"""
- **`GET /docs`** - Swagger UI 문서 (대화형 API 문서)"""),
    _ex('redoc', "000:1813-1813", 'line', r"""
- **`GET /redoc`** - ReDoc 문서 (대체 API 문서 형식)"""),
    _ex('openapi', "000:1817-1817", 'line', r"""
- **`GET /api/openapi.json`** - OpenAPI 스키마 (JSON 형식)"""),
    _ex('chat_full', "000:1840-1861", 'json POST /api/chat', r"""
{
  "messages": [
    { "role": "user", "content": "안녕하세요!" },
    { "role": "assistant", "content": "안녕! 만나서 반가워~" }
  ],
  "persona": "밝고 명랑한 10대 소녀 캐릭터. 반말을 사용하며 귀엽게 말함.",
  "character_id": "hermione",  // 선택, 캐릭터 ID (voice_id 자동 추출)
  "scenario": {  // 선택, 시나리오 정보
    "opponent": "헤르미온느 그레인저",
    "situation": "호그와트 도서관에서 만남",
    "background": "마법 세계 배경"
  },
  "session_id": "uuid-string",  // 선택, 자동 생성 (없으면 UUID 생성)
  "temperature": 0.7,
  "max_tokens": 512,
  "model": "gemma-3-27b-it",
  // TTS 관련 필드
  "tts_enabled": true,  // TTS 활성화 여부 (기본값: true)
  "tts_mode": "realtime",  // "realtime" | "delayed" | "on_click"
  "tts_delay_ms": 0,  // 지연 시간 (밀리초, delayed 모드에서 사용)
  "tts_streaming_mode": 0  // GPT-SoVITS streaming_mode (0-3)
}"""),
    _ex('chat_curl', "000:1204-1211", 'curl', r"""
curl -X POST http://localhost:8000/api/chat \
  -H "Content-Type: application/json" \
  -H "Authorization: Bearer <token>" \
  --cookie "access_token=<token>" \
  -d '{
    "messages": [{"role": "user", "content": "안녕하세요!"}],
    "model": "gemma-3-27b-it"
  }'"""),
    _ex('models', "000:1906-1906", 'line', r"""
`GET /api/chat/models`"""),
    _ex('tts', "000:1919-1924", 'json POST /api/tts', r"""
{
  "text": "안녕하세요, 반갑습니다!",
  "voice_id": "default",
  "speed": 1.0,
  "language": "ko"
}"""),
    _ex('tts_sovits_body', "000:1214-1225", 'curl', r"""
curl -X POST http://localhost:8000/api/tts \
  -H "Content-Type: application/json" \
  -H "Authorization: Bearer <token>" \
  --cookie "access_token=<token>" \
  -d '{
    "text": "안녕하세요, 반갑습니다!",
    "text_lang": "ko",
    "ref_audio_path": "/opt/GPT-SoVITS/ref_audio.wav",
    "prompt_lang": "ko",
    "media_type": "wav"
  }' \
  --output tts_output.wav"""),
    _ex('voices', "000:1946-1946", 'line', r"""
`GET /api/tts/voices`"""),
    _ex('story', "000:2144-2148", 'json POST /api/story/generate', r"""
{
  "prompt": "용감한 기사와 마법사가 드래곤을 물리치는 이야기",
  "length": "medium",
  "style": "fantasy"
}"""),
    _ex('upload_unbuilt', "000:2177-2177", 'line', r"""
`POST /api/models/upload` (multipart/form-data)"""),
    _ex('system_mode', "000:2095-2097", 'json POST /api/system/mode', r"""
{
  "mode": "chat"
}"""),
    _ex('system_vram', "000:2119-2119", 'line', r"""
`GET /api/system/vram`"""),
    _ex('chat_persona_curl', "001:1782-1790", 'curl', r"""
curl -X POST http://localhost:8000/api/chat \
  -H "Content-Type: application/json" \
  -d '{
    "messages": [
      {"role": "user", "content": "안녕하세요!"}
    ],
    "persona": "밝고 명랑한 10대 소녀 캐릭터",
    "model": "gemma-3-27b-it"
  }'"""),
    _ex('tts_curl', "001:1797-1802", 'curl', r"""
curl -X POST http://localhost:8000/api/tts \
  -H "Content-Type: application/json" \
  -d '{
    "text": "안녕하세요, 반갑습니다!",
    "language": "ko"
  }'"""),
]

BY_NAME = {e.name: e for e in EXAMPLES}
