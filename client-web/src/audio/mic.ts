/**
 * The microphone: getUserMedia (echo cancellation and noise suppression on: the server does not
 * cancel the avatar's own voice) -> AudioWorklet -> 16 kHz PCM16 frames of 20 ms.
 */
import workletUrl from './mic-worklet.ts?worker&url';
import type { MicFrameMessage } from './mic-worklet';

export type MicFailure = 'denied' | 'unsupported' | 'no-device' | 'error';

export class MicError extends Error {
  override name = 'MicError';
  constructor(readonly kind: MicFailure, message: string) {
    super(message);
  }
}

export interface MicHandlers {
  onFrame(pcm: ArrayBuffer): void;
  onLevel(level: number): void;
  /** The track ended on its own (device unplugged, permission revoked). */
  onEnded(): void;
}

export class Microphone {
  private ctx: AudioContext | null = null;
  private stream: MediaStream | null = null;
  private node: AudioWorkletNode | null = null;

  constructor(private readonly handlers: MicHandlers) {}

  get running(): boolean {
    return this.stream !== null;
  }

  async start(): Promise<void> {
    if (this.stream) return;
    if (!navigator.mediaDevices?.getUserMedia || typeof AudioWorkletNode === 'undefined') {
      throw new MicError('unsupported', 'this browser cannot capture audio here (a secure context — https or localhost — is required)');
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
      });
    } catch (err) {
      const name = err instanceof DOMException ? err.name : '';
      if (name === 'NotAllowedError' || name === 'SecurityError') {
        throw new MicError('denied', 'microphone access was denied');
      }
      if (name === 'NotFoundError' || name === 'OverconstrainedError') {
        throw new MicError('no-device', 'no microphone found');
      }
      throw new MicError('error', err instanceof Error ? err.message : String(err));
    }
    try {
      const ctx = new AudioContext({ latencyHint: 'interactive' });
      await ctx.audioWorklet.addModule(workletUrl);
      const source = ctx.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(ctx, 'mic-frames', { numberOfInputs: 1, numberOfOutputs: 0 });
      node.port.onmessage = (ev: MessageEvent<MicFrameMessage>) => {
        this.handlers.onLevel(ev.data.level);
        this.handlers.onFrame(ev.data.pcm);
      };
      source.connect(node);
      if (ctx.state === 'suspended') await ctx.resume();
      for (const track of stream.getAudioTracks()) track.onended = () => this.handlers.onEnded();
      this.ctx = ctx;
      this.node = node;
      this.stream = stream;
    } catch (err) {
      stream.getTracks().forEach((t) => t.stop());
      throw new MicError('error', `audio capture failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  stop(): void {
    this.node?.port.close();
    this.node?.disconnect();
    this.stream?.getTracks().forEach((t) => t.stop());
    void this.ctx?.close();
    this.node = null;
    this.stream = null;
    this.ctx = null;
    this.handlers.onLevel(0);
  }
}
