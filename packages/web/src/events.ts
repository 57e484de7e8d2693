/**
 * The twin's event stream: one WebSocket to `/api/events`, reconnected with exponential backoff
 * (with jitter) whenever it drops. After a reconnect the screens are sent a `refresh` so they
 * reload what they may have missed. Signed in with the API token (a browser cannot put a header
 * on a WebSocket) the app polls instead: a `refresh` every few seconds.
 */
import { bearer } from './api.ts';
import type { TwinEvent } from './types.ts';

export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_MAX_MS = 15_000;
export const POLL_MS = 4_000;

export type Connection = 'connecting' | 'live' | 'offline' | 'polling';

type Handler = (e: TwinEvent) => void;

class EventStream {
  private socket: WebSocket | null = null;
  private readonly handlers = new Set<Handler>();
  private readonly watchers = new Set<(c: Connection) => void>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private poller: ReturnType<typeof setInterval> | null = null;
  private everOpen = false;
  state: Connection = 'connecting';

  start(): void {
    this.stop();
    if (bearer()) {
      this.set('polling');
      this.poller = setInterval(() => this.emit({ type: 'refresh' }), POLL_MS);
      return;
    }
    this.connect();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.poller) clearInterval(this.poller);
    this.timer = null;
    this.poller = null;
    const s = this.socket;
    this.socket = null;
    s?.close();
  }

  private connect(): void {
    this.set(this.everOpen ? 'offline' : 'connecting');
    const url = new URL('/api/events', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    this.socket = ws;
    ws.onopen = () => {
      const again = this.everOpen;
      this.everOpen = true;
      this.attempt = 0;
      this.set('live');
      if (again) this.emit({ type: 'refresh' });
    };
    ws.onmessage = (m) => {
      try {
        this.emit(JSON.parse(String(m.data)) as TwinEvent);
      } catch {
        // a frame that is not JSON: ignored
      }
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.set('offline');
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt++);
      this.timer = setTimeout(() => this.connect(), delay / 2 + (Math.random() * delay) / 2);
    };
  }

  private set(c: Connection): void {
    this.state = c;
    for (const w of this.watchers) w(c);
  }

  private emit(e: TwinEvent): void {
    for (const h of this.handlers) h(e);
  }

  on(h: Handler): () => void {
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }

  watch(w: (c: Connection) => void): () => void {
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }
}

export const events = new EventStream();
