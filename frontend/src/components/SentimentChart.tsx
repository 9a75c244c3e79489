import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import { SENTIMENT_STYLE, timeLabel } from '../theme'
import type { Period, SentimentBucket } from '../types'
import { SENTIMENTS } from '../types'

export const RANGES: Record<Period, { label: string; hours: number }[]> = {
  minute: [{ label: '1 h', hours: 1 }, { label: '6 h', hours: 6 }, { label: '24 h', hours: 24 }],
  hour: [{ label: '24 h', hours: 24 }, { label: '3 d', hours: 72 }, { label: '7 d', hours: 168 }],
  day: [{ label: '7 d', hours: 168 }, { label: '30 d', hours: 720 }],
}

export function SentimentChart({
  series, period, rangeHours, onChange,
}: { series: SentimentBucket[]; period: Period; rangeHours: number; onChange: (period: Period, hours: number) => void }) {
  return (
    <section className="panel wide" aria-labelledby="over-time">
      <div className="panel-head">
        <h2 id="over-time">Sentiment over time</h2>
        <div className="controls" role="group" aria-label="bucket size">
          {(['minute', 'hour', 'day'] as const).map((p) => (
            <button key={p} aria-pressed={p === period} onClick={() => onChange(p, RANGES[p][0].hours)}>{p}</button>
          ))}
          <select aria-label="time range" value={rangeHours} onChange={(e) => onChange(period, Number(e.target.value))}>
            {RANGES[period].map((r) => <option key={r.hours} value={r.hours}>{r.label}</option>)}
          </select>
        </div>
      </div>
      {series.some((b) => b.total_count) ? (
        <ResponsiveContainer width="100%" height={260}>
          <LineChart data={series} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e3e3e3" />
            <XAxis dataKey="timestamp" tickFormatter={(t: string) => timeLabel(t, period === 'day')} minTickGap={40} />
            <YAxis allowDecimals={false} width={44} />
            <Tooltip labelFormatter={(t) => (typeof t === 'string' ? timeLabel(t, true) : t)} />
            <Legend />
            {SENTIMENTS.map((s) => (
              <Line key={s} type="monotone" dataKey={`${s}_count`} name={`${SENTIMENT_STYLE[s].symbol} ${s}`}
                stroke={SENTIMENT_STYLE[s].color} strokeDasharray={SENTIMENT_STYLE[s].dash} strokeWidth={2}
                dot={false} isAnimationActive={false} />
            ))}
          </LineChart>
        </ResponsiveContainer>
      ) : <p className="empty">{series.length ? 'No posts in this range yet.' : 'Loading…'}</p>}
    </section>
  )
}
