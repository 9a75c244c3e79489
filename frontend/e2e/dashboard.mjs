// The dashboard in a real browser (Debian's Chromium, driven by playwright-core), against a running platform.
//
//   node e2e/dashboard.mjs http://127.0.0.1:3000 SCREENSHOT_DIR
//
// Checks, in order: the page loads with no console errors and goes live; the live feed grows without a
// reload; the charts hold data; switching the bucket size refetches the series. It then prints "burst now"
// and waits for an alert to appear (the caller sends a negative burst through the ingester), and checks that
// the layout fits a small laptop and a wide monitor without sideways scrolling. Screenshots go to
// SCREENSHOT_DIR. Exits 0 when every check passes, else 1 with the reason.
import { feedGrows, launch } from './browser.mjs'

const [url, shots] = process.argv.slice(2)
const step = (message) => console.log(`dashboard-e2e: ${message}`)

const browser = await launch()
const errors = []
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
try {
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  page.on('pageerror', (error) => errors.push(String(error)))

  await page.goto(url)
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 })
  step('loaded and live')

  step(`the feed grew without a reload (${await feedGrows(page, 30_000)} posts shown)`)

  await page.locator('.recharts-line path.recharts-curve').first().waitFor({ timeout: 30_000 })
  await page.getByTestId('distribution').waitFor({ timeout: 30_000 })
  await page.locator('.recharts-area').first().waitFor({ timeout: 30_000 })
  step('the charts hold data')
  await page.screenshot({ path: `${shots}/dashboard.png` })

  const refetch = page.waitForRequest((r) => r.url().includes('/api/sentiment/aggregate') && r.url().includes('period=hour'), { timeout: 10_000 })
  await page.getByRole('button', { name: 'hour', exact: true }).click()
  await refetch
  await page.locator('button[aria-pressed="true"]', { hasText: /^hour$/ }).waitFor({ timeout: 30_000 })
  await page.locator('.recharts-line path.recharts-curve').first().waitFor()
  step('switching to hours refetched the series')

  console.log('burst now')
  await page.getByTestId('alert-notice').waitFor({ timeout: 120_000 })
  await page.getByTestId('alerts').locator('li').first().waitFor()
  step('the alert appeared')
  await page.screenshot({ path: `${shots}/dashboard-alert.png` })

  for (const [width, height] of [[1024, 768], [2560, 1440]]) { // a small laptop, a wide monitor
    await page.setViewportSize({ width, height })
    await page.waitForTimeout(500)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    if (overflow > 0) throw new Error(`at ${width}x${height} the page is ${overflow} px wider than the window`)
    await page.screenshot({ path: `${shots}/dashboard-${width}.png` })
  }
  step('the layout fits from 1024 to 2560 px wide')

  if (errors.length) throw new Error(`console errors: ${errors.join(' | ')}`)
  step('passed')
} catch (error) {
  console.error(`dashboard-e2e: FAILED: ${error.message ?? error}${errors.length ? ` (page errors: ${errors.join(' | ')})` : ''}`)
  const seen = await page.evaluate(() => ({
    header: document.querySelector('header')?.textContent,
    feed: [...document.querySelectorAll('[data-testid=feed] li')].slice(0, 3).map((li) => li.textContent),
    posts: document.querySelectorAll('[data-testid=feed] li').length,
  })).catch((e) => String(e))
  console.error(`dashboard-e2e: the page showed ${JSON.stringify(seen)}`)
  await page.screenshot({ path: `${shots}/failure.png` }).catch(() => {})
  process.exitCode = 1
} finally {
  await browser.close()
}
