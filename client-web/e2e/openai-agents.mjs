// @openai/agents-realtime (npm), unmodified, against the server's OpenAI Realtime endpoint: a
// typed turn answered with speech, then a second one interrupted mid-answer (the SDK sends
// response.cancel and conversation.item.truncate). Every server event is also checked with the
// SDK's own zod schemas (an event they reject would be skipped silently by the session).
//   node e2e/openai-agents.mjs SERVER_URL
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RealtimeAgent, RealtimeSession } from '@openai/agents-realtime';
import { log, main, report } from './lib.mjs';

const WEB = dirname(dirname(fileURLToPath(import.meta.url)));
// the package's own event parser (not in its export map): the schemas its session uses
const { parseRealtimeEvent } = await import(pathToFileURL(join(
  WEB, 'node_modules', '@openai', 'agents-realtime', 'dist', 'openaiRealtimeEvents.mjs')).href);

const [server] = process.argv.slice(2);
/** ``promise``, or an error naming ``what`` after ``ms``: a hang fails the test quickly. */
function within(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

const STORY = 'Tell me a long story about a dragon and a baker, with many details.';

main(async () => {
  const agent = new RealtimeAgent({
    name: 'Guide', instructions: 'You are a friendly guide. Answer in one or two short sentences.',
  });
  const session = new RealtimeSession(agent, { transport: 'websocket', model: 'gpt-realtime' });
  const errors = [];
  const generic = [];
  const statuses = [];
  let audioBytes = 0;
  let truncated = 0;
  let onTruncated;
  const truncatedOnce = new Promise((resolve) => { onTruncated = resolve; });
  session.on('error', (e) => errors.push(JSON.stringify(e.error ?? e).slice(0, 500)));
  session.on('audio', (e) => { audioBytes += e.data.byteLength; });
  session.transport.on('*', (raw) => {
    if (parseRealtimeEvent({ data: JSON.stringify(raw) }).isGeneric) generic.push(raw.type);
    if (raw.type === 'response.done') statuses.push(raw.response.status);
    if (raw.type === 'conversation.item.truncated') {
      truncated += 1;
      onTruncated();
    }
  });
  const agentEnd = () => new Promise((resolve) => {
    session.once('agent_end', (_ctx, _agent, output) => resolve(output));
  });
  const url = `${server.replace(/^http/, 'ws')}/v1/realtime?model=gpt-realtime`;
  await session.connect({ apiKey: 'any-key', url });
  log('connected');

  let ended = agentEnd();
  session.sendMessage('Hello! Who are you?');
  const answer = await within(ended, 60000, 'the first answer');
  log('first answer:', answer);

  const firstAudio = new Promise((resolve) => session.once('audio', resolve));
  const interrupted = new Promise((resolve) => session.once('audio_interrupted', resolve));
  ended = agentEnd();
  session.sendMessage(STORY);
  await within(firstAudio, 60000, 'audio of the second answer');
  log('second answer: first audio');
  session.interrupt();
  await within(interrupted, 10000, 'audio_interrupted');
  log('audio_interrupted');
  await within(ended, 30000, 'the end of the interrupted answer');
  log('interrupted; waiting for the truncate to be answered');
  await within(truncatedOnce, 30000, 'conversation.item.truncated');
  session.close();
  report({ ok: true, errors, generic, answer, audioBytes, statuses, interrupted: true, truncated });
});
