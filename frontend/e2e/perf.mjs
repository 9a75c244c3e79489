// The dashboard under a fast feed, in Chromium (benchmarks/dashboard.py runs it while it publishes posts).
//
//   node e2e/perf.mjs http://127.0.0.1:3000 SECONDS
//
// After the page is live and a 10 s warm-up, measures for SECONDS: the main thread's busy share (the Long
// Tasks API: tasks over 50 ms), DOM updates a second (a MutationObserver installed here counts its callbacks:
// one for each batch of DOM changes, so about one for each React commit that changed the page), the JS heap
// after a forced garbage collection at the start and the end, and the posts shown. Prints one JSON line.
import { launch } from './browser.mjs'

const [url, seconds] = process.argv.slice(2)
const browser = await launch()
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
  await page.addInitScript(() => {
    window.longTasks = []
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.longTasks.push([entry.startTime, entry.duration])
    }).observe({ type: 'longtask', buffered: true })
    window.domUpdates = 0
    new MutationObserver(() => {
      window.domUpdates += 1
    }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true })
  })
  const cdp = await page.context().newCDPSession(page)
  const heap = async () => {
    await cdp.send('HeapProfiler.collectGarbage')
    return (await cdp.send('Runtime.getHeapUsage')).usedSize
  }
  await page.goto(url)
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 60_000 })
  await page.getByTestId('feed').locator('li').first().waitFor({ timeout: 60_000 })
  await page.waitForTimeout(10_000)

  const heapStart = await heap()
  const start = await page.evaluate(() => ({ t: performance.now(), updates: window.domUpdates }))
  const samples = []
  for (let s = 0; s < Number(seconds); s += 10) {
    await page.waitForTimeout(Math.min(10, Number(seconds) - s) * 1000)
    samples.push(await page.evaluate(() => performance.memory?.usedJSHeapSize ?? null))
  }
  const end = await page.evaluate(() => ({
    t: performance.now(),
    updates: window.domUpdates,
    feed: document.querySelectorAll('[data-testid=feed] li').length,
    throughput: document.querySelector('[data-testid=throughput] strong')?.textContent ?? '',
  }))
  const heapEnd = await heap()
  const longTasks = await page.evaluate((from) => window.longTasks.filter(([t]) => t >= from), start.t)
  const window_ms = end.t - start.t
  const busy = longTasks.reduce((sum, [, d]) => sum + d, 0)
  console.log(JSON.stringify({
    seconds: window_ms / 1000,
    busy_share: busy / window_ms,
    long_tasks: longTasks.length,
    longest_task_ms: Math.max(0, ...longTasks.map(([, d]) => d)),
    dom_updates_per_s: (end.updates - start.updates) / (window_ms / 1000),
    heap_start_mb: heapStart / 2 ** 20,
    heap_end_mb: heapEnd / 2 ** 20,
    heap_growth_mb: (heapEnd - heapStart) / 2 ** 20,
    heap_samples_mb: samples.map((b) => (b === null ? null : b / 2 ** 20)),
    feed_length: end.feed,
    posts_last_minute: end.throughput,
  }))
} finally {
  await browser.close()
}
