// `tooljail serve --http --auth FILE`: bearer tokens from `tooljail token create`, per-client
// tool scopes, per-client sessions and records, over the official SDK client (2025-11-25) and
// raw fetch() (401s, 404s, 2026-07-28 stateless requests); and the listen-address rule: beyond
// loopback only with authentication. Run by ctest (tests/CMakeLists.txt) with TOOLJAIL_BINARY
// and TOOLJAIL_RECORDS set; the servers inherit the environment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { binary, makeRepo, sleep, startHttpServer, stopHttpServer, text } from './fixture.mjs';

const ACCEPT = 'application/json, text/event-stream';
const STATELESS = '2026-07-28';

let repo;
let scratch;
let tokens;   // the token file
let records;  // this server's record store, read back with `tooljail runs list`
let server;
const token = {};  // client name -> token
const clients = [];

const tooljail = (...args) => spawnSync(binary, args, { encoding: 'utf8' });
const createToken = (client, tools, file = tokens) =>
  tooljail('token', 'create', '--client', client, '--tools', tools, '--auth', file);

before(async () => {
  repo = makeRepo('tooljail-http-auth-');
  scratch = mkdtempSync(join(tmpdir(), 'tooljail-http-auth-store-'));
  tokens = join(scratch, 'etc', 'tokens.json');  // token create makes the directory
  records = join(scratch, 'records');
  for (const [client, tools] of [['reader', 'read_file,list_directory'], ['admin', '*'], ['other', 'read_file']]) {
    const created = createToken(client, tools);
    assert.equal(created.status, 0, created.stderr);
    token[client] = created.stdout.trim();
    assert.match(token[client], /^tjk_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /shown only this once/);
  }
  server = await startHttpServer(repo, ['--auth', tokens, '--records', records]);
});

after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  const exit = await stopHttpServer(server);
  if (repo) rmSync(repo, { recursive: true, force: true });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM ends the server with status 0:\n${server?.stderr()}`);
});

async function connect(name) {
  const client = new Client({ name: `tooljail-auth-${name}`, version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(server.url), {
    requestInit: { headers: { Authorization: `Bearer ${token[name]}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

function post(body, headers = {}) {
  return fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: JSON.stringify(body),
  });
}

const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize',
                     params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const bearer = (name) => ({ authorization: `Bearer ${token[name]}` });

function statelessRequest(method, params = {}) {
  return {
    jsonrpc: '2.0', id: 7, method,
    params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': STATELESS,
                                  'io.modelcontextprotocol/clientCapabilities': {} } },
  };
}
function statelessHeaders(body) {
  const h = { 'mcp-protocol-version': STATELESS, 'mcp-method': body.method };
  if (body.method === 'tools/call') h['mcp-name'] = body.params.name;
  return h;
}
const events = (body) => body.split('\n\n').filter((e) => e.startsWith('event: message\ndata: '))
  .map((e) => JSON.parse(e.slice('event: message\ndata: '.length)));

function runsList() {
  const listed = tooljail('runs', 'list', '--json', '--limit', '0', '--records', records);
  assert.equal(listed.status, 0, listed.stderr);
  return JSON.parse(listed.stdout);
}

// ---- the token file and `tooljail token` ----

test('the token file holds hashes only, mode 0600; token list never shows them', () => {
  assert.equal(statSync(tokens).mode & 0o777, 0o600);
  const file = readFileSync(tokens, 'utf8');
  for (const t of Object.values(token)) assert.equal(file.includes(t), false);
  const parsed = JSON.parse(file);
  assert.deepEqual(parsed.clients.map((c) => c.client), ['reader', 'admin', 'other']);
  for (const c of parsed.clients) assert.match(c.sha256, /^[0-9a-f]{64}$/);

  const listed = tooljail('token', 'list', '--json', '--auth', tokens);
  assert.equal(listed.status, 0, listed.stderr);
  const shown = JSON.parse(listed.stdout);
  assert.deepEqual(shown.map((c) => [c.client, c.tools]),
                   [['reader', ['read_file', 'list_directory']], ['admin', ['*']], ['other', ['read_file']]]);
  for (const c of shown) {
    assert.equal('sha256' in c, false);
    assert.match(c.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  const table = tooljail('token', 'list', '--auth', tokens);
  assert.equal(table.status, 0);
  assert.match(table.stdout, /^reader\s+\S+\s+read_file,list_directory$/m);
  assert.equal(/[0-9a-f]{64}/.test(table.stdout), false);
});

test('token create refuses unknown tools, bad and duplicate names; revoke removes a client', () => {
  const file = join(scratch, 'other-tokens.json');
  let r = createToken('x', 'read_file,no_such_tool', file);
  assert.equal(r.status, 125);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /--tools: unknown tool 'no_such_tool' \(not in tools\.d\)/);
  r = createToken('bad name', 'read_file', file);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /--client 'bad name': must be 1-64 characters of A-Za-z0-9\._-/);
  r = createToken('x', 'read_file,*', file);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /--tools '\*': "\*" must be the only entry/);
  r = createToken('reader', 'read_file');
  assert.equal(r.status, 125);
  assert.match(r.stderr, /client 'reader' already exists/);

  assert.equal(createToken('x', 'read_file', file).status, 0);
  r = tooljail('token', 'revoke', '--client', 'x', '--auth', file);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).clients, []);
  r = tooljail('token', 'revoke', '--client', 'x', '--auth', file);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no client 'x'/);
});

