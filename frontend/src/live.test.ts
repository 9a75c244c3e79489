import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SignInNeeded } from './api'
import { FLUSH_MS, Live, OFFLINE_AFTER, backoff, parseEvent, socketUrl } from './live'
import type { Connection, LiveEvent, PostData } from './types'

class FakeSocket {
  constructor(readonly url: string) {}
  onopen: ((ev: Event) => unknown) | null = null
  onmessage: ((ev: MessageEvent) => unknown) | null = null
  onclose: ((ev: CloseEvent) => unknown) | null = null
  onerror: ((ev: Event) => unknown) | null = null
  closed = false
  close() {
    if (this.closed) return
    this.closed = true
    this.onclose?.({} as CloseEvent)
  }
  open() { this.onopen?.({} as Event) }
  send(event: object) { this.sendText(JSON.stringify(event)) }
  sendText(data: string) { this.onmessage?.({ data } as MessageEvent) }
}

function post(i: number): PostData {
  return {
    post_id: `p-${i}`, content: 'text', source: 'reddit', author: 'someone', created_at: '2026-11-29T10:00:00Z',
    sentiment_label: 'neutral', confidence_score: 0.5, emotion: 'joy', model_name: 'm', analyzed_at: '2026-11-29T10:00:01Z',
    lang: null, url: null, topics: [],
  }
}

/** A Live over fake sockets; `tickets` answers each ticket request in turn (then t-1, t-2, ... by count). */
function harness(tickets: (() => Promise<string>)[] = []) {
  const sockets: FakeSocket[] = []
  const batches: LiveEvent[][] = []
  const states: Connection[] = []
  const refusals: SignInNeeded[] = []
  let reconnects = 0
  let resyncs = 0
  let asked = 0
  const ticket = () => {
    asked += 1
    return tickets.shift()?.() ?? Promise.resolve(`t-${asked}`)
  }
  const live = new Live('ws://api/ws/sentiment', {
    onEvents: (events) => batches.push(events),
    onConnection: (state) => states.push(state),
    onReconnect: () => { reconnects += 1 },
    onResync: () => { resyncs += 1 },
    onSignInNeeded: (refused) => refusals.push(refused),
  }, ticket, (url) => { const s = new FakeSocket(url); sockets.push(s); return s })
  /** Started, its ticket answered (promises settle) and its first socket open. */
  const started = async () => {
    live.start()
    await vi.advanceTimersByTimeAsync(0)
    sockets[0].open()
  }
  return {
    live, sockets, batches, states, refusals, started,
    reconnects: () => reconnects, resyncs: () => resyncs, asked: () => asked,
  }
}

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

describe('the live connection', () => {
  it('hands events over in batches, a few times a second', async () => {
    const h = harness()
    await h.started()
    for (let i = 0; i < 50; i++) h.sockets[0].send({ type: 'post', data: post(i) })
    expect(h.batches).toHaveLength(0)
    vi.advanceTimersByTime(FLUSH_MS)
    expect(h.batches).toHaveLength(1)
    expect(h.batches[0]).toHaveLength(50)
    vi.advanceTimersByTime(FLUSH_MS * 4)
    expect(h.batches).toHaveLength(1) // nothing new, no update
    h.live.stop()
  })

  it('reconnects with a growing backoff, says offline after a few failures, and asks for a refresh', async () => {
    const h = harness()
    await h.started()
    expect(h.states).toEqual(['live'])
    h.sockets[0].close()
    expect(h.states.at(-1)).toBe('reconnecting')
    for (let attempt = 0; attempt < OFFLINE_AFTER + 1; attempt++) {
      await vi.advanceTimersByTimeAsync(backoff(attempt) - 1)
      expect(h.sockets).toHaveLength(attempt + 1) // not yet
      await vi.advanceTimersByTimeAsync(1)
      expect(h.sockets).toHaveLength(attempt + 2)
      h.sockets.at(-1)!.close() // the server is still away
    }
    expect(h.states.at(-1)).toBe('offline')
    expect(h.reconnects()).toBe(0)
    await vi.advanceTimersByTimeAsync(backoff(OFFLINE_AFTER + 1))
    h.sockets.at(-1)!.open()
    expect(h.states.at(-1)).toBe('live')
    expect(h.reconnects()).toBe(1)
    h.live.stop()
  })

  it('hands over only the events it can read, ignoring unknown types quietly and logging malformed ones', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const h = harness()
    await h.started()
    h.sockets[0].sendText('not json {')
    h.sockets[0].send([1, 2])
    h.sockets[0].send({ type: 'gossip', data: {} }) // a newer server's type
    h.sockets[0].send({ type: 'post', data: { ...post(1), confidence_score: 'high' } })
    h.sockets[0].send({ type: 'post' })
    h.sockets[0].send({ type: 'metrics_update', data: { last_minute: {} }, timestamp: '2026-11-29T10:00:00Z' })
    h.sockets[0].send({ type: 'post', data: { ...post(2), language: 'en' }, origin: 'worker-2' }) // fields more: fine
    vi.advanceTimersByTime(FLUSH_MS)
    expect(h.batches.flat().map((e) => e.type === 'post' && e.data.post_id)).toEqual(['p-2'])
    expect(warn).toHaveBeenCalledTimes(5) // all but the unknown type
    warn.mockRestore()
    h.live.stop()
  })

  it('asks for a reload on a resync, which the server sends when it may have missed events', async () => {
    const h = harness()
    await h.started()
    h.sockets[0].send({ type: 'resync', reason: 'subscribed again', timestamp: '2026-11-29T10:00:00Z' })
    expect(h.resyncs()).toBe(1)
    expect(h.reconnects()).toBe(0)
    vi.advanceTimersByTime(FLUSH_MS)
    expect(h.batches).toHaveLength(0) // nothing for the reducer: the reload replaces what it has
    h.live.stop()
  })

  it('stops for good when stopped', async () => {
    const h = harness()
    await h.started()
    h.live.stop()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(h.sockets).toHaveLength(1)
  })

  it('opens no socket for a ticket that comes after it was stopped', async () => {
    let answer: (ticket: string) => void = () => undefined
    const h = harness([() => new Promise((resolve) => { answer = resolve })])
    h.live.start()
    h.live.stop()
    answer('late')
    await vi.advanceTimersByTimeAsync(60_000)
    expect(h.sockets).toHaveLength(0)
  })
})

