// The GET stream of a 2025-11-25 session (runtime/http/http_push.h): what the server sends that no
// request asked for. notifications/tools/list_changed reaches the official SDK client and a raw
// GET stream after a SIGHUP reload and a kill-switch change; one stream per session (409), at
// most --max-get-streams at once (503), the slot comes back when a stream closes, a scoped
// client hears only of its own tools, DELETE ends it, an open stream does not hold up the SIGTERM drain, and --max-get-streams 0 turns it all
// off (405, listChanged false). Run by ctest (tests/CMakeLists.txt) with TOOLJAIL_BINARY set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { binary, makeRepo, sleep, startHttpServer, stopHttpServer } from './fixture.mjs';

const source = join(import.meta.dirname, '..', '..');
const ACCEPT = 'application/json, text/event-stream';
const LIST_CHANGED = 'notifications/tools/list_changed';
let repo;
let dir;

before(() => {
  repo = makeRepo('tooljail-push-');
  dir = mkdtempSync(join(tmpdir(), 'tooljail-push-config-'));
});

after(() => {
  for (const d of [repo, dir]) if (d) rmSync(d, { recursive: true, force: true });
});

// A server on its own copy of tools.d, policies and state, so the test can change them.
async function start(name, extra = []) {
  const tools = join(dir, name, 'tools.d');
  const policies = join(dir, name, 'policies');
  const state = join(dir, name, 'state');
  cpSync(join(source, 'tools.d'), tools, { recursive: true });
  cpSync(join(source, 'policies'), policies, { recursive: true });
  // At INFO: a successful reload is an INFO event, which the test waits for.
  const server = await startHttpServer(repo, ['--tools-dir', tools, '--policy-dir', policies, '--state', state,
                                              '--pool-size', '0', ...extra],
                                       { globalArgs: ['--log-level', 'info'] });
  return Object.assign(server, { tools, state });
}

