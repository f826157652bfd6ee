'use strict';
// The Node.js 18 action proxy: OpenWhisk's action protocol on port 8080, Node's standard
// library only.
//
//   POST /init  {"value": {"name", "main", "code", "binary", "env"}}
//       Loads the action once. `code` is JavaScript source whose function `main` (or the
//       name in `main`) is found as a top-level declaration or as an export; with `binary`
//       it is a base64 zip whose package.json `main` (default index.js) is required and must
//       export that function. `env` is exported before the code runs. 200 {"ok": true}; a
//       second successful /init is 403; code that cannot be loaded is 502.
//   POST /run   {"value": {...}, "namespace", "action_name", "activation_id", ...}
//       Exports every key but `value` as __OW_<KEY> for this run only, calls main(value),
//       awaits it when it returns a Promise, and answers 200 with the object or array it
//       gives; anything else, a throw or a rejection is 502 {"error": ...}. Before a
//       successful /init it is 403.
//
// After every /run (and after a failed /init) the sentinel line goes to stdout and stderr
// (synchronous writes on Linux pipes and files) before the response is sent: the invoker
// reads an activation's logs up to it. Responses leave in one write (headers and body
// together, res.end(body)) on TCP_NODELAY sockets (DESIGN.md §3, the latency trap).
// Activations run one at a time, as OpenWhisk's default concurrency of 1 expects.

const fs = require('fs');
const http = require('http');
const Module = require('module');
const os = require('os');
const path = require('path');
const vm = require('vm');
const zlib = require('zlib');

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';
const PORT = Number(process.env.PROXY_PORT || 8080);
const MAX_BODY = 64 * 1024 * 1024;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

class ProxyError extends Error {
  constructor(status, message, body) {
    super(String(message));
    this.status = status;
    this.body = body === undefined ? { error: message } : body;
  }
}

function writeSentinels() {
  process.stdout.write(SENTINEL + '\n');
  process.stderr.write(SENTINEL + '\n');
}

function describe(error) {
  if (error instanceof Error) return error.message ? `${error.name}: ${error.message}` : error.name;
  return error;
}

// ------------------------------------------------------------------ zip (stored + deflate)

// unzip(buffer, root): write every file of a zip archive below root.
function unzip(buffer, root) {
  const eocdSignature = 0x06054b50;
  let eocd = -1;
  for (let i = buffer.length - 22; i >= Math.max(0, buffer.length - 22 - 65535); i--) {
    if (buffer.readUInt32LE(i) === eocdSignature) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const entries = buffer.readUInt16LE(eocd + 10);
  let offset = buffer.readUInt32LE(eocd + 16);
  if (entries === 0xffff || offset === 0xffffffff) throw new Error('zip64 archives are not supported');
  for (let n = 0; n < entries; n++) {
    if (buffer.readUInt32LE(offset) !== 0x02014b50) throw new Error('corrupt central directory');
    const method = buffer.readUInt16LE(offset + 10);
    const compressedSize = buffer.readUInt32LE(offset + 20);
    const size = buffer.readUInt32LE(offset + 24);
    const nameLength = buffer.readUInt16LE(offset + 28);
    const extraLength = buffer.readUInt16LE(offset + 30);
    const commentLength = buffer.readUInt16LE(offset + 32);
    const externalAttributes = buffer.readUInt32LE(offset + 38);
    const local = buffer.readUInt32LE(offset + 42);
    const name = buffer.toString('utf8', offset + 46, offset + 46 + nameLength);
    offset += 46 + nameLength + extraLength + commentLength;

    const parts = name.split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
    if (parts.length === 0) continue;
    if (parts.includes('..') || /^[\\/]/.test(name)) throw new Error(`unsafe path in zip: ${name}`);
    const target = path.join(root, ...parts);
    if (name.endsWith('/')) {
      fs.mkdirSync(target, { recursive: true });
      continue;
    }
    if (buffer.readUInt32LE(local) !== 0x04034b50) throw new Error(`corrupt entry: ${name}`);
    const start = local + 30 + buffer.readUInt16LE(local + 26) + buffer.readUInt16LE(local + 28);
    const raw = buffer.subarray(start, start + compressedSize);
    let data;
    if (method === 0) data = raw;
    else if (method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error(`unsupported compression method ${method} for ${name}`);
    if (data.length !== size) throw new Error(`size mismatch for ${name}`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const mode = (externalAttributes >>> 16) & 0o777;
    fs.writeFileSync(target, data, { mode: mode & 0o100 ? 0o755 : 0o644 });
  }
}

// ------------------------------------------------------------------ loading the action

function loadSource(code, mainName) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'action-'));
  const filename = path.join(dir, 'index.js');
  fs.writeFileSync(filename, code);
  const module = new Module(filename, null);
  module.filename = filename;
  module.paths = Module._nodeModulePaths(dir);
  const wrapper = vm.compileFunction(
    `${code}\n;return typeof ${mainName} === 'function' ? ${mainName} : undefined;`,
    ['exports', 'require', 'module', '__filename', '__dirname'],
    { filename },
  );
  const declared = wrapper.call(
    module.exports,
    module.exports,
    Module.createRequire(filename),
    module,
    filename,
    dir,
  );
  const exported = module.exports && module.exports[mainName];
  return typeof exported === 'function' ? exported : declared;
}

