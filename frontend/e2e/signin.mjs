// Signing in to the dashboard in a real browser (Debian's Chromium, driven by playwright-core), against a
// running platform whose API has API_KEY set to E2E_API_KEY.
//
//   E2E_API_KEY=... node e2e/signin.mjs http://127.0.0.1:3000 SCREENSHOT_DIR
//
// Checks, in order: the page asks for the key (the header shows the health, which needs none); a wrong key
// is refused with a message; the right key loads the data and the live feed connects and grows; a reload
// keeps the key (sessionStorage) and asks nothing; signing out brings the form back and keeps nothing. No
// address the browser asked for (REST or WebSocket) holds the key, which goes in the X-API-Key header. Exits
// 0 when every check passes, else 1 with the reason.
import { feedGrows, launch } from './browser.mjs'

const [url, shots] = process.argv.slice(2)
const KEY = process.env.E2E_API_KEY
const step = (message) => console.log(`signin-e2e: ${message}`)
if (!KEY) throw new Error('E2E_API_KEY: the API key the platform was started with')

const browser = await launch()
const errors = []
const addresses = [] // every request and WebSocket the page made
const keyed = [] // the REST requests that carried the key in X-API-Key
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
try {
  page.on('console', (message) => {
    // The 401s are the point here (the page is not signed in yet, or with the wrong key); Chromium logs each.
    const refused = message.text().includes('status of 401')
    if (message.type() === 'error' && !refused) errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(String(error)))
  page.on('request', (request) => {
    addresses.push(request.url())
    if (request.headers()['x-api-key'] === KEY) keyed.push(new URL(request.url()).pathname)
  })
  page.on('websocket', (socket) => addresses.push(socket.url()))

  const form = page.getByTestId('sign-in')
  const connection = page.getByTestId('connection')
  await page.goto(url)
  await form.waitFor({ timeout: 15_000 })
  await connection.filter({ hasText: 'Signed out' }).waitFor()
  await page.getByLabel('platform health').getByText('Database').waitFor({ timeout: 5_000 }) // needs no key
  step('the page asks for the key, the header shows the health')
  await page.screenshot({ path: `${shots}/dashboard-sign-in.png` })

  await page.getByLabel('API key').fill(`${KEY}-but-wrong`)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await form.getByRole('alert').filter({ hasText: 'did not accept that key' }).waitFor({ timeout: 15_000 })
  step('a wrong key is refused, saying so')

  await page.getByLabel('API key').fill(KEY)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await connection.filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 })
  await feedGrows(page, 15_000)
  const feed = page.getByTestId('feed').locator('li')
  step('the right key loads the data, and the live feed connects and grows')
  await page.screenshot({ path: `${shots}/dashboard-signed-in.png` })
  if (!keyed.includes('/api/posts') || !keyed.includes('/api/live/ticket')) {
    throw new Error(`the key was not in X-API-Key of /api/posts and /api/live/ticket (it was of: ${[...new Set(keyed)]})`)
  }

  await page.reload()
  await connection.filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 })
  await feed.first().waitFor({ timeout: 15_000 })
  if (await form.count()) throw new Error('the page asked for the key again after a reload')
  step('a reload keeps the key for the session: no form')

  await page.getByRole('button', { name: 'Sign out' }).click()
  await form.waitFor({ timeout: 5_000 })
  const kept = await page.evaluate(() => sessionStorage.length + localStorage.length)
  if (kept) throw new Error(`${kept} item(s) still in the page's storage after signing out`)
  step('signing out brings the form back and keeps nothing')

  const leaked = addresses.filter((address) => address.includes(KEY) || address.includes(encodeURIComponent(KEY)))
  if (leaked.length) throw new Error(`the key is in addresses the browser asked for: ${leaked.join(' ')}`)
  if (!addresses.some((address) => /\/ws\/sentiment\?ticket=/.test(address))) {
    throw new Error(`the WebSocket was not opened with a ticket: ${addresses.filter((a) => a.includes('/ws/'))}`)
  }
  step(`the key is in none of the ${addresses.length} addresses asked for; the socket used tickets`)

  if (errors.length) throw new Error(`console errors: ${errors.join(' | ')}`)
  step('passed')
} catch (error) {
  console.error(`signin-e2e: FAILED: ${error.message ?? error}${errors.length ? ` (page errors: ${errors.join(' | ')})` : ''}`)
  const seen = await page.evaluate(() => ({
    header: document.querySelector('header')?.textContent,
    main: document.querySelector('.app')?.textContent?.slice(0, 500),
  })).catch((e) => String(e))
  console.error(`signin-e2e: the page showed ${JSON.stringify(seen)}`)
  await page.screenshot({ path: `${shots}/sign-in-failure.png` }).catch(() => {})
  process.exitCode = 1
} finally {
  await browser.close()
}
