import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FLUSH_MS, Live, OFFLINE_AFTER, backoff, socketUrl } from './live'
import type { Connection, LiveEvent } from './types'

class FakeSocket {
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
  send(event: object) { this.onmessage?.({ data: JSON.stringify(event) } as MessageEvent) }
}

function harness() {
  const sockets: FakeSocket[] = []
  const batches: LiveEvent[][] = []
  const states: Connection[] = []
  let reconnects = 0
  const live = new Live('ws://api/ws/sentiment', {
    onEvents: (events) => batches.push(events),
    onConnection: (state) => states.push(state),
    onReconnect: () => { reconnects += 1 },
  }, () => { const s = new FakeSocket(); sockets.push(s); return s })
  return { live, sockets, batches, states, reconnects: () => reconnects }
}

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

describe('the live connection', () => {
  it('hands events over in batches, a few times a second', () => {
    const h = harness()
    h.live.start()
    h.sockets[0].open()
    for (let i = 0; i < 50; i++) h.sockets[0].send({ type: 'post', data: { post_id: `p-${i}` } })
    expect(h.batches).toHaveLength(0)
    vi.advanceTimersByTime(FLUSH_MS)
    expect(h.batches).toHaveLength(1)
    expect(h.batches[0]).toHaveLength(50)
    vi.advanceTimersByTime(FLUSH_MS * 4)
    expect(h.batches).toHaveLength(1) // nothing new, no update
    h.live.stop()
  })

  it('reconnects with a growing backoff, says offline after a few failures, and asks for a refresh', () => {
    const h = harness()
    h.live.start()
    h.sockets[0].open()
    expect(h.states).toEqual(['live'])
    h.sockets[0].close()
    expect(h.states.at(-1)).toBe('reconnecting')
    for (let attempt = 0; attempt < OFFLINE_AFTER + 1; attempt++) {
      vi.advanceTimersByTime(backoff(attempt) - 1)
      expect(h.sockets).toHaveLength(attempt + 1) // not yet
      vi.advanceTimersByTime(1)
      expect(h.sockets).toHaveLength(attempt + 2)
      h.sockets.at(-1)!.close() // the server is still away
    }
    expect(h.states.at(-1)).toBe('offline')
    expect(h.reconnects()).toBe(0)
    vi.advanceTimersByTime(backoff(OFFLINE_AFTER + 1))
    h.sockets.at(-1)!.open()
    expect(h.states.at(-1)).toBe('live')
    expect(h.reconnects()).toBe(1)
    h.live.stop()
  })

  it('stops for good when stopped', () => {
    const h = harness()
    h.live.start()
    h.sockets[0].open()
    h.live.stop()
    vi.advanceTimersByTime(60_000)
    expect(h.sockets).toHaveLength(1)
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
