/**
 * The avatar in the scene: loads the model, then every frame samples the conversation's
 * performance at the audio clock's position, smooths the mouth, runs the procedural motion and
 * applies both to the model.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { useFrame, useThree } from '@react-three/fiber';
import * as THREE from 'three';
import type { Conversation } from '../conversation/controller';
import { authorizedUrl } from '../create/api';
import { useCreate } from '../create/store';
import { VISEMES } from '../lipsync/visemes';
import { MouthSmoother, openness } from '../lipsync/visemes';
import { useStore } from '../state/store';
import { recordMouth, setTestRig, testControls, testing } from '../testing/hook';
import { disposeAvatar, loadAvatar } from './load';
import { Motion } from './motion';
import type { Rig } from './rig';

interface ControlsLike {
  target: THREE.Vector3;
  update(): void;
}

/** Head-and-shoulders framing: look at the face from the front, a little above. */
function frame(rig: Rig, camera: THREE.Camera, controls: ControlsLike | null): void {
  rig.root.updateWorldMatrix(true, true);
  let target = rig.head();
  if (target) target.y += 0.0;
  else {
    const box = new THREE.Box3().setFromObject(rig.root);
    target = new THREE.Vector3(0, box.max.y - 0.25, 0);
  }
  // forward is +Z for glTF and (rotated) VRM avatars
  camera.position.set(target.x, target.y + 0.05, target.z + 1.3);
  camera.lookAt(target);
  if (controls) {
    controls.target.copy(target);
    controls.update();
  }
}

export function AvatarModel({ conversation }: { conversation: Conversation }) {
  const url = useStore((s) => s.avatar.url);
  const [rig, setRig] = useState<Rig | null>(null);
  const camera = useThree((s) => s.camera);
  const controls = useThree((s) => s.controls) as unknown as ControlsLike | null;
  const smoother = useMemo(() => new MouthSmoother(), []);
  const motion = useMemo(() => new Motion(), []);

  // a new URL: load it; the current avatar stays until the new one is ready (or failed to load)
  const current = useRef<Rig | null>(null);
  useEffect(() => {
    let cancelled = false;
    useStore.setState((s) => ({ avatar: { ...s.avatar, status: 'loading', message: null } }));
    loadAvatar(authorizedUrl(url))
      .then((r) => {
        if (cancelled) return disposeAvatar(r);
        const previous = current.current;
        current.current = r;
        setRig(r);
        setTestRig(r);
        if (previous) disposeAvatar(previous);
        useStore.setState((s) => ({ avatar: { ...s.avatar, status: 'ready', message: r.describe() } }));
      })
      .catch((err: unknown) => {
        if (cancelled) return;
        const message = err instanceof Error ? err.message : String(err);
        useStore.setState((s) => ({ avatar: { ...s.avatar, status: 'error', message } }));
      });
    return () => {
      cancelled = true;
    };
  }, [url]);
  useEffect(() => () => {
    if (current.current) disposeAvatar(current.current);
    current.current = null;
    setTestRig(null);
  }, []);

  useEffect(() => {
    if (rig) frame(rig, camera, controls);
  }, [rig, camera, controls]);

  // the creation panel's preview: a clip of the file plays through an AnimationMixer
  const mixer = useMemo(() => (rig ? new THREE.AnimationMixer(rig.root) : null), [rig]);
  const playing = useRef<string | null>(null);
  const rest = useMemo(() => {  // the pose to go back to when a clip stops
    const out = new Map<THREE.Object3D, THREE.Quaternion>();
    rig?.root.traverse((o) => out.set(o, o.quaternion.clone()));
    return out;
  }, [rig]);

  useFrame((_, dt) => {
    const c = conversation;
    c.player.measureOutput();
    if (!rig || testControls.frozen) return;
    const preview = useCreate.getState().preview;
    const clip = preview.clip ? rig.root.animations.find((a) => a.name === preview.clip) : undefined;
    if (mixer && (clip?.name ?? null) !== playing.current) {
      mixer.stopAllAction();
      for (const [o, q] of rest) o.quaternion.copy(q);
      if (clip) mixer.clipAction(clip).reset().play();
      playing.current = clip?.name ?? null;
    }
    if (mixer && clip) { // the clip drives bones and morphs alone
      mixer.update(dt);
      rig.update(dt);
      if (testing) recordMouth();
      return;
    }
    const pos = c.player.positionMs(c.performance.responseId);
    const perf = c.performance.sample(pos);
    const held = preview.viseme ? Float32Array.from(VISEMES, (v) => (v === preview.viseme ? 1 : 0)) : null;
    const weights = smoother.step(testControls.mouth ?? held ?? perf.visemes, dt);
    const pose = motion.update(dt, { talking: perf.talking, energy: openness(weights), cues: perf.cues });
    if (preview.blink) pose.blink = [1, 1];
    rig.apply(weights, pose);
    rig.update(dt);
    if (testing) recordMouth();
  });

  return rig ? <primitive object={rig.root} /> : null;
}
