// Calls the server through the client that @hey-api/openapi-ts generated from /api/openapi.json.
// Compiled with `strict`: the typed reads below fail to compile if an answer is untyped.
import { client } from './gen/client.gen.js';
import { chat, createCharacter, getCharacter, health, models, synthesize, voices } from './gen/sdk.gen.js';
import type { ChatResult, ErrorEnvelope, HealthResult, TtsResult } from './gen/types.gen.js';

client.setConfig({ baseUrl: process.argv[2] });

async function run() {
  const h = await health();
  const state: HealthResult['llm'] = h.data!.data.llm;  // 'healthy' | 'unhealthy' | 'unknown'

  const m = await models();
  const modelIds: string[] = m.data!.data.models.map((x) => x.id);

  const c = await chat({ body: { messages: [{ role: 'user', content: '안녕하세요!' }],
                                 model: 'gemma-3-27b-it', max_tokens: 8, tts_enabled: false } });
  const answer: ChatResult = c.data!.data;
  const promptTokens: number | null | undefined = answer.usage.prompt_tokens;

  const t = await synthesize({ body: { text: '안녕하세요, 반갑습니다!' } });
  const tts = t.data as { success: true; data: TtsResult };
  const duration: number = tts.data.duration;

  const wav = await synthesize({ body: { text: '안녕하세요', return_binary: true } });
  const blob = wav.data as unknown as Blob;

  const id = `gen-${Date.now()}`;
  const made = await createCharacter({ body: { id, name: '유즈', personality: '밝다' } });
  const got = await getCharacter({ path: { character_id: made.data!.data.id } });

  const missing = await chat({ body: { messages: [{ role: 'user', content: 'hi' }],
                                       character_id: 'nobody-here' } });
  const err: ErrorEnvelope | undefined = missing.error;
  const bad = await synthesize({ body: { text: 'x', speed: 9 } });

  const v = await voices();
  console.log(JSON.stringify({
    health: state, models: modelIds,
    chat: { status: c.response!.status, content: answer.content, model: answer.model,
            requested: answer.requested_model, language: answer.language, promptTokens },
    tts: { status: t.response!.status, duration, language: tts.data.language },
    wav: { type: wav.response!.headers.get('content-type'), bytes: blob.size },
    character: { status: made.response!.status, id: got.data!.data.id, language: got.data!.data.language },
    notFound: { status: missing.response!.status, code: err?.error.code },
    invalid: { status: bad.response!.status, code: (bad.error as ErrorEnvelope | undefined)?.error.code },
    voices: v.data!.data.voices.length,
  }));
}

run().catch((e) => { console.error(e); process.exit(1); });
