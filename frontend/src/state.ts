// The dashboard's state, in one place: a reducer over what the REST API loads and the WebSocket sends.
import type { Loaded } from './api'
import { SENTIMENT_VALUES } from './generated/events'
import type {
  AlertData,
  Connection,
  Distribution,
  EmotionBucket,
  FeedPost,
  Filters,
  Health,
  LiveEvent,
  Period,
  Sentiment,
  SentimentBucket,
  ShareOfVoice,
  Topic,
  Voices,
} from './types'
import { EMOTIONS, isEmotion, isSentiment } from './types'

export const FEED_CAP = 100 // posts shown; older ones drop off
export const ALERTS_CAP = 50

/** The sign-in form, while the API wants a key (API_KEY on the server) the page does not have. */
export interface SignIn {
  checking: boolean // a key was typed and the page is trying it
  message: string | null // why the form is back, if it was not simply the first visit
}

export const WRONG_KEY = 'The API did not accept that key. Check it and try again.'
export const KEY_REFUSED = 'The API no longer accepts the key this tab kept (it may have been changed): enter the current one.'

export interface State {
  signIn: SignIn | null // null: no form (signed in, or an API that needs no key)
  connection: Connection
  loading: boolean
  error: string | null
  health: Health | null
  period: Period
  rangeHours: number
  series: SentimentBucket[]
  emotions: EmotionBucket[]
  distribution: Distribution | null
  feed: FeedPost[]
  held: FeedPost[] // posts that arrived while the feed was paused
  paused: boolean
  filters: Filters
  topic: number | null // the topic every panel follows (null: all posts)
  topics: Topic[]
  share: ShareOfVoice | null
  voices: Voices | null // the picked topic's authors and hashtags
  alerts: AlertData[]
  notice: AlertData | null // the newest alert, until dismissed
  arrivals: number[] // when each post of the last minute arrived (ms), for the throughput
  lastMinuteAtLoad: number // posts of the minute before the data was loaded (REST)
  loadedAt: number // when (ms)
  now: number // the clock (ms) as of the last load, batch of events or tick: what "the last minute" ends at
}

export const initialState: State = {
  signIn: null, // until the API asks: an API without API_KEY never does
  connection: 'connecting',
  loading: true,
  error: null,
  health: null,
  period: 'minute',
  rangeHours: 1,
  series: [],
  emotions: [],
  distribution: null,
  feed: [],
  held: [],
  paused: false,
  filters: { source: '', lang: '', sentiment: '', q: '' },
  topic: null,
  topics: [],
  share: null,
  voices: null,
  alerts: [],
  notice: null,
  arrivals: [],
  lastMinuteAtLoad: 0,
  loadedAt: 0,
  now: 0,
}

export type Action =
  | { type: 'connection'; connection: Connection }
  | { type: 'loaded'; data: Loaded; now: number }
  | { type: 'failed'; message: string }
  | { type: 'loaded_health'; health: Health | null }
  | { type: 'series'; series: SentimentBucket[]; emotions: EmotionBucket[] }
  | { type: 'feed'; posts: FeedPost[] }
  | { type: 'events'; events: LiveEvent[]; now: number }
  | { type: 'period'; period: Period; rangeHours: number }
  | { type: 'filters'; filters: Filters }
  | { type: 'topic'; topic: number | null } // picked: the panels wait for its data
  | { type: 'topics'; topics: Topic[]; share: ShareOfVoice }
  | { type: 'voices'; voices: Voices }
  | { type: 'pause'; paused: boolean }
  | { type: 'dismiss' }
  | { type: 'sign_in_needed'; keySent: boolean } // a 401 (api.ts SignInNeeded)
  | { type: 'signing_in' } // a key was typed
  | { type: 'signed_out' }

/** Posts in the last minute: those that arrived live, plus, until the page has watched a whole minute, the
 * share of the REST count of the minute before it loaded that is still inside the window. */
export function postsLastMinute(state: State, now: number): number {
  const live = state.arrivals.filter((t) => now - t < 60_000).length
  const unseen = Math.max(0, 60_000 - (now - state.loadedAt)) / 60_000
  return live + Math.round(state.lastMinuteAtLoad * unseen)
}

/** Whether a live post belongs in the feed: a search's matches are the API's to find (the feed shows them,
 * and no live post), and a topic's are the posts whose event names it. */
export function matches(post: FeedPost, filters: Filters, topic: number | null = null): boolean {
  return (
    !filters.q.trim() &&
    inTopic(post, topic) &&
    (!filters.source || post.source === filters.source) &&
    (!filters.lang || post.lang === filters.lang) &&
    (!filters.sentiment || post.sentiment_label === filters.sentiment)
  )
}

export function inTopic(post: FeedPost, topic: number | null): boolean {
  return topic === null || (post.topics ?? []).includes(topic)
}

