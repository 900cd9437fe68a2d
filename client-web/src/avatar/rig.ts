/**
 * A loaded avatar behind one interface, whether a GLB with Oculus viseme morph targets (Ready
 * Player Me style, or our default avatar) or a VRM (mouth through the expressions aa ih ou ee oh).
 */
import * as THREE from 'three';
import type { GLTF } from 'three/examples/jsm/loaders/GLTFLoader.js';
import type { VRM } from '@pixiv/three-vrm';
import { MORPH_NAME, VISEMES, openness, toVrm, VRM_MOUTH } from '../lipsync/visemes';
import type { BodyBone, Euler3, Pose } from './motion';

export interface Rig {
  kind: 'glb' | 'vrm';
  root: THREE.Object3D;
  /** Smoothed viseme weights (protocol order), pose from ./motion.ts. */
  apply(visemes: Float32Array, pose: Pose): void;
  update(dtS: number): void;
  /** World position of the head (for framing), or null. */
  head(): THREE.Vector3 | null;
  /** Current mouth morph/expression values actually set on the model (test hook). */
  probe(): Record<string, number>;
  /** How the mouth is driven, e.g. "15 viseme morphs" (shown in the UI and the test hook). */
  describe(): string;
  /** VRM only: the humanoid's bones and the expressions, as three-vrm read them. */
  vrmInfo?(): { bones: string[]; expressions: string[] };
}

type Binding = { mesh: THREE.Mesh; index: number }[];

/** Every morph target in the scene by name (several meshes may share one). */
function morphIndex(root: THREE.Object3D): Map<string, Binding> {
  const out = new Map<string, Binding>();
  root.traverse((o) => {
    const mesh = o as THREE.Mesh;
    if (!mesh.isMesh || !mesh.morphTargetDictionary) return;
    for (const [name, index] of Object.entries(mesh.morphTargetDictionary)) {
      const list = out.get(name) ?? [];
      list.push({ mesh, index });
      out.set(name, list);
    }
  });
  return out;
}

const BONE_PATTERNS: Record<BodyBone | 'leftEye' | 'rightEye', RegExp> = {
  spine: /^(mixamorig:?)?spine$|^spine1?$/i,
  chest: /^(mixamorig:?)?(spine[12]|chest|upperchest)$/i,
  neck: /^(mixamorig:?)?neck$/i,
  head: /^(mixamorig:?)?head$/i,
  leftEye: /^(mixamorig:?)?(lefteye|eye[._]?l)$/i,
  rightEye: /^(mixamorig:?)?(righteye|eye[._]?r)$/i,
};

type BoneMap = Partial<Record<BodyBone | 'leftEye' | 'rightEye', THREE.Object3D>>;

/** Rotates bones by offsets expressed in the avatar's own space (pitch about its X axis…),
 * whatever each bone's local axes are. */
class BonePoser {
  private readonly rest = new Map<THREE.Object3D, THREE.Quaternion>();
  private readonly q = new THREE.Quaternion();
  private readonly parentQ = new THREE.Quaternion();
  private readonly rootQ = new THREE.Quaternion();
  private readonly e = new THREE.Euler();

  constructor(private readonly root: THREE.Object3D, readonly bones: BoneMap) {
    for (const b of Object.values(bones)) if (b) this.rest.set(b, b.quaternion.clone());
  }

  pose(pose: Pose): void {
    this.root.getWorldQuaternion(this.rootQ);
    const order: (BodyBone)[] = ['spine', 'chest', 'neck', 'head'];
    for (const name of order) this.set(this.bones[name], pose.bones[name]);
    const [yaw, pitch] = pose.eyes;
    this.set(this.bones.leftEye, [-pitch, yaw, 0]);
    this.set(this.bones.rightEye, [-pitch, yaw, 0]);
  }

  private set(bone: THREE.Object3D | undefined, [pitch, yaw, roll]: Euler3): void {
    if (!bone) return;
    const rest = this.rest.get(bone)!;
    bone.quaternion.copy(rest);
    if (!bone.parent) return;
    bone.parent.updateWorldMatrix(true, false);
    bone.parent.getWorldQuaternion(this.parentQ);
    // offset in root space -> world: R * O * R^-1
    this.e.set(pitch, yaw, roll, 'YXZ');
    this.q.setFromEuler(this.e);
    this.q.premultiply(this.rootQ).multiply(this.rootQ.clone().invert());
    // new local = P^-1 * offsetWorld * P * rest
    const p = this.parentQ;
    bone.quaternion.copy(p.clone().invert().multiply(this.q).multiply(p).multiply(rest));
  }
}

/** Emotion recipes in ARKit/RPM morph names; a name N also matches NLeft + NRight. */
const EMOTION_MORPHS: Record<keyof Pose['emotions'], Record<string, number>> = {
  happy: { mouthSmile: 0.85, cheekSquint: 0.3 },
  relaxed: { mouthSmile: 0.4 },
  sad: { mouthFrown: 0.7, browInnerUp: 0.8 },
  angry: { browDown: 0.9, mouthFrown: 0.35 },
  surprised: { browInnerUp: 1, eyeWide: 0.6 },
};
const RESTING_SMILE = 0.12;

export class GlbRig implements Rig {
  readonly kind = 'glb';
  private readonly morphs: Map<string, Binding>;
  private readonly poser: BonePoser;
  private readonly acc = new Map<string, number>();
  private readonly visemeNames: (string | null)[];
  private readonly jawName: string | null;

