import type { FormEvent } from 'react'
import { useState } from 'react'
import type { Topic, TopicFields } from '../types'

/** What a topic write answers: null when it was done, else why not, in words. */
export type Write = (id: number | null, fields: TopicFields | null) => Promise<string | null>

/** The topics to pick from ("All posts" or one: every panel follows the pick), each with its backfill's
 * progress while it runs, and, with the admin token (ADMIN_TOKEN), a form to add, change and delete them. */
export function TopicBar({
  topics, topic, canWrite, onPick, onToken, onWrite,
}: {
  topics: Topic[]; topic: number | null; canWrite: boolean
  onPick: (topic: number | null) => void; onToken: (token: string | null) => void; onWrite: Write
}) {
  const picked = topics.find((t) => t.id === topic) ?? null
  return (
    <section className="panel topic-bar" aria-labelledby="topics">
      <div className="panel-head">
        <h2 id="topics">Topics</h2>
        <div className="controls" role="group" aria-label="topic" data-testid="topics">
          <button aria-pressed={topic === null} onClick={() => onPick(null)}>All posts</button>
          {topics.map((t) => (
            <button key={t.id} aria-pressed={t.id === topic} onClick={() => onPick(t.id)} title={t.query}>
              {t.name}
              {t.backfill.state === 'running' && (
                <span className="backfill" data-testid="backfill"> · backfilling {Math.round(t.backfill.progress * 100)} %</span>
              )}
            </button>
          ))}
        </div>
      </div>
      {!topics.length && <p className="empty">No topics yet: add one to follow a brand, a product or an event.</p>}
      <details className="manage">
        <summary>Manage topics</summary>
        {canWrite
          ? <TopicForm picked={picked} onWrite={onWrite} onForget={() => onToken(null)} />
          : <TokenForm onToken={onToken} />}
      </details>
    </section>
  )
}

function TokenForm({ onToken }: { onToken: (token: string) => void }) {
  const [token, setToken] = useState('')
  const submit = (event: FormEvent) => {
    event.preventDefault()
    if (token.trim()) onToken(token.trim())
  }
  return (
    <form className="topic-form" onSubmit={submit}>
      <p>Adding, changing and deleting topics needs the admin token (ADMIN_TOKEN on the server).</p>
      <label>Admin token <input type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} /></label>
      <button type="submit">Use the token</button>
    </form>
  )
}

function TopicForm({ picked, onWrite, onForget }: { picked: Topic | null; onWrite: Write; onForget: () => void }) {
  const [editing, setEditing] = useState<number | null>(null) // the topic being changed; null: a new one
  const [fields, setFields] = useState<TopicFields>({ name: '', query: '' })
  const [message, setMessage] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const write = async (id: number | null, sent: TopicFields | null) => {
    setBusy(true)
    const refused = await onWrite(id, sent)
    setBusy(false)
    setMessage(refused)
    if (refused === null) {
      setEditing(null)
      setFields({ name: '', query: '' })
    }
  }
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void write(editing, { name: fields.name.trim(), query: fields.query.trim() })
  }
  return (
    <form className="topic-form" onSubmit={submit}>
      <label>Name <input value={fields.name} maxLength={100} required onChange={(e) => setFields({ ...fields, name: e.target.value })} /></label>
      <label>Query <input value={fields.query} maxLength={500} required placeholder='#PhoneLaunch or "new phone" -rumour'
        onChange={(e) => setFields({ ...fields, query: e.target.value })} /></label>
      <button type="submit" disabled={busy}>{editing === null ? 'Add topic' : 'Save changes'}</button>
      {editing !== null && <button type="button" onClick={() => { setEditing(null); setFields({ name: '', query: '' }) }}>Cancel</button>}
      {picked && editing === null && (
        <>
          <button type="button" onClick={() => { setEditing(picked.id); setFields({ name: picked.name, query: picked.query }) }}>
            Edit “{picked.name}”
          </button>
          <button type="button" disabled={busy}
            onClick={() => { if (window.confirm(`Delete the topic “${picked.name}” and its tags?`)) void write(picked.id, null) }}>
            Delete “{picked.name}”
          </button>
        </>
      )}
      <button type="button" className="forget" onClick={onForget}>Forget the token</button>
      {message && <p className="topic-message" role="alert">{message}</p>}
    </form>
  )
}
