/**
 * AudioWorklet processor: microphone float samples at the context rate -> 16 kHz PCM16 frames of
 * 20 ms, posted (transferred) to the main thread with the frame's level.
 */
import { Downsampler, FRAME_SAMPLES, Framer, floatToPcm16, levelOf } from './pcm';

// The AudioWorkletGlobalScope is not in TypeScript's DOM lib.
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: new () => AudioWorkletProcessor): void;

export interface MicFrameMessage {
  pcm: ArrayBuffer;
  level: number;
}

class MicProcessor extends AudioWorkletProcessor {
  private readonly down = new Downsampler(sampleRate);
  private readonly framer = new Framer(FRAME_SAMPLES);

  process(inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0];
    if (!channel || channel.length === 0) return true;
    const low = this.down.process(channel);
    for (const frame of this.framer.push(floatToPcm16(low))) {
      const level = levelOf(Float32Array.from(frame, (s) => s / 32768));
      const msg: MicFrameMessage = { pcm: frame.buffer, level };
      this.port.postMessage(msg, [frame.buffer]);
    }
    return true;
  }
}

registerProcessor('mic-frames', MicProcessor);
