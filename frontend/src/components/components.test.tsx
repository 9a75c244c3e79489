import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, it } from 'vitest'
import { EMOTION_COLOR, emotionLook, sentimentLook } from '../theme'
import type { Distribution, FeedPost, Health } from '../types'
import { DistributionChart } from './DistributionChart'
import { Header } from './Header'
import { LiveFeed } from './LiveFeed'
import { PanelBoundary } from './PanelBoundary'
import { SignIn } from './SignIn'

const noop = () => undefined

function feedWith(post: Partial<FeedPost>): string {
  const base: FeedPost = {
    post_id: 'p-1', content: 'text', source: 'reddit', author: 'someone', created_at: '2026-11-29T10:00:00Z',
    sentiment_label: 'negative', confidence_score: 0.9, emotion: 'anger', model_name: 'm',
    lang: null, url: null,
  }
  return renderToStaticMarkup(
    <LiveFeed feed={[{ ...base, ...post }]} held={0} paused={false} filters={{ source: '', lang: '', sentiment: '' }}
      sources={[]} langs={['en', 'und']} onPause={noop} onFilters={noop} />,
  )
}

describe('a label the page does not know', () => {
  it('is shown as unknown in the feed, saying what it was, where a known one is shown as itself', () => {
    const odd = feedWith({ sentiment_label: 'ecstatic', emotion: 'love' } as unknown as Partial<FeedPost>)
    expect(odd).toContain('class="badge sentiment-unknown"')
    expect(odd).toContain('? unknown')
    expect(odd).toContain('title="&quot;love&quot;: a label this dashboard does not know"')
    expect(odd).not.toContain('ecstatic</span>')
    const known = feedWith({})
    expect(known).toContain('class="badge sentiment-negative"')
    expect(known).toContain('▼ negative')
    expect(known).not.toContain('unknown')
  })

  it('gets a neutral colour', () => {
    expect(sentimentLook('ecstatic')).toMatchObject({ name: 'unknown', color: '#9A9A9A' })
    expect(emotionLook('love')).toEqual({ name: 'unknown', color: '#9A9A9A' })
    expect(emotionLook('joy')).toEqual({ name: 'joy', color: EMOTION_COLOR.joy })
  })

  it('missing from a distribution counts as 0 rather than breaking the panel', () => {
    const distribution = { distribution: { positive: 2, negative: 1 }, total: 3, percentages: { positive: 66.67, negative: 33.33 }, top_emotions: {} }
    const html = renderToStaticMarkup(<DistributionChart distribution={distribution as unknown as Distribution} />)
    expect(html).toContain('<td>0</td><td>0.00 %</td>')
  })
})

describe('a post in the feed', () => {
  it('links to its original and shows its language', () => {
    const html = feedWith({ url: 'https://bsky.app/profile/did:plc:x/post/3k', lang: 'en' })
    expect(html).toContain('href="https://bsky.app/profile/did:plc:x/post/3k"')
    expect(html).toContain('rel="noopener noreferrer nofollow"')
    expect(html).toContain('<span class="lang" title="language">en</span>')
  })

  it('has no link without an http(s) one, whatever came over the wire', () => {
    expect(feedWith({})).not.toContain('href=')
    expect(feedWith({ url: 'javascript:alert(1)' })).not.toContain('href=')
  })

  it('offers the languages of the feed to filter by, "und" as undetermined', () => {
    expect(feedWith({})).toContain('<option value="und">undetermined</option>')
  })
})

describe('the panel boundary', () => {
  it('shows its panel while nothing fails', () => {
    const html = renderToStaticMarkup(<PanelBoundary name="Alerts" onReload={noop}><p>the alerts</p></PanelBoundary>)
    expect(html).toBe('<p>the alerts</p>')
  })

  it('shows a small message and a reload button in place of a panel that failed', () => {
    const boundary = new PanelBoundary({ name: 'Alerts', onReload: noop, children: <p>the alerts</p> })
    boundary.state = PanelBoundary.getDerivedStateFromError(new TypeError("Cannot read properties of undefined (reading 'color')"))
    const html = renderToStaticMarkup(<>{boundary.render()}</>)
    expect(html).toContain('role="alert"')
    expect(html).toContain('<h2>Alerts</h2>')
    expect(html).toContain('This part could not be shown: Cannot read properties of undefined')
    expect(html).toContain('<button>Reload</button>')
    expect(html).not.toContain('the alerts')
  })
})

describe('the header', () => {
  const health: Health = {
    status: 'degraded', timestamp: '2026-11-29T10:00:00Z', stats: null,
    services: { database: 'connected', redis: 'connected', triton: 'connected' },
    redis_persistence: 'none', dead_letters: 3, warnings: ['Redis keeps nothing on disk.', 'Another thing.'],
  }

  it('shows the dead letters and the warnings, each explained in its title', () => {
    const html = renderToStaticMarkup(<Header connection="live" health={health} postsLastMinute={0} />)
    expect(html).toMatch(/<li class="warn" title="[^"]*python -m services.worker dead-letters"[^>]*>✉ 3 dead letters<\/li>/)
    expect(html).toMatch(/<li class="warn" title="Redis keeps nothing on disk.\n\nAnother thing."[^>]*>⚠ 2 warnings<\/li>/)
  })

  it('has a sign-out button only while the page uses a key', () => {
    expect(renderToStaticMarkup(<Header connection="live" health={health} postsLastMinute={0} onSignOut={noop} />))
      .toContain('<button class="sign-out">Sign out</button>')
    expect(renderToStaticMarkup(<Header connection="live" health={health} postsLastMinute={0} />)).not.toContain('Sign out')
  })

  it('says signed out, and shows no throughput, while the page waits for the key', () => {
    const html = renderToStaticMarkup(<Header connection="signed_out" health={health} postsLastMinute={0} />)
    expect(html).toContain('Signed out</span>')
    expect(html).not.toContain('posts in the last minute')
  })

  it('shows neither when there are none', () => {
    const html = renderToStaticMarkup(<Header connection="live" health={{ ...health, dead_letters: 0, warnings: [] }} postsLastMinute={0} />)
    expect(html).not.toContain('dead letter')
    expect(html).not.toContain('warning')
    expect(renderToStaticMarkup(<Header connection="live" health={{ ...health, dead_letters: null }} postsLastMinute={0} />))
      .not.toContain('dead letter')
  })
})

describe('the sign-in form', () => {
  it('asks for the key in one password field, and says why when it is back', () => {
    const first = renderToStaticMarkup(<SignIn asking={{ checking: false, message: null }} onSubmit={noop} />)
    expect(first.match(/<input[^>]*>/g)).toEqual([expect.stringContaining('type="password"')])
    expect(first).toContain('<button type="submit">Sign in</button>')
    expect(first).not.toContain('role="alert"')
    const wrong = renderToStaticMarkup(<SignIn asking={{ checking: false, message: 'The API did not accept that key.' }} onSubmit={noop} />)
    expect(wrong).toContain('role="alert">The API did not accept that key.</p>')
  })

  it('cannot be sent twice while a key is being tried', () => {
    const html = renderToStaticMarkup(<SignIn asking={{ checking: true, message: null }} onSubmit={noop} />)
    expect(html).toContain('<button type="submit" disabled="">Checking…</button>')
  })
})
