import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, it } from 'vitest'
import { EMOTION_COLOR, emotionLook, sentimentLook } from '../theme'
import type { Distribution, FeedPost, Health, Topic } from '../types'
import { DistributionChart } from './DistributionChart'
import { Header } from './Header'
import { Headline, LiveFeed } from './LiveFeed'
import { PanelBoundary } from './PanelBoundary'
import { SignIn } from './SignIn'
import { TopicBar } from './TopicBar'
import { ShareOfVoicePanel } from './TopicPanels'

const noop = () => undefined

function feedWith(post: Partial<FeedPost>): string {
  const base: FeedPost = {
    post_id: 'p-1', content: 'text', source: 'reddit', author: 'someone', created_at: '2026-11-29T10:00:00Z',
    sentiment_label: 'negative', confidence_score: 0.9, emotion: 'anger', model_name: 'm',
    lang: null, url: null,
  }
  return renderToStaticMarkup(
    <LiveFeed feed={[{ ...base, ...post }]} held={0} paused={false} filters={{ source: '', lang: '', sentiment: '', q: '' }}
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

describe('a search', () => {
  it('marks the matched words and shows the rest as text, never as HTML', () => {
    const html = renderToStaticMarkup(<Headline headline={"&lt;script&gt;cats&lt;/script&gt; &amp;amp; <b>Cats</b>"} />)
    expect(html).toBe('<p class="headline">&lt;script&gt;cats&lt;/script&gt; &amp;amp; <mark>Cats</mark></p>')
  })

  it("shows a post's headline in place of its text, under a search box", () => {
    const html = feedWith({ headline: 'the <b>cats</b>' })
    expect(html).toContain('<mark>cats</mark>')
    expect(html).toContain('role="search"')
  })
})

describe('the topic bar', () => {
  const topic = (id: number, progress: number): Topic => ({
    id, name: `Topic ${id}`, query: 'q', sources: null, languages: null, created_at: '2026-11-29T10:00:00Z',
    updated_at: '2026-11-29T10:00:00Z', revision: 1,
    backfill: { state: progress < 1 ? 'running' : 'done', through: null, progress },
  })
  const write = () => Promise.resolve(null)

  it('offers all posts and each topic, the picked one pressed, a backfill with its progress', () => {
    const html = renderToStaticMarkup(
      <TopicBar topics={[topic(1, 1), topic(2, 0.425)]} topic={2} canWrite={false} onPick={noop} onToken={noop} onWrite={write} />,
    )
    expect(html).toContain('<button aria-pressed="false">All posts</button>')
    expect(html).toMatch(/<button aria-pressed="true" title="q">Topic 2<span class="backfill" data-testid="backfill"> · backfilling 43 %<\/span><\/button>/)
    expect(html).toContain('type="password"') // no token yet: the form asks for it
    expect(html).not.toContain('Add topic')
  })

  it('with the token, adds topics and changes or deletes the picked one', () => {
    const html = renderToStaticMarkup(
      <TopicBar topics={[topic(1, 1)]} topic={1} canWrite onPick={noop} onToken={noop} onWrite={write} />,
    )
    expect(html).toContain('Add topic')
    expect(html).toContain('Edit “Topic 1”')
    expect(html).toContain('Delete “Topic 1”')
    expect(html).not.toContain('type="password"')
  })

  it('says there is none yet', () => {
    expect(renderToStaticMarkup(<TopicBar topics={[]} topic={null} canWrite={false} onPick={noop} onToken={noop} onWrite={write} />))
      .toContain('No topics yet')
  })
})

describe('share of voice', () => {
  it("shows each topic's posts, share and net sentiment, and the change from the day before", () => {
    const share = {
      hours: 24, start_date: '2026-11-29T10:00:00Z', end_date: '2026-11-29T10:00:00Z', total: 4,
      topics: [{
        id: 1, name: 'Cats', posts: 3, share: 75, sentiment: { positive: 2, negative: 0, neutral: 1 }, net_sentiment: 0.6667,
        previous_posts: 1, posts_change: 2, posts_change_percent: 200, net_sentiment_change: 0.1,
      }],
    }
    const html = renderToStaticMarkup(<ShareOfVoicePanel share={share} topic={1} onPick={noop} />)
    expect(html).toContain('<tr aria-selected="true">')
    expect(html).toContain('3<span class="change"> (+200 %)</span>')
    expect(html).toContain('75.0 %')
    expect(html).toContain('<td>+67</td>')
  })
})
