import { useCallback, useEffect, useMemo, useReducer, useRef } from 'react'
import { API_BASE, loadAll, loadHealth, loadPosts, loadSeries } from './api'
import { AlertNotice, Alerts } from './components/Alerts'
import { DistributionChart } from './components/DistributionChart'
import { EmotionChart } from './components/EmotionChart'
import { Header } from './components/Header'
import { LiveFeed } from './components/LiveFeed'
import { PanelBoundary } from './components/PanelBoundary'
import { SentimentChart } from './components/SentimentChart'
import { Live, socketUrl } from './live'
import { initialState, postsLastMinute, reducer } from './state'
import type { Filters, Period } from './types'

const HEALTH_EVERY_MS = 15_000
const TICK_MS = 5_000 // the throughput forgets arrivals older than a minute even when nothing arrives

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
      .catch((error: Error) => dispatch({ type: 'failed', message: `Could not load the data: ${error.message}` }))
  }, [])

  useEffect(() => {
    reload()
    const live = new Live(socketUrl(API_BASE, window.location), {
      onEvents: (events) => dispatch({ type: 'events', events, now: Date.now() }),
      onConnection: (connection) => dispatch({ type: 'connection', connection }),
      onReconnect: reload,
      onResync: reload,
    })
    live.start()
    const tick = setInterval(() => dispatch({ type: 'events', events: [], now: Date.now() }), TICK_MS)
    const health = setInterval(() => {
      loadHealth()
        .then((h) => dispatch({ type: 'loaded_health', health: h }))
        .catch(() => dispatch({ type: 'loaded_health', health: null }))
    }, HEALTH_EVERY_MS)
    return () => {
      live.stop()
      clearInterval(tick)
      clearInterval(health)
    }
  }, [reload])

  const changePeriod = (period: Period, rangeHours: number) => {
    dispatch({ type: 'period', period, rangeHours })
    loadSeries(period, rangeHours)
      .then(({ series, emotions }) => dispatch({ type: 'series', series, emotions }))
      .catch((error: Error) => dispatch({ type: 'failed', message: `Could not load the series: ${error.message}` }))
  }

  const changeFilters = (filters: Filters) => {
    dispatch({ type: 'filters', filters })
    loadPosts(filters)
      .then((posts) => dispatch({ type: 'feed', posts }))
      .catch((error: Error) => dispatch({ type: 'failed', message: `Could not load the posts: ${error.message}` }))
  }

  const sources = useMemo(
    () => [...new Set([...state.feed.map((p) => p.source), ...(state.filters.source ? [state.filters.source] : [])])].sort(),
    [state.feed, state.filters.source],
  )

  return (
    <div className="app">
      <PanelBoundary name="Header" onReload={reload}>
        <Header connection={state.connection} health={state.health} postsLastMinute={postsLastMinute(state, state.now)} />
        <AlertNotice alert={state.notice} onDismiss={() => dispatch({ type: 'dismiss' })} />
      </PanelBoundary>
      {state.error && <div className="error" role="alert">{state.error} <button onClick={reload}>Retry</button></div>}
      {state.loading ? (
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
              sources={sources} onPause={(paused) => dispatch({ type: 'pause', paused })} onFilters={changeFilters} />
          </PanelBoundary>
        </main>
      )}
    </div>
  )
}