// ---- sessions (2025-11-25) through the SDK ----

test('a client lists only the tools of its scope and calls them; its records carry token_client', async () => {
  const { client } = await connect('reader');
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ['list_directory', 'read_file']);
  const ok = await client.callTool({ name: 'read_file', arguments: { path: 'README.md' } });
  assert.equal(ok.isError, false, text(ok));
  assert.match(text(ok), /hello tooljail/);

  const denied = await client.callTool({ name: 'run_command', arguments: { command: 'id' } });
  assert.equal(denied.isError, true);
  assert.equal(denied.structuredContent.error.code, 'POLICY_DENIED');
  assert.match(text(denied), /run_command/);
  assert.equal(text(denied).includes('list_directory'), false, 'the refusal does not reveal the scope');

  const all = runsList();
  const read = all.find((r) => r.run_id === ok.structuredContent.run_id);
  assert.ok(read, JSON.stringify(all));
  assert.equal(read.client.transport, 'http');
  assert.equal(read.client.token_client, 'reader');
  assert.equal(read.client.client_info.name, 'tooljail-auth-reader');
  const refused = all.find((r) => r.tool === 'run_command');
  assert.ok(refused, JSON.stringify(all));
  assert.equal(refused.status, 'refused');
  assert.equal(refused.reason, 'policy_denied');
  assert.equal(refused.client.token_client, 'reader');
});

