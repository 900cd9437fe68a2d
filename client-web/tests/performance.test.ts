import { describe, expect, it } from 'vitest';
import { Performance } from '../src/lipsync/performance';
import { VISEME_INDEX } from '../src/lipsync/visemes';

function perf(): Performance {
  const p = new Performance();
  p.begin(3);
  p.addAnimation({ response_id: 3, t_ms: 0, action: 'talk_start' });
  p.addVisemes(3, [{ t_ms: 0, viseme: 'aa', duration_ms: 500, weight: 1 }]);
  p.addAnimation({ response_id: 3, t_ms: 200, action: 'emotion', name: 'happy' });
  p.addAnimation({ response_id: 3, t_ms: 100, action: 'gesture', name: 'nod' });
  p.addAnimation({ response_id: 3, t_ms: 500, action: 'talk_end' });
  return p;
}

describe('Performance', () => {
  it('talks between talk_start and talk_end on the audio timeline', () => {
    const p = perf();
    expect(p.sample(null).talking).toBe(false);
    expect(p.sample(10).talking).toBe(true);
    expect(p.sample(499).talking).toBe(true);
    expect(p.sample(500).talking).toBe(false);
  });

  it('fires emotion and gesture cues once, in timeline order', () => {
    const p = perf();
    expect(p.sample(50).cues).toEqual([]);
    expect(p.sample(250).cues).toEqual([{ kind: 'gesture', name: 'nod' }, { kind: 'emotion', name: 'happy' }]);
    expect(p.sample(300).cues).toEqual([]);
  });

  it('drives visemes only while its response plays', () => {
    const p = perf();
    expect(p.sample(250).visemes[VISEME_INDEX.aa]).toBeCloseTo(1);
    expect(Array.from(p.sample(null).visemes).every((x) => x === 0)).toBe(true);
  });

  it('closes the mouth at once on flush and ignores the old response afterwards', () => {
    const p = perf();
    p.flush();
    expect(Array.from(p.sample(250).visemes).every((x) => x === 0)).toBe(true);
    expect(p.sample(250).talking).toBe(false);
    p.addVisemes(3, [{ t_ms: 0, viseme: 'oh', duration_ms: 500, weight: 1 }]);
    expect(p.visemeCount).toBe(0);
  });

  it('ignores events of other responses', () => {
    const p = perf();
    p.addVisemes(4, [{ t_ms: 0, viseme: 'oh', duration_ms: 900, weight: 1 }]);
    p.addAnimation({ response_id: 4, t_ms: 0, action: 'talk_end' });
    expect(p.sample(250).talking).toBe(true);
    expect(p.sample(250).visemes[VISEME_INDEX.oh]).toBe(0);
  });
});
