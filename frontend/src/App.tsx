import type { Dispatch } from 'react'
import { useCallback, useEffect, useMemo, useReducer, useRef } from 'react'
import { API_BASE, SignInNeeded, liveTicket, loadAll, loadHealth, loadPosts, loadSeries } from './api'
import { apiKey } from './apiKey'
import { AlertNotice, Alerts } from './components/Alerts'
import { DistributionChart } from './components/DistributionChart'
import { EmotionChart } from './components/EmotionChart'
import { Header } from './components/Header'
import { LiveFeed } from './components/LiveFeed'
import { PanelBoundary } from './components/PanelBoundary'
import { SentimentChart } from './components/SentimentChart'
import { SignIn } from './components/SignIn'
import { Live, socketUrl } from './live'
import type { Action } from './state'
import { initialState, postsLastMinute, reducer } from './state'
import type { Filters, Period } from './types'

const HEALTH_EVERY_MS = 15_000
const TICK_MS = 5_000 // the throughput forgets arrivals older than a minute even when nothing arrives

function refreshHealth(dispatch: Dispatch<Action>): void {
  loadHealth()
    .then((health) => dispatch({ type: 'loaded_health', health }))
    .catch(() => dispatch({ type: 'loaded_health', health: null }))
}

/** What a failed load does: a 401 brings the sign-in form back, anything else shows `what` failed. */
function failure(what: string, error: Error): Action {
  return error instanceof SignInNeeded
    ? { type: 'sign_in_needed', keySent: error.keySent }
    : { type: 'failed', message: `Could not load ${what}: ${error.message}` }
}

export function App() {
  const [state, dispatch] = useReducer(reducer, initialState)
  // What reload() asks for: the view as last rendered (the socket's reconnect handler outlives renders).
  const view = useRef({ period: state.period, rangeHours: state.rangeHours, filters: state.filters })
  useEffect(() => {
    view.current = { period: state.period, rangeHours: state.rangeHours, filters: state.filters }
  }, [state.period, state.rangeHours, state.filters])

  const reload = useCallback(() => {
    const { period, rangeHours, filters } = view.current
    loadAll(period, rangeHours, filters)
      .then((data) => dispatch({ type: 'loaded', data, now: Date.now() }))
      .catch((error: Error) => dispatch(failure('the data', error)))
  }, [])

  // The socket, unless the page waits for a key: its ticket would be refused. Not waiting on the first load,
  // so that a page opened before the API is up connects (and loads) once the API comes.
  const mayConnect = state.signIn === null
  useEffect(() => {
    if (!mayConnect) return
    const live = new Live(socketUrl(API_BASE, window.location), {
      onEvents: (events) => dispatch({ type: 'events', events, now: Date.now() }),
      onConnection: (connection) => dispatch({ type: 'connection', connection }),
      onReconnect: reload,
      onResync: reload,
      onSignInNeeded: (refused) => dispatch({ type: 'sign_in_needed', keySent: refused.keySent }),
    }, liveTicket)
    live.start()
    return () => live.stop()
  }, [mayConnect, reload])

  useEffect(() => {
    reload()
    const tick = setInterval(() => dispatch({ type: 'events', events: [], now: Date.now() }), TICK_MS)
    const health = setInterval(() => refreshHealth(dispatch), HEALTH_EVERY_MS)
    return () => {
      clearInterval(tick)
      clearInterval(health)
    }
  }, [reload])

  // The first load, refused, brought no health: /api/health needs no key, so the header need not wait.
  const asking = state.signIn !== null
  useEffect(() => {
    if (asking) refreshHealth(dispatch)
  }, [asking])

  const changePeriod = (period: Period, rangeHours: number) => {
    dispatch({ type: 'period', period, rangeHours })
    loadSeries(period, rangeHours)
      .then(({ series, emotions }) => dispatch({ type: 'series', series, emotions }))
      .catch((error: Error) => dispatch(failure('the series', error)))
  }

  const changeFilters = (filters: Filters) => {
    dispatch({ type: 'filters', filters })
    loadPosts(filters)
      .then((posts) => dispatch({ type: 'feed', posts }))
      .catch((error: Error) => dispatch(failure('the posts', error)))
  }

  const signIn = (key: string) => {
    apiKey.keep(key)
    dispatch({ type: 'signing_in' })
    reload()
  }

  const signOut = () => {
    apiKey.clear()
    dispatch({ type: 'signed_out' })
  }

  const sources = useMemo(() => shownValues(state.feed.map((p) => p.source), state.filters.source), [state.feed, state.filters.source])
  const langs = useMemo(() => shownValues(state.feed.map((p) => p.lang ?? ''), state.filters.lang), [state.feed, state.filters.lang])

  return (
    <div className="app">
      <PanelBoundary name="Header" onReload={reload}>
        <Header connection={state.connection} health={state.health} postsLastMinute={postsLastMinute(state, state.now)}
          onSignOut={state.signIn === null && apiKey.get() !== null ? signOut : undefined} />
        <AlertNotice alert={state.notice} onDismiss={() => dispatch({ type: 'dismiss' })} />
      </PanelBoundary>
      {state.error && <div className="error" role="alert">{state.error} <button onClick={reload}>Retry</button></div>}
      {state.signIn ? (
        <SignIn asking={state.signIn} onSubmit={signIn} />
      ) : state.loading ? (
        <p className="loading" role="status">Loading the dashboard…</p>
      ) : (
        <main className="grid">
          <PanelBoundary name="Sentiment over time" onReload={reload}>
            <SentimentChart series={state.series} period={state.period} rangeHours={state.rangeHours} onChange={changePeriod} />
          </PanelBoundary>
          <PanelBoundary name="Last 24 hours" onReload={reload}>
            <DistributionChart distribution={state.distribution} />
          </PanelBoundary>
          <PanelBoundary name="Emotions over time" onReload={reload}>
            <EmotionChart emotions={state.emotions} period={state.period} />
          </PanelBoundary>
          <PanelBoundary name="Alerts" onReload={reload}>
            <Alerts alerts={state.alerts} />
          </PanelBoundary>
          <PanelBoundary name="Live feed" onReload={reload}>
            <LiveFeed feed={state.feed} held={state.held.length} paused={state.paused} filters={state.filters}
              sources={sources} langs={langs} onPause={(paused) => dispatch({ type: 'pause', paused })} onFilters={changeFilters} />
          </PanelBoundary>
        </main>
      )}
    </div>
  )
}

/** The values a filter offers: those of the posts shown, and the one chosen, sorted, none empty. */
function shownValues(values: string[], chosen: string): string[] {
  return [...new Set([...values, chosen])].filter(Boolean).sort()
}
