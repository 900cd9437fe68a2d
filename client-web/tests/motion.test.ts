import { describe, expect, it } from 'vitest';
import { Motion, seeded } from '../src/avatar/motion';

const idle = { talking: false, energy: 0, cues: [] };

function run(m: Motion, seconds: number, input = idle, dt = 1 / 30) {
  const poses = [];
  for (let t = 0; t < seconds; t += dt) poses.push(m.update(dt, input));
  return poses;
}

describe('Motion', () => {
  it('blinks every few seconds while idle, fully closing', () => {
    const poses = run(new Motion(seeded(1)), 12, idle, 1 / 60);
    const closed = poses.filter((p) => p.blink[0] > 0.9).length;
    const blinks = poses.filter((p, i) => i > 0 && p.blink[0] > 0 && poses[i - 1]!.blink[0] === 0).length;
    expect(blinks).toBeGreaterThanOrEqual(2);
    expect(blinks).toBeLessThanOrEqual(8);
    expect(closed).toBeGreaterThan(0);
  });

  it('breathes and moves the head a little, never much', () => {
    const poses = run(new Motion(seeded(2)), 10);
    const pitch = poses.map((p) => p.bones.chest[0]);
    expect(Math.max(...pitch) - Math.min(...pitch)).toBeGreaterThan(0.01);
    for (const p of poses) for (const v of [...p.bones.head, ...p.bones.neck]) expect(Math.abs(v)).toBeLessThan(0.12);
  });

  it('moves more while talking than while idle', () => {
    const spread = (ps: ReturnType<typeof run>) => {
      const xs = ps.map((p) => p.bones.head[0] + p.bones.neck[0]);
      return Math.max(...xs) - Math.min(...xs);
    };
    const quiet = spread(run(new Motion(seeded(3)), 6));
    const talk = spread(run(new Motion(seeded(3)), 6, { talking: true, energy: 0.8, cues: [] }));
    expect(talk).toBeGreaterThan(quiet);
  });

  it('nods on a nod gesture and shows an emotion that fades out later', () => {
    const m = new Motion(seeded(4));
    run(m, 1);
    const first = m.update(1 / 30, { ...idle, cues: [{ kind: 'gesture', name: 'nod' }, { kind: 'emotion', name: 'happy' }] });
    const after = run(m, 1.2);
    const nodRange = Math.max(...after.map((p) => p.bones.head[0])) - Math.min(...after.map((p) => p.bones.head[0]));
    expect(nodRange).toBeGreaterThan(0.08);
    expect(first.emotions.happy).toBeLessThan(0.3);
    expect(after.at(-1)!.emotions.happy).toBeGreaterThan(0.9);
    const later = run(m, 10);
    expect(later.at(-1)!.emotions.happy).toBeLessThan(0.1);
  });
});
