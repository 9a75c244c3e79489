import type { Connection, Health } from '../types'

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
}

export function Header({ connection, health, postsLastMinute }: { connection: Connection; health: Health | null; postsLastMinute: number }) {
  return (
    <header className="header">
      <h1>Sentiment live</h1>
      <span className={`pill connection-${connection}`} data-testid="connection" role="status">
        {CONNECTION_TEXT[connection]}
      </span>
      <span className="throughput" data-testid="throughput">
        <strong>{postsLastMinute.toLocaleString()}</strong> posts in the last minute
      </span>
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
      </ul>
    </header>
  )
}
