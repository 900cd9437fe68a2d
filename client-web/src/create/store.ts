/**
 * Avatar creation state (zustand): the panel, the job in progress and the preview controls.
 * The 3D view reads `preview` every frame (no re-render): a clip to play, a viseme to hold,
 * the eyes closed.
 */
import { create } from 'zustand';
import type { GenerateOptions, JobView } from './api';

export interface Preview {
  clip: 'idle' | 'talk' | null;
  viseme: string | null; // protocol viseme name (sil, PP, …, aa, E, ih, oh, ou)
  blink: boolean;
}

export interface CreateState {
  open: boolean;
  file: File | null;
  options: GenerateOptions;
  job: JobView | null;
  /** Every step the job was seen in, in order (what the user watched). */
  steps: string[];
  submitting: boolean;
  message: string | null;
  preview: Preview;
  characterId: string | null;
}

export const NO_PREVIEW: Preview = { clip: null, viseme: null, blink: false };

export const useCreate = create<CreateState>(() => ({
  open: false,
  file: null,
  options: { style: 'cartoon', hair: 'bob', body: 'head_shoulders', vrm: false, name: 'My avatar' },
  job: null,
  steps: [],
  submitting: false,
  message: null,
  preview: NO_PREVIEW,
  characterId: null,
}));

/** A newer view of the current job (from /ws or a status poll); stale views are ignored. */
export function applyJob(view: Partial<JobView> & { jobId: string }): void {
  useCreate.setState((s) => {
    if (!s.job || s.job.jobId !== view.jobId) return {};
    const ended = ['completed', 'failed', 'cancelled'];
    if (ended.includes(s.job.status) && !ended.includes(view.status ?? '')) return {};
    const job = { ...s.job, ...Object.fromEntries(Object.entries(view).filter(([, v]) => v !== undefined)) };
    if ((view.progress ?? 0) < s.job.progress && !ended.includes(job.status)) {
      job.progress = s.job.progress; // a late poll: keep what the socket already told
      job.step = s.job.step;
    }
    // each step is listed once (a late view or a resumed job repeats one)
    const steps = job.step && job.step !== 'done' && !s.steps.includes(job.step) ? [...s.steps, job.step] : s.steps;
    return { job, steps };
  });
}
