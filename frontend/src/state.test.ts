import { describe, expect, it } from 'vitest'
import type { Action, State } from './state'
import { ALERTS_CAP, FEED_CAP, KEY_REFUSED, WRONG_KEY, bucketOf, initialState, percentages, postsLastMinute, reducer } from './state'
import type { AlertData, EmotionBucket, LiveEvent, PostData, SentimentBucket } from './types'
import { EMOTIONS } from './types'

const T0 = Date.parse('2026-11-29T10:00:00Z')

function post(i: number, over: Partial<PostData> = {}): PostData {
  return {
    post_id: `p-${i}`,
    content: `post ${i}`,
    source: i % 2 ? 'reddit' : 'twitter',
    author: 'someone',
    created_at: new Date(T0 + i * 1000).toISOString(),
    sentiment_label: (['positive', 'negative', 'neutral'] as const)[i % 3],
    confidence_score: 0.5,
    emotion: 'joy',
    model_name: 'm',
    analyzed_at: new Date(T0 + i * 1000).toISOString(),
    lang: null,
    url: null,
    topics: [],
    ...over,
  }
}

function alert(id: number): AlertData {
  return {
    id, alert_type: 'high_negative_ratio', threshold_value: 2, actual_value: 3, window_start: '2026-11-29T09:55:00Z',
    window_end: '2026-11-29T10:00:00Z', post_count: 12, triggered_at: '2026-11-29T10:00:00Z', details: { counts: { negative: 9, positive: 3 } },
  }
}

const events = (...list: LiveEvent[]): Action => ({ type: 'events', events: list, now: T0 })
const posts = (...list: PostData[]): Action => events(...list.map((data) => ({ type: 'post', data }) as const))

function minutes(count: number): { series: SentimentBucket[]; emotions: EmotionBucket[] } {
  const stamps = Array.from({ length: count }, (_, i) => new Date(T0 - (count - 1 - i) * 60_000).toISOString())
  return {
    series: stamps.map((timestamp) => ({
      timestamp, positive_count: 0, negative_count: 0, neutral_count: 0, total_count: 0,
      positive_percentage: 0, negative_percentage: 0, neutral_percentage: 0, average_confidence: 0,
    })),
    emotions: stamps.map((timestamp) => ({ timestamp, counts: Object.fromEntries(EMOTIONS.map((e) => [e, 0])) as EmotionBucket['counts'], total: 0 })),
  }
}

