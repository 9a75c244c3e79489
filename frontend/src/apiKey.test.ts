import { afterEach, describe, expect, it, vi } from 'vitest'
import { STORAGE_NAME, keyStore } from './apiKey'

/** A Web Storage as the browser's behaves for what the store uses. */
function storage() {
  const items = new Map<string, string>()
  return {
    items,
    getItem: (name: string) => items.get(name) ?? null,
    setItem: (name: string, value: string) => { items.set(name, value) },
    removeItem: (name: string) => { items.delete(name) },
  }
}

afterEach(() => { vi.unstubAllGlobals() })

describe('the kept API key', () => {
  it('is in sessionStorage, never localStorage, and found again after a reload', () => {
    const session = storage()
    const local = storage()
    vi.stubGlobal('sessionStorage', session)
    vi.stubGlobal('localStorage', local)
    keyStore().keep('k-1')
    expect(session.items.get(STORAGE_NAME)).toBe('k-1')
    expect(local.items.size).toBe(0)
    expect(keyStore().get()).toBe('k-1') // a new page over the same session
  })

  it('is gone after signing out', () => {
    const session = storage()
    const store = keyStore(session)
    store.keep('k-1')
    store.clear()
    expect(store.get()).toBeNull()
    expect(session.items.size).toBe(0)
    expect(keyStore(session).get()).toBeNull()
  })

  it('is forgotten when refused only if it is still the one kept: a newer one typed meanwhile stays', () => {
    const store = keyStore(storage())
    store.keep('new')
    store.forget('old')
    expect(store.get()).toBe('new')
    store.forget('new')
    expect(store.get()).toBeNull()
  })

  it('is kept for the page’s life where the browser blocks storage', () => {
    const blocked = {
      getItem: () => { throw new DOMException('blocked', 'SecurityError') },
      setItem: () => { throw new DOMException('blocked', 'SecurityError') },
      removeItem: () => { throw new DOMException('blocked', 'SecurityError') },
    }
    const store = keyStore(blocked)
    store.keep('k-1')
    expect(store.get()).toBe('k-1')
    store.clear()
    expect(store.get()).toBeNull()
  })
})
