// The WebSocket /ws/sentiment: events batched into a few updates a second, reconnection with backoff.
import type { Connection, LiveEvent } from './types'

export const FLUSH_MS = 250 // at most 4 state updates a second, however fast events come
export const OFFLINE_AFTER = 3 // failed attempts in a row before the header says offline

/** Milliseconds before reconnect attempt `attempt` (0, 1, ...): 0.5 s doubling to at most 15 s. */
export function backoff(attempt: number): number {
  return Math.min(15_000, 500 * 2 ** attempt)
}

export interface LiveHandlers {
  onEvents: (events: LiveEvent[]) => void
  onConnection: (state: Connection) => void
  /** Called when a connection opens again after losing one: the REST data may have moved on. */
  onReconnect: () => void
}

type Socket = Pick<WebSocket, 'close'> & {
  onopen: ((ev: Event) => unknown) | null
  onmessage: ((ev: MessageEvent) => unknown) | null
  onclose: ((ev: CloseEvent) => unknown) | null
  onerror: ((ev: Event) => unknown) | null
}

export class Live {
  private socket: Socket | null = null
  private buffer: LiveEvent[] = []
  private attempt = 0
  private everOpen = false
  private stopped = false
  private flushTimer: ReturnType<typeof setInterval> | null = null
  private retryTimer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly url: string,
    private readonly handlers: LiveHandlers,
    private readonly open: (url: string) => Socket = (u) => new WebSocket(u),
  ) {}

  start(): void {
    this.stopped = false
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS)
    this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.flushTimer) clearInterval(this.flushTimer)
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.socket?.close()
    this.socket = null
  }

  private connect(): void {
    const socket = this.open(this.url)
    this.socket = socket
    socket.onopen = () => {
      if (this.everOpen) this.handlers.onReconnect()
      this.everOpen = true
      this.attempt = 0
      this.handlers.onConnection('live')
    }
    socket.onmessage = (message) => {
      try {
        this.buffer.push(JSON.parse(String(message.data)) as LiveEvent)
      } catch {
        // not an event: ignored
      }
    }
    socket.onerror = () => socket.close()
    socket.onclose = () => {
      if (this.stopped || this.socket !== socket) return
      this.socket = null
      this.handlers.onConnection(this.attempt >= OFFLINE_AFTER ? 'offline' : 'reconnecting')
      this.retryTimer = setTimeout(() => this.connect(), backoff(this.attempt))
      this.attempt += 1
    }
  }

  /** Hand the events received since the last flush over in one batch. */
  flush(): void {
    if (!this.buffer.length) return
    const events = this.buffer
    this.buffer = []
    this.handlers.onEvents(events)
  }
}

/** The WebSocket URL for the API at `base` ('' : this page's own origin). */
export function socketUrl(base: string, location: Pick<Location, 'protocol' | 'host'>): string {
  const origin = base || `${location.protocol}//${location.host}`
  return `${origin.replace(/^http/, 'ws')}/ws/sentiment`
}
