// Generated from the JSON Schema of the WebSocket events (python -m services.backend.contract) by `npm run generate`
// (frontend/scripts/generate.mjs). Do not edit: `make contract-check` fails when this file is stale.
export type LiveEvent = ConnectedEvent | PostEvent | DeletedEvent | AlertEvent | MetricsUpdateEvent | ResyncEvent;
export type Emotion = "anger" | "disgust" | "fear" | "joy" | "neutral" | "sadness" | "surprise";
export type Sentiment = "negative" | "neutral" | "positive";

export interface ConnectedEvent {
  message: string;
  timestamp: string;
  type: "connected";
}
export interface PostEvent {
  data: PostData;
  type: "post";
}
export interface PostData {
  analyzed_at: string;
  author: string;
  confidence_score: number;
  content: string;
  created_at: string;
  emotion: Emotion;
  lang: string | null;
  model_name: string;
  post_id: string;
  sentiment_label: Sentiment;
  source: string;
  topics: number[];
  url: string | null;
}
/**
 * A post its source deleted, and that was stored: gone from the database; clients drop it too.
 */
export interface DeletedEvent {
  data: DeletedData;
  type: "deleted";
}
export interface DeletedData {
  deleted_at: string;
  post_id: string;
  source: string;
}
export interface AlertEvent {
  data: AlertData;
  type: "alert";
}
export interface AlertData {
  actual_value: number;
  alert_type: string;
  details: {
    [k: string]: unknown;
  };
  id: number;
  post_count: number;
  threshold_value: number;
  triggered_at: string;
  window_end: string;
  window_start: string;
}
export interface MetricsUpdateEvent {
  data: MetricsWindows;
  timestamp: string;
  type: "metrics_update";
}
export interface MetricsWindows {
  last_24_hours: SentimentCounts;
  last_hour: SentimentCounts;
  last_minute: SentimentCounts;
}
export interface SentimentCounts {
  negative: number;
  neutral: number;
  positive: number;
  total: number;
}
/**
 * From the backend to its clients after its subscription was lost or went silent and is back: the events
 * published meanwhile never reached them, so they reload what they show.
 */
export interface ResyncEvent {
  reason: string;
  timestamp: string;
  type: "resync";
}

/** Every Emotion label, in services/common/labels.py's order. */
export const EMOTION_VALUES = ["anger","disgust","fear","joy","neutral","sadness","surprise"] as const satisfies readonly Emotion[]

/** Every Sentiment label, in services/common/labels.py's order. */
export const SENTIMENT_VALUES = ["negative","neutral","positive"] as const satisfies readonly Sentiment[]

/** The most characters of a post's content that a `post` event carries (PostData.content's maxLength;
 * services/common/events.py PREVIEW_CHARS). */
export const PREVIEW_CHARS = 200
