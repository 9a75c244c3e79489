// Following a topic on the dashboard in a real browser (Debian's Chromium, driven by playwright-core), against
// a running platform whose API has ADMIN_TOKEN set to E2E_ADMIN_TOKEN and has stored posts for a while.
//
//   E2E_ADMIN_TOKEN=... node e2e/topics.mjs http://127.0.0.1:3000 SCREENSHOT_DIR
//
// Checks, in order: with the admin token, a topic is made from the page and picked; its backfill finishes and
// its history appears: the feed holds only its posts, stored before it was made, the share of voice lists it,
// its authors and hashtags show; a search marks the words it matched; the topic is deleted and the page
// follows all posts again. Exits 0 when every check passes, else 1 with the reason.
import { launch } from './browser.mjs'

const [url, shots] = process.argv.slice(2)
const TOKEN = process.env.E2E_ADMIN_TOKEN
const step = (message) => console.log(`topics-e2e: ${message}`)
if (!TOKEN) throw new Error('E2E_ADMIN_TOKEN: the admin token the platform was started with')

const browser = await launch()
const errors = []
const page = await browser.newPage({ viewport: { width: 1440, height: 1200 } })
try {
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  page.on('pageerror', (error) => errors.push(String(error)))
  page.on('dialog', (dialog) => dialog.accept()) // "Delete the topic …?"

  await page.goto(url)
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 })
  await page.getByTestId('feed').locator('li').first().waitFor({ timeout: 30_000 })
  const made = Date.now()

  await page.getByText('Manage topics').click()
  await page.getByLabel('Admin token').fill(TOKEN)
  await page.getByRole('button', { name: 'Use the token' }).click()
  await page.getByLabel('Name').fill('Phone launch')
  await page.getByLabel('Query').fill('#PhoneLaunch or phone or keynote')
  await page.getByRole('button', { name: 'Add topic' }).click()
  const picked = page.getByTestId('topics').getByRole('button', { name: /^Phone launch/ })
  await picked.and(page.locator('[aria-pressed="true"]')).waitFor({ timeout: 10_000 })
  step('a topic was made from the page, and picked')

  // The backfill done (no progress shown), the panels loaded again with the topic's history.
  await page.getByTestId('topics').getByTestId('backfill').waitFor({ state: 'detached', timeout: 60_000 })
  const feed = page.getByTestId('feed').locator('li')
  await feed.first().waitFor({ timeout: 30_000 })
  const shown = await page.evaluate(() => [...document.querySelectorAll('[data-testid=feed] li')].map((li) => ({
    text: li.querySelector('p')?.textContent ?? '',
    at: Date.parse(li.querySelector('time')?.getAttribute('datetime') ?? ''),
  })))
  const strangers = shown.filter((p) => !/phone|keynote/i.test(p.text))
  if (strangers.length) throw new Error(`the feed shows posts outside the topic: ${JSON.stringify(strangers.slice(0, 3))}`)
  if (!shown.some((p) => p.at < made)) throw new Error('the feed shows none of the posts stored before the topic was made')
  step(`its backfilled history appeared (${shown.length} posts, all of the topic)`)

  await page.getByTestId('share').getByRole('button', { name: 'Phone launch' }).waitFor({ timeout: 30_000 })
  await page.getByTestId('voices').getByText('#phonelaunch').waitFor({ timeout: 30_000 })
  await page.locator('.recharts-line path.recharts-curve').first().waitFor({ timeout: 30_000 })
  step('share of voice lists it, and its authors and hashtags show')
  await page.screenshot({ path: `${shots}/dashboard-topic.png` })

  await page.getByLabel('search the posts').fill('keynote')
  await page.getByLabel('search the posts').press('Enter')
  await page.getByTestId('feed').locator('mark').first().waitFor({ timeout: 30_000 })
  const marked = await page.getByTestId('feed').locator('mark').allTextContents()
  if (!marked.every((m) => /keynote/i.test(m))) throw new Error(`marked words other than the search: ${marked}`)
  step(`a search marked the words it matched (${marked.length})`)
  await page.screenshot({ path: `${shots}/dashboard-search.png` })
  await page.getByRole('button', { name: 'Clear' }).click()

  await page.getByRole('button', { name: 'Delete “Phone launch”' }).click()
  await page.getByRole('button', { name: 'All posts' }).and(page.locator('[aria-pressed="true"]')).waitFor({ timeout: 10_000 })
  await picked.waitFor({ state: 'detached', timeout: 10_000 })
  step('the topic was deleted, and the page follows all posts again')

  if (errors.length) throw new Error(`console errors: ${errors.join(' | ')}`)
  step('passed')
} catch (error) {
  console.error(`topics-e2e: FAILED: ${error.message ?? error}${errors.length ? ` (page errors: ${errors.join(' | ')})` : ''}`)
  await page.screenshot({ path: `${shots}/failure-topics.png` }).catch(() => {})
  process.exitCode = 1
} finally {
  await browser.close()
}
