// The API key the viewer typed in (API_KEY on the server), kept for the browser session. In sessionStorage,
// not localStorage: it goes when the tab (or the browser session) ends instead of staying on the disk for
// good, and, like every Web Storage, no other site can read it (it belongs to this page's origin alone).
type KeyStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>

export const STORAGE_NAME = 'sentiment-dashboard.api-key'

export interface KeyStore {
  /** The key kept, or null when none is (the viewer has not signed in, or the API needs none). */
  get(): string | null
  keep(key: string): void
  /** Forget `key` if it is the one kept: an answer to a request made with an older key leaves a newer one. */
  forget(key: string): void
  /** Forget whatever is kept (signing out). */
  clear(): void
}

/** This page's sessionStorage; none where the browser blocks storage (reading the property then throws). */
function sessionStorageOrNone(): KeyStorage | undefined {
  try {
    return globalThis.sessionStorage
  } catch {
    return undefined
  }
}

/** A store over `storage`, and in memory, which is all there is (for this page's life) where the storage is
 * missing or refuses: storage turned off in the browser, or Node in the unit tests. */
export function keyStore(storage: KeyStorage | undefined = sessionStorageOrNone(), name = STORAGE_NAME): KeyStore {
  let memory: string | null = null
  const tryStorage = <T>(act: (s: KeyStorage) => T): T | undefined => {
    try {
      return storage && act(storage)
    } catch {
      return undefined // the memory copy stands in
    }
  }
  const get = (): string | null => tryStorage((s) => s.getItem(name)) ?? memory
  const clear = () => {
    memory = null
    tryStorage((s) => s.removeItem(name))
  }
  return {
    get,
    keep: (key) => {
      memory = key
      tryStorage((s) => s.setItem(name, key))
    },
    forget: (key) => {
      if (get() === key) clear()
    },
    clear,
  }
}

/** The page's key. */
export const apiKey: KeyStore = keyStore()

export const ADMIN_STORAGE_NAME = 'sentiment-dashboard.admin-token'
/** The admin token (ADMIN_TOKEN on the server) that topic writes are sent with, kept the same way. */
export const adminToken: KeyStore = keyStore(undefined, ADMIN_STORAGE_NAME)