  constructor(readonly root: THREE.Object3D) {
    this.morphs = morphIndex(root);
    this.visemeNames = VISEMES.map((v) => {
      const candidates = [MORPH_NAME[v], `viseme_${v}`];
      return candidates.find((n) => this.morphs.has(n)) ?? null;
    });
    this.jawName = ['jawOpen', 'mouthOpen', 'MouthOpen'].find((n) => this.morphs.has(n)) ?? null;
    const bones: BoneMap = {};
    root.traverse((o) => {
      for (const [k, re] of Object.entries(BONE_PATTERNS) as [keyof BoneMap, RegExp][]) {
        if (!bones[k] && re.test(o.name)) bones[k] = o;
      }
    });
    this.poser = new BonePoser(root, bones);
  }

  describe(): string {
    const n = this.visemeNames.filter((x) => x !== null).length;
    return n > 0 ? `${n} viseme morphs` : this.jawName ? `jaw morph ${this.jawName}` : 'no mouth morphs';
  }

  private add(name: string, w: number): void {
    if (w <= 0) return;
    const names = this.morphs.has(name) ? [name]
      : [`${name}Left`, `${name}Right`, `${name}_L`, `${name}_R`].filter((n) => this.morphs.has(n));
    for (const n of names) this.acc.set(n, (this.acc.get(n) ?? 0) + w);
  }

  apply(visemes: Float32Array, pose: Pose): void {
    this.acc.clear();
    for (const name of this.morphs.keys()) this.acc.set(name, 0);
    let mapped = false;
    this.visemeNames.forEach((name, i) => {
      if (name && i > 0) {
        this.add(name, visemes[i] ?? 0);
        mapped = true;
      }
    });
    if (!mapped && this.jawName) this.add(this.jawName, openness(visemes));
    const [bl, br] = pose.blink;
    if (this.morphs.has('eyeBlinkLeft') || this.morphs.has('eyeBlink_L')) {
      this.add(this.morphs.has('eyeBlinkLeft') ? 'eyeBlinkLeft' : 'eyeBlink_L', bl);
      this.add(this.morphs.has('eyeBlinkRight') ? 'eyeBlinkRight' : 'eyeBlink_R', br);
    } else {
      this.add('blink', Math.max(bl, br));
    }
    let emotion = 0;
    for (const [k, recipe] of Object.entries(EMOTION_MORPHS) as [keyof Pose['emotions'], Record<string, number>][]) {
      const w = pose.emotions[k];
      emotion += w;
      for (const [morph, f] of Object.entries(recipe)) this.add(morph, w * f);
    }
    this.add('mouthSmile', RESTING_SMILE * Math.max(0, 1 - emotion));
    for (const [name, w] of this.acc) {
      for (const { mesh, index } of this.morphs.get(name) ?? []) {
        if (mesh.morphTargetInfluences) mesh.morphTargetInfluences[index] = Math.min(1, w);
      }
    }
    this.poser.pose(pose);
  }

  update(): void {}

  head(): THREE.Vector3 | null {
    const h = this.poser.bones.head;
    return h ? h.getWorldPosition(new THREE.Vector3()) : null;
  }

  probe(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of [...this.visemeNames, this.jawName]) {
      const b = name ? this.morphs.get(name)?.[0] : undefined;
      if (name && b) out[name] = b.mesh.morphTargetInfluences?.[b.index] ?? 0;
    }
    return out;
  }
}

export class VrmRig implements Rig {
  readonly kind = 'vrm';
  readonly root: THREE.Object3D;
  private readonly poser: BonePoser;

  constructor(private readonly vrm: VRM) {
    this.root = vrm.scene;
    const h = vrm.humanoid;
    const bone = (n: 'spine' | 'chest' | 'neck' | 'head' | 'leftEye' | 'rightEye') =>
      h.getNormalizedBoneNode(n) ?? undefined;
    const bones: BoneMap = {};
    for (const n of ['spine', 'chest', 'neck', 'head', 'leftEye', 'rightEye'] as const) {
      const b = bone(n);
      if (b) bones[n] = b;
    }
    this.poser = new BonePoser(this.root, bones);
  }

  vrmInfo(): { bones: string[]; expressions: string[] } {
    const bones = Object.entries(this.vrm.humanoid.humanBones)
      .filter(([, b]) => b && b.node).map(([name]) => name);
    const expressions = (this.vrm.expressionManager?.expressions ?? []).map((e) => e.expressionName);
    return { bones, expressions };
  }

  describe(): string {
    const names = VRM_MOUTH.filter((n) => this.vrm.expressionManager?.getExpression(n));
    return `VRM expressions ${names.join(' ') || '(none)'}`;
  }

  apply(visemes: Float32Array, pose: Pose): void {
    const em = this.vrm.expressionManager;
    if (em) {
      const mouth = toVrm(visemes);
      for (const k of VRM_MOUTH) em.setValue(k, mouth[k]);
      em.setValue('blinkLeft', pose.blink[0]);
      em.setValue('blinkRight', pose.blink[1]);
      let emotion = 0;
      for (const [k, w] of Object.entries(pose.emotions)) {
        em.setValue(k, w);
        emotion += w;
      }
      em.setValue('relaxed', Math.max(pose.emotions.relaxed, RESTING_SMILE * Math.max(0, 1 - emotion)));
    }
    this.poser.pose(pose);
  }

  update(dtS: number): void {
    this.vrm.update(dtS);
  }

  head(): THREE.Vector3 | null {
    const h = this.vrm.humanoid.getRawBoneNode('head');
    return h ? h.getWorldPosition(new THREE.Vector3()) : null;
  }

  probe(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of VRM_MOUTH) out[k] = this.vrm.expressionManager?.getValue(k) ?? 0;
    return out;
  }
}

export function rigFor(gltf: GLTF): Rig {
  const vrm = gltf.userData.vrm as VRM | undefined;
  return vrm ? new VrmRig(vrm) : new GlbRig(gltf.scene);
}
