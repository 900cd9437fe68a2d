/**
 * The 3D stage: a lit scene with the avatar, orbit controls around its head.
 * `?fps=N` caps the frame rate (the end-to-end tests render with a software GPU on two cores).
 */
import { useEffect } from 'react';
import { Canvas, useThree } from '@react-three/fiber';
import { OrbitControls } from '@react-three/drei';
import type { Conversation } from '../conversation/controller';
import { testControls } from '../testing/hook';
import { AvatarModel } from './AvatarModel';

const params = new URLSearchParams(window.location.search);
const fpsCap = Number(params.get('fps')) || 0;
const dprParam = Number(params.get('dpr')) || 0;

function FrameCap({ fps }: { fps: number }) {
  const invalidate = useThree((s) => s.invalidate);
  useEffect(() => {
    const id = setInterval(() => {
      if (!testControls.frozen) invalidate();
    }, 1000 / fps);
    return () => clearInterval(id);
  }, [fps, invalidate]);
  return null;
}

function Lights() {
  return (
    <>
      <hemisphereLight args={['#fff3e6', '#2b3440', 0.9]} />
      <ambientLight intensity={0.25} />
      {/* key: warm, above and to the avatar's right */}
      <directionalLight position={[-1.2, 2.6, 2.2]} intensity={2.4} color="#fff0de" />
      {/* fill: cool, from the other side */}
      <directionalLight position={[1.6, 1.7, 1.4]} intensity={0.9} color="#dce8ff" />
      {/* rim: from behind, separates hair and shoulders from the background */}
      <directionalLight position={[0.4, 2.2, -2.2]} intensity={1.8} color="#9fdcff" />
    </>
  );
}

export function Stage({ conversation }: { conversation: Conversation }) {
  return (
    <Canvas
      className="stage-canvas"
      frameloop={fpsCap > 0 ? 'demand' : 'always'}
      dpr={dprParam > 0 ? dprParam : fpsCap > 0 ? 1 : [1, 2]}
      camera={{ fov: 24, near: 0.05, far: 50, position: [0, 1.6, 1.1] }}
      gl={{ antialias: fpsCap === 0, alpha: true, preserveDrawingBuffer: fpsCap > 0 }}
    >
      {fpsCap > 0 && <FrameCap fps={fpsCap} />}
      <Lights />
      <AvatarModel conversation={conversation} />
      <OrbitControls makeDefault enablePan={false} minDistance={0.35} maxDistance={3.5}
                     minPolarAngle={0.35} maxPolarAngle={2.1} enableDamping dampingFactor={0.12} />
    </Canvas>
  );
}
