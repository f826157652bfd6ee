// OpenWhisk's own JavaScript client (npm `openwhisk`) against a running platform.
//
//   NODE_PATH=<prefix>/node_modules WHISK_APIHOST=http://127.0.0.1:10001 \
//     WHISK_AUTH=<uuid:key> WHISK_ACTION=<name> node openwhisk_client.js
//
// Creates a nodejs action, lists, gets, invokes it (blocking, result only, non-blocking then
// polling the activation), lists its activations, reads an activation's result and logs,
// updates and deletes the action. Prints one JSON line: {"ok": true, "steps": [...], ...}
// on success; on the first failure {"ok": false, "step": ..., "error": ...} and exit 1.
// The apihost carries its scheme: without one the client assumes https://.
'use strict'

const openwhisk = require('openwhisk')

const APIHOST = process.env.WHISK_APIHOST
const AUTH = process.env.WHISK_AUTH
const NAME = process.env.WHISK_ACTION
const POLL_DEADLINE_MS = 30000

const CODE_V1 = `function main(params) {
    console.log('greeting ' + params.name);
    return { greeting: 'Hello ' + params.name, version: 1 };
}`
const CODE_V2 = `function main(params) {
    console.log('greeting v2 ' + params.name);
    return { greeting: 'Hi ' + params.name, version: 2 };
}`

const summary = { ok: false, action: NAME, steps: [] }
let current = 'start'

function check (condition, message) {
  if (!condition) throw new Error(message)
}

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

async function step (name, body) {
  current = name
  const value = await body()
  summary.steps.push(name)
  return value
}

// Retry `body` while it fails with `404` or `accept` says no, up to the deadline.
async function poll (what, body, accept) {
  const end = Date.now() + POLL_DEADLINE_MS
  for (;;) {
    try {
      const value = await body()
      if (!accept || accept(value)) return value
    } catch (error) {
      if (error.statusCode !== 404) throw error
    }
    check(Date.now() < end, `${what}: not there after ${POLL_DEADLINE_MS} ms`)
    await sleep(100)
  }
}

async function main () {
  check(APIHOST && AUTH && NAME, 'WHISK_APIHOST, WHISK_AUTH and WHISK_ACTION must be set')
  const ow = openwhisk({ apihost: APIHOST, api_key: AUTH })

  const created = await step('create', () =>
    ow.actions.create({ name: NAME, action: CODE_V1, kind: 'nodejs:default' }))
  check(created.name === NAME, `create answered ${JSON.stringify(created)}`)
  summary.created_version = created.version
  summary.kind = created.exec && created.exec.kind

  const listed = await step('list', () => ow.actions.list({ limit: 200 }))
  check(listed.some(action => action.name === NAME), `${NAME} is not in the list`)

  const got = await step('get', () => ow.actions.get({ name: NAME }))
  check(got.name === NAME && got.exec.code === CODE_V1, `get answered ${JSON.stringify(got)}`)

  const blocking = await step('invoke_blocking', () =>
    ow.actions.invoke({ name: NAME, params: { name: 'Ada' }, blocking: true }))
  check(/^[0-9a-f]{32}$/.test(blocking.activationId), `activation id ${blocking.activationId}`)
  check(blocking.response.success === true, `blocking: ${JSON.stringify(blocking.response)}`)
  summary.blocking_result = blocking.response.result

  summary.result_only = await step('invoke_result', () =>
    ow.actions.invoke({ name: NAME, params: { name: 'Grace' }, blocking: true, result: true }))

  const started = await step('invoke_nonblocking', () =>
    ow.actions.invoke({ name: NAME, params: { name: 'Linus' } }))
  const id = started.activationId
  check(/^[0-9a-f]{32}$/.test(id), `non-blocking invoke answered ${JSON.stringify(started)}`)
  check(started.response === undefined, 'a non-blocking invoke returned a response')

  const record = await step('activation_get', () =>
    poll(`activation ${id}`, () => ow.activations.get(id)))
  check(record.activationId === id, `activations.get answered ${JSON.stringify(record)}`)
  summary.polled_result = record.response.result
  summary.polled_status = record.response.status

  const ids = [blocking.activationId, id]
  const activations = await step('activation_list', () =>
    poll(`activations of ${NAME}`, () => ow.activations.list({ name: NAME, limit: 50 }),
      list => ids.every(wanted => list.some(a => a.activationId === wanted))))
  check(activations.every(a => a.name === NAME), 'activations.list({name}) lists other actions')
  summary.listed_activations = activations.length

  const result = await step('activation_result', () => ow.activations.result(id))
  summary.activation_result = result.result
  summary.activation_result_success = result.success

  const logs = await step('activation_logs', () => ow.activations.logs(id))
  summary.logs = logs.logs

  const updated = await step('update', () => ow.actions.update({ name: NAME, action: CODE_V2 }))
  summary.updated_version = updated.version
  summary.updated_result = await step('invoke_updated', () =>
    ow.actions.invoke({ name: NAME, params: { name: 'Ada' }, blocking: true, result: true }))

  await step('delete', () => ow.actions.delete({ name: NAME }))
  const gone = await step('get_deleted', () => ow.actions.get({ name: NAME }).then(
    found => ({ found }),
    error => ({ statusCode: error.statusCode })))
  check(gone.statusCode === 404, `get after delete answered ${JSON.stringify(gone)}`)

  summary.ok = true
}

main().then(
  () => {
    console.log(JSON.stringify(summary))
  },
  error => {
    summary.step = current
    summary.error = String((error && error.message) || error)
    summary.status_code = error && error.statusCode
    console.log(JSON.stringify(summary))
    process.exitCode = 1
  })