describe('a post event', () => {
  it('prepends the post, newest first', () => {
    const state = reducer(reducer(initialState, posts(post(1))), posts(post(2), post(3)))
    expect(state.feed.map((p) => p.post_id)).toEqual(['p-3', 'p-2', 'p-1'])
  })

  it('already shown (the REST load brought it, or it came twice), is neither shown nor counted again', () => {
    let state = reducer(initialState, { type: 'series', ...minutes(3) })
    state = reducer(state, posts(post(1)))
    state = reducer(state, posts(post(1), post(2), post(2)))
    expect(state.feed.map((p) => p.post_id)).toEqual(['p-2', 'p-1'])
    expect(state.series.reduce((n, b) => n + b.total_count, 0)).toBe(2)
  })

  it('keeps the feed capped', () => {
    const many = Array.from({ length: FEED_CAP + 30 }, (_, i) => post(i))
    const state = reducer(initialState, posts(...many))
    expect(state.feed).toHaveLength(FEED_CAP)
    expect(state.feed[0].post_id).toBe(`p-${FEED_CAP + 29}`)
  })

  it('is held while paused and shown on resume', () => {
    let state = reducer(reducer(initialState, posts(post(1))), { type: 'pause', paused: true })
    state = reducer(state, posts(post(2)))
    expect(state.feed.map((p) => p.post_id)).toEqual(['p-1'])
    expect(state.held.map((p) => p.post_id)).toEqual(['p-2'])
    state = reducer(state, { type: 'pause', paused: false })
    expect(state.feed.map((p) => p.post_id)).toEqual(['p-2', 'p-1'])
    expect(state.held).toEqual([])
  })

  it('enters the feed only when it matches the filters', () => {
    const filtered = reducer(initialState, { type: 'filters', filters: { source: 'reddit', lang: '', sentiment: '', q: '' } })
    const state = reducer(filtered, posts(post(1), post(2)))
    expect(state.feed.map((p) => p.source)).toEqual(['reddit'])
  })

  it('is counted into its bucket, and a newer minute moves the window on', () => {
    let state: State = { ...initialState, period: 'minute', ...minutes(3) }
    state = reducer(state, posts(post(0), post(1, { emotion: 'anger' })))
    expect(state.series[2]).toMatchObject({ positive_count: 1, negative_count: 1, total_count: 2, average_confidence: 0.5 })
    expect(state.emotions[2].counts).toMatchObject({ joy: 1, anger: 1 })
    state = reducer(state, posts(post(61)))
    expect(state.series).toHaveLength(3)
    expect(Date.parse(state.series[2].timestamp)).toBe(bucketOf(post(61).created_at, 'minute'))
    expect(state.series[2].negative_count).toBe(1)
    expect(state.series[1].total_count).toBe(2)
  })

  it('arriving between a switch of period and its new series, is neither miscounted nor a crash', () => {
    let state: State = { ...initialState, period: 'minute', ...minutes(60) }
    state = reducer(state, { type: 'period', period: 'hour', rangeHours: 24 })
    expect(state.series).toEqual([])
    state = reducer(state, posts(post(0), post(1)))
    expect(state.series).toEqual([])
    expect(state.feed).toHaveLength(2)
    const hours = { ...initialState, period: 'hour' as const, ...minutes(3) } // buckets not of the period
    expect(() => reducer(hours, posts(post(0)))).not.toThrow()
  })

  it('counts towards the posts of the last minute, which forgets older arrivals', () => {
    let state = reducer(initialState, posts(post(1), post(2)))
    expect(state.arrivals).toHaveLength(2)
    expect(postsLastMinute(state, T0 + 1000)).toBe(2)
    state = reducer(state, { type: 'events', events: [], now: T0 + 61_000 })
    expect(state.arrivals).toHaveLength(0)
  })

  it('until a whole minute is watched, the last minute includes the share of the REST count not yet seen', () => {
    const loaded = { ...initialState, lastMinuteAtLoad: 120, loadedAt: T0 }
    expect(postsLastMinute(loaded, T0)).toBe(120)
    const state = reducer(loaded, { type: 'events', events: [{ type: 'post', data: post(1) }], now: T0 + 30_000 })
    expect(postsLastMinute(state, T0 + 30_000)).toBe(61) // 60 of the minute before, 1 seen
    expect(postsLastMinute(state, T0 + 60_000)).toBe(1)
  })
})

describe('a deleted event', () => {
  it('drops the post from the feed and from what is held while paused', () => {
    let state = reducer(initialState, posts(post(1), post(2)))
    state = reducer(state, { type: 'pause', paused: true })
    state = reducer(state, posts(post(3)))
    const deleted = (id: string): LiveEvent => ({ type: 'deleted', data: { post_id: id, source: 'twitter', deleted_at: '2026-11-29T10:00:05Z' } })
    state = reducer(state, events(deleted('p-1'), deleted('p-3'), deleted('p-9')))
    expect(state.feed.map((p) => p.post_id)).toEqual(['p-2'])
    expect(state.held).toEqual([])
  })

  it('in the same batch as its post leaves it out', () => {
    const state = reducer(initialState, events(
      { type: 'post', data: post(4) },
      { type: 'deleted', data: { post_id: 'p-4', source: 'twitter', deleted_at: '2026-11-29T10:00:05Z' } },
    ))
    expect(state.feed).toEqual([])
  })
})

describe('the language filter', () => {
  it('lets in only the posts of its language', () => {
    let state = reducer(initialState, { type: 'filters', filters: { source: '', lang: 'en', sentiment: '', q: '' } })
    state = reducer(state, posts(post(1, { lang: 'en' }), post(2, { lang: 'fr' }), post(3)))
    expect(state.feed.map((p) => p.post_id)).toEqual(['p-1'])
  })
})

describe('what the page does not know', () => {
  it('an event of another type changes nothing and does not throw', () => {
    const loaded = reducer({ ...initialState, ...minutes(3) }, posts(post(1)))
    const state = reducer(loaded, events({ type: 'gossip', data: {} } as unknown as LiveEvent))
    expect(state).toEqual({ ...loaded, now: T0 })
  })

  it('a post with a label it does not know is shown, but counted nowhere', () => {
    const loaded: State = {
      ...initialState, ...minutes(3),
      distribution: { distribution: { positive: 1, negative: 0, neutral: 0 }, total: 1, percentages: { positive: 100, negative: 0, neutral: 0 }, top_emotions: {} },
    }
    const odd = post(1, { sentiment_label: 'ecstatic', emotion: 'love' } as unknown as Partial<PostData>)
    const state = reducer(loaded, posts(odd))
    expect(state.feed.map((p) => p.post_id)).toEqual(['p-1'])
    expect(state.distribution).toEqual(loaded.distribution)
    expect(state.series).toEqual(loaded.series)
    expect(state.emotions).toEqual(loaded.emotions)
  })
})