describe('the tickets', () => {
  it('are fetched before the first connection and again before every reconnect, one per socket', async () => {
    const h = harness()
    h.live.start()
    expect(h.asked()).toBe(1)
    expect(h.sockets).toHaveLength(0) // not before the ticket came
    await vi.advanceTimersByTimeAsync(0)
    expect(h.sockets.map((s) => s.url)).toEqual(['ws://api/ws/sentiment?ticket=t-1'])
    h.sockets[0].open()
    h.sockets[0].close()
    await vi.advanceTimersByTimeAsync(backoff(0))
    h.sockets[1].close() // refused (a ticket used, say): the next attempt has a ticket of its own
    await vi.advanceTimersByTimeAsync(backoff(1))
    expect(h.asked()).toBe(3)
    expect(h.sockets.map((s) => s.url)).toEqual([
      'ws://api/ws/sentiment?ticket=t-1', 'ws://api/ws/sentiment?ticket=t-2', 'ws://api/ws/sentiment?ticket=t-3',
    ])
    h.sockets[2].open()
    expect(h.reconnects()).toBe(1)
    h.live.stop()
  })

  it('that cannot be had (the API away) count as a failed attempt, retried with the same backoff', async () => {
    const h = harness([() => Promise.reject(new Error('/api/live/ticket answered 503'))])
    h.live.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(h.sockets).toHaveLength(0)
    expect(h.states).toEqual(['reconnecting'])
    await vi.advanceTimersByTimeAsync(backoff(0))
    expect(h.sockets.map((s) => s.url)).toEqual(['ws://api/ws/sentiment?ticket=t-2'])
    h.live.stop()
  })

  it('refused for the key stop the connection and ask for a sign-in, without retrying', async () => {
    const refused = new SignInNeeded(true)
    const h = harness([() => Promise.resolve('t-1'), () => Promise.reject(refused)])
    await h.started()
    h.sockets[0].close() // the key was rotated: the reconnect's ticket is refused
    await vi.advanceTimersByTimeAsync(backoff(0))
    expect(h.refusals).toEqual([refused])
    await vi.advanceTimersByTimeAsync(60_000)
    expect(h.asked()).toBe(2)
    expect(h.sockets).toHaveLength(1)
  })
})

describe('parseEvent', () => {
  it('reads every type of event the server sends', () => {
    const counts = { positive: 1, negative: 0, neutral: 0, total: 1 }
    const events: LiveEvent[] = [
      { type: 'connected', message: 'hello', timestamp: '2026-11-29T10:00:00Z' },
      { type: 'post', data: post(1) },
      { type: 'alert', data: { id: 1, alert_type: 'high_negative_ratio', threshold_value: 2, actual_value: 3,
        window_start: '2026-11-29T09:55:00Z', window_end: '2026-11-29T10:00:00Z', post_count: 9,
        triggered_at: '2026-11-29T10:00:00Z', details: {} } },
      { type: 'metrics_update', data: { last_minute: counts, last_hour: counts, last_24_hours: counts }, timestamp: '2026-11-29T10:00:00Z' },
      { type: 'resync', reason: 'subscribed again', timestamp: '2026-11-29T10:00:00Z' },
    ]
    for (const event of events) expect(parseEvent(JSON.stringify(event))).toEqual(event)
  })
})

describe('backoff and URLs', () => {
  it('doubles from half a second to at most 15 s', () => {
    expect([0, 1, 2, 3, 10].map(backoff)).toEqual([500, 1000, 2000, 4000, 15_000])
  })

  it('uses the page origin by default', () => {
    expect(socketUrl('', { protocol: 'https:', host: 'dash.example:3000' })).toBe('wss://dash.example:3000/ws/sentiment')
    expect(socketUrl('http://127.0.0.1:8000', { protocol: 'http:', host: 'x' })).toBe('ws://127.0.0.1:8000/ws/sentiment')
  })
})
