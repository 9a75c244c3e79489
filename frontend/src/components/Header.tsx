import type { Connection, Health } from '../types'

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  signed_out: 'Signed out',
}

const DEAD_LETTERS_HELP =
  'Posts set aside after failing again and again; they are kept until redriven or deleted. ' +
  'To list, redrive or delete them: python -m services.worker dead-letters'

/** `onSignOut`: given while the page uses an API key, which the button forgets. */
export function Header({ connection, health, postsLastMinute, onSignOut }: {
  connection: Connection
  health: Health | null
  postsLastMinute: number
  onSignOut?: () => void
}) {
  const deadLetters = health?.dead_letters ?? 0
  const warnings = health?.warnings ?? [] // an API of an older version sends none
  return (
    <header className="header">
      <h1>Sentiment live</h1>
      <span className={`pill connection-${connection}`} data-testid="connection" role="status">
        {CONNECTION_TEXT[connection]}
      </span>
      {connection !== 'signed_out' && (
        <span className="throughput" data-testid="throughput">
          <strong>{postsLastMinute.toLocaleString()}</strong> posts in the last minute
        </span>
      )}
      <ul className="health" aria-label="platform health">
        {health
          ? (['database', 'redis', 'triton'] as const).map((name) => {
              const up = health.services[name] === 'connected'
              return (
                <li key={name} className={up ? 'up' : 'down'} title={health.services[name]}>
                  {up ? '✔' : '✖'} {name === 'redis' ? 'Redis' : name === 'triton' ? 'Triton' : 'Database'}
                </li>
              )
            })
          : <li className="down">✖ API unreachable</li>}
        {deadLetters > 0 && (
          <li className="warn" title={DEAD_LETTERS_HELP} data-testid="dead-letters">
            ✉ {deadLetters.toLocaleString()} dead letter{deadLetters === 1 ? '' : 's'}
          </li>
        )}
        {warnings.length > 0 && (
          <li className="warn" title={warnings.join('\n\n')} data-testid="warnings">
            ⚠ {warnings.length} warning{warnings.length === 1 ? '' : 's'}
          </li>
        )}
      </ul>
      {onSignOut && <button className="sign-out" onClick={onSignOut}>Sign out</button>}
    </header>
  )
}
