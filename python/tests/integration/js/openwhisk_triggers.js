// OpenWhisk's own JavaScript client (npm `openwhisk`) against a running platform: triggers,
// rules, packages and sequences.
//
//   NODE_PATH=<prefix>/node_modules WHISK_APIHOST=http://127.0.0.1:10001 \
//     WHISK_AUTH=<uuid:key> WHISK_PREFIX=<unique name prefix> node openwhisk_triggers.js
//
// Every entity it creates is named after WHISK_PREFIX, and deleted again at the end (also
// after a failure). Prints one JSON line: {"ok": true, "steps": [...], ...} on success; on the
// first failure {"ok": false, "step": ..., "error": ...} and exit 1.
//
// How this client version (3.21.9) builds its requests, which the steps below rely on:
// - `triggers.create/update({name, trigger})` sends `trigger` as the body: parameters go in as
//   `trigger.parameters` ([{key, value}]); the client has no `params` option for triggers.
// - `triggers.invoke({name, params})` (fire) posts `params` as the payload.
// - `rules.create({name, trigger, action})` sends `/_/<trigger>` and `/_/<action>`;
//   `rules.enable/disable` post `{status: "active"|"inactive"}` to the rule.
// - `packages.create/update({name, package})` sends `package` as the body.
// - `actions.create` needs `action` (code, or a whole action object sent as is) or `sequence`
//   (an array of component names; the client builds `exec: {kind: 'sequence', components}`);
//   an `exec` option alone is refused client-side, it only overrides fields next to `action`.
'use strict'

const openwhisk = require('openwhisk')

const APIHOST = process.env.WHISK_APIHOST
const AUTH = process.env.WHISK_AUTH
const P = process.env.WHISK_PREFIX
const POLL_DEADLINE_MS = 30000

const GREET = `function main(params) {
    console.log('greeting ' + params.name);
    return { greeting: (params.salute || 'Hello') + ' ' + params.name };
}`
const IN_PACKAGE = `function main(params) {
    return { packaged: true, name: params.name };
}`
const PLUS_ONE = 'function main(params) { return { n: params.n + 1, steps: (params.steps || []).concat(["plus"]) }; }'
const TIMES_TEN = 'function main(params) { return { n: params.n * 10, steps: (params.steps || []).concat(["times"]) }; }'

const NAMES = {
  action: `${P}-greet`,
  trigger: `${P}-trigger`,
  rule: `${P}-rule`,
  pkg: `${P}-pkg`,
  plus: `${P}-plus`,
  times: `${P}-times`,
  seq: `${P}-seq`,
  seqExec: `${P}-seq-exec`
}
const summary = { ok: false, names: NAMES, steps: [] }
let current = 'start'

function check (condition, message) {
  if (!condition) throw new Error(message)
}

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

