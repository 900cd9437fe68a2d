/**
 * "Create avatar": drop a photo, pick a style, watch each step, preview the result in the stage
 * (idle and talk clips, each viseme, a blink), then give it to a new character and talk to it.
 */
import { useEffect, useState, type DragEvent } from 'react';
import { useConversation } from '../ui/context';
import { useStore } from '../state/store';
import type { GenerateOptions } from './api';
import { authorizedUrl } from './api';
import { cancel, setPreview, startJob, useAsCharacter } from './jobs';
import { useCreate } from './store';

const STEPS = ['validate', 'detect', 'style', 'build', 'rig', 'face', 'clips', 'export', 'check', 'thumbnail'];
const VISEMES = ['sil', 'PP', 'FF', 'TH', 'DD', 'kk', 'CH', 'SS', 'nn', 'RR', 'aa', 'E', 'ih', 'oh', 'ou'];

export function CreateButton() {
  const open = useCreate((s) => s.open);
  return (
    <button type="button" className="btn create-toggle" data-testid="create-open"
            onClick={() => useCreate.setState({ open: !open })}>
      {open ? 'Close' : 'Create avatar'}
    </button>
  );
}

function Options() {
  const o = useCreate((s) => s.options);
  const set = (patch: Partial<GenerateOptions>) => useCreate.setState({ options: { ...o, ...patch } });
  return (
    <div className="create-options">
      <label>Style{' '}
        <select data-testid="create-style" value={o.style}
                onChange={(e) => set({ style: e.target.value as GenerateOptions['style'] })}>
          <option value="none">photo</option><option value="anime">anime</option>
          <option value="cartoon">cartoon</option><option value="chibi">chibi</option>
        </select>
      </label>
      <label>Hair{' '}
        <select data-testid="create-hair" value={o.hair}
                onChange={(e) => set({ hair: e.target.value as GenerateOptions['hair'] })}>
          <option value="bob">bob</option><option value="short">short</option>
          <option value="long">long</option><option value="bun">bun</option>
        </select>
      </label>
      <label>Body{' '}
        <select data-testid="create-body" value={o.body}
                onChange={(e) => set({ body: e.target.value as GenerateOptions['body'] })}>
          <option value="head_shoulders">head &amp; shoulders</option><option value="full">full</option>
        </select>
      </label>
      <label><input type="checkbox" data-testid="create-vrm" checked={o.vrm}
                    onChange={(e) => set({ vrm: e.target.checked })} /> VRM too</label>
      <label>Name{' '}
        <input data-testid="create-name" value={o.name} maxLength={60}
               onChange={(e) => set({ name: e.target.value })} />
      </label>
    </div>
  );
}

function Progress() {
  const job = useCreate((s) => s.job);
  const seen = useCreate((s) => s.steps);
  if (!job) return null;
  const current = job.status === 'completed' ? 'done' : job.step;
  return (
    <div className="create-progress" data-testid="create-progress" data-status={job.status}>
      <div className="create-bar"><div style={{ width: `${job.progress}%` }} /></div>
      <div className="create-status">
        <b data-testid="create-status">{job.status}</b> · {job.progress}%
        {current && <> · <span data-testid="create-step">{current}</span></>}
      </div>
      <ol className="create-steps">
        {STEPS.map((s) => (
          <li key={s} className={s === job.step && job.status === 'processing' ? 'now'
            : seen.includes(s) || job.status === 'completed' || ['validate', 'detect'].includes(s) ? 'done' : ''}>{s}</li>
        ))}
      </ol>
      {job.error && <div className="create-error" data-testid="create-error">{job.error.code}: {job.error.message}</div>}
      {job.notes.map((n) => <div key={n} className="create-note">{n}</div>)}
    </div>
  );
}

function PreviewControls() {
  const c = useConversation();
  const job = useCreate((s) => s.job);
  const preview = useCreate((s) => s.preview);
  const avatar = useStore((s) => s.avatar);
  if (job?.status !== 'completed') return null;
  return (
    <div className="create-preview">
      {job.thumbnailUrl && <img className="create-thumb" data-testid="create-thumb" alt="thumbnail"
                                src={authorizedUrl(job.thumbnailUrl)} />}
      <div className="create-controls" data-testid="create-controls" data-avatar={avatar.status}>
        {(['idle', 'talk'] as const).map((clip) => (
          <button key={clip} type="button" className={`btn ${preview.clip === clip ? 'on' : ''}`}
                  data-testid={`create-clip-${clip}`}
                  onClick={() => setPreview({ clip: preview.clip === clip ? null : clip, viseme: null })}>
            {clip}
          </button>
        ))}
        <select data-testid="create-viseme" value={preview.viseme ?? ''}
                onChange={(e) => setPreview({ viseme: e.target.value || null, clip: null })}>
          <option value="">viseme…</option>
          {VISEMES.map((v) => <option key={v} value={v}>{v}</option>)}
        </select>
        <button type="button" className={`btn ${preview.blink ? 'on' : ''}`} data-testid="create-blink"
                onClick={() => setPreview({ blink: !preview.blink })}>blink</button>
      </div>
      <div className="create-links">
        <a href={authorizedUrl(job.resultUrl!)} download>GLB</a>
        {job.vrmUrl && <a href={authorizedUrl(job.vrmUrl)} download>VRM</a>}
      </div>
      <button type="button" className="btn primary" data-testid="create-use" onClick={() => void useAsCharacter(c)}>
        Talk to this avatar
      </button>
    </div>
  );
}

export function CreatePanel() {
  const open = useCreate((s) => s.open);
  const file = useCreate((s) => s.file);
  const job = useCreate((s) => s.job);
  const submitting = useCreate((s) => s.submitting);
  const message = useCreate((s) => s.message);
  const [photo, setPhoto] = useState<string | null>(null);
  useEffect(() => {
    if (!file) return undefined;
    const url = URL.createObjectURL(file);
    setPhoto(url);
    return () => URL.revokeObjectURL(url);
  }, [file]);
  if (!open) return null;
  const take = (f: File | undefined | null) => {
    if (f) useCreate.setState({ file: f, message: null });
  };
  const drop = (e: DragEvent) => {
    e.preventDefault();
    take(e.dataTransfer.files?.[0]);
  };
  const running = job && ['queued', 'processing'].includes(job.status);
  return (
    <section className="create-panel" data-testid="create-panel">
      <h2>Create an avatar from a photo</h2>
      <label className="create-drop" data-testid="create-drop" onDragOver={(e) => e.preventDefault()} onDrop={drop}>
        {photo ? <img src={photo} alt="your photo" /> : <span>Drop a photo here, or choose one</span>}
        <input type="file" data-testid="create-file" accept="image/jpeg,image/png,image/webp"
               onChange={(e) => take(e.target.files?.[0])} />
      </label>
      <p className="create-hint">One person, facing the camera. The photo is deleted when the job ends.</p>
      <Options />
      <div className="create-actions">
        <button type="button" className="btn primary" data-testid="create-generate"
                disabled={!file || submitting || !!running} onClick={() => void startJob()}>
          {submitting ? 'Uploading…' : 'Generate'}
        </button>
        {running && <button type="button" className="btn" data-testid="create-cancel" onClick={() => void cancel()}>Cancel</button>}
      </div>
      {message && <div className="create-error" data-testid="create-message">{message}</div>}
      <Progress />
      <PreviewControls />
    </section>
  );
}