const waitFor = async (check, what, log) => {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}; server log:\n${log()}`);
};

function editDescription(tools, tool, description) {
  const file = join(tools, `${tool}.json`);
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  manifest.description = description;
  writeFileSync(file, JSON.stringify(manifest, null, 2));
}

const post = (server, body, headers = {}) => fetch(server.url, {
  method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers }, body: JSON.stringify(body),
});
const sessionHeaders = (sid) => ({ 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });

// initialize + initialized over raw HTTP: { sid, capabilities }.
async function rawSession(server) {
  const res = await post(server, { jsonrpc: '2.0', id: 1, method: 'initialize',
                                   params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(res.status, 200);
  const sid = res.headers.get('mcp-session-id');
  const { result } = await res.json();
  const ack = await post(server, { jsonrpc: '2.0', method: 'notifications/initialized' }, sessionHeaders(sid));
  assert.equal(ack.status, 202);
  return { sid, capabilities: result.capabilities };
}

// GET on the session: { res, messages (parsed data of each event so far), ended, close() }.
async function listen(server, sid, headers = {}) {
  const abort = new AbortController();
  const res = await fetch(server.url, { headers: { accept: 'text/event-stream', ...sessionHeaders(sid), ...headers },
                                        signal: abort.signal });
  const stream = { res, messages: [], ended: false, close: () => abort.abort() };
  if (res.status !== 200) {
    await res.body?.cancel();
    return stream;
  }
  (async () => {
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += Buffer.from(chunk).toString('utf8');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data) stream.messages.push(JSON.parse(data));
        }
      }
    } catch { /* aborted */ }
    stream.ended = true;
  })();
  return stream;
}

const tooljail = (...args) => execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const changes = (stream) => stream.messages.filter((m) => m.method === LIST_CHANGED && m.jsonrpc === '2.0').length;

test('the SDK client hears list_changed after a reload and the kill switch; so does a raw GET stream, once each', async () => {
  const server = await start('sdk', ['--metrics-listen', '127.0.0.1:0']);
  const client = new Client({ name: 'tooljail-push', version: '1.0.0' });
  let notified = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { notified++; });
  try {
    // The SDK opens its GET stream after notifications/initialized, in the background: its
    // fetch tells when the server has answered it.
    let getStatus;
    const fetchSeen = async (url, init) => {
      const res = await fetch(url, init);
      if (init?.method === 'GET') getStatus = res.status;
      return res;
    };
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch: fetchSeen }));
    assert.equal(client.getServerCapabilities().tools.listChanged, true);
    await waitFor(() => getStatus !== undefined, 'the SDK\'s GET stream', server.stderr);
    assert.equal(getStatus, 200);
    const raw = await rawSession(server);
    assert.equal(raw.capabilities.tools.listChanged, true);
    const stream = await listen(server, raw.sid);
    assert.equal(stream.res.status, 200);
    assert.match(stream.res.headers.get('content-type'), /^text\/event-stream/);
    // One stream per session: the spec forbids sending a message on two.
    const second = await listen(server, raw.sid);
    assert.equal(second.res.status, 409);

    editDescription(server.tools, 'git_log', 'Show the commit log (changed for the push test).');
    server.proc.kill('SIGHUP');
    await waitFor(() => notified === 1 && changes(stream) === 1, 'list_changed after SIGHUP', server.stderr);
    const listed = (await client.listTools()).tools.find((t) => t.name === 'git_log');
    assert.match(listed.description, /changed for the push test/);

    // A reload that changes nothing visible announces nothing.
    server.proc.kill('SIGHUP');
    await waitFor(() => (server.stderr().match(/\(list unchanged\)/g) || []).length === 1, 'the second reload', server.stderr);
    // An operator sees both reloads and the one drift in /metrics.
    const metrics = server.stderr().match(/serving metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/)[1];
    const lines = (await (await fetch(metrics)).text()).split('\n');
    assert.ok(lines.includes('tooljail_reloads_total{result="ok"} 2'), lines.join('\n'));
    assert.ok(lines.includes('tooljail_tool_drift_total 1'), lines.join('\n'));

    tooljail('tools', 'disable', 'git_log', '--state', server.state);
    await waitFor(() => notified === 2 && changes(stream) === 2, 'list_changed after the kill switch', server.stderr);
    assert.ok(!(await client.listTools()).tools.some((t) => t.name === 'git_log'));
    await sleep(300);
    assert.equal(notified, 2, 'each change is sent once');
    assert.equal(changes(stream), 2);
    assert.equal(stream.ended, false);

    // DELETE ends the session and its stream.
    const del = await fetch(server.url, { method: 'DELETE', headers: sessionHeaders(raw.sid) });
    assert.equal(del.status, 204);
    await waitFor(() => stream.ended, 'the GET stream to end after DELETE', server.stderr);
    const gone = await listen(server, raw.sid);
    assert.equal(gone.res.status, 404);
  } finally {
    await client.close();
    const exit = await stopHttpServer(server);
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
  }
});

test('a client scoped to some tools is told only of changes to its own list', async () => {
  const file = join(dir, 'tokens', 'tokens.json');
  const token = {};
  for (const [client, tools] of [['reader', 'read_file'], ['admin', '*']]) {
    token[client] = tooljail('token', 'create', '--client', client, '--tools', tools, '--auth', file).trim();
  }
  const server = await start('scoped', ['--auth', file]);
  try {
    const streams = {};
    for (const client of ['reader', 'admin']) {
      const auth = { authorization: `Bearer ${token[client]}` };
      const init = await post(server, { jsonrpc: '2.0', id: 1, method: 'initialize',
                                        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: client, version: '1' } } }, auth);
      assert.equal(init.status, 200);
      streams[client] = await listen(server, init.headers.get('mcp-session-id'), auth);
      assert.equal(streams[client].res.status, 200);
    }
    // git_log is outside the reader's scope.
    editDescription(server.tools, 'git_log', 'Show the commit log (changed for the scope test).');
    server.proc.kill('SIGHUP');
    await waitFor(() => changes(streams.admin) === 1, 'list_changed to admin', server.stderr);
    // read_file is in both.
    tooljail('tools', 'disable', 'read_file', '--state', server.state);
    await waitFor(() => changes(streams.admin) === 2 && changes(streams.reader) === 1, 'list_changed to both', server.stderr);
    assert.equal(changes(streams.reader), 1, 'the reader heard nothing of git_log');
    for (const s of Object.values(streams)) s.close();
  } finally {
    await stopHttpServer(server);
  }
});

test('GET: 405 without a session, 404 for an unknown one, 406 without text/event-stream, 400 for a bad version', async () => {
  const server = await start('rules');
  try {
    const none = await fetch(server.url, { headers: { accept: 'text/event-stream' } });
    assert.equal(none.status, 405);
    assert.match(none.headers.get('allow'), /GET/);
    assert.equal((await none.json()).error.code, -32600);
    const unknown = await fetch(server.url, { headers: { accept: 'text/event-stream', ...sessionHeaders('f'.repeat(32)) } });
    assert.equal(unknown.status, 404);
    const { sid } = await rawSession(server);
    const json = await fetch(server.url, { headers: { accept: 'application/json', ...sessionHeaders(sid) } });
    assert.equal(json.status, 406);
    const version = await fetch(server.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid,
                                                         'mcp-protocol-version': '1999-01-01' } });
    assert.equal(version.status, 400);
  } finally {
    await stopHttpServer(server);
  }
});

test('--max-get-streams bounds the open streams (503 with Retry-After); a closed one frees its slot', async () => {
  const server = await start('cap', ['--max-get-streams', '1']);
  try {
    const a = await rawSession(server);
    const b = await rawSession(server);
    const first = await listen(server, a.sid);
    assert.equal(first.res.status, 200);
    const refused = await listen(server, b.sid);
    assert.equal(refused.res.status, 503);
    assert.equal(refused.res.headers.get('retry-after'), '5');
    // The session works without a stream.
    const list = await post(server, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, sessionHeaders(b.sid));
    assert.equal(list.status, 200);
    first.close();
    let again;
    for (let i = 0; i < 50; i++) {  // the server notices the close at its next tick
      again = await listen(server, b.sid);
      if (again.res.status === 200) break;
      await sleep(100);
    }
    assert.equal(again.res.status, 200);
    again.close();
  } finally {
    await stopHttpServer(server);
  }
});

test('an open GET stream does not hold up the SIGTERM drain; the stream ends with the server', async () => {
  const server = await start('drain', ['--drain-timeout', '60']);
  const { sid } = await rawSession(server);
  const stream = await listen(server, sid);
  assert.equal(stream.res.status, 200);
  const started = Date.now();
  const exit = await stopHttpServer(server);
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
  assert.ok(Date.now() - started < 30000, `the drain waited ${Date.now() - started} ms for an idle GET stream`);
  await waitFor(() => stream.ended, 'the GET stream to end', server.stderr);
});

test('--max-get-streams 0: GET is 405 and sessions are not offered listChanged', async () => {
  const server = await start('off', ['--max-get-streams', '0']);
  try {
    const { sid, capabilities } = await rawSession(server);
    assert.equal(capabilities.tools.listChanged, false);
    const get = await fetch(server.url, { headers: { accept: 'text/event-stream', ...sessionHeaders(sid) } });
    assert.equal(get.status, 405);
    assert.doesNotMatch(get.headers.get('allow'), /GET/);
  } finally {
    await stopHttpServer(server);
  }
});