test('a scoped client lists and reads the policy resources of its own tools only', async () => {
  const { client } = await connect('reader');
  const uris = (await client.listResources()).resources.map((r) => r.uri);
  const toolPolicies = uris.filter((u) => /^tooljail:\/\/tools\//.test(u)).sort();
  assert.deepEqual(toolPolicies, ['tooljail://tools/list_directory/policy', 'tooljail://tools/read_file/policy']);
  const own = await client.readResource({ uri: 'tooljail://tools/read_file/policy' });
  assert.equal(JSON.parse(own.contents[0].text).name, 'default');
  await assert.rejects(client.readResource({ uri: 'tooljail://tools/run_command/policy' }),
                       /resource not found: no tool 'run_command' that this client can list/);
  const { client: admin } = await connect('admin');
  const read = await admin.readResource({ uri: 'tooljail://tools/run_command/policy' });
  assert.equal(JSON.parse(read.contents[0].text).name, 'strict');
});

test('a client with * sees every tool', async () => {
  const { client } = await connect('admin');
  const { tools } = await client.listTools();
  assert.ok(tools.length >= 9, tools.map((t) => t.name).join(','));
  assert.ok(tools.some((t) => t.name === 'run_command'));
});

test('another client\'s token on a session is 404, like an unknown session', async () => {
  const { client, transport } = await connect('reader');
  const sid = transport.sessionId;
  const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
  const list = { jsonrpc: '2.0', id: 3, method: 'tools/list' };
  const foreign = await post(list, { ...headers, ...bearer('other') });
  assert.equal(foreign.status, 404);
  const unknown = await post(list, { ...headers, 'mcp-session-id': 'f'.repeat(32), ...bearer('other') });
  assert.equal(unknown.status, 404);
  assert.deepEqual(await foreign.json(), await unknown.json());
  // Nor can it end the session, or listen on its GET stream.
  const del = await fetch(server.url, { method: 'DELETE', headers: { ...headers, ...bearer('other') } });
  assert.equal(del.status, 404);
  const get = await fetch(server.url, { headers: { ...headers, accept: 'text/event-stream', ...bearer('other') } });
  assert.equal(get.status, 404);
  const own = await post(list, { ...headers, ...bearer('reader') });
  assert.equal(own.status, 200);
  assert.equal((await client.listTools()).tools.length, 2);
});

// ---- refusals at the transport ----

test('no token is 401 with a bare WWW-Authenticate; a wrong one 401 invalid_token', async () => {
  const none = await post(initialize);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="tooljail"');
  assert.equal((await none.json()).error.code, -32600);

  const basic = await post(initialize, { authorization: 'Basic dXNlcjpwYXNz' });
  assert.equal(basic.status, 401);
  assert.equal(basic.headers.get('www-authenticate'), 'Bearer realm="tooljail"');

  const t = token.reader;
  const lastByte = t.slice(0, -1) + (t.at(-1) === 'A' ? 'B' : 'A');
  for (const bad of ['tjk_nope', lastByte, `${t}x`, 'x'.repeat(300)]) {
    const res = await post(initialize, { authorization: `Bearer ${bad}` });
    assert.equal(res.status, 401, bad);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="tooljail", error="invalid_token"');
    await res.body?.cancel();
  }
  // GET and DELETE need the token too.
  const get = await fetch(server.url, { headers: { accept: 'text/event-stream' } });
  assert.equal(get.status, 401);
  const del = await fetch(server.url, { method: 'DELETE', headers: { 'mcp-session-id': 'f'.repeat(32) } });
  assert.equal(del.status, 401);
  // The log names why, never the token.
  const why = /refused POST \/mcp from 127\.0\.0\.1: unknown bearer token/;
  for (let i = 0; i < 50 && !why.test(server.stderr()); i++) await sleep(100);  // stderr is a pipe
  assert.match(server.stderr(), why);
  assert.equal(server.stderr().includes(lastByte), false);
});

test('Origin is checked before the token (403), and a CORS preflight needs none', async () => {
  const foreign = await post(initialize, { origin: 'http://evil.example', ...bearer('admin') });
  assert.equal(foreign.status, 403);
  const foreignNoToken = await post(initialize, { origin: 'http://evil.example' });
  assert.equal(foreignNoToken.status, 403);
  const preflight = await fetch(server.url, {
    method: 'OPTIONS',
    headers: { origin: `http://127.0.0.1:${server.port}`, 'access-control-request-method': 'POST',
               'access-control-request-headers': 'authorization, content-type' },
  });
  assert.equal(preflight.status, 204);
  assert.match(preflight.headers.get('access-control-allow-headers'), /Authorization/);
});

// ---- stateless (2026-07-28) ----

test('stateless requests are authenticated and scoped per client', async () => {
  const list = statelessRequest('tools/list');
  const none = await post(list, statelessHeaders(list));
  assert.equal(none.status, 401);
  const listed = await post(list, { ...statelessHeaders(list), ...bearer('reader') });
  assert.equal(listed.status, 200);
  const body = await listed.json();
  assert.deepEqual(body.result.tools.map((t) => t.name).sort(), ['list_directory', 'read_file']);
  assert.equal(body.result.cacheScope, 'private', 'a scoped list must not be cached for others');

  const call = statelessRequest('tools/call', { name: 'read_file', arguments: { path: 'README.md' } });
  const ok = await post(call, { ...statelessHeaders(call), ...bearer('other') });
  assert.equal(ok.status, 200);
  const result = events(await ok.text()).at(-1).result;
  assert.equal(result.isError, false, JSON.stringify(result));

  const denied = statelessRequest('tools/call', { name: 'git_log', arguments: {} });
  const res = await post(denied, { ...statelessHeaders(denied), ...bearer('other') });
  assert.equal(res.status, 200);
  const refusal = (await res.json()).result;
  assert.equal(refusal.isError, true);
  assert.equal(refusal.structuredContent.error.code, 'POLICY_DENIED');
  assert.equal(refusal.resultType, 'complete');

  const all = runsList();
  const run = all.find((r) => r.run_id === result.structuredContent.run_id);
  assert.equal(run.client.token_client, 'other');
  const rec = all.find((r) => r.tool === 'git_log' && r.reason === 'policy_denied');
  assert.ok(rec, JSON.stringify(all.map((r) => [r.tool, r.reason])));
  assert.equal(rec.client.token_client, 'other');
});

// ---- where it may listen ----

function serve(args) {
  return new Promise((resolve) => {
    const proc = spawn(binary, ['serve', '--workspace', repo, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = stderr.match(/serving MCP over Streamable HTTP at http:\/\/0\.0\.0\.0:(\d+)\/mcp/);
      if (m) resolve({ proc, port: m[1], stderr: () => stderr,
                       exited: new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal }))) });
    });
    proc.on('exit', (code) => resolve({ code, stderr }));
  });
}

