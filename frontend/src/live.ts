// The WebSocket /ws/sentiment: events checked as they come, batched into a few updates a second, reconnection
// with backoff, and a reload asked for whenever events may have been missed. A browser cannot set a header on
// a WebSocket, so each attempt, the first and every reconnect, first fetches a ticket (single-use, so never
// one again) and opens `?ticket=`: the API key itself stays out of the URL.
import { SignInNeeded } from './api'
import type { AlertData, Connection, DeletedData, LiveEvent, MetricsWindows, PostData, SentimentCounts } from './types'

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
  /** Called on a `resync`: the server lost its own subscription for a while, so events were missed. */
  onResync: () => void
  /** Called when the API refused the key on asking for a ticket; the connection stops (no retry). */
  onSignInNeeded: (refused: SignInNeeded) => void
}

type Json = 'string' | 'number' | 'object'
/** The fields of each event that the page reads, and their JSON types: an event without them would break
 * it. Typed against the generated shapes, so that a field renamed in Python fails tsc here. */
const POST: Partial<Record<keyof PostData, Json>> = {
  post_id: 'string', content: 'string', source: 'string', author: 'string', created_at: 'string',
  sentiment_label: 'string', emotion: 'string', confidence_score: 'number',
}
const DELETED: Record<keyof DeletedData, Json> = { post_id: 'string', source: 'string', deleted_at: 'string' }
const ALERT: Partial<Record<keyof AlertData, Json>> = {
  id: 'number', threshold_value: 'number', actual_value: 'number', post_count: 'number',
  window_start: 'string', window_end: 'string', details: 'object',
}
const COUNTS: Record<keyof SentimentCounts, Json> = { positive: 'number', negative: 'number', neutral: 'number', total: 'number' }
const WINDOWS: (keyof MetricsWindows)[] = ['last_minute', 'last_hour', 'last_24_hours']

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

function has(value: unknown, fields: Partial<Record<string, Json>>): boolean {
  return isObject(value) && Object.entries(fields).every(([name, kind]) =>
    kind === 'object' ? isObject(value[name]) : typeof value[name] === kind)
}

/** Whether an event of each type the page knows has what the page reads; every type of LiveEvent is here. */
const WELL_FORMED: Record<LiveEvent['type'], (event: Record<string, unknown>) => boolean> = {
  connected: () => true,
  post: (event) => has(event.data, POST),
  deleted: (event) => has(event.data, DELETED),
  alert: (event) => has(event.data, ALERT),
  metrics_update: ({ data }) => isObject(data) && WINDOWS.every((w) => has(data[w], COUNTS)),
  resync: () => true,
}

/** One message of the socket as an event, or null: a type the page does not know (a newer server's) is
 * ignored, and what is not JSON, not an event, or an event without what the page reads is ignored and logged. */
export function parseEvent(text: string): LiveEvent | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    console.warn('live: ignored a message that is not JSON:', text.slice(0, 200))
    return null
  }
  if (!isObject(value) || typeof value.type !== 'string') {
    console.warn('live: ignored a message that is not an event:', value)
    return null
  }
  if (!Object.hasOwn(WELL_FORMED, value.type)) return null
  if (!WELL_FORMED[value.type as LiveEvent['type']](value)) {
    console.warn(`live: ignored a malformed ${value.type} event:`, value)
    return null
  }
  return value as unknown as LiveEvent
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

  /** `ticket` fetches a ticket for one connection (api.ts `liveTicket`); `open` opens a socket (a fake one in
   * the unit tests). */
  constructor(
    private readonly url: string,
    private readonly handlers: LiveHandlers,
    private readonly ticket: () => Promise<string>,
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
    this.ticket().then(
      (ticket) => {
        if (!this.stopped) this.connectWith(ticket)
      },
      (error: unknown) => {
        if (this.stopped) return
        if (error instanceof SignInNeeded) {
          this.stop()
          this.handlers.onSignInNeeded(error)
        } else {
          this.retry() // the API is away or busy: as when a socket fails
        }
      },
    )
  }

  private connectWith(ticket: string): void {
    const socket = this.open(`${this.url}?ticket=${encodeURIComponent(ticket)}`)
    this.socket = socket
    socket.onopen = () => {
      if (this.everOpen) this.handlers.onReconnect()
      this.everOpen = true
      this.attempt = 0
      this.handlers.onConnection('live')
    }
    socket.onmessage = (message) => {
      const event = parseEvent(String(message.data))
      if (event?.type === 'resync') this.handlers.onResync()
      else if (event) this.buffer.push(event)
    }
    socket.onerror = () => socket.close()
    socket.onclose = () => {
      if (this.stopped || this.socket !== socket) return
      this.socket = null
      this.retry()
    }
  }

  private retry(): void {
    this.handlers.onConnection(this.attempt >= OFFLINE_AFTER ? 'offline' : 'reconnecting')
    this.retryTimer = setTimeout(() => this.connect(), backoff(this.attempt))
    this.attempt += 1
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
