import type { Dispatch } from 'react'
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react'
import { API_BASE, SignInNeeded, TopicWriteRefused, liveTicket, loadAll, loadHealth, loadPosts, loadSeries, loadTopics, loadVoices, writeTopic } from './api'
import { adminToken, apiKey } from './apiKey'
import { AlertNotice, Alerts } from './components/Alerts'
import { DistributionChart } from './components/DistributionChart'
import { EmotionChart } from './components/EmotionChart'
import { Header } from './components/Header'
import { LiveFeed } from './components/LiveFeed'
import { PanelBoundary } from './components/PanelBoundary'
import { SentimentChart } from './components/SentimentChart'
import { SignIn } from './components/SignIn'
import { TopicBar } from './components/TopicBar'
import { ShareOfVoicePanel, VoicesPanel } from './components/TopicPanels'
import { Live, socketUrl } from './live'
import type { Action } from './state'
import { initialState, postsLastMinute, reducer } from './state'
import type { Filters, Period, TopicFields } from './types'

const HEALTH_EVERY_MS = 15_000
const TICK_MS = 5_000 // the throughput forgets arrivals older than a minute even when nothing arrives
const TOPICS_EVERY_MS = 30_000 // the topics and their share of voice
const BACKFILL_EVERY_MS = 2_000 // the same while a topic's backfill runs, to show its progress

/** The topics and their share of voice, and the picked topic's authors and hashtags. */
function refreshTopics(dispatch: Dispatch<Action>, topic: number | null): void {
  loadTopics()
    .then(({ topics, share }) => dispatch({ type: 'topics', topics, share }))
    .catch((error: Error) => dispatch(failure('the topics', error)))
  if (topic !== null) {
    loadVoices(topic)
      .then((voices) => dispatch({ type: 'voices', voices }))
      .catch((error: Error) => dispatch(failure('the topic\'s authors and hashtags', error)))
  }
}

/** What a refused topic write tells the viewer. */
function writeRefusal(error: Error): string {
  if (!(error instanceof TopicWriteRefused)) return `Could not reach the API: ${error.message}`
  if (error.status === 401) return 'The API did not accept the admin token: enter it again.'
  if (error.status === 403) return 'Topic writes are off on this server: set ADMIN_TOKEN there.'
  return error.message
}

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
  const view = useRef({ period: state.period, rangeHours: state.rangeHours, filters: state.filters, topic: state.topic })
  useEffect(() => {
    view.current = { period: state.period, rangeHours: state.rangeHours, filters: state.filters, topic: state.topic }
  }, [state.period, state.rangeHours, state.filters, state.topic])

  const reload = useCallback(() => {
    const { period, rangeHours, filters, topic } = view.current
    loadAll(period, rangeHours, filters, topic)
      .then((data) => dispatch({ type: 'loaded', data, now: Date.now() }))
      .catch((error: Error) => dispatch(failure('the data', error)))
    refreshTopics(dispatch, topic)
  }, [])
  const [canWrite, setCanWrite] = useState(adminToken.get() !== null)

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

  // The topics' progress, often while a backfill runs; and the picked topic's panels again once its backfill
  // is done, when its history is all there.
  const picked = state.topics.find((t) => t.id === state.topic) ?? null
  const backfilling = state.topics.some((t) => t.backfill.state === 'running')
  useEffect(() => {
    if (!mayConnect) return
    const every = setInterval(() => refreshTopics(dispatch, view.current.topic), backfilling ? BACKFILL_EVERY_MS : TOPICS_EVERY_MS)
    return () => clearInterval(every)
  }, [mayConnect, backfilling])
  const stale = useRef<number | null>(null) // a topic whose panels were loaded before its backfill was done
  const pickedDone = picked !== null && picked.backfill.state === 'done'
  useEffect(() => {
    if (pickedDone && picked?.id === stale.current) {
      stale.current = null
      reload()
    }
  }, [pickedDone, picked?.id, reload])

  // The first load, refused, brought no health: /api/health needs no key, so the header need not wait.
  const asking = state.signIn !== null
  useEffect(() => {
    if (asking) refreshHealth(dispatch)
  }, [asking])

  const changePeriod = (period: Period, rangeHours: number) => {
    dispatch({ type: 'period', period, rangeHours })
    loadSeries(period, rangeHours, state.topic)
      .then(({ series, emotions }) => dispatch({ type: 'series', series, emotions }))
      .catch((error: Error) => dispatch(failure('the series', error)))
  }

  const changeFilters = (filters: Filters) => {
    dispatch({ type: 'filters', filters })
    loadPosts(filters, state.topic)
      .then((posts) => dispatch({ type: 'feed', posts }))
      .catch((error: Error) => dispatch(failure('the posts', error)))
  }

  const signIn = (key: string) => {
    apiKey.keep(key)
    dispatch({ type: 'signing_in' })
    reload()
  }

  const pickTopic = (topic: number | null) => {
    if (topic === state.topic) return
    const known = state.topics.find((t) => t.id === topic)
    stale.current = topic !== null && known?.backfill.state !== 'done' ? topic : null
    view.current = { ...view.current, topic }
    dispatch({ type: 'topic', topic })
    reload()
  }

  const keepToken = (token: string | null) => {
    if (token === null) adminToken.clear()
    else adminToken.keep(token)
    setCanWrite(token !== null)
  }

  const write = async (id: number | null, fields: TopicFields | null): Promise<string | null> => {
    try {
      const written = await writeTopic(id, fields)
      refreshTopics(dispatch, null)
      if (written && id === null) pickTopic(written.id) // a new topic: follow it, and watch its backfill
      return null
    } catch (error) {
      setCanWrite(adminToken.get() !== null) // a refused token is forgotten
      return writeRefusal(error as Error)
    }
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
          <PanelBoundary name="Topics" onReload={reload}>
            <TopicBar topics={state.topics} topic={state.topic} canWrite={canWrite} onPick={pickTopic} onToken={keepToken} onWrite={write} />
          </PanelBoundary>
          <PanelBoundary name="Sentiment over time" onReload={reload}>
            <SentimentChart series={state.series} period={state.period} rangeHours={state.rangeHours} onChange={changePeriod} />
          </PanelBoundary>
          <PanelBoundary name="Last 24 hours" onReload={reload}>
            <DistributionChart distribution={state.distribution} />
          </PanelBoundary>
          <PanelBoundary name="Emotions over time" onReload={reload}>
            <EmotionChart emotions={state.emotions} period={state.period} />
          </PanelBoundary>
          {state.topics.length > 0 && (
            <PanelBoundary name="Share of voice" onReload={reload}>
              <ShareOfVoicePanel share={state.share} topic={state.topic} onPick={pickTopic} />
            </PanelBoundary>
          )}
          {picked && (
            <PanelBoundary name="Who and what" onReload={reload}>
              <VoicesPanel voices={state.voices} name={picked.name} />
            </PanelBoundary>
          )}
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
