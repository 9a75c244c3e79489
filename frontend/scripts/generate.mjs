// `npm run generate`: the TypeScript types of the REST API and the WebSocket events, from the Python models.
// `python -m services.backend.contract` writes their JSON (OpenAPI, JSON Schema); openapi-typescript and
// json-schema-to-typescript turn it into src/generated/api.ts and src/generated/events.ts.
//
//   node scripts/generate.mjs [OUTDIR]    OUTDIR: default src/generated; PYTHON: default ../.venv/bin/python
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compile } from 'json-schema-to-typescript'
import openapiTS, { astToString, oapiRef, transformSchemaObject, tsRecord } from 'openapi-typescript'
import ts from 'typescript'

const frontend = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const root = resolve(frontend, '..')
const out = resolve(process.argv[2] ?? join(frontend, 'src', 'generated'))
const python = resolve(root, process.env.PYTHON ?? '.venv/bin/python')

const header = (what) =>
  `// Generated from ${what} (python -m services.backend.contract) by \`npm run generate\`\n` +
  '// (frontend/scripts/generate.mjs). Do not edit: `make contract-check` fails when this file is stale.\n'

/** A dict keyed by an enum (pydantic's `dict[Emotion, int]`: `propertyNames`, which openapi-typescript leaves
 * out) as a record of those keys, each optional. */
function enumKeyed(schema, options) {
  const key = schema.propertyNames?.$ref
  if (!key || typeof schema.additionalProperties !== 'object') return undefined
  const value = transformSchemaObject(schema.additionalProperties, options)
  return ts.factory.createTypeReferenceNode('Partial', [tsRecord(oapiRef(key), value)])
}

/** The schema without the titles pydantic gives each field, which would become one type alias per field;
 * the named shapes (the $defs) keep theirs. */
function untitled(schema, named = false) {
  if (Array.isArray(schema)) return schema.map((s) => untitled(s))
  if (schema === null || typeof schema !== 'object') return schema
  const copy = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'title' && !named) continue
    if (key === '$defs') copy[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, untitled(v, true)]))
    else if (key === 'properties') copy[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, untitled(v)]))
    else copy[key] = untitled(value)
  }
  return copy
}

const json = mkdtempSync(join(tmpdir(), 'contract-'))
try {
  execFileSync(python, ['-m', 'services.backend.contract', json], { cwd: root, stdio: 'inherit' })
  const openapi = JSON.parse(readFileSync(join(json, 'openapi.json'), 'utf8'))
  const events = JSON.parse(readFileSync(join(json, 'events.json'), 'utf8'))

  const api = astToString(await openapiTS(openapi, { transform: enumKeyed }))

  const previewChars = events.$defs?.PostData?.properties?.content?.maxLength
  if (!Number.isInteger(previewChars)) throw new Error('events.json: PostData.content has no maxLength')
  const live = await compile(untitled(events, true), 'LiveEvent', { bannerComment: '', additionalProperties: false })
  // What TypeScript types cannot carry at run time: each label set in its Python order, and the preview length.
  const labels = Object.entries(events.$defs)
    .filter(([, schema]) => schema.type === 'string' && Array.isArray(schema.enum))
    .map(
      ([name, schema]) =>
        `\n/** Every ${name} label, in services/common/labels.py's order. */\n` +
        `export const ${name.toUpperCase()}_VALUES = ${JSON.stringify(schema.enum)} as const satisfies readonly ${name}[]\n`,
    )
  const constants =
    labels.join('') +
    "\n/** The most characters of a post's content that a `post` event carries (PostData.content's maxLength;\n" +
    ' * services/common/events.py PREVIEW_CHARS). */\n' +
    `export const PREVIEW_CHARS = ${previewChars}\n`

  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, 'api.ts'), header("the REST API's OpenAPI document") + api)
  writeFileSync(join(out, 'events.ts'), header('the JSON Schema of the WebSocket events') + live + constants)
} finally {
  rmSync(json, { recursive: true, force: true })
}
