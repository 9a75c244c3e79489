import type { FormEvent } from 'react'
import { memo, useState } from 'react'
import { emotionLook, sentimentLook, timeLabel } from '../theme'
import type { FeedPost, Filters } from '../types'
import { SENTIMENTS } from '../types'

export function LiveFeed({
  feed, held, paused, filters, sources, langs, onPause, onFilters,
}: {
  feed: FeedPost[]; held: number; paused: boolean; filters: Filters; sources: string[]; langs: string[]
  onPause: (paused: boolean) => void; onFilters: (filters: Filters) => void
}) {
  const searching = Boolean(filters.q.trim())
  return (
    <section className="panel feed" aria-labelledby="feed">
      <div className="panel-head">
        <h2 id="feed">{searching ? 'Search' : 'Live feed'}</h2>
        <Search key={filters.q} q={filters.q} onSearch={(q) => onFilters({ ...filters, q })} />
        <div className="controls">
          <select aria-label="source" value={filters.source} onChange={(e) => onFilters({ ...filters, source: e.target.value })}>
            <option value="">all sources</option>
            {sources.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
          <select aria-label="language" value={filters.lang} onChange={(e) => onFilters({ ...filters, lang: e.target.value })}>
            <option value="">all languages</option>
            {langs.map((l) => <option key={l} value={l}>{l === 'und' ? 'undetermined' : l}</option>)}
          </select>
          <select aria-label="sentiment" value={filters.sentiment}
            onChange={(e) => onFilters({ ...filters, sentiment: e.target.value as Filters['sentiment'] })}>
            <option value="">all sentiments</option>
            {SENTIMENTS.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
          <button onClick={() => onPause(!paused)} aria-pressed={paused}>
            {paused ? `Resume${held ? ` (${held} new)` : ''}` : 'Pause'}
          </button>
        </div>
      </div>
      {feed.length ? (
        <ol className="posts" data-testid="feed">
          {feed.map((post) => <PostItem key={post.post_id} post={post} />)}
        </ol>
      ) : <p className="empty">{searching ? 'No post matches.' : paused ? 'Paused.' : 'Waiting for posts…'}</p>}
    </section>
  )
}

/** The search box: the topics' query syntax, sent on Enter; cleared, the live feed is back. Keyed by the
 * search shown, so that it starts from it afresh. */
function Search({ q, onSearch }: { q: string; onSearch: (q: string) => void }) {
  const [typed, setTyped] = useState(q)
  const submit = (event: FormEvent) => {
    event.preventDefault()
    onSearch(typed.trim())
  }
  return (
    <form className="search" role="search" onSubmit={submit}>
      <input type="search" aria-label="search the posts" placeholder='Search: words, "a phrase", #tag, -not'
        value={typed} maxLength={500} onChange={(e) => setTyped(e.target.value)} />
      {q && <button type="button" onClick={() => onSearch('')}>Clear</button>}
    </form>
  )
}

/** One post; unchanged posts are not rendered again when new ones arrive. */
const PostItem = memo(function PostItem({ post }: { post: FeedPost }) {
  const sentiment = sentimentLook(post.sentiment_label)
  const emotion = emotionLook(post.emotion)
  return (
    <li className="post">
      <div className="meta">
        <span className="source">{post.source}</span>
        <span className="author">@{post.author}</span>
        <time dateTime={post.created_at}>{timeLabel(post.created_at)}</time>
        {post.lang && <span className="lang" title="language">{post.lang}</span>}
        {isLink(post.url) && (
          <a className="original" href={post.url} target="_blank" rel="noopener noreferrer nofollow">original</a>
        )}
      </div>
      {post.headline ? <Headline headline={post.headline} /> : <p>{post.content}</p>}
      <div className="badges">
        <span className={`badge sentiment-${sentiment.name}`} title={unknownTitle(sentiment.name, post.sentiment_label)}>
          {sentiment.symbol} {sentiment.name}
        </span>
        <span className="badge emotion" title={unknownTitle(emotion.name, post.emotion)}>{emotion.name}</span>
        <span className="confidence" title="confidence">{Math.round(post.confidence_score * 100)} %</span>
      </div>
    </li>
  )
})

/** Whether a post's link may be followed: http(s) only (the API refuses others; a page never trusts that). */
export function isLink(url: string | null | undefined): url is string {
  return typeof url === 'string' && /^https?:\/\//i.test(url)
}

/** For a label shown as unknown: what it was. */
function unknownTitle(shown: string, label: string): string | undefined {
  return shown === label ? undefined : `"${label}": a label this dashboard does not know`
}

/** A search's headline with its matched words marked. The API sends the text HTML-escaped (&, <, >) with the
 * words in <b></b>: those marks are split on, and the rest is shown as text, never read as HTML. */
export function Headline({ headline }: { headline: string }) {
  return (
    <p className="headline">
      {headline.split(/<\/?b>/).map((part, i) => (i % 2 ? <mark key={i}>{unescaped(part)}</mark> : unescaped(part)))}
    </p>
  )
}

function unescaped(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
}
