// Colours from the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies), and a
// symbol and a line pattern for each sentiment, so that colour is never the only cue.
import type { Emotion, Sentiment } from './types'
import { isEmotion, isSentiment } from './types'

interface LabelStyle { color: string; symbol: string; dash: string }

export const SENTIMENT_STYLE: Record<Sentiment, LabelStyle> = {
  positive: { color: '#0072B2', symbol: '▲', dash: '' },
  negative: { color: '#D55E00', symbol: '▼', dash: '6 3' },
  neutral: { color: '#7A7A7A', symbol: '●', dash: '2 2' },
}

/** What a label the page does not know is called and drawn with: neutral, never a crash. */
export const UNKNOWN = 'unknown'
const UNKNOWN_STYLE: LabelStyle = { color: '#9A9A9A', symbol: '?', dash: '1 3' }

export const EMOTION_COLOR: Record<Emotion, string> = {
  anger: '#D55E00',
  disgust: '#009E73',
  fear: '#CC79A7',
  joy: '#E69F00',
  neutral: '#9A9A9A',
  sadness: '#0072B2',
  surprise: '#56B4E9',
}

/** A sentiment's name and style, "unknown" in a neutral grey for a label the page does not know. */
export function sentimentLook(label: string): LabelStyle & { name: string } {
  return isSentiment(label) ? { name: label, ...SENTIMENT_STYLE[label] } : { name: UNKNOWN, ...UNKNOWN_STYLE }
}

/** An emotion's name and colour, "unknown" in a neutral grey for a label the page does not know. */
export function emotionLook(label: string): { name: string; color: string } {
  return isEmotion(label) ? { name: label, color: EMOTION_COLOR[label] } : { name: UNKNOWN, color: UNKNOWN_STYLE.color }
}

export function timeLabel(iso: string, withDate = false): string {
  const d = new Date(iso)
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  return withDate ? `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}` : time
}