const STEP_MS: Record<Period, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }

/** The start of the bucket holding `moment` (UTC), as the API names buckets. */
export function bucketOf(moment: string, period: Period): number {
  const ms = Date.parse(moment)
  return ms - (((ms % STEP_MS[period]) + STEP_MS[period]) % STEP_MS[period])
}

/** Live posts counted into the time series (contiguous buckets, as the API gives them); a post in a newer
 * bucket moves the window on, a post older than the window is left out. */
function countInto(
  series: SentimentBucket[],
  emotions: EmotionBucket[],
  posts: FeedPost[],
  period: Period,
): [SentimentBucket[], EmotionBucket[]] {
  if (!posts.length || !series.length || series.length !== emotions.length) return [series, emotions]
  const step = STEP_MS[period]
  const s = series.map((b) => ({ ...b }))
  const e = emotions.map((b) => ({ ...b, counts: { ...b.counts } }))
  for (const post of posts) {
    const bucket = bucketOf(post.created_at, period)
    for (let t = Date.parse(s[s.length - 1].timestamp) + step; t <= bucket; t += step) {
      const timestamp = new Date(t).toISOString()
      s.push({ timestamp, ...bucketCounts({ positive: 0, negative: 0, neutral: 0 }), average_confidence: 0 })
      e.push({ timestamp, counts: Object.fromEntries(EMOTIONS.map((x) => [x, 0])) as EmotionBucket['counts'], total: 0 })
      s.shift()
      e.shift()
    }
    const i = (bucket - Date.parse(s[0].timestamp)) / step
    if (i < 0 || !Number.isInteger(i) || i >= s.length) continue // before the window, or not its buckets
    const b = s[i]
    if (isSentiment(post.sentiment_label)) { // a label the page does not know is shown, not counted
      b.average_confidence = (b.average_confidence * b.total_count + post.confidence_score) / (b.total_count + 1)
      const counts = { positive: b.positive_count, negative: b.negative_count, neutral: b.neutral_count }
      counts[post.sentiment_label] += 1
      Object.assign(b, bucketCounts(counts))
    }
    if (isEmotion(post.emotion)) {
      e[i].counts[post.emotion] = (e[i].counts[post.emotion] ?? 0) + 1
      e[i].total += 1
    }
  }
  return [s, e]
}

/** A time-series bucket's counts and shares, as the API gives them. */
function bucketCounts(counts: Record<Sentiment, number>): Omit<SentimentBucket, 'timestamp' | 'average_confidence'> {
  const shares = percentages(counts)
  return {
    positive_count: counts.positive,
    negative_count: counts.negative,
    neutral_count: counts.neutral,
    total_count: counts.positive + counts.negative + counts.neutral,
    positive_percentage: shares.positive,
    negative_percentage: shares.negative,
    neutral_percentage: shares.neutral,
  }
}

/** Live posts added to the last 24 hours' counts, until the next metrics_update replaces them. */
function countPosts(current: Distribution, posts: FeedPost[]): Distribution {
  const counts = { ...current.distribution }
  const emotions = { ...current.top_emotions }
  let added = 0
  for (const post of posts) {
    if (isSentiment(post.sentiment_label)) { // a label the page does not know is shown, not counted
      counts[post.sentiment_label] = (counts[post.sentiment_label] ?? 0) + 1
      added += 1
    }
    if (isEmotion(post.emotion)) emotions[post.emotion] = (emotions[post.emotion] ?? 0) + 1
  }
  return {
    distribution: counts,
    total: current.total + added,
    percentages: percentages(counts),
    top_emotions: emotions,
  }
}

/** Each count's share of the total in percent, to 2 places, summing to exactly 100 (largest remainder), or
 * all 0 when there is nothing: services/backend/aggregation.py `percentages` step for step, ties going to the
 * label first in the API's order, so that the page and the API agree to the hundredth. */
export function percentages(counts: Record<Sentiment, number>): Record<Sentiment, number> {
  const labels = SENTIMENT_VALUES
  const total = labels.reduce((sum, s) => sum + counts[s], 0)
  const exact = labels.map((s) => (total ? (10_000 * counts[s]) / total : 0)) // hundredths of a percent
  const floors = exact.map(Math.trunc)
  const short = total ? 10_000 - floors.reduce((sum, n) => sum + n, 0) : 0
  const key = (i: number) => floors[i] - exact[i]
  const order = labels.map((_, i) => i).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
  for (const i of order.slice(0, short)) floors[i] += 1
  return Object.fromEntries(labels.map((s, i) => [s, floors[i] / 100])) as Record<Sentiment, number>
}

