// The shapes the API and the WebSocket send (README: "The API"; services/common/events.py).

export const SENTIMENTS = ['positive', 'negative', 'neutral'] as const
export type Sentiment = (typeof SENTIMENTS)[number]
export const EMOTIONS = ['anger', 'disgust', 'fear', 'joy', 'neutral', 'sadness', 'surprise'] as const
export type Emotion = (typeof EMOTIONS)[number]
export type Period = 'minute' | 'hour' | 'day'

/** A post as the feed shows it: the WebSocket's flat `post` event data. */
export interface PostData {
  post_id: string
  content: string
  source: string
  author: string
  created_at: string
  sentiment_label: Sentiment
  confidence_score: number
  emotion: Emotion
  model_name: string
  analyzed_at?: string
}

export interface AlertData {
  id: number
  alert_type: string
  threshold_value: number
  actual_value: number
  window_start: string
  window_end: string
  post_count: number
  triggered_at: string
  details: { counts?: Partial<Record<Sentiment, number>> } & Record<string, unknown>
}

export interface SentimentCounts {
  positive: number
  negative: number
  neutral: number
  total: number
}

export interface MetricsWindows {
  last_minute: SentimentCounts
  last_hour: SentimentCounts
  last_24_hours: SentimentCounts
}

export type LiveEvent =
  | { type: 'connected'; message: string; timestamp: string }
  | { type: 'post'; data: PostData }
  | { type: 'alert'; data: AlertData }
  | { type: 'metrics_update'; data: MetricsWindows; timestamp: string }

/** GET /api/posts: a post with its analysis nested. */
export interface ApiPost {
  post_id: string
  source: string
  content: string
  author: string
  created_at: string
  sentiment: { label: Sentiment; confidence: number; emotion: Emotion; model_name: string }
}

export interface SentimentBucket {
  timestamp: string
  positive_count: number
  negative_count: number
  neutral_count: number
  total_count: number
  average_confidence: number
}

export interface EmotionBucket {
  timestamp: string
  counts: Record<Emotion, number>
  total: number
}

export interface Distribution {
  distribution: Record<Sentiment, number>
  total: number
  percentages: Record<Sentiment, number>
  top_emotions: Partial<Record<Emotion, number>>
}

export interface Health {
  status: 'healthy' | 'degraded' | 'unhealthy'
  services: { database: string; redis: string; triton: string }
  stats: { total_posts: number; total_analyses: number; recent_posts_1h: number } | null
}
