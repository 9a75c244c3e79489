// The shapes the page works with. Those of the REST API and the WebSocket are generated from the Python models
// (src/generated/, `npm run generate`); here they get the names the components use.
import type { components } from './generated/api'
import type { Emotion, PostData, Sentiment } from './generated/events'
import { EMOTION_VALUES } from './generated/events'

export type {
  AlertData,
  DeletedData,
  Emotion,
  LiveEvent,
  MetricsWindows,
  PostData,
  Sentiment,
  SentimentCounts,
} from './generated/events'
export { PREVIEW_CHARS } from './generated/events'

type Schemas = components['schemas']

/** GET /api/posts: a post with its analysis nested, its content in full. */
export type ApiPost = Schemas['Post']
export type SentimentBucket = Schemas['Bucket']
export type EmotionBucket = Schemas['EmotionBucket']
export type Health = Schemas['Health']
/** POST /api/live/ticket: what opens the WebSocket once, in `?ticket=`. */
export type LiveTicket = Schemas['LiveTicket']
export type Period = Schemas['Aggregate']['period']
/** The parts of GET /api/sentiment/distribution the page shows, which the live events keep current. */
export type Distribution = Pick<Schemas['Distribution'], 'distribution' | 'total' | 'percentages' | 'top_emotions'>

/** A post as the feed shows it: the `post` event's data, or a REST post flattened to it (api.ts `fromApi`),
 * which has no `analyzed_at`. */
export type FeedPost = Omit<PostData, 'analyzed_at' | 'topics'> &
  Partial<Pick<PostData, 'analyzed_at' | 'topics'>> & {
    headline?: string | null // a search's match: the text HTML-escaped, the matched words in <b></b>
  }

/** A saved query people watch (docs/topics.md), with its backfill's progress. */
export type Topic = Schemas['TopicOut']
export type ShareOfVoice = Schemas['ShareOfVoice']
export type TopicShare = Schemas['TopicShare']
export type AuthorCount = Schemas['AuthorCount']
export type HashtagCount = Schemas['HashtagCount']
/** A topic's top authors and hashtags over the last 24 hours. */
export interface Voices {
  topic: number
  authors: AuthorCount[]
  hashtags: HashtagCount[]
}
/** What a topic is made or changed with. */
export type TopicFields = Pick<Schemas['NewTopic'], 'name' | 'query'>

/** What the alert rule writes in an alert's free-form `details` (services/backend/alerts.py). */
export interface AlertDetails {
  counts?: Partial<Record<Sentiment, number>>
  window_minutes?: number
}

/** `labels`, when it names every member of `All`; tsc fails (naming what is missing) when it does not, as
 * when a label is added in Python (services/common/labels.py). */
function every<All extends string>() {
  return <const L extends readonly All[]>(
    labels: L & ([Exclude<All, L[number]>] extends [never] ? unknown : { missing: Exclude<All, L[number]> }),
  ): L => labels
}

/** The sentiments in the order the page shows them. */
export const SENTIMENTS = every<Sentiment>()(['positive', 'negative', 'neutral'])
export const EMOTIONS = EMOTION_VALUES

/** Whether a label that came over the wire is one this page knows: an API of another version may send one it
 * does not, which the page shows as "unknown" and leaves out of its counts. */
export function isSentiment(label: string): label is Sentiment {
  return (SENTIMENTS as readonly string[]).includes(label)
}

export function isEmotion(label: string): label is Emotion {
  return (EMOTIONS as readonly string[]).includes(label)
}

/** The live connection as the header shows it; `signed_out` while the page waits for the API key. */
export type Connection = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'signed_out'

export interface Filters {
  source: string
  lang: string // a BCP 47 primary subtag ("en"), "und", or '' for any
  sentiment: '' | Sentiment
  q: string // a search, in the topics' query syntax ('' for none): the feed shows its matches, not live posts
}