describe('the last 24 hours', () => {
  it('count live posts until the next metrics_update', () => {
    const loaded: State = {
      ...initialState,
      distribution: { distribution: { positive: 1, negative: 1, neutral: 0 }, total: 2, percentages: { positive: 50, negative: 50, neutral: 0 }, top_emotions: { joy: 1 } },
    }
    const state = reducer(loaded, posts(post(0), post(3)))
    expect(state.distribution?.distribution).toEqual({ positive: 3, negative: 1, neutral: 0 })
    expect(state.distribution?.total).toBe(4)
    expect(state.distribution?.percentages).toEqual({ positive: 75, negative: 25, neutral: 0 })
    expect(state.distribution?.top_emotions.joy).toBe(3)
  })
})

describe('metrics_update', () => {
  it('replaces the distribution with the last 24 hours, shares summing to 100', () => {
    const counts = (p: number, n: number, u: number) => ({ positive: p, negative: n, neutral: u, total: p + n + u })
    const state = reducer(initialState, events({
      type: 'metrics_update', timestamp: '2026-11-29T10:00:00Z',
      data: { last_minute: counts(1, 0, 0), last_hour: counts(2, 1, 0), last_24_hours: counts(50, 30, 20) },
    }))
    expect(state.distribution?.distribution).toEqual({ positive: 50, negative: 30, neutral: 20 })
    expect(state.distribution?.total).toBe(100)
    expect(state.distribution?.percentages).toEqual({ positive: 50, negative: 30, neutral: 20 })
  })
})

describe('an alert event', () => {
  it('adds the alert once and raises a notice until dismissed', () => {
    let state = reducer(initialState, events({ type: 'alert', data: alert(7) }))
    state = reducer(state, events({ type: 'alert', data: alert(7) }))
    expect(state.alerts.map((a) => a.id)).toEqual([7])
    expect(state.notice?.id).toBe(7)
    state = reducer(state, { type: 'dismiss' })
    expect(state.notice).toBeNull()
  })

  it('keeps the list capped, newest first', () => {
    let state = initialState
    for (let i = 0; i < ALERTS_CAP + 5; i++) state = reducer(state, events({ type: 'alert', data: alert(i) }))
    expect(state.alerts).toHaveLength(ALERTS_CAP)
    expect(state.alerts[0].id).toBe(ALERTS_CAP + 4)
  })
})

describe('percentages', () => {
  it('sum to 100 where rounding each share would not (largest remainder, as the API computes them)', () => {
    // services/backend/aggregation.py percentages() gives these; rounding each gives 99.99 and 100.01
    expect(percentages({ negative: 1, neutral: 1, positive: 1 })).toEqual({ negative: 33.34, neutral: 33.33, positive: 33.33 })
    expect(percentages({ negative: 1, neutral: 1, positive: 4 })).toEqual({ negative: 16.67, neutral: 16.66, positive: 66.67 })
  })

  it('match the API on a bucket with no tie', () => {
    expect(percentages({ negative: 7, neutral: 11, positive: 13 })).toEqual({ negative: 22.58, neutral: 35.48, positive: 41.94 })
  })

  it('are all 0 when there is nothing', () => {
    expect(percentages({ negative: 0, neutral: 0, positive: 0 })).toEqual({ negative: 0, neutral: 0, positive: 0 })
  })
})

