/**
 * Running an avatar job from the page: submit, follow it (job.progress / job.done pushed on the
 * conversation's WebSocket, plus a slow status poll in case the socket is down), preview the
 * result in the stage, and give it to a new character -- then the conversation talks through it.
 */
import type { EventOf } from '../protocol/codec';
import { useStore } from '../state/store';
import {
  ApiFailure, cancelJob, createCharacter, fetchJob, submitGenerate, type JobView,
} from './api';
import { applyJob, NO_PREVIEW, useCreate } from './store';

const POLL_MS = 1500;
let poller: ReturnType<typeof setInterval> | null = null;

function ended(job: JobView | null): boolean {
  return !!job && ['completed', 'failed', 'cancelled'].includes(job.status);
}

function stopPolling(): void {
  if (poller) clearInterval(poller);
  poller = null;
}

function afterUpdate(): void {
  const { job } = useCreate.getState();
  if (!ended(job)) return;
  stopPolling();
  if (job?.status === 'completed' && job.resultUrl) showResult(job);
}

type JobEvent = EventOf<'job.progress'> | EventOf<'job.done'>;

/** Events that came while the upload was in flight: the job starts as soon as the server accepts
 * the photo, so its first step can be announced on the WebSocket before the POST's answer names
 * the job. They are replayed once it does. */
let early: JobEvent[] = [];

/** job.progress / job.done from the conversation's WebSocket. */
export function onJobEvent(ev: JobEvent): void {
  if (ev.kind !== 'generate') return;
  if (useCreate.getState().submitting) {
    early = [...early.slice(-63), ev];
    return;
  }
  applyEvent(ev);
}

function applyEvent(ev: JobEvent): void {
  const view: Partial<JobView> & { jobId: string } = {
    jobId: ev.job_id, status: ev.status, progress: ev.progress, step: ev.current_step ?? null,
  };
  if (ev.type === 'job.done') {
    view.resultUrl = ev.result_url ?? null;
    view.error = ev.error ?? null;
  }
  applyJob(view);
  if (ev.type === 'job.done') void refresh(); // the thumbnail, VRM and notes
  afterUpdate();
}

async function refresh(): Promise<void> {
  const { job } = useCreate.getState();
  if (!job) return;
  try {
    applyJob(await fetchJob(job.jobId));
    afterUpdate();
  } catch {
    /* the next poll or event brings it */
  }
}

export async function startJob(): Promise<void> {
  const { file, options } = useCreate.getState();
  if (!file) return;
  stopPolling();
  useCreate.setState({ submitting: true, message: null, job: null, steps: [], preview: NO_PREVIEW });
  early = [];
  try {
    const { jobId } = await submitGenerate(file, options);
    useCreate.setState({ job: { jobId, status: 'queued', progress: 0, step: null, resultUrl: null,
                                thumbnailUrl: null, vrmUrl: null, error: null, notes: [] } });
    for (const ev of early) if (ev.job_id === jobId) applyEvent(ev);
    poller = setInterval(() => void refresh(), POLL_MS);
  } catch (err) {
    const message = err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err);
    useCreate.setState({ message });
  } finally {
    early = [];
    useCreate.setState({ submitting: false });
  }
}

export async function cancel(): Promise<void> {
  const { job } = useCreate.getState();
  if (!job || ended(job)) return;
  try {
    applyJob(await cancelJob(job.jobId));
  } finally {
    afterUpdate();
  }
}

/** The result in the stage (the same viewer as the conversation), idle clip playing. */
function showResult(job: JobView): void {
  const url = job.resultUrl!;
  useStore.setState((s) => ({ avatar: { ...s.avatar, url, source: 'file', label: `avatar ${job.jobId.slice(0, 8)}` } }));
  useCreate.setState({ preview: { ...NO_PREVIEW, clip: 'idle' } });
}

export function setPreview(patch: Partial<typeof NO_PREVIEW>): void {
  useCreate.setState((s) => ({ preview: { ...s.preview, ...patch } }));
}

/** A new character wearing the avatar; the conversation switches to it. */
export async function useAsCharacter(conversation: { loadCharacters(): Promise<void>; selectCharacter(id: string): void }): Promise<void> {
  const { job, options } = useCreate.getState();
  if (!job?.resultUrl) return;
  try {
    const id = await createCharacter(options.name || 'My avatar', job.resultUrl);
    useCreate.setState({ characterId: id, preview: NO_PREVIEW, open: false });
    useStore.setState((s) => ({ avatar: { ...s.avatar, source: 'character' } }));
    await conversation.loadCharacters();
    conversation.selectCharacter(id);
  } catch (err) {
    useCreate.setState({ message: err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err) });
  }
}
