import type { FormEvent } from 'react'
import type { SignIn as Asking } from '../state'

/** The form that asks for the API key, once per browser session, where the API has API_KEY set. */
export function SignIn({ asking, onSubmit }: { asking: Asking; onSubmit: (key: string) => void }) {
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    const field = event.currentTarget.elements.namedItem('key') as HTMLInputElement
    const key = field.value.trim()
    field.value = '' // a wrong key is not left on the screen to retype over
    if (key) onSubmit(key)
  }
  return (
    <form className="panel sign-in" data-testid="sign-in" onSubmit={submit} aria-busy={asking.checking}>
      <h2>Sign in</h2>
      <p>
        This platform&apos;s API asks for its key (API_KEY). It is kept in this tab until you sign out or
        close it, and sent with each request, never in an address.
      </p>
      {asking.message && <p className="sign-in-message" role="alert">{asking.message}</p>}
      <label htmlFor="api-key">API key</label>
      <div className="sign-in-row">
        <input id="api-key" name="key" type="password" required autoComplete="off" autoFocus
          spellCheck={false} disabled={asking.checking} />
        <button type="submit" disabled={asking.checking}>{asking.checking ? 'Checking…' : 'Sign in'}</button>
      </div>
    </form>
  )
}
