/**
 * Audio on/off, TTS mode, open mic vs push-to-talk, and the avatar model.
 */
import type { ChangeEvent } from 'react';
import { DEFAULT_AVATAR, useStore, type TtsMode } from '../state/store';
import { useConversation } from './context';

export function Settings() {
  const c = useConversation();
  const settings = useStore((s) => s.settings);
  const avatar = useStore((s) => s.avatar);
  const pickFile = (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (!file) return;
    useStore.setState((s) => ({ avatar: { ...s.avatar, url: URL.createObjectURL(file), label: file.name, source: 'file' } }));
  };
  return (
    <div className="settings">
      <label title="Let the avatar speak (turning it off also stops the current audio)">
        <input type="checkbox" data-testid="audio-on" checked={settings.audioOn}
               onChange={(e) => c.setAudioOn(e.target.checked)} /> Audio
      </label>
      <label title="realtime: speak while writing; delayed: after the text; on click: only when you press play">
        Voice{' '}
        <select data-testid="tts-mode" value={settings.ttsMode}
                onChange={(e) => c.setTtsMode(e.target.value as TtsMode)}>
          <option value="realtime">realtime</option>
          <option value="delayed">delayed</option>
          <option value="on_click">on click</option>
        </select>
      </label>
      <label title="Open mic: the server detects when you stop talking. Push-to-talk: hold the button or the space bar">
        Mic{' '}
        <select data-testid="mic-mode" value={settings.pushToTalk ? 'ptt' : 'open'}
                onChange={(e) => c.setPushToTalk(e.target.value === 'ptt')}>
          <option value="open">open mic</option>
          <option value="ptt">push-to-talk</option>
        </select>
      </label>
      <label className="avatar-file" title="Load a GLB (Oculus viseme morphs) or VRM avatar from your computer">
        Avatar <input type="file" data-testid="avatar-file" accept=".glb,.gltf,.vrm" onChange={pickFile} />
      </label>
      <span className={`avatar-status ${avatar.status}`} data-testid="avatar-status" data-status={avatar.status}>
        {avatar.status === 'loading' ? `loading ${avatar.label}…`
          : avatar.status === 'error' ? `could not load ${avatar.label}: ${avatar.message}`
          : `${avatar.label} (${avatar.message})`}
        {(avatar.source === 'file' || avatar.source === 'param') && (
          <button type="button" className="link"
                  onClick={() => {
                    useStore.setState((s) => ({ avatar: { ...s.avatar, url: DEFAULT_AVATAR, label: 'Default avatar', source: 'default' } }));
                    c.showCharacterAvatar();
                  }}>
            reset
          </button>
        )}
      </span>
    </div>
  );
}
