/**
 * Load a GLB/glTF or VRM avatar (the VRM plugin takes over when the file has a VRM extension).
 */
import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { VRMLoaderPlugin, VRMUtils, type VRM } from '@pixiv/three-vrm';
import { rigFor, type Rig } from './rig';

export async function loadAvatar(url: string, onProgress?: (fraction: number) => void): Promise<Rig> {
  const loader = new GLTFLoader();
  loader.register((parser) => new VRMLoaderPlugin(parser));
  const gltf = await loader.loadAsync(url, (ev) => {
    if (ev.lengthComputable && onProgress) onProgress(ev.loaded / ev.total);
  });
  const vrm = gltf.userData.vrm as VRM | undefined;
  if (vrm) {
    VRMUtils.rotateVRM0(vrm); // VRM 0.x faces -Z; everything here expects +Z
    vrm.scene.traverse((o) => {
      o.frustumCulled = false;
    });
  }
  gltf.scene.traverse((o) => {
    const mesh = o as THREE.Mesh;
    if (mesh.isMesh) mesh.frustumCulled = false; // skinned bounds do not follow the bones
  });
  gltf.scene.animations = gltf.animations; // the file's clips (idle, talk) for the preview
  return rigFor(gltf);
}

export function disposeAvatar(rig: Rig): void {
  rig.root.traverse((o) => {
    const mesh = o as THREE.Mesh;
    if (!mesh.isMesh) return;
    mesh.geometry.dispose();
    const mats = Array.isArray(mesh.material) ? mesh.material : [mesh.material];
    mats.forEach((m) => m.dispose());
  });
}
