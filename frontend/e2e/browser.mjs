// What the browser tests share: Debian's Chromium as every test here runs it, and the live feed's check.
import { chromium } from 'playwright-core'

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

/** Chromium headless, as the machines without a display run it. */
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}

/** Wait for the feed to show a post, then for a newer one to arrive without a reload; the posts shown. */
export async function feedGrows(page, timeout) {
  const feed = page.getByTestId('feed').locator('li')
  await feed.first().waitFor({ timeout })
  const first = await feed.first().locator('p').textContent()
  await page.waitForFunction(
    (before) => document.querySelector('[data-testid=feed] li p')?.textContent !== before,
    first,
    { timeout },
  )
  return feed.count()
}
