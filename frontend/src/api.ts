// The REST API. Its base URL is VITE_API_BASE at build time; empty (the default) is this page's own origin,
// where `make run` (vite preview) and Compose (nginx) pass /api on to the backend.
import type { AlertData, ApiPost, Distribution, EmotionBucket, Health, Period, SentimentBucket } from './types'
import type { Filters, Loaded } from './state'

export const API_BASE: string = import.meta.env.VITE_API_BASE ?? ''

async function get<T>(path: string, params: Record<string, string | number> = {}): Promise<T> {
  const query = new URLSearchParams(
    Object.entries(params)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => [k, String(v)]),
  )
  const response = await fetch(`${API_BASE}${path}${query.size ? `?${query}` : ''}`)
  if (!response.ok && !(path === '/api/health' && response.status === 503)) {
    throw new Error(`${path} answered ${response.status}`)
  }
  return (await response.json()) as T
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
    get<{ data: SentimentBucket[] }>('/api/sentiment/aggregate', params),
    get<{ data: EmotionBucket[] }>('/api/sentiment/emotions', params),
  ])
  return { series: series.data, emotions: emotions.data }
}

export async function loadPosts(filters: Filters): Promise<ApiPost[]> {
  const found = await get<{ posts: ApiPost[] }>('/api/posts', { limit: 100, ...filters })
  return found.posts
}

export async function loadAll(period: Period, rangeHours: number, filters: Filters): Promise<Loaded> {
  const minute = { period: 'minute', start_date: new Date(Date.now() - 60_000).toISOString() }
  const [health, series, distribution, posts, alerts, lastMinute] = await Promise.all([
    get<Health>('/api/health').catch(() => null),
    loadSeries(period, rangeHours),
    get<Distribution>('/api/sentiment/distribution', { hours: 24 }),
    loadPosts(filters),
    get<{ alerts: AlertData[] }>('/api/alerts', { limit: 20 }),
    get<{ summary: { total_posts: number } }>('/api/sentiment/aggregate', minute),
  ])
  return { health, ...series, distribution, posts, alerts: alerts.alerts, lastMinute: lastMinute.summary.total_posts }
}

export const loadHealth = (): Promise<Health> => get<Health>('/api/health')
