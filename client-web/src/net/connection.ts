/**
 * The /ws connection: JSON + binary frames, reconnection with exponential backoff and a
 * heartbeat (a ping every 10 s; no answer in 5 s means the link is dead even if TCP says not).
 */
import {
  encodeClientMessage, parseAudioFrame, parseServerMessage,
  type AudioFrame, type ClientMessage, type ServerEvent,
} from '../protocol/codec';

/** Delay before reconnection attempt `attempt` (1, 2, …): base * 2^(attempt-1), capped, with
 * ±jitter so many clients do not retry in lockstep. */
export function backoffDelay(attempt: number, baseMs = 500, maxMs = 10_000, jitter = 0.2,
                             random: () => number = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const spread = raw * jitter * (2 * random() - 1);
  return Math.max(0, Math.round(Math.min(maxMs, raw + spread)));
}

export type LinkState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface LinkStatus {
  state: LinkState;
  /** Failed attempts in a row (0 while connected). */
  attempt: number;
  /** When the next attempt starts (epoch ms), while reconnecting. */
  retryAt: number | null;
  /** Why the last connection ended or failed. */
  reason: string | null;
}

export interface ConnectionHandlers {
  onStatus(status: LinkStatus): void;
  onOpen(): void;
  onEvent(event: ServerEvent): void;
  onAudio(frame: AudioFrame): void;
  /** A frame that could not be decoded (shown to the user, never dropped silently). */
  onDecodeError(message: string): void;
  /** The socket closed unexpectedly: 'now' retries at once (e.g. after dropping a stale
   * resume id), 'backoff' waits as usual. */
  onClosed?(code: number, reason: string): 'now' | 'backoff';
}

export function wsUrl(location: Pick<Location, 'protocol' | 'host'>, path = '/ws',
                      query: Record<string, string | null> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
  const qs = params.toString();
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}${qs ? `?${qs}` : ''}`;
}

export class Connection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongDeadline: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private status: LinkStatus = { state: 'connecting', attempt: 0, retryAt: null, reason: null };

  /** `url` is evaluated at every attempt (it may carry a token and the session to resume). */
  constructor(private readonly url: () => string, private readonly handlers: ConnectionHandlers,
              private readonly options = { pingMs: 10_000, pongTimeoutMs: 5_000 }) {}

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  get state(): LinkStatus {
    return this.status;
  }

  connect(): void {
    this.stopped = false;
    this.clearRetry();
    this.setStatus({ state: this.attempt === 0 ? 'connecting' : 'reconnecting', retryAt: null });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleRetry(String(err));
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setStatus({ state: 'open', attempt: 0, retryAt: null, reason: null });
      this.startHeartbeat();
      this.handlers.onOpen();
    };
    ws.onmessage = (ev: MessageEvent<string | ArrayBuffer>) => this.receive(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopHeartbeat();
      if (this.stopped) {
        this.setStatus({ state: 'closed', retryAt: null });
        return;
      }
      if (this.handlers.onClosed?.(ev.code, ev.reason) === 'now') {
        this.connect();
        return;
      }
      const why = ev.code === 1006 || ev.code === 1005
        ? 'the server is unreachable'
        : `connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`;
      this.scheduleRetry(why);
    };
    ws.onerror = () => {
      /* onclose follows with the details */
    };
  }

  /** Reconnect now (the "retry" button, or the browser coming back online). */
  retryNow(): void {
    if (this.status.state === 'reconnecting' && !this.ws) this.connect();
  }

  close(): void {
    this.stopped = true;
    this.clearRetry();
    this.stopHeartbeat();
    this.ws?.close(1000, 'client closed');
    this.ws = null;
    this.setStatus({ state: 'closed', retryAt: null });
  }

  send(msg: ClientMessage): boolean {
    if (!this.isOpen) return false;
    this.ws!.send(encodeClientMessage(msg));
    return true;
  }

  sendBinary(data: ArrayBuffer): boolean {
    if (!this.isOpen) return false;
    // never queue audio behind a stalled socket: drop it instead (the server tolerates gaps)
    if (this.ws!.bufferedAmount > 64 * 1024) return false;
    this.ws!.send(data);
    return true;
  }

  private receive(data: string | ArrayBuffer): void {
    try {
      if (typeof data === 'string') {
        const event = parseServerMessage(data);
        if (event.type === 'pong') this.clearPongDeadline();
        this.handlers.onEvent(event);
      } else {
        this.handlers.onAudio(parseAudioFrame(data));
      }
    } catch (err) {
      this.handlers.onDecodeError(err instanceof Error ? err.message : String(err));
    }
  }

  /** Abandon the current socket at once (its close handshake may never finish) and retry. */
  private drop(reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
      ws.close();
    }
    if (!this.stopped) this.scheduleRetry(reason);
  }

  private scheduleRetry(reason: string): void {
    this.attempt += 1;
    const delay = backoffDelay(this.attempt);
    this.setStatus({ state: 'reconnecting', attempt: this.attempt, retryAt: Date.now() + delay, reason });
    this.clearRetry();
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: 'ping', id: Date.now() })) return;
      if (this.pongDeadline === null) {
        this.pongDeadline = setTimeout(() => {
          this.pongDeadline = null;
          this.drop('the server stopped answering (heartbeat timeout)');
        }, this.options.pongTimeoutMs);
      }
    }, this.options.pingMs);
  }

  private clearPongDeadline(): void {
    if (this.pongDeadline !== null) clearTimeout(this.pongDeadline);
    this.pongDeadline = null;
  }

  private stopHeartbeat(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.clearPongDeadline();
  }

  private setStatus(patch: Partial<LinkStatus>): void {
    this.status = { ...this.status, ...patch };
    this.handlers.onStatus(this.status);
  }
}
