// The dashboard's build, its local server (`make run`: `vite preview` on port 3000, /api and /ws passed to
// the API) and its unit tests (Vitest).
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

// Where `vite` and `vite preview` send /api and /ws: the API that `make run` starts.
const backend = process.env.BACKEND_URL ?? 'http://127.0.0.1:8000'
const proxy = {
  '/api': { target: backend, changeOrigin: true },
  '/ws': { target: backend.replace(/^http/, 'ws'), ws: true, changeOrigin: true },
}
const port = Number(process.env.DASHBOARD_PORT ?? 3000)

export default defineConfig({
  plugins: [react()],
  server: { host: '127.0.0.1', port, strictPort: true, proxy },
  preview: { host: '127.0.0.1', port, strictPort: true, proxy },
  // One page: the whole app in one chunk (about 200 kB gzipped) is fine.
  build: { chunkSizeWarningLimit: 1000 },
  // Components are rendered to HTML (react-dom/server): no DOM needed.
  test: { environment: 'node', include: ['src/**/*.test.ts', 'src/**/*.test.tsx'] },
})