function loadZip(payload, mainName) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'action-'));
  try {
    unzip(Buffer.from(payload, 'base64'), root);
  } catch (error) {
    throw new ProxyError(502, `Invalid zip file: ${error.message}`);
  }
  let entry = 'index.js';
  const manifest = path.join(root, 'package.json');
  if (fs.existsSync(manifest)) {
    const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    if (typeof pkg.main === 'string' && pkg.main) entry = pkg.main;
  }
  const file = path.resolve(root, entry);
  if (!fs.existsSync(file) && !fs.existsSync(file + '.js')) {
    throw new ProxyError(502, `Zipped actions must contain either package.json or index.js at the root (missing ${entry}).`);
  }
  process.chdir(root);
  const exports = require(file);
  if (typeof exports === 'function' && mainName === 'main') return exports;
  return exports && exports[mainName];
}

// ------------------------------------------------------------------ the protocol

let action = null;
let runEnv = new Set();
let busy = Promise.resolve();

function exportEnv(env) {
  for (const [key, value] of Object.entries(env)) {
    process.env[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
}

function init(message) {
  if (action !== null) throw new ProxyError(403, 'Cannot initialize the action more than once.');
  const value = message && message.value;
  if (!value || typeof value !== 'object') throw new ProxyError(502, 'Missing main/no code to execute.');
  const mainName = value.main || 'main';
  if (typeof mainName !== 'string' || !IDENTIFIER.test(mainName)) {
    throw new ProxyError(502, `Invalid main function name: ${JSON.stringify(mainName)}`);
  }
  if (typeof value.code !== 'string') throw new ProxyError(502, 'Missing main/no code to execute.');
  if (value.env && typeof value.env === 'object') exportEnv(value.env);
  let fn;
  try {
    fn = value.binary ? loadZip(value.code, mainName) : loadSource(value.code, mainName);
  } catch (error) {
    if (error instanceof ProxyError) throw error;
    console.error(error && error.stack ? error.stack : error);
    throw new ProxyError(502, `Initialization has failed due to: ${describe(error)}`);
  }
  if (typeof fn !== 'function') {
    throw new ProxyError(502, `The action does not define a function named '${mainName}'.`);
  }
  action = fn;
  return { ok: true };
}

function setRunEnv(message) {
  const current = new Set();
  for (const [key, value] of Object.entries(message)) {
    if (key === 'value' || value === null || value === undefined) continue;
    const name = `__OW_${key.toUpperCase()}`;
    process.env[name] = typeof value === 'string' ? value : JSON.stringify(value);
    current.add(name);
  }
  for (const name of runEnv) if (!current.has(name)) delete process.env[name];
  runEnv = current;
}

async function run(message) {
  if (action === null) throw new ProxyError(403, 'System not ready: the action is not initialized.');
  if (!message || typeof message !== 'object' || Array.isArray(message)) {
    throw new ProxyError(400, 'The request body is not a JSON object.');
  }
  const args = message.value === undefined ? {} : message.value;
  if (!args || typeof args !== 'object' || Array.isArray(args)) {
    throw new ProxyError(400, 'The action did not receive a dictionary as an argument.');
  }
  setRunEnv(message);
  let result;
  try {
    result = await action(args);
  } catch (error) {
    console.error(error && error.stack ? error.stack : error);
    if (error instanceof Error) throw new ProxyError(502, `An exception was raised: ${describe(error)}`);
    // a rejection with {error: ...} is that result; any other value becomes its error field
    const body = error && typeof error === 'object' && !Array.isArray(error) && 'error' in error;
    throw new ProxyError(502, 'rejected', body ? error : { error: error === undefined ? null : error });
  }
  if (result === null || typeof result !== 'object') {
    throw new ProxyError(502, 'The action did not return a dictionary or array.');
  }
  let body;
  try {
    body = JSON.stringify(result);
  } catch (error) {
    throw new ProxyError(502, `The action did not produce a valid JSON or JSON Array response: ${error.message}`);
  }
  return body;
}

function send(res, status, body) {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body); // headers are not flushed yet: they leave with the body in one write
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new ProxyError(413, 'The request body is too large.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function handle(req, res) {
  let message = {};
  const raw = await readBody(req);
  if (raw.length) {
    try {
      message = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new ProxyError(400, `The body is not JSON: ${error.message}`);
    }
  }
  if (req.method !== 'POST' || (req.url !== '/init' && req.url !== '/run')) {
    throw new ProxyError(404, `No such endpoint: ${req.method} ${req.url}`);
  }
  // one activation at a time: chain onto the previous one
  const turn = busy.then(async () => {
    if (req.url === '/init') {
      try {
        return JSON.stringify(init(message));
      } catch (error) {
        if (error instanceof ProxyError && error.status === 502) writeSentinels();
        throw error;
      }
    }
    try {
      return await run(message);
    } finally {
      writeSentinels();
    }
  });
  busy = turn.catch(() => undefined);
  send(res, 200, await turn);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    const status = error instanceof ProxyError ? error.status : 500;
    let body;
    try {
      body = JSON.stringify(error instanceof ProxyError ? error.body : { error: String(describe(error)) });
    } catch (unencodable) {
      body = JSON.stringify({ error: String(error.message) });
    }
    send(res, status, body);
  });
});
server.on('connection', (socket) => socket.setNoDelay(true));
server.keepAliveTimeout = 0; // the invoker keeps its connection as long as it likes
server.headersTimeout = 0;
server.requestTimeout = 0;
server.listen(PORT, '0.0.0.0');

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
