import { beforeEach, describe, expect, it } from 'vitest';
import { ApiFailure, authorizedUrl, submitGenerate, toView } from '../src/create/api';
import { applyJob, NO_PREVIEW, useCreate } from '../src/create/store';

const status = {
  job_id: 'j1', kind: 'generate', status: 'completed', progress: 100, current_step: 'done',
  result_url: '/api/models/j1.glb', error: null, notes: ['style: toon filter'],
  result: { url: '/api/models/j1.glb', thumbnail_url: '/api/models/j1.png', vrm_url: '/api/models/j1.vrm' },
};

describe('avatar job api', () => {
  it('reads a status payload', () => {
    const v = toView(status);
    expect(v).toMatchObject({ jobId: 'j1', status: 'completed', progress: 100, step: 'done',
                              resultUrl: '/api/models/j1.glb', thumbnailUrl: '/api/models/j1.png',
                              vrmUrl: '/api/models/j1.vrm', notes: ['style: toon filter'] });
  });

  it('adds the session token to our model URLs only', () => {
    expect(authorizedUrl('/api/models/j1.glb', 'a b')).toBe('/api/models/j1.glb?token=a%20b');
    expect(authorizedUrl('/avatars/default.glb', 'tok')).toBe('/avatars/default.glb');
    expect(authorizedUrl('/api/models/j1.glb', null)).toBe('/api/models/j1.glb');
  });

  it('posts the photo and options as multipart, and surfaces the error envelope', async () => {
    let sent: FormData | null = null;
    const ok = (async (_url: string, init: RequestInit) => {
      sent = init.body as FormData;
      return new Response(JSON.stringify({ success: true, data: { job_id: 'j2', status_url: '/s', estimated_time: 6 } }),
                          { status: 202 });
    }) as unknown as typeof fetch;
    const file = new File([new Uint8Array([0xff, 0xd8, 0xff])], 'me.jpg', { type: 'image/jpeg' });
    const opts = { style: 'anime', hair: 'bob', body: 'full', vrm: true, name: 'Me' } as const;
    expect(await submitGenerate(file, opts, null, ok)).toEqual({ jobId: 'j2', statusUrl: '/s', estimatedS: 6 });
    expect(JSON.parse(String(sent!.get('options')))).toEqual(opts);
    expect((sent!.get('image') as File).name).toBe('me.jpg');
    const refused = (async () => new Response(JSON.stringify({ success: false, error: {
      code: 'NO_FACE_DETECTED', message: 'no face' } }), { status: 422 })) as unknown as typeof fetch;
    await expect(submitGenerate(file, opts, null, refused)).rejects.toMatchObject(
      new ApiFailure('NO_FACE_DETECTED', 'no face', 422));
  });
});

describe('job state', () => {
  beforeEach(() => {
    useCreate.setState({ job: { jobId: 'j1', status: 'queued', progress: 0, step: null, resultUrl: null,
                                thumbnailUrl: null, vrmUrl: null, error: null, notes: [] },
                         steps: [], preview: NO_PREVIEW });
  });

  it('records each step once, in order, and never goes backwards', () => {
    applyJob({ jobId: 'j1', status: 'processing', progress: 10, step: 'style' });
    applyJob({ jobId: 'j1', status: 'processing', progress: 30, step: 'build' });
    applyJob({ jobId: 'j1', status: 'processing', progress: 12, step: 'build' }); // a late poll
    applyJob({ jobId: 'j1', status: 'processing', progress: 8, step: 'style' }); // a later one
    applyJob({ jobId: 'j1', status: 'processing', progress: 30, step: 'style' }); // stale step
    applyJob({ jobId: 'other', status: 'failed', progress: 5, step: 'style' }); // another job
    const s = useCreate.getState();
    expect(s.steps).toEqual(['style', 'build']);
    expect(s.job).toMatchObject({ status: 'processing', progress: 30 });
  });

  it('keeps the end once it came', () => {
    applyJob({ jobId: 'j1', status: 'completed', progress: 100, step: 'done', resultUrl: '/r.glb' });
    applyJob({ jobId: 'j1', status: 'processing', progress: 90, step: 'thumbnail' });
    expect(useCreate.getState().job).toMatchObject({ status: 'completed', resultUrl: '/r.glb' });
  });
});
