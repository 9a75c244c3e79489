// The REST API, and its answers adapted to the page's shapes. Its base URL is VITE_API_BASE at build time;
// empty (the default) is this page's own origin, where `make run` (vite preview) and Compose (nginx) pass /api
// on to the backend. Every call carries the key the viewer signed in with (apiKey.ts) in the X-API-Key header,
// never in the URL: URLs end up in logs and histories.
import { adminToken, apiKey } from './apiKey'
import type { paths } from './generated/api'
import type {
  AlertData, ApiPost, Distribution, EmotionBucket, FeedPost, Filters, Health, LiveTicket, Period, SentimentBucket,
  ShareOfVoice, Topic, TopicFields, Voices,
} from './types'
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

/** A topic write the API refused, with its reason as the API gave it (`detail`). */
export class TopicWriteRefused extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
    this.name = 'TopicWriteRefused'
  }
}

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

/** GET `path` (its `{name}` parts filled from `at`) with the query `params`, those empty left out and a list's
 * values each its own (`topic=1&topic=2`). */
async function get<P extends keyof paths>(path: P, params?: Query<P>, at: Record<string, number> = {}): Promise<Answer<P>> {
  const query = new URLSearchParams(
    Object.entries(params ?? {})
      .filter(([, v]) => v !== '' && v !== null && v !== undefined)
      .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => [k, String(one)])),
  )
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => String(at[name]))
  const response = await call('GET', `${url}${query.size ? `?${query}` : ''}`)
  if (!response.ok && !(path === '/api/health' && response.status === 503)) {
    // A 422 names what was wrong (a search the API could not read, say): that is what the viewer is told.
    throw new Error(response.status === 422 ? await refusal(response) : `${path} answered ${response.status}`)
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
    headline: post.headline ?? null,
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

/** The `topic` parameter (repeatable) narrowed to one topic, or to none. */
function only(topic: number | null): number[] | null {
  return topic === null ? null : [topic]
}

export async function loadSeries(
  period: Period,
  rangeHours: number,
  topic: number | null = null,
): Promise<{ series: SentimentBucket[]; emotions: EmotionBucket[] }> {
  // The start on a whole minute and no end (the API's default: now): every viewer of the same range asks
  // the same question for a minute, which the API's cache answers once.
  const start = Math.floor((Date.now() - rangeHours * 3_600_000) / 60_000) * 60_000
  const params = { period, start_date: new Date(start).toISOString(), topic: only(topic) }
  const [series, emotions] = await Promise.all([
    get('/api/sentiment/aggregate', params),
    get('/api/sentiment/emotions', params),
  ])
  return { series: series.data, emotions: emotions.data }
}

export async function loadPosts(filters: Filters, topic: number | null = null): Promise<FeedPost[]> {
  const found = await get('/api/posts', {
    limit: 100, source: filters.source, lang: filters.lang || null, sentiment: filters.sentiment || null,
    q: filters.q.trim() || null, topic: only(topic),
  })
  return found.posts.map(fromApi)
}

export async function loadAll(period: Period, rangeHours: number, filters: Filters, topic: number | null = null): Promise<Loaded> {
  const minute = { period: 'minute', start_date: new Date(Date.now() - 60_000).toISOString() } as const
  const [health, series, distribution, posts, alerts, lastMinute] = await Promise.all([
    get('/api/health').catch(() => null),
    loadSeries(period, rangeHours, topic),
    get('/api/sentiment/distribution', { hours: 24, topic: only(topic) }),
    loadPosts(filters, topic),
    get('/api/alerts', { limit: 20 }),
    get('/api/sentiment/aggregate', minute),
  ])
  return { health, ...series, distribution, posts, alerts: alerts.alerts, lastMinute: lastMinute.summary.total_posts }
}

export const loadHealth = (): Promise<Health> => get('/api/health')

/** The topics, and how they share the last 24 hours' voice. */
export async function loadTopics(): Promise<{ topics: Topic[]; share: ShareOfVoice }> {
  const [listed, share] = await Promise.all([get('/api/topics'), get('/api/topics/share', { hours: 24 })])
  return { topics: listed.topics, share }
}

/** A topic's top authors and hashtags over the last 24 hours. */
export async function loadVoices(topic: number): Promise<Voices> {
  const [authors, hashtags] = await Promise.all([
    get('/api/topics/{topic_id}/authors', { hours: 24, limit: 10 }, { topic_id: topic }),
    get('/api/topics/{topic_id}/hashtags', { hours: 24, limit: 10 }, { topic_id: topic }),
  ])
  return { topic, authors: authors.authors, hashtags: hashtags.hashtags }
}

/** Make a topic (`id` null) or change one, or delete one (`fields` null), with the admin token kept; a refusal
 * is TopicWriteRefused, saying why as the API did. */
export async function writeTopic(id: number | null, fields: TopicFields | null): Promise<Topic | null> {
  const key = apiKey.get()
  const token = adminToken.get()
  const response = await fetch(`${API_BASE}/api/topics${id === null ? '' : `/${id}`}`, {
    method: fields === null ? 'DELETE' : id === null ? 'POST' : 'PATCH',
    headers: {
      ...(key === null ? {} : { 'X-API-Key': key }),
      ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
      ...(fields === null ? {} : { 'Content-Type': 'application/json' }),
    },
    body: fields === null ? undefined : JSON.stringify(fields),
  })
  if (response.ok) return response.status === 204 ? null : ((await response.json()) as Topic)
  if (response.status === 401 && token !== null) adminToken.forget(token)
  throw new TopicWriteRefused(response.status, await refusal(response))
}

/** Why the API refused a write, in words. */
async function refusal(response: Response): Promise<string> {
  const body = (await response.json().catch(() => null)) as { detail?: unknown } | null
  const detail = body?.detail
  if (typeof detail === 'string') return detail
  if (Array.isArray(detail) && detail.length) {
    const first = detail[0] as { loc?: (string | number)[]; msg?: string }
    return `${String(first.loc?.at(-1) ?? 'the topic')}: ${first.msg ?? 'refused'}`
  }
  return `the API answered ${response.status}`
}