export function reducer(state: State, action: Action): State {
  switch (action.type) {
    case 'connection':
      return { ...state, connection: action.connection }
    case 'loaded': {
      const { data } = action
      return {
        ...state,
        signIn: null, // the API answered: the key (or none, where it needs none) is good
        loading: false,
        error: null,
        health: data.health,
        series: data.series,
        emotions: data.emotions,
        distribution: data.distribution,
        feed: data.posts.slice(0, FEED_CAP),
        held: [],
        alerts: data.alerts.slice(0, ALERTS_CAP),
        arrivals: [],
        lastMinuteAtLoad: data.lastMinute,
        loadedAt: action.now,
        now: action.now,
      }
    }
    case 'failed':
      return { ...state, loading: false, error: action.message }
    case 'loaded_health':
      return { ...state, health: action.health }
    case 'series':
      return { ...state, series: action.series, emotions: action.emotions }
    case 'feed':
      return { ...state, feed: action.posts.slice(0, FEED_CAP), held: [] }
    case 'period': // the old buckets are of the old period: none until the new series arrives
      return { ...state, period: action.period, rangeHours: action.rangeHours, series: [], emotions: [] }
    case 'filters':
      return { ...state, filters: action.filters }
    case 'topic': // the panels showed another topic's figures: none until its own arrive
      return { ...state, topic: action.topic, series: [], emotions: [], distribution: null, feed: [], held: [], voices: null }
    case 'topics': {
      // A topic deleted (here or elsewhere) is no longer followed.
      const gone = state.topic !== null && !action.topics.some((t) => t.id === state.topic)
      return { ...state, topics: action.topics, share: action.share, ...(gone ? { topic: null, voices: null } : {}) }
    }
    case 'voices':
      return action.voices.topic === state.topic ? { ...state, voices: action.voices } : state
    case 'pause':
      if (action.paused) return { ...state, paused: true }
      return { ...state, paused: false, feed: [...state.held, ...state.feed].slice(0, FEED_CAP), held: [] }
    case 'dismiss':
      return { ...state, notice: null }
    case 'events':
      return applyEvents(state, action.events, action.now)
    case 'sign_in_needed': {
      if (state.signIn && !state.signIn.checking) return state // asking already; later 401s say nothing new
      const message = state.signIn?.checking ? WRONG_KEY : action.keySent ? KEY_REFUSED : null
      return { ...state, signIn: { checking: false, message }, connection: 'signed_out', loading: false, error: null }
    }
    case 'signing_in':
      return { ...state, signIn: { checking: true, message: null }, connection: 'connecting' }
    case 'signed_out': // what was loaded with the key goes with it
      return { ...initialState, signIn: { checking: false, message: null }, connection: 'signed_out', health: state.health }
  }
}

function applyEvents(state: State, events: LiveEvent[], now: number): State {
  const posts: FeedPost[] = []
  // A post the REST load already brought (its event came just after the query) is not shown or counted twice.
  const seen = new Set([...state.feed, ...state.held].map((p) => p.post_id))
  const deleted = new Set<string>() // deleted at their source: gone from the page too
  let { alerts, notice, distribution } = state
  for (const event of events) {
    if (event.type === 'post' && !seen.has(event.data.post_id)) {
      seen.add(event.data.post_id)
      posts.push(event.data)
    }
    else if (event.type === 'deleted') deleted.add(event.data.post_id)
    else if (event.type === 'alert') {
      if (!alerts.some((a) => a.id === event.data.id)) {
        alerts = [event.data, ...alerts].slice(0, ALERTS_CAP)
        notice = event.data
      }
    } else if (event.type === 'metrics_update' && state.topic === null) { // all posts' figures
      const day = event.data.last_24_hours
      const counts = { positive: day.positive, negative: day.negative, neutral: day.neutral }
      distribution = {
        distribution: counts,
        total: day.total,
        percentages: percentages(counts),
        top_emotions: distribution?.top_emotions ?? {},
      }
    }
  }
  posts.reverse() // newest first
  const counted = posts.filter((p) => inTopic(p, state.topic)) // what the panels count: the topic's posts
  if (distribution && counted.length) distribution = countPosts(distribution, counted)
  const newest = posts.filter((p) => matches(p, state.filters, state.topic))
  const kept = (shown: FeedPost[]) => (deleted.size ? shown.filter((p) => !deleted.has(p.post_id)) : shown)
  const [series, emotions] = countInto(state.series, state.emotions, counted, state.period)
  const arrivals = [...state.arrivals.filter((t) => now - t < 60_000), ...posts.map(() => now)]
  return {
    ...state,
    alerts,
    notice,
    distribution,
    series,
    emotions,
    arrivals,
    now,
    feed: kept(state.paused ? state.feed : [...newest, ...state.feed]).slice(0, FEED_CAP),
    held: kept(state.paused ? [...newest, ...state.held] : state.held).slice(0, FEED_CAP),
  }
}