describe('signing in', () => {
  const loaded: Action = {
    type: 'loaded', now: T0,
    data: { health: null, ...minutes(2), posts: [post(1)], alerts: [], lastMinute: 0,
      distribution: { distribution: { positive: 0, negative: 0, neutral: 0 }, total: 0, percentages: { positive: 0, negative: 0, neutral: 0 }, top_emotions: {} } },
  }
  const run = (...actions: Action[]) => actions.reduce(reducer, initialState)

  it('is not asked for by an API that needs no key: the first load answers, no form', () => {
    expect(run(loaded).signIn).toBeNull()
  })

  it('is asked for, saying nothing more, on the first 401 of a first visit; the socket’s own 401 changes nothing', () => {
    const asked = run({ type: 'sign_in_needed', keySent: false })
    expect(asked.signIn).toEqual({ checking: false, message: null })
    expect(asked.connection).toBe('signed_out')
    expect(reducer(asked, { type: 'sign_in_needed', keySent: false })).toBe(asked)
  })

  it('says the typed key was wrong when trying it is refused, and lets the dashboard in when it loads', () => {
    const typed = run({ type: 'sign_in_needed', keySent: false }, { type: 'signing_in' })
    expect(typed.signIn).toEqual({ checking: true, message: null })
    const wrong = reducer(typed, { type: 'sign_in_needed', keySent: true })
    expect(wrong.signIn).toEqual({ checking: false, message: WRONG_KEY })
    const right = reducer(reducer(wrong, { type: 'signing_in' }), loaded)
    expect(right.signIn).toBeNull()
    expect(right.feed.map((p) => p.post_id)).toEqual(['p-1'])
  })

  it('is asked for again, saying why, when a key that worked is refused (rotated on the server)', () => {
    expect(run(loaded, { type: 'sign_in_needed', keySent: true }).signIn).toEqual({ checking: false, message: KEY_REFUSED })
  })

  it('signing out shows the form and drops what was loaded with the key', () => {
    const out = run(loaded, { type: 'signed_out' })
    expect(out.signIn).toEqual({ checking: false, message: null })
    expect(out.feed).toEqual([])
    expect(out.connection).toBe('signed_out')
  })
})

describe('a picked topic', () => {
  const topic = (id: number) => ({
    id, name: `t${id}`, query: 'q', sources: null, languages: null, created_at: '2026-11-29T10:00:00Z',
    updated_at: '2026-11-29T10:00:00Z', revision: 1, backfill: { state: 'done' as const, through: null, progress: 1 },
  })
  const share = { hours: 24, start_date: '2026-11-29T10:00:00Z', end_date: '2026-11-29T10:00:00Z', total: 0, topics: [] }
  const empty = { distribution: { positive: 0, negative: 0, neutral: 0 }, total: 0, percentages: { positive: 0, negative: 0, neutral: 0 }, top_emotions: {} }

  it('shows and counts only the live posts whose events name it', () => {
    let state = reducer(initialState, { type: 'topic', topic: 3 })
    state = { ...reducer(state, { type: 'series', ...minutes(3) }), distribution: empty }
    state = reducer(state, posts(post(1, { topics: [3, 5] }), post(2, { topics: [5] }), post(3), post(4, { topics: [3] })))
    expect(state.feed.map((p) => p.post_id)).toEqual(['p-4', 'p-1'])
    expect(state.series.reduce((n, b) => n + b.total_count, 0)).toBe(2)
    expect(state.distribution?.total).toBe(2)
  })

  it('keeps its own distribution when the figures of all posts come', () => {
    const counts = { positive: 50, negative: 30, neutral: 20, total: 100 }
    const state = reducer({ ...reducer(initialState, { type: 'topic', topic: 3 }), distribution: empty }, events({
      type: 'metrics_update', timestamp: '2026-11-29T10:00:00Z',
      data: { last_minute: counts, last_hour: counts, last_24_hours: counts },
    }))
    expect(state.distribution?.total).toBe(0)
  })

  it('is let go when it is deleted, and its authors are kept only while it is picked', () => {
    let state = reducer(initialState, { type: 'topics', topics: [topic(3), topic(4)], share })
    state = reducer({ ...state, series: minutes(3).series }, { type: 'topic', topic: 3 })
    expect([state.series, state.distribution]).toEqual([[], null])
    state = reducer(state, { type: 'voices', voices: { topic: 4, authors: [], hashtags: [] } })
    expect(state.voices).toBeNull()
    state = reducer(state, { type: 'voices', voices: { topic: 3, authors: [], hashtags: [] } })
    expect(state.voices?.topic).toBe(3)
    state = reducer(state, { type: 'topics', topics: [topic(4)], share })
    expect([state.topic, state.voices]).toEqual([null, null])
  })
})

describe('a search', () => {
  it('keeps live posts out of the feed, which shows what the API found', () => {
    let state = reducer(initialState, { type: 'filters', filters: { source: '', lang: '', sentiment: '', q: 'cats' } })
    state = reducer(state, { type: 'feed', posts: [post(9, { content: 'cats' })] })
    state = reducer(state, posts(post(1, { content: 'cats too' })))
    expect(state.feed.map((p) => p.post_id)).toEqual(['p-9'])
  })
})
