import { memo } from 'react'
import { Cell, Pie, PieChart, ResponsiveContainer, Tooltip } from 'recharts'
import { SENTIMENT_STYLE } from '../theme'
import type { Distribution } from '../types'
import { SENTIMENTS } from '../types'

export const DistributionChart = memo(function DistributionChart({ distribution }: { distribution: Distribution | null }) {
  const data = SENTIMENTS.map((s) => ({ name: s, value: distribution?.distribution[s] ?? 0 }))
  return (
    <section className="panel" aria-labelledby="distribution">
      <h2 id="distribution">Last 24 hours</h2>
      {distribution && distribution.total ? (
        <>
          <ResponsiveContainer width="100%" height={200}>
            <PieChart>
              <Pie data={data} dataKey="value" nameKey="name" innerRadius={50} outerRadius={85} isAnimationActive={false}>
                {data.map((d) => <Cell key={d.name} fill={SENTIMENT_STYLE[d.name].color} />)}
              </Pie>
              <Tooltip />
            </PieChart>
          </ResponsiveContainer>
          <table className="shares" data-testid="distribution">
            <tbody>
              {SENTIMENTS.map((s) => (
                <tr key={s}>
                  <th scope="row"><span style={{ color: SENTIMENT_STYLE[s].color }}>{SENTIMENT_STYLE[s].symbol}</span> {s}</th>
                  <td>{(distribution.distribution[s] ?? 0).toLocaleString()}</td>
                  <td>{(distribution.percentages[s] ?? 0).toFixed(2)} %</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : <p className="empty">No posts in the last 24 hours.</p>}
    </section>
  )
})
