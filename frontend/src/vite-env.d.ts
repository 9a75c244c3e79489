/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The API's base URL (build time); empty: this page's own origin. */
  readonly VITE_API_BASE?: string
}
