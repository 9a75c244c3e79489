// The REST API, and its answers adapted to the page's shapes. Its base URL is VITE_API_BASE at build time;
// empty (the default) is this page's own origin, where `make run` (vite preview) and Compose (nginx) pass /api
// on to the backend. Every call carries the key the viewer signed in with (apiKey.ts) in the X-API-Key header,
// never in the URL: URLs end up in logs and histories.
import { apiKey } from './apiKey'
import type { paths } from './generated/api'
import type { AlertData, ApiPost, Distribution, EmotionBucket, FeedPost, Filters, Health, LiveTicket, Period, SentimentBucket } from './types'
import { PREVIEW_CHARS } from './types'

export const API_BASE: string = import.meta.env.VITE_API_BASE ?? ''

/** A 401: the API has API_KEY set and was sent no key (`keySent` false) or another one (true: a wrong key,
 * or one rotated since). The key sent is forgotten; the viewer signs in again. */
export class SignInNeeded extends Error {
  constructor(readonly keySent: boolean) {
    super(keySent ? 'the API refused the key' : 'the API needs a key')
    this.name = 'SignInNeeded'
  }
}

type Get<P extends keyof paths> = NonNullable<paths[P]['get']>
/** The query parameters of GET `P`, as the OpenAPI document has them. */
type Query<P extends keyof paths> = Get<P> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never
/** The JSON of GET `P`'s 200 answer. */
type Answer<P extends keyof paths> = Get<P> extends { responses: { 200: { content: { 'application/json': infer A } } } }
  ? A
  : never

/** `method` `url` with the key kept, if any; a 401 is SignInNeeded (and the key that was sent forgotten). */
async function call(method: 'GET' | 'POST', url: string): Promise<Response> {
  const key = apiKey.get()
  const response = await fetch(`${API_BASE}${url}`, { method, headers: key === null ? {} : { 'X-API-Key': key } })
  if (response.status === 401) {
    if (key !== null) apiKey.forget(key)
    throw new SignInNeeded(key !== null)
  }
  return response
}

async function get<P extends keyof paths>(path: P, params?: Query<P>): Promise<Answer<P>> {
  const query = new URLSearchParams(
    Object.entries(params ?? {})
      .filter(([, v]) => v !== '' && v !== null && v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  )
  const response = await call('GET', `${path}${query.size ? `?${query}` : ''}`)
  if (!response.ok && !(path === '/api/health' && response.status === 503)) {
    throw new Error(`${path} answered ${response.status}`)
  }
  return (await response.json()) as Answer<P>
}

/** A single-use ticket for the WebSocket (live.ts), which cannot carry the key in a header. An API without
 * API_KEY issues one too, and lets a socket in without it. */
export async function liveTicket(): Promise<string> {
  const response = await call('POST', '/api/live/ticket')
  if (!response.ok) throw new Error(`/api/live/ticket answered ${response.status}`)
  return ((await response.json()) as LiveTicket).ticket
}

/** The content as a `post` event carries it (services/common/events.py `preview`): all of it up to
 * PREVIEW_CHARS characters (code points, as Python counts them), else the first PREVIEW_CHARS - 1 and "…". */
export function preview(content: string): string {
  if (content.length <= PREVIEW_CHARS) return content // UTF-16 units: never fewer than the code points
  const chars = Array.from(content)
  return chars.length <= PREVIEW_CHARS ? content : `${chars.slice(0, PREVIEW_CHARS - 1).join('')}…`
}

/** A REST post as the feed shows it: flat, as the `post` event is, and its content cut the same way. */
export function fromApi(post: ApiPost): FeedPost {
  return {
    post_id: post.post_id,
    content: preview(post.content),
    source: post.source,
    author: post.author,
    created_at: post.created_at,
    sentiment_label: post.sentiment.label,
    confidence_score: post.sentiment.confidence,
    emotion: post.sentiment.emotion,
    model_name: post.sentiment.model_name,
    lang: post.lang ?? null,
    url: post.url ?? null,
  }
}

export interface Loaded {
  health: Health | null
  series: SentimentBucket[]
  emotions: EmotionBucket[]
  distribution: Distribution
  posts: FeedPost[]
  alerts: AlertData[]
  lastMinute: number // posts created in the minute before the load
}

export async function loadSeries(
  period: Period,
  rangeHours: number,
): Promise<{ series: SentimentBucket[]; emotions: EmotionBucket[] }> {
  // The start on a whole minute and no end (the API's default: now): every viewer of the same range asks
  // the same question for a minute, which the API's cache answers once.
  const start = Math.floor((Date.now() - rangeHours * 3_600_000) / 60_000) * 60_000
  const params = { period, start_date: new Date(start).toISOString() }
  const [series, emotions] = await Promise.all([
    get('/api/sentiment/aggregate', params),
    get('/api/sentiment/emotions', params),
  ])
  return { series: series.data, emotions: emotions.data }
}

export async function loadPosts(filters: Filters): Promise<FeedPost[]> {
  const found = await get('/api/posts', {
    limit: 100, source: filters.source, lang: filters.lang || null, sentiment: filters.sentiment || null,
  })
  return found.posts.map(fromApi)
}

export async function loadAll(period: Period, rangeHours: number, filters: Filters): Promise<Loaded> {
  const minute = { period: 'minute', start_date: new Date(Date.now() - 60_000).toISOString() } as const
  const [health, series, distribution, posts, alerts, lastMinute] = await Promise.all([
    get('/api/health').catch(() => null),
    loadSeries(period, rangeHours),
    get('/api/sentiment/distribution', { hours: 24 }),
    loadPosts(filters),
    get('/api/alerts', { limit: 20 }),
    get('/api/sentiment/aggregate', minute),
  ])
  return { health, ...series, distribution, posts, alerts: alerts.alerts, lastMinute: lastMinute.summary.total_posts }
}

export const loadHealth = (): Promise<Health> => get('/api/health')
