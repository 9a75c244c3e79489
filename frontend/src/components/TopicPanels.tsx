import { memo } from 'react'
import type { Sentiment, ShareOfVoice, Voices } from '../types'

/** A net sentiment ((positive - negative) / posts) as a signed percentage. */
function net(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : `${value > 0 ? '+' : ''}${Math.round(value * 100)}`
}

function change(value: number | null | undefined, unit: string): string {
  return value === null || value === undefined ? '' : ` (${value > 0 ? '+' : ''}${value}${unit})`
}

/** The topics side by side over the last 24 hours: their posts, share and net sentiment, and the change from
 * the 24 hours before. Picking a row picks the topic. */
export const ShareOfVoicePanel = memo(function ShareOfVoicePanel({
  share, topic, onPick,
}: { share: ShareOfVoice | null; topic: number | null; onPick: (topic: number) => void }) {
  return (
    <section className="panel" aria-labelledby="share">
      <h2 id="share">Share of voice, last 24 hours</h2>
      {share?.topics.length ? (
        <table className="share" data-testid="share">
          <thead><tr><th>Topic</th><th>Posts</th><th>Share</th><th title="(positive − negative) / posts, in %">Net</th></tr></thead>
          <tbody>
            {share.topics.map((t) => (
              <tr key={t.id} aria-selected={t.id === topic}>
                <th><button className="link" onClick={() => onPick(t.id)}>{t.name}</button></th>
                <td>{t.posts}<span className="change">{change(t.posts_change_percent, ' %')}</span></td>
                <td><span className="bar" style={{ width: `${t.share}%` }} /> {t.share.toFixed(1)} %</td>
                <td>{net(t.net_sentiment)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p className="empty">No topics to compare.</p>}
    </section>
  )
})

function split(counts: Record<Sentiment, number>): string {
  return `${counts.positive} positive, ${counts.negative} negative, ${counts.neutral} neutral`
}

/** Who and what the picked topic is over the last 24 hours: its top authors and hashtags. */
export const VoicesPanel = memo(function VoicesPanel({ voices, name }: { voices: Voices | null; name: string }) {
  return (
    <section className="panel" aria-labelledby="voices">
      <h2 id="voices">Who and what: {name}</h2>
      {voices ? (
        <div className="voices" data-testid="voices">
          <ol aria-label="top authors">
            {voices.authors.map((a) => <li key={a.author} title={split(a.sentiment)}>@{a.author} <span>{a.posts} · net {net(a.net_sentiment)}</span></li>)}
          </ol>
          <ol aria-label="top hashtags">
            {voices.hashtags.map((h) => <li key={h.hashtag} title={split(h.sentiment)}>{h.hashtag} <span>{h.posts} · net {net(h.net_sentiment)}</span></li>)}
          </ol>
          {!voices.authors.length && <p className="empty">No posts in the last 24 hours.</p>}
        </div>
      ) : <p className="loading">Loading…</p>}
    </section>
  )
})