function params (list) {
  return Object.fromEntries((list || []).map(p => [p.key, p.value]))
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

// The status code a call fails with (or `null` when it succeeds).
function failure (promise) {
  return promise.then(() => null, error => error.statusCode || String(error))
}

// The fire's record, then the record of the activation its one rule started.
async function followFire (ow, fireId) {
  const fired = await poll(`trigger activation ${fireId}`, () => ow.activations.get(fireId))
  check(fired.name === NAMES.trigger, `trigger activation: ${JSON.stringify(fired)}`)
  check(fired.logs.length === 1, `trigger activation logs: ${JSON.stringify(fired.logs)}`)
  const line = JSON.parse(fired.logs[0])
  check(/^[0-9a-f]{32}$/.test(line.activationId), `trigger log line: ${fired.logs[0]}`)
  const ran = await poll(`rule activation ${line.activationId}`,
    () => ow.activations.get(line.activationId))
  return { fired, line, ran }
}

async function triggersAndRules (ow) {
  await step('action_create', () => ow.actions.create({ name: NAMES.action, action: GREET }))

  const created = await step('trigger_create', () => ow.triggers.create({
    name: NAMES.trigger,
    trigger: { parameters: [{ key: 'salute', value: 'Howdy' }, { key: 'name', value: 'Nobody' }] }
  }))
  check(created.name === NAMES.trigger, `trigger create: ${JSON.stringify(created)}`)
  summary.trigger_created = { version: created.version, parameters: params(created.parameters) }

  const got = await step('trigger_get', () => ow.triggers.get({ name: NAMES.trigger }))
  summary.trigger_got = params(got.parameters)

  const listed = await step('trigger_list', () => ow.triggers.list({ limit: 200 }))
  summary.trigger_listed = listed.some(t => t.name === NAMES.trigger)

  const updated = await step('trigger_update', () => ow.triggers.update({
    name: NAMES.trigger,
    trigger: {
      parameters: [{ key: 'salute', value: 'Howdy' }, { key: 'name', value: 'Nobody' },
        { key: 'updated', value: true }]
    }
  }))
  summary.trigger_updated = { version: updated.version, parameters: params(updated.parameters) }

  const rule = await step('rule_create', () => ow.rules.create({
    name: NAMES.rule, trigger: NAMES.trigger, action: NAMES.action
  }))
  summary.rule_created = { status: rule.status, trigger: rule.trigger, action: rule.action }

  const ruleGot = await step('rule_get', () => ow.rules.get({ name: NAMES.rule }))
  summary.rule_got = { status: ruleGot.status, trigger: ruleGot.trigger, action: ruleGot.action }

  const rules = await step('rule_list', () => ow.rules.list({ limit: 200 }))
  summary.rule_listed = rules.some(r => r.name === NAMES.rule)

  const withRule = await step('trigger_get_rules', () => ow.triggers.get({ name: NAMES.trigger }))
  summary.trigger_rules = withRule.rules

  const fire = await step('trigger_fire', () =>
    ow.triggers.invoke({ name: NAMES.trigger, params: { name: 'Ada' } }))
  check(/^[0-9a-f]{32}$/.test(fire.activationId), `fire answered ${JSON.stringify(fire)}`)
  const first = await step('fire_activations', () => followFire(ow, fire.activationId))
  summary.fire_record = {
    result: first.fired.response.result,
    success: first.fired.response.success,
    log: { ...first.line, activationId: undefined }
  }
  summary.rule_activation = {
    name: first.ran.name,
    success: first.ran.response.success,
    result: first.ran.response.result
  }

  const listedRuns = await step('rule_activation_list', () =>
    poll(`activations of ${NAMES.action}`, () => ow.activations.list({ name: NAMES.action }),
      list => list.some(a => a.activationId === first.line.activationId)))
  summary.rule_activation_listed = listedRuns.length

  await step('rule_disable', () => ow.rules.disable({ name: NAMES.rule }))
  const disabled = await step('rule_get_disabled', () => ow.rules.get({ name: NAMES.rule }))
  summary.rule_disabled_status = disabled.status
  // No active rule: OpenWhisk answers 204 without a body (the client gives an empty Buffer).
  const idle = await step('trigger_fire_disabled', () =>
    ow.triggers.invoke({ name: NAMES.trigger, params: { name: 'Nobody' } }))
  summary.fire_disabled_activation = (idle && idle.activationId) || null

  await step('rule_enable', () => ow.rules.enable({ name: NAMES.rule }))
  const enabled = await step('rule_get_enabled', () => ow.rules.get({ name: NAMES.rule }))
  summary.rule_enabled_status = enabled.status

  const again = await step('trigger_fire_enabled', () =>
    ow.triggers.invoke({ name: NAMES.trigger, params: { name: 'Grace' } }))
  const second = await step('fire_activations_enabled', () => followFire(ow, again.activationId))
  summary.refire_result = second.ran.response.result

  const ruleDeleted = await step('rule_delete', () => ow.rules.delete({ name: NAMES.rule }))
  summary.rule_deleted = ruleDeleted && ruleDeleted.name
  summary.rule_get_deleted = await step('rule_get_deleted', () =>
    failure(ow.rules.get({ name: NAMES.rule })))

  await step('trigger_delete', () => ow.triggers.delete({ name: NAMES.trigger }))
  summary.trigger_get_deleted = await step('trigger_get_deleted', () =>
    failure(ow.triggers.get({ name: NAMES.trigger })))
}

async function packages (ow) {
  const created = await step('package_create', () => ow.packages.create({
    name: NAMES.pkg, package: { parameters: [{ key: 'color', value: 'blue' }] }
  }))
  summary.package_created = { version: created.version, parameters: params(created.parameters) }

  const listed = await step('package_list', () => ow.packages.list({ limit: 200 }))
  summary.package_listed = listed.some(p => p.name === NAMES.pkg)

  const updated = await step('package_update', () => ow.packages.update({
    name: NAMES.pkg,
    package: { parameters: [{ key: 'color', value: 'green' }, { key: 'size', value: 2 }] }
  }))
  summary.package_updated = { version: updated.version, parameters: params(updated.parameters) }

  const inner = `${NAMES.pkg}/act`
  const action = await step('package_action_create', () =>
    ow.actions.create({ name: inner, action: IN_PACKAGE }))
  summary.package_action = { name: action.name, namespace: action.namespace }

  const got = await step('package_get', () => ow.packages.get({ name: NAMES.pkg }))
  summary.package_got = {
    parameters: params(got.parameters),
    actions: (got.actions || []).map(a => a.name)
  }

  summary.package_action_result = await step('package_action_invoke', () =>
    ow.actions.invoke({ name: inner, params: { name: 'Ada' }, blocking: true, result: true }))

  summary.package_delete_nonempty = await step('package_delete_nonempty', () =>
    failure(ow.packages.delete({ name: NAMES.pkg })))

  await step('package_action_delete', () => ow.actions.delete({ name: inner }))
  await step('package_delete', () => ow.packages.delete({ name: NAMES.pkg }))
  summary.package_get_deleted = await step('package_get_deleted', () =>
    failure(ow.packages.get({ name: NAMES.pkg })))
}

async function sequences (ow) {
  await step('sequence_components', () => Promise.all([
    ow.actions.create({ name: NAMES.plus, action: PLUS_ONE }),
    ow.actions.create({ name: NAMES.times, action: TIMES_TEN })
  ]))
  const components = [`/guest/${NAMES.plus}`, `/guest/${NAMES.times}`]

  // The client's own sequence option: it sends exec {kind: 'sequence', components}.
  await step('sequence_create', () => ow.actions.create({ name: NAMES.seq, sequence: components }))
  // A whole action object, exec included, passed through as the body.
  await step('sequence_create_exec', () => ow.actions.create({
    name: NAMES.seqExec, action: { exec: { kind: 'sequence', components: components.slice().reverse() } }
  }))

  const got = await step('sequence_get', () => ow.actions.get({ name: NAMES.seq }))
  summary.sequence_exec = { kind: got.exec.kind, components: got.exec.components }

  summary.sequence_result = await step('sequence_invoke', () =>
    ow.actions.invoke({ name: NAMES.seq, params: { n: 1 }, blocking: true, result: true }))
  summary.sequence_exec_result = await step('sequence_exec_invoke', () =>
    ow.actions.invoke({ name: NAMES.seqExec, params: { n: 1 }, blocking: true, result: true }))

  const full = await step('sequence_invoke_blocking', () =>
    ow.actions.invoke({ name: NAMES.seq, params: { n: 2 }, blocking: true }))
  // The stored record's logs are its components' activation ids (a blocking answer, as
  // OpenWhisk's, carries no logs).
  const stored = await step('sequence_activation_get', () =>
    poll(`sequence activation ${full.activationId}`, () => ow.activations.get(full.activationId)))
  const ran = await step('sequence_component_activations', () => Promise.all(
    stored.logs.map(id => poll(`component activation ${id}`, () => ow.activations.get(id)))))
  summary.sequence_activation = {
    name: full.name,
    result: full.response.result,
    kind: (full.annotations || []).filter(a => a.key === 'kind').map(a => a.value)[0],
    components: ran.map(c => [c.name, c.response.result.n])
  }
}

async function cleanUp (ow) {
  const quietly = promise => promise.catch(() => null)
  await quietly(ow.rules.delete({ name: NAMES.rule }))
  await quietly(ow.triggers.delete({ name: NAMES.trigger }))
  await quietly(ow.actions.delete({ name: `${NAMES.pkg}/act` }))
  await quietly(ow.packages.delete({ name: NAMES.pkg }))
  for (const name of [NAMES.seq, NAMES.seqExec, NAMES.plus, NAMES.times, NAMES.action]) {
    await quietly(ow.actions.delete({ name }))
  }
}

async function main () {
  check(APIHOST && AUTH && P, 'WHISK_APIHOST, WHISK_AUTH and WHISK_PREFIX must be set')
  const ow = openwhisk({ apihost: APIHOST, api_key: AUTH })
  try {
    await triggersAndRules(ow)
    await packages(ow)
    await sequences(ow)
    summary.ok = true
  } finally {
    await cleanUp(ow)
  }
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
