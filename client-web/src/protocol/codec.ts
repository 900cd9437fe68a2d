/**
 * Wire format of protocol v1 (docs/protocol.md): JSON text frames both ways, binary audio frames
 * (16-byte header + PCM16LE) from the server, raw PCM16LE microphone frames to the server.
 * Message types come from ./generated.ts (generated from docs/protocol.schema.json).
 */
import type { ClientMessage, ServerMessage } from './generated';

/** The generated interfaces make `type` optional (it has a default); on the wire it is always
 * present, so narrow every server message to a discriminated union on `type`. */
type WithType<U> = U extends { type?: infer K } ? Omit<U, 'type'> & { type: NonNullable<K> } : never;

export type ServerEvent = WithType<ServerMessage>;
export type ServerEventType = ServerEvent['type'];
export type EventOf<T extends ServerEventType> = Extract<ServerEvent, { type: T }>;
export type { ClientMessage };

/** Every server message type; `satisfies` fails to compile when the schema gains or loses one. */
const SERVER_TYPES = {
  'session.ready': true,
  'session.updated': true,
  'response.started': true,
  'response.text.delta': true,
  'response.sentence': true,
  'response.visemes': true,
  'response.audio.done': true,
  'avatar.animation': true,
  'response.interrupted': true,
  'response.done': true,
  'vad.speech_started': true,
  'vad.speech_stopped': true,
  'input.audio.committed': true,
  'input.audio.cleared': true,
  'transcript.partial': true,
  'transcript.final': true,
  'transcript.rejected': true,
  error: true,
  pong: true,
  'response.audio': true,
  'job.progress': true,
  'job.done': true,
} as const satisfies Record<ServerEventType, true>;

export class DecodeError extends Error {
  override name = 'DecodeError';
}

/** A JSON text frame from the server. Throws DecodeError on anything that is not a known
 * message (the caller shows it; it never silently disappears). */
export function parseServerMessage(text: string): ServerEvent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DecodeError(`server sent invalid JSON: ${text.slice(0, 80)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError('server message is not an object');
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !(type in SERVER_TYPES)) {
    throw new DecodeError(`unknown server message type ${JSON.stringify(type)}`);
  }
  return value as ServerEvent;
}

export function encodeClientMessage(msg: ClientMessage): string {
  return JSON.stringify(msg);
}

// ------------------------------------------------------------------------- binary audio frames
export const AUDIO_HEADER_BYTES = 16;
export const AUDIO_KIND = 1;
export const AUDIO_VERSION = 1;

export interface AudioFrame {
  responseId: number;
  chunkIndex: number;
  /** Position of the frame's first sample on the response's audio timeline. */
  sampleOffset: number;
  /** PCM16 samples, host order (decoded from little-endian). */
  samples: Int16Array;
}

/**
 * Parse a server audio frame:
 *   0 u8 kind (1) | 1 u8 version (1) | 2 u16 reserved | 4 u32 response_id | 8 u32 chunk_index
 *   12 u32 sample_offset | 16… PCM16LE mono at session.ready.output_sample_rate
 */
export function parseAudioFrame(data: ArrayBuffer | ArrayBufferView): AudioFrame {
  const bytes = data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength < AUDIO_HEADER_BYTES) {
    throw new DecodeError(`audio frame of ${bytes.byteLength} bytes is shorter than its header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = view.getUint8(0);
  const version = view.getUint8(1);
  if (kind !== AUDIO_KIND) throw new DecodeError(`binary frame of unknown kind ${kind}`);
  if (version !== AUDIO_VERSION) throw new DecodeError(`audio frame version ${version} (want 1)`);
  const payload = bytes.byteLength - AUDIO_HEADER_BYTES;
  if (payload % 2 !== 0) throw new DecodeError(`audio payload of odd length ${payload}`);
  const count = payload / 2;
  const samples = new Int16Array(count);
  for (let i = 0; i < count; i++) samples[i] = view.getInt16(AUDIO_HEADER_BYTES + 2 * i, true);
  return {
    responseId: view.getUint32(4, true),
    chunkIndex: view.getUint32(8, true),
    sampleOffset: view.getUint32(12, true),
    samples,
  };
}

/** Build a frame (tests, and the inverse the parser is checked against). */
export function encodeAudioFrame(frame: AudioFrame): ArrayBuffer {
  const buf = new ArrayBuffer(AUDIO_HEADER_BYTES + frame.samples.length * 2);
  const view = new DataView(buf);
  view.setUint8(0, AUDIO_KIND);
  view.setUint8(1, AUDIO_VERSION);
  view.setUint16(2, 0, true);
  view.setUint32(4, frame.responseId, true);
  view.setUint32(8, frame.chunkIndex, true);
  view.setUint32(12, frame.sampleOffset, true);
  frame.samples.forEach((s, i) => view.setInt16(AUDIO_HEADER_BYTES + 2 * i, s, true));
  return buf;
}

export function pcm16ToFloat32(samples: Int16Array): Float32Array<ArrayBuffer> {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = (samples[i] ?? 0) / 32768;
  return out;
}
