import { describe, expect, it } from 'vitest';
import {
  AUDIO_HEADER_BYTES, DecodeError, encodeAudioFrame, parseAudioFrame, parseServerMessage, pcm16ToFloat32,
} from '../src/protocol/codec';

/** A frame written byte by byte, little-endian, exactly as docs/protocol.md lays it out. */
function rawFrame(kind: number, version: number, responseId: number, chunk: number, offset: number,
                  samples: number[]): Uint8Array<ArrayBuffer> {
  const out = [kind, version, 0, 0];
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  u32(responseId);
  u32(chunk);
  u32(offset);
  for (const s of samples) {
    const u = s & 0xffff;
    out.push(u & 0xff, u >> 8);
  }
  return Uint8Array.from(out);
}

describe('binary audio frames', () => {
  it('parses the header and little-endian PCM16', () => {
    const bytes = rawFrame(1, 1, 7, 3, 48000, [0, 1, -1, 32767, -32768, 258]);
    const f = parseAudioFrame(bytes.buffer);
    expect(f.responseId).toBe(7);
    expect(f.chunkIndex).toBe(3);
    expect(f.sampleOffset).toBe(48000);
    expect(Array.from(f.samples)).toEqual([0, 1, -1, 32767, -32768, 258]);
  });

  it('reads u32 fields above 2^31 unsigned', () => {
    const f = parseAudioFrame(rawFrame(1, 1, 0x80000001, 0xfffffffe, 0x90000000, []).buffer);
    expect(f.responseId).toBe(0x80000001);
    expect(f.chunkIndex).toBe(0xfffffffe);
    expect(f.sampleOffset).toBe(0x90000000);
    expect(f.samples.length).toBe(0);
  });

  it('honours the view offset of a Uint8Array inside a larger buffer', () => {
    const inner = rawFrame(1, 1, 2, 0, 10, [100, -100]);
    const big = new Uint8Array(inner.length + 5);
    big.set(inner, 3);
    const f = parseAudioFrame(big.subarray(3, 3 + inner.length));
    expect(f.responseId).toBe(2);
    expect(Array.from(f.samples)).toEqual([100, -100]);
  });

  it('rejects short, unknown, wrong-version and odd frames', () => {
    expect(() => parseAudioFrame(new Uint8Array(AUDIO_HEADER_BYTES - 1))).toThrow(DecodeError);
    expect(() => parseAudioFrame(rawFrame(2, 1, 1, 0, 0, [1]))).toThrow(/kind 2/);
    expect(() => parseAudioFrame(rawFrame(1, 2, 1, 0, 0, [1]))).toThrow(/version 2/);
    const odd = new Uint8Array(AUDIO_HEADER_BYTES + 3);
    odd.set(rawFrame(1, 1, 1, 0, 0, []));
    expect(() => parseAudioFrame(odd)).toThrow(/odd/);
  });

  it('round-trips through the encoder', () => {
    const samples = Int16Array.from([5, -6, 7, -32768, 32767]);
    const f = parseAudioFrame(encodeAudioFrame({ responseId: 9, chunkIndex: 4, sampleOffset: 2400, samples }));
    expect(f).toEqual({ responseId: 9, chunkIndex: 4, sampleOffset: 2400, samples });
    expect(new Uint8Array(encodeAudioFrame({ responseId: 9, chunkIndex: 4, sampleOffset: 2400, samples })))
      .toEqual(rawFrame(1, 1, 9, 4, 2400, Array.from(samples)));
  });

  it('converts PCM16 to float in [-1, 1)', () => {
    expect(Array.from(pcm16ToFloat32(Int16Array.from([0, 16384, -32768])))).toEqual([0, 0.5, -1]);
  });
});

describe('JSON messages', () => {
  it('accepts known server messages', () => {
    const m = parseServerMessage('{"type":"response.text.delta","response_id":1,"delta":"Hi"}');
    expect(m.type).toBe('response.text.delta');
    if (m.type === 'response.text.delta') expect(m.delta).toBe('Hi');
  });

  it('rejects invalid JSON, non-objects and unknown types', () => {
    expect(() => parseServerMessage('{nope')).toThrow(/invalid JSON/);
    expect(() => parseServerMessage('[1]')).toThrow(/not an object/);
    expect(() => parseServerMessage('{"type":"made.up"}')).toThrow(/unknown server message type/);
    expect(() => parseServerMessage('{"delta":"x"}')).toThrow(/unknown/);
  });
});
