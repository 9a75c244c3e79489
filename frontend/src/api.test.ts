import type { AddressInfo } from 'node:net'
import { createServer } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { fromApi, preview } from './api'
import type { ApiPost, PostData } from './types'
import { PREVIEW_CHARS } from './types'

const LONG = '🙂'.repeat(150) + 'a'.repeat(100) // 250 characters (code points), 400 UTF-16 units

function rest(content: string): ApiPost {
  return {
    post_id: 'p-1', source: 'reddit', content, author: 'someone', created_at: '2026-11-29T10:00:00Z',
    sentiment: { label: 'negative', confidence: 0.9, emotion: 'anger', model_name: 'm' },
  }
}

/** The `post` event of the same post, its content as services/common/events.py `preview` cuts it (the
 * output of `preview(LONG)`, from Python). */
function live(content: string): PostData {
  return {
    post_id: 'p-1', source: 'reddit', content, author: 'someone', created_at: '2026-11-29T10:00:00Z',
    sentiment_label: 'negative', confidence_score: 0.9, emotion: 'anger', model_name: 'm',
    analyzed_at: '2026-11-29T10:00:01Z', lang: null, url: null, topics: [],
  }
}
const LONG_AS_SENT = '🙂'.repeat(150) + 'a'.repeat(49) + '…'

describe('a REST post', () => {
  it('is shown as its live event shows it: the same fields, the long content cut the same way', () => {
    expect(fromApi(rest(LONG))).toEqual({ ...live(LONG_AS_SENT), analyzed_at: undefined, topics: undefined, headline: null })
  })

  it('keeps content of up to PREVIEW_CHARS characters whole, counting characters as Python does', () => {
    const full = '🙂'.repeat(PREVIEW_CHARS) // 400 UTF-16 units, 200 characters
    expect(fromApi(rest(full)).content).toBe(full)
    expect(preview('short')).toBe('short')
  })

  it('has its content cut to PREVIEW_CHARS characters, the last an ellipsis', () => {
    const cut = Array.from(preview('x'.repeat(10_000)))
    expect(cut).toHaveLength(PREVIEW_CHARS)
    expect(cut.at(-1)).toBe('…')
  })
})

/** A local HTTP server that answers as the API does with API_KEY set to `key` ('': open), recording what
 * each request carried. */
function fakeApi() {
  const seen: { method?: string; url?: string; key?: string | string[] }[] = []
  const api = { key: 'the-right-key', seen }
  const server = createServer((request, response) => {
    seen.push({ method: request.method, url: request.url, key: request.headers['x-api-key'] })
    const json = (status: number, body: object) => {
      response.writeHead(status, { 'Content-Type': 'application/json' })
      response.end(JSON.stringify(body))
    }
    const open = request.url === '/api/health'
    if (!open && api.key && request.headers['x-api-key'] !== api.key) {
      return json(401, { detail: 'missing or wrong API key: send it in the X-API-Key header' })
    }
    if (request.url === '/api/live/ticket' && request.method === 'POST') return json(200, { ticket: 'tk-1', expires_in_s: 30 })
    if (request.url?.startsWith('/api/posts')) return json(200, { posts: [rest('hello')], total: 1, limit: 100, offset: 0 })
    if (open) return json(200, { status: 'healthy' })
    json(404, { detail: 'Not Found' })
  })
  return { api, server }
}

describe('the API key', () => {
  const { api, server } = fakeApi()
  let client: typeof import('./api')
  let kept: typeof import('./apiKey')['apiKey']
  const filters = { source: '', lang: '', sentiment: '', q: '' } as const

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    vi.stubEnv('VITE_API_BASE', `http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    vi.resetModules() // api.ts reads VITE_API_BASE as it loads
    client = await import('./api')
    kept = (await import('./apiKey')).apiKey
  })
  afterAll(async () => {
    vi.unstubAllEnvs()
    await new Promise((resolve) => server.close(resolve))
  })
  beforeEach(() => {
    api.seen.length = 0
    api.key = 'the-right-key'
    kept.clear()
  })

  it('kept, goes in the X-API-Key header of every call, the reads and the ticket, and in no URL', async () => {
    kept.keep('the-right-key')
    expect((await client.loadPosts(filters)).map((p) => p.post_id)).toEqual(['p-1'])
    expect(await client.liveTicket()).toBe('tk-1')
    await client.loadHealth()
    expect(api.seen.map((r) => [r.method, r.url?.split('?')[0], r.key])).toEqual([
      ['GET', '/api/posts', 'the-right-key'],
      ['POST', '/api/live/ticket', 'the-right-key'],
      ['GET', '/api/health', 'the-right-key'],
    ])
    expect(api.seen.filter((r) => r.url?.includes('the-right-key'))).toEqual([])
  })

  it('narrows to a topic as the repeatable topic= the API reads, and leaves empty filters out', async () => {
    kept.keep('the-right-key')
    await client.loadPosts({ ...filters, q: ' cats ' }, 7)
    await client.loadPosts(filters)
    expect(api.seen.map((r) => r.url)).toEqual(['/api/posts?limit=100&q=cats&topic=7', '/api/posts?limit=100'])
  })

  it('is not needed by an API without API_KEY: nothing is asked, no header sent', async () => {
    api.key = ''
    await client.loadPosts(filters)
    expect(await client.liveTicket()).toBe('tk-1')
    expect(api.seen.map((r) => r.key)).toEqual([undefined, undefined])
  })

  it('missing where the API needs one: a 401 is SignInNeeded, saying no key was sent', async () => {
    const refusal = client.loadPosts(filters)
    await expect(refusal).rejects.toBeInstanceOf(client.SignInNeeded)
    await expect(refusal).rejects.toMatchObject({ keySent: false })
  })

  it('refused (wrong, or rotated since) is forgotten, and the 401 says a key was sent', async () => {
    kept.keep('an-old-key')
    await expect(client.liveTicket()).rejects.toMatchObject({ name: 'SignInNeeded', keySent: true })
    expect(kept.get()).toBeNull()
  })
})
