import { afterEach, describe, expect, it, vi } from 'vitest';

// the upload whose answer the test holds back
let answer: (v: { jobId: string; statusUrl: string; estimatedS: number }) => void = () => {};
vi.mock('../src/create/api', async (original) => ({
  ...(await original<typeof import('../src/create/api')>()),
  submitGenerate: () => new Promise((resolve) => { answer = resolve; }),
  fetchJob: () => new Promise(() => {}), // the backup poll: no answer in this test
}));

const { onJobEvent, startJob } = await import('../src/create/jobs');
const { useCreate } = await import('../src/create/store');

const progress = (job_id: string, value: number, step: string) => ({
  type: 'job.progress' as const, job_id, kind: 'generate' as const, status: 'processing' as const,
  progress: value, current_step: step,
});

describe('a job announced before the upload is answered', () => {
  afterEach(() => vi.useRealTimers());

  it('replays the events that beat the 202 once the answer names the job', async () => {
    vi.useFakeTimers();
    useCreate.setState({ file: new File([new Uint8Array(4)], 'p.png'), job: null, steps: [] });
    const started = startJob();
    // the server started the job at once: its first steps arrive on /ws before the 202
    onJobEvent(progress('j9', 5, 'style'));
    onJobEvent(progress('someone-else', 50, 'rig'));
    onJobEvent(progress('j9', 20, 'build'));
    answer({ jobId: 'j9', statusUrl: '/s', estimatedS: 6 });
    await started;
    onJobEvent(progress('j9', 35, 'rig'));
    const s = useCreate.getState();
    expect(s.steps).toEqual(['style', 'build', 'rig']);
    expect(s.job).toMatchObject({ jobId: 'j9', status: 'processing', progress: 35 });
  });

  it('replays only the events of the job it names', async () => {
    useCreate.setState({ file: new File([new Uint8Array(4)], 'p.png'), job: null, steps: [] });
    const started = startJob();
    onJobEvent(progress('j7', 5, 'style'));
    answer({ jobId: 'j8', statusUrl: '/s', estimatedS: 6 }); // another job id: nothing replayed
    await started;
    expect(useCreate.getState().steps).toEqual([]);
  });
});
