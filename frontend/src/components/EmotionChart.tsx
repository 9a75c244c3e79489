import { Area, AreaChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import { EMOTION_COLOR, timeLabel } from '../theme'
import type { EmotionBucket, Period } from '../types'
import { EMOTIONS } from '../types'

export function EmotionChart({ emotions, period }: { emotions: EmotionBucket[]; period: Period }) {
  const rows = emotions.map((b) => ({ timestamp: b.timestamp, ...b.counts }))
  return (
    <section className="panel wide" aria-labelledby="emotions">
      <h2 id="emotions">Emotions over time</h2>
      {emotions.some((b) => b.total) ? (
        <ResponsiveContainer width="100%" height={240}>
          <AreaChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e3e3e3" />
            <XAxis dataKey="timestamp" tickFormatter={(t: string) => timeLabel(t, period === 'day')} minTickGap={40} />
            <YAxis allowDecimals={false} width={44} />
            <Tooltip labelFormatter={(t) => (typeof t === 'string' ? timeLabel(t, true) : t)} />
            <Legend />
            {EMOTIONS.map((e) => (
              <Area key={e} type="monotone" dataKey={e} stackId="emotions" stroke={EMOTION_COLOR[e]}
                fill={EMOTION_COLOR[e]} fillOpacity={0.7} isAnimationActive={false} />
            ))}
          </AreaChart>
        </ResponsiveContainer>
      ) : <p className="empty">{emotions.length ? 'No posts in this range yet.' : 'Loading…'}</p>}
    </section>
  )
}
