import { memo } from 'react'
import { timeLabel } from '../theme'
import type { AlertData, AlertDetails } from '../types'

function describe(alert: AlertData): string {
  const counts = (alert.details as AlertDetails).counts ?? {}
  return `${counts.negative ?? '?'} negative against ${counts.positive ?? '?'} positive`
}

export function AlertNotice({ alert, onDismiss }: { alert: AlertData | null; onDismiss: () => void }) {
  if (!alert) return null
  return (
    <div className="notice" role="alert" data-testid="alert-notice">
      <strong>⚠ New alert:</strong> negative/positive ratio {alert.actual_value.toFixed(2)} (over{' '}
      {alert.threshold_value}) in {alert.post_count} posts, {timeLabel(alert.window_start)}–{timeLabel(alert.window_end)}
      <button onClick={onDismiss} aria-label="dismiss">✕</button>
    </div>
  )
}

export const Alerts = memo(function Alerts({ alerts }: { alerts: AlertData[] }) {
  return (
    <section className="panel" aria-labelledby="alerts">
      <h2 id="alerts">Alerts</h2>
      {alerts.length ? (
        <ul className="alerts" data-testid="alerts">
          {alerts.map((a) => (
            <li key={a.id}>
              <div><strong>⚠ ratio {a.actual_value.toFixed(2)}</strong> &gt; {a.threshold_value}</div>
              <div className="meta">
                {timeLabel(a.window_start, true)}–{timeLabel(a.window_end)} · {a.post_count} posts · {describe(a)}
              </div>
            </li>
          ))}
        </ul>
      ) : <p className="empty">No alerts.</p>}
    </section>
  )
})
