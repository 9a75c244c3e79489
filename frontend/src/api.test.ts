import { describe, expect, it } from 'vitest'
import { fromApi, preview } from './api'
import type { ApiPost, PostData } from './types'
import { PREVIEW_CHARS } from './types'

const LONG = '🙂'.repeat(150) + 'a'.repeat(100) // 250 characters (code points), 400 UTF-16 units

function rest(content: string): ApiPost {
  return {
    post_id: 'p-1', source: 'reddit', content, author: 'someone', created_at: '2026-11-29T10:00:00Z',
    sentiment: { label: 'negative', confidence: 0.9, emotion: 'anger', model_name: 'm' },
  }
}

/** The `post` event of the same post, its content as services/common/events.py `preview` cuts it (the
 * output of `preview(LONG)`, from Python). */
function live(content: string): PostData {
  return {
    post_id: 'p-1', source: 'reddit', content, author: 'someone', created_at: '2026-11-29T10:00:00Z',
    sentiment_label: 'negative', confidence_score: 0.9, emotion: 'anger', model_name: 'm',
    analyzed_at: '2026-11-29T10:00:01Z',
  }
}
const LONG_AS_SENT = '🙂'.repeat(150) + 'a'.repeat(49) + '…'

describe('a REST post', () => {
  it('is shown as its live event shows it: the same fields, the long content cut the same way', () => {
    expect(fromApi(rest(LONG))).toEqual({ ...live(LONG_AS_SENT), analyzed_at: undefined })
  })

  it('keeps content of up to PREVIEW_CHARS characters whole, counting characters as Python does', () => {
    const full = '🙂'.repeat(PREVIEW_CHARS) // 400 UTF-16 units, 200 characters
    expect(fromApi(rest(full)).content).toBe(full)
    expect(preview('short')).toBe('short')
  })

  it('has its content cut to PREVIEW_CHARS characters, the last an ellipsis', () => {
    const cut = Array.from(preview('x'.repeat(10_000)))
    expect(cut).toHaveLength(PREVIEW_CHARS)
    expect(cut.at(-1)).toBe('…')
  })
})
