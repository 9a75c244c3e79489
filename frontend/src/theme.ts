// Colours from the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies), and a
// symbol and a line pattern for each sentiment, so that colour is never the only cue.
import type { Emotion, Sentiment } from './types'

export const SENTIMENT_STYLE: Record<Sentiment, { color: string; symbol: string; dash: string }> = {
  positive: { color: '#0072B2', symbol: '▲', dash: '' },
  negative: { color: '#D55E00', symbol: '▼', dash: '6 3' },
  neutral: { color: '#7A7A7A', symbol: '●', dash: '2 2' },
}

export const EMOTION_COLOR: Record<Emotion, string> = {
  anger: '#D55E00',
  disgust: '#009E73',
  fear: '#CC79A7',
  joy: '#E69F00',
  neutral: '#9A9A9A',
  sadness: '#0072B2',
  surprise: '#56B4E9',
}

export function timeLabel(iso: string, withDate = false): string {
  const d = new Date(iso)
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  return withDate ? `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}` : time
}