test('0.0.0.0 is refused without --auth and served with it', async () => {
  const refused = await serve(['--http', '0.0.0.0:0']);
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /refusing to listen on a non-loopback address without authentication; give --auth FILE/);

  const empty = join(scratch, 'empty.json');
  writeFileSync(empty, '{"clients": []}\n');
  chmodSync(empty, 0o600);
  const noClients = await serve(['--http', '0.0.0.0:0', '--auth', empty]);
  assert.equal(noClients.code, 125);
  assert.match(noClients.stderr, /no clients; create one with tooljail token create/);

  const open = await serve(['--http', '0.0.0.0:0', '--auth', tokens]);
  assert.ok(open.proc, open.stderr);
  try {
    // Logged just after the line that tells the port; stderr is a pipe.
    const warning = /listening beyond loopback on 0\.0\.0\.0:\d+: put a TLS-terminating reverse proxy in front/;
    for (let i = 0; i < 50 && !warning.test(open.stderr()); i++) await sleep(100);
    assert.match(open.stderr(), warning);
    const url = `http://127.0.0.1:${open.port}/mcp`;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT },
                                   body: JSON.stringify(initialize) });
    assert.equal(res.status, 401);
    const ok = await fetch(url, { method: 'POST', body: JSON.stringify(initialize),
                                  headers: { 'content-type': 'application/json', accept: ACCEPT, ...bearer('admin') } });
    assert.equal(ok.status, 200);
  } finally {
    open.proc.kill('SIGTERM');
  }
  assert.deepEqual(await open.exited, { code: 0, signal: null });
});

test('serve refuses a token file others may write, or one naming an unknown tool', async () => {
  const loose = join(scratch, 'loose.json');
  writeFileSync(loose, readFileSync(tokens));
  chmodSync(loose, 0o666);
  let r = tooljail('serve', '--http', '127.0.0.1:0', '--workspace', repo, '--auth', loose);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /writable by group or others/);

  const unknown = join(scratch, 'unknown.json');
  const parsed = JSON.parse(readFileSync(tokens, 'utf8'));
  parsed.clients[0].tools = ['read_file', 'gone_tool'];
  writeFileSync(unknown, JSON.stringify(parsed));
  chmodSync(unknown, 0o600);
  r = tooljail('serve', '--http', '127.0.0.1:0', '--workspace', repo, '--auth', unknown);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /\/clients\/0\/tools\/1: unknown tool 'gone_tool' \(not in tools\.d\)/);
});

