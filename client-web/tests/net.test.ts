import { describe, expect, it } from 'vitest';
import { parseCharacters } from '../src/net/characters';
import { backoffDelay, wsUrl } from '../src/net/connection';

describe('reconnection backoff', () => {
  it('doubles from 500 ms and caps at 10 s', () => {
    const mid = () => 0.5; // no jitter
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, 500, 10_000, 0.2, mid)))
      .toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('spreads retries by at most ±20 %, never past the cap', () => {
    for (const r of [0, 0.25, 0.999]) {
      const d = backoffDelay(3, 500, 10_000, 0.2, () => r);
      expect(d).toBeGreaterThanOrEqual(1600);
      expect(d).toBeLessThanOrEqual(2400);
      expect(backoffDelay(20, 500, 10_000, 0.2, () => r)).toBeLessThanOrEqual(10_000);
    }
  });

  it('builds the WebSocket URL from the page location', () => {
    expect(wsUrl({ protocol: 'http:', host: '127.0.0.1:8000' })).toBe('ws://127.0.0.1:8000/ws');
    expect(wsUrl({ protocol: 'https:', host: 'example.org' })).toBe('wss://example.org/ws');
  });

  it('adds the token and the session to resume, leaving out empty ones', () => {
    expect(wsUrl({ protocol: 'http:', host: 'h' }, '/ws', { token: 'a b', session_id: null }))
      .toBe('ws://h/ws?token=a+b');
    expect(wsUrl({ protocol: 'http:', host: 'h' }, '/ws', { token: null, session_id: 's1' }))
      .toBe('ws://h/ws?session_id=s1');
  });
});

describe('GET /api/characters bodies', () => {
  const items = [
    { id: 'mina', name: 'Mina', description: 'A guide', avatar_url: '/avatars/default.glb', language: 'en' },
    { id: 'leo', name: 'Leo' },
  ];
  const expected = [
    { id: 'mina', name: 'Mina', description: 'A guide', avatarUrl: '/avatars/default.glb', language: 'en' },
    { id: 'leo', name: 'Leo' },
  ];

  it('takes a plain list, {items}, and the REST envelope around either', () => {
    expect(parseCharacters(items)).toEqual(expected);
    expect(parseCharacters({ items })).toEqual(expected);
    expect(parseCharacters({ success: true, data: items })).toEqual(expected);
    expect(parseCharacters({ success: true, data: { items, default: 'mina' } })).toEqual(expected);
  });

  it('skips entries without an id and names unnamed ones by id', () => {
    expect(parseCharacters([{ name: 'no id' }, { id: 'x' }, null, 3])).toEqual([{ id: 'x', name: 'x' }]);
  });

  it('refuses anything else', () => {
    expect(() => parseCharacters({ success: false, error: { code: 'X' } })).toThrow();
    expect(() => parseCharacters('nope')).toThrow();
  });
});