test('SIGHUP re-reads the token file: revoked and re-scoped clients lose their sessions at once, a broken file keeps the old tokens', async () => {
  const file = join(scratch, 'reload', 'tokens.json');
  const tok = {};
  for (const [client, tools] of [['stay', 'read_file'], ['gone', '*'], ['narrowed', 'read_file,list_directory']]) {
    const created = createToken(client, tools, file);
    assert.equal(created.status, 0, created.stderr);
    tok[client] = created.stdout.trim();
  }
  const s = await startHttpServer(repo, ['--auth', file, '--records', join(scratch, 'records-reload')],
                                  { globalArgs: ['--log-level', 'info'] });
  const auth = (name) => ({ authorization: `Bearer ${tok[name]}` });
  const send = (body, headers) => fetch(s.url, { method: 'POST', body: JSON.stringify(body),
                                                 headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers } });
  const open = async (name) => {
    const res = await send(initialize, auth(name));
    assert.equal(res.status, 200, name);
    return res.headers.get('mcp-session-id');
  };
  const list = (name, sid) => send({ jsonrpc: '2.0', id: 2, method: 'tools/list' },
                                   { ...auth(name), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
  const reloaded = async (n) => {
    for (let i = 0; i < 100 && (s.stderr().match(/tokens reloaded from|token reload failed/g) || []).length < n; i++) await sleep(50);
    assert.equal((s.stderr().match(/tokens reloaded from|token reload failed/g) || []).length, n, s.stderr());
  };
  // The reload logs what it ended after the "tokens reloaded" line, as it goes.
  const logged = async (pattern) => {
    for (let i = 0; i < 100 && !pattern.test(s.stderr()); i++) await sleep(50);
    assert.match(s.stderr(), pattern);
  };
  try {
    const sessions = { stay: await open('stay'), gone: await open('gone'), narrowed: await open('narrowed') };
    const statelessList = async (name) => {
      const body = statelessRequest('tools/list');
      const res = await send(body, { ...statelessHeaders(body), ...auth(name) });
      assert.equal(res.status, 200);
      return (await res.json()).result.tools.map((t) => t.name).sort();
    };
    assert.deepEqual(await statelessList('narrowed'), ['list_directory', 'read_file']);
    // A running call of the revoked client is cancelled with its session.
    const held = send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'run_python', arguments: { code: 'import time\ntime.sleep(60)' } } },
                      { ...auth('gone'), 'mcp-session-id': sessions.gone, 'mcp-protocol-version': '2025-11-25' });
    // So is its running stateless call, which has no session: its stream ends with an error.
    const sleeper = statelessRequest('tools/call', { name: 'run_python', arguments: { code: 'import time\ntime.sleep(60)' } });
    const heldStateless = send(sleeper, { ...statelessHeaders(sleeper), ...auth('gone') });
    await sleep(500);

    assert.equal(tooljail('token', 'revoke', '--client', 'gone', '--auth', file).status, 0);
    const parsed = JSON.parse(readFileSync(file, 'utf8'));
    parsed.clients.find((c) => c.client === 'narrowed').tools = ['read_file'];
    writeFileSync(file, JSON.stringify(parsed));
    const added = createToken('late', 'read_file', file);
    assert.equal(added.status, 0, added.stderr);
    tok.late = added.stdout.trim();
    s.proc.kill('SIGHUP');
    await reloaded(1);
    assert.match(s.stderr(), /tokens reloaded from .*: 3 clients, added=late removed=gone changed=narrowed/);
    await logged(/token reload: ended 2 sessions of removed or re-scoped clients/);

    assert.equal((await list('gone', sessions.gone)).status, 401);
    const call = await held;
    assert.equal(call.status, 200);
    assert.doesNotMatch(await call.text(), /"result"/, 'the stream ended without a result: the call was cancelled');
    await logged(/token reload: cancelled 1 stateless calls of removed or re-scoped clients/);
    const statelessCall = await heldStateless;
    assert.equal(statelessCall.status, 200);
    const ended = events(await statelessCall.text());
    assert.equal(ended.length, 1, JSON.stringify(ended));
    assert.equal(ended[0].result, undefined);
    assert.match(ended[0].error.message, /token was revoked or its tools changed; the call was cancelled/);
    // Both runs were killed and recorded as cancelled (the record may land just after the stream).
    let gone = [];
    for (let i = 0; i < 100; i++, await sleep(50)) {
      const listed = tooljail('runs', 'list', '--json', '--limit', '0', '--records', join(scratch, 'records-reload'));
      assert.equal(listed.status, 0, listed.stderr);
      gone = JSON.parse(listed.stdout).filter((r) => r.client.token_client === 'gone');
      if (gone.length === 2 && gone.every((r) => r.reason === 'cancelled')) break;
    }
    assert.deepEqual(gone.map((r) => r.reason), ['cancelled', 'cancelled'], JSON.stringify(gone));
    assert.equal((await list('narrowed', sessions.narrowed)).status, 404, 'a re-scoped session ends');
    const renewed = await open('narrowed');
    const tools = (await (await list('narrowed', renewed)).json()).result.tools.map((t) => t.name);
    assert.deepEqual(tools, ['read_file']);
    assert.deepEqual(await statelessList('narrowed'), ['read_file'], 'stateless requests get the new scope too');
    assert.equal((await list('stay', sessions.stay)).status, 200, 'an unchanged client keeps its session');
    await open('late');

    // A broken file: logged, and the tokens in force stay.
    writeFileSync(file, '{"clients": [');
    s.proc.kill('SIGHUP');
    await reloaded(2);
    assert.match(s.stderr(), /token reload failed, still accepting the previous tokens: .*tokens\.json/);
    assert.equal((await list('stay', sessions.stay)).status, 200);
  } finally {
    const exit = await stopHttpServer(s);
    assert.deepEqual(exit, { code: 0, signal: null }, s.stderr());
  }
});
