// Drives `tooljail serve --http` (MCP Streamable HTTP, 2025-11-25) with the official MCP
// TypeScript SDK client, plus raw fetch() checks of the transport rules the SDK never breaks.
// The server listens on 127.0.0.1 port 0 and prints the bound URL on stderr. Run by ctest
// (tests/CMakeLists.txt) with TOOLJAIL_BINARY set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { binary, makeRepo, sandboxedPythons, sleep, startHttpServer, stopHttpServer, text, waitForNoPythons } from './fixture.mjs';

let repo;
let server;  // { proc, url, stdout(), stderr(), exited }
let client;
let transport;

const startServer = (extraArgs = []) => startHttpServer(repo, extraArgs);
const stopServer = stopHttpServer;

before(async () => {
  repo = makeRepo('tooljail-http-');

  server = await startServer();
  client = new Client({ name: 'tooljail-http-test', version: '1.0.0' });
  transport = new StreamableHTTPClientTransport(new URL(server.url));
  await client.connect(transport);
});

after(async () => {
  await client?.close();
  const exit = await stopServer(server);
  if (repo) rmSync(repo, { recursive: true, force: true });
  assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM ends the server with status 0:\n${server?.stderr()}`);
});

const call = (name, args = {}, options) => client.callTool({ name, arguments: args }, undefined, options);
// ---- raw HTTP helpers ----

const ACCEPT = 'application/json, text/event-stream';
const initializeBody = (id = 1) => ({
  jsonrpc: '2.0', id, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

function post(body, headers = {}, url = server.url) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

// A fresh session over raw HTTP (initialize + initialized); returns its id.
async function rawSession() {
  const res = await post(initializeBody());
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const sid = res.headers.get('mcp-session-id');
  assert.match(sid ?? '', /^[0-9a-f]{32}$/);
  const body = await res.json();
  assert.equal(body.result.protocolVersion, '2025-11-25');
  const ack = await post({ jsonrpc: '2.0', method: 'notifications/initialized' },
                         { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
  assert.equal(ack.status, 202);
  return sid;
}

const sessionHeaders = (sid) => ({ 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });

// ---- the SDK client ----

test('initialize over HTTP negotiates the current protocol and opens a session', () => {
  const info = client.getServerVersion();
  assert.equal(info.name, 'tooljail');
  assert.ok(client.getServerCapabilities().tools);
  assert.match(client.getInstructions() ?? '', /read-only at \/workspace/);
  assert.match(transport.sessionId ?? '', /^[0-9a-f]{32}$/);
  assert.equal(transport.protocolVersion, '2025-11-25');
});

test('tools/list has every shipped tool', async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['git_diff', 'git_log', 'git_show', 'git_status', 'list_directory',
                           'read_file', 'run_command', 'run_python', 'search_text']);
  for (const tool of tools) assert.equal(tool.annotations.readOnlyHint, true, tool.name);
});

test('list_directory and git_status see the workspace', async () => {
  const listing = await call('list_directory');
  assert.equal(listing.isError, false, text(listing));
  assert.match(text(listing), /README\.md/);
  assert.equal(listing.structuredContent.status, 'success');
  const status = await call('git_status');
  assert.equal(status.isError, false, text(status));
  assert.match(text(status), /M README\.md/);
});

test('bad arguments are VALIDATION_ERROR results', async () => {
  const escape = await call('read_file', { path: '../../etc/passwd' });
  assert.equal(escape.isError, true);
  assert.equal(escape.structuredContent.error.code, 'VALIDATION_ERROR');
  assert.equal(escape.structuredContent.error.argument, 'path');
});

test('an unknown tool is a JSON-RPC error', async () => {
  await assert.rejects(call('no_such_tool'), (e) => e instanceof McpError && e.code === -32602);
});

test('progress notifications stream over SSE while a call runs', async () => {
  const updates = [];
  const result = await call('run_python',
    { code: 'import time\nfor i in range(3):\n    print("step", i, flush=True)\n    time.sleep(0.8)\n' },
    { onprogress: (p) => updates.push(p) });
  assert.equal(result.isError, false, text(result));
  assert.ok(updates.length >= 2, `got ${updates.length} progress notifications`);
  for (let i = 1; i < updates.length; i++) assert.ok(updates[i].progress > updates[i - 1].progress);
  assert.match(updates.map((u) => u.message).join('\n'), /step 0/);
});

test('cancelling a call kills its run and the session keeps serving', async () => {
  const controller = new AbortController();
  const pending = call('run_python', { code: 'import time\ntime.sleep(60)' }, { signal: controller.signal });
  await sleep(700);
  assert.ok(sandboxedPythons().length >= 1, 'the run started');
  controller.abort('test cancels');
  await assert.rejects(pending);
  await client.ping();
  const after = await call('list_directory');
  assert.equal(after.isError, false);
  await waitForNoPythons();
});

test('calls run in parallel', async () => {
  // Four sleepers of decreasing length started together finish shortest-first only if they
  // ran at the same time.
  const order = [];
  const sleeps = [2.0, 1.5, 1.0, 0.5];
  await Promise.all(sleeps.map((s) =>
    call('run_python', { code: `import time; time.sleep(${s}); print(${s})` }).then((r) => {
      assert.equal(r.isError, false, text(r));
      order.push(s);
    })));
  assert.deepEqual(order, [0.5, 1.0, 1.5, 2.0]);
});

test('a slow call does not block ping or other calls', async () => {
  const slow = call('run_python', { code: 'import time; time.sleep(3); print("slow done")' });
  let slowDone = false;
  slow.then(() => { slowDone = true; });
  await client.ping();
  const quick = await call('list_directory');
  assert.equal(quick.isError, false);
  assert.equal(slowDone, false, 'ping and a quick call returned while the slow call still ran');
  assert.match(text(await slow), /slow done/);
});

// ---- raw HTTP: the transport rules ----

test('tools/call answers with an SSE stream: headers, events, then the end', async () => {
  const sid = await rawSession();
  const res = await post({ jsonrpc: '2.0', id: 7, method: 'tools/call',
                           params: { name: 'list_directory', arguments: {}, _meta: { progressToken: 'p' } } },
                         sessionHeaders(sid));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  assert.equal(res.headers.get('x-accel-buffering'), 'no');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const body = await res.text();
  const events = body.split('\n\n').filter((e) => e.startsWith('event: message\ndata: '));
  const messages = events.map((e) => JSON.parse(e.slice('event: message\ndata: '.length)));
  const last = messages.at(-1);
  assert.equal(last.id, 7);
  assert.equal(last.result.isError, false);
  for (const m of messages.slice(0, -1)) assert.equal(m.method, 'notifications/progress');
});

test('quick requests answer with one JSON body', async () => {
  const sid = await rawSession();
  const res = await post({ jsonrpc: '2.0', id: 'a', method: 'ping' }, sessionHeaders(sid));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 'a', result: {} });
});

test('a POST whose Accept does not list both types is 406', async () => {
  const res = await fetch(server.url, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(initializeBody()),
  });
  assert.equal(res.status, 406);
  const jsonOnly = await post(initializeBody(), { accept: 'application/json' });
  assert.equal(jsonOnly.status, 406);
});

test('a foreign Origin is 403; the listener\'s own origin is accepted', async () => {
  const evil = await post(initializeBody(), { origin: 'http://evil.example.com' });
  assert.equal(evil.status, 403);
  assert.equal((await evil.json()).error.code, -32600);
  const port = new URL(server.url).port;
  const own = await post(initializeBody(), { origin: `http://localhost:${port}` });
  assert.equal(own.status, 200);
});

test('a request without a session id after initialize is 400; an unknown one is 404', async () => {
  await rawSession();
  const missing = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  assert.equal(missing.status, 400);
  const unknown = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' },
                             { 'mcp-session-id': '0123456789abcdef0123456789abcdef' });
  assert.equal(unknown.status, 404);
});

test('an unsupported MCP-Protocol-Version is 400; a missing one is accepted', async () => {
  const sid = await rawSession();
  for (const version of ['2099-01-01', '2000-01-01', 'invalid-protocol-version']) {
    const res = await post({ jsonrpc: '2.0', id: 3, method: 'tools/list' },
                           { 'mcp-session-id': sid, 'mcp-protocol-version': version });
    assert.equal(res.status, 400, version);
  }
  const absent = await post({ jsonrpc: '2.0', id: 4, method: 'ping' }, { 'mcp-session-id': sid });
  assert.equal(absent.status, 200);
});

test('a body over 4 MiB is 413 and the server keeps serving', async () => {
  const sid = await rawSession();
  const big = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping', params: { pad: 'x'.repeat(5 << 20) } });
  const res = await post(big, sessionHeaders(sid));
  assert.equal(res.status, 413);
  const ping = await post({ jsonrpc: '2.0', id: 6, method: 'ping' }, sessionHeaders(sid));
  assert.equal(ping.status, 200);
});

test('a notification or a response gets 202 with no body', async () => {
  const sid = await rawSession();
  const note = await post({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }, sessionHeaders(sid));
  assert.equal(note.status, 202);
  assert.equal(await note.text(), '');
  const reply = await post({ jsonrpc: '2.0', id: 99, result: {} }, sessionHeaders(sid));
  assert.equal(reply.status, 202);
  // Nor is a response with id null, or none, answered (issue 16 item 11: a peer's error reply
  // answered with an error of our own can loop).
  for (const body of [{ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } },
                      { jsonrpc: '2.0', error: { code: -32600, message: 'x' } }]) {
    const res = await post(body, sessionHeaders(sid));
    assert.equal(res.status, 202, JSON.stringify(body));
    assert.equal(await res.text(), '');
  }
});

// issue 16 item 12: ids are unique among the session's requests not yet answered. A request that
// reuses one, whatever its method, is 400 with id null: the only response carrying the id is
// the call's own.
test('a request reusing the id of a call in progress is 400 with id null, whatever its method', async () => {
  const sid = await rawSession();
  const res = await post({ jsonrpc: '2.0', id: 20, method: 'tools/call',
                           params: { name: 'run_python', arguments: { code: 'import time; time.sleep(1.5); print("first")' } } },
                         sessionHeaders(sid));
  assert.equal(res.status, 200);
  await sleep(300);
  for (const body of [{ jsonrpc: '2.0', id: 20, method: 'ping' },
                      { jsonrpc: '2.0', id: 20, method: 'tools/list' },
                      { jsonrpc: '2.0', id: 20, method: 'tools/call', params: { name: 'list_directory', arguments: {} } }]) {
    const again = await post(body, sessionHeaders(sid));
    assert.equal(again.status, 400, body.method);
    const refused = await again.json();
    assert.equal(refused.id, null);
    assert.equal(refused.error.code, -32600);
    assert.equal(refused.error.data.id, 20);
  }
  const events = (await res.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
  assert.deepEqual(events.filter((e) => e.id === 20).length, 1);
  assert.match(JSON.stringify(events.at(-1)), /first/);
  // Answered, the id is free again.
  const ping = await post({ jsonrpc: '2.0', id: 20, method: 'ping' }, sessionHeaders(sid));
  assert.equal(ping.status, 200);
  assert.equal((await ping.json()).id, 20);
});

// issue 16 item 9: valid JSON that is not taken is answered with the request's id.
test('a request with a lone surrogate is 400 with -32602 and its id', async () => {
  const sid = await rawSession();
  const res = await post('{"jsonrpc":"2.0","id":21,"method":"ping","params":{"s":"\\udfff"}}', sessionHeaders(sid));
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.id, 21);
  assert.equal(body.error.code, -32602);
  assert.match(body.error.message, /lone UTF-16 surrogate/);
});

test('malformed JSON is 400 with a parse error', async () => {
  const sid = await rawSession();
  const res = await post('{"jsonrpc":', sessionHeaders(sid));
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, -32700);
});

test('DELETE ends the session: reuse is 404, a second DELETE is 404', async () => {
  const sid = await rawSession();
  const del = await fetch(server.url, { method: 'DELETE', headers: sessionHeaders(sid) });
  assert.ok(del.status >= 200 && del.status < 300, `DELETE gave ${del.status}`);
  const reuse = await post({ jsonrpc: '2.0', id: 2, method: 'ping' }, sessionHeaders(sid));
  assert.equal(reuse.status, 404);
  const again = await fetch(server.url, { method: 'DELETE', headers: sessionHeaders(sid) });
  assert.equal(again.status, 404);
});

test('DELETE cancels the session\'s running calls', async () => {
  const sid = await rawSession();
  const res = await post({ jsonrpc: '2.0', id: 8, method: 'tools/call',
                           params: { name: 'run_python', arguments: { code: 'import time\ntime.sleep(60)' } } },
                         sessionHeaders(sid));
  assert.equal(res.status, 200);
  await sleep(700);
  assert.ok(sandboxedPythons().length >= 1, 'the run started');
  const del = await fetch(server.url, { method: 'DELETE', headers: sessionHeaders(sid) });
  assert.equal(del.status, 204);
  // The stream ends without a response.
  assert.doesNotMatch(await res.text(), /"id":8/);
  await waitForNoPythons();
});

test('notifications/cancelled over raw HTTP ends the stream without a response', async () => {
  const sid = await rawSession();
  const res = await post({ jsonrpc: '2.0', id: 9, method: 'tools/call',
                           params: { name: 'run_python', arguments: { code: 'import time\ntime.sleep(60)' } } },
                         sessionHeaders(sid));
  await sleep(700);
  const cancel = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 9 } },
                            sessionHeaders(sid));
  assert.equal(cancel.status, 202);
  assert.doesNotMatch(await res.text(), /"id":9/);
  await waitForNoPythons();
});

test('a client that drops the response stream has its call cancelled', async () => {
  const sid = await rawSession();
  const controller = new AbortController();
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...sessionHeaders(sid) },
    body: JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'tools/call',
                           params: { name: 'run_python', arguments: { code: 'import time\ntime.sleep(60)' } } }),
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  await sleep(700);
  assert.ok(sandboxedPythons().length >= 1, 'the run started');
  controller.abort();
  await waitForNoPythons();
  const ping = await post({ jsonrpc: '2.0', id: 11, method: 'ping' }, sessionHeaders(sid));
  assert.equal(ping.status, 200);
});

test('sessions are isolated: one session cannot cancel another\'s call', async () => {
  const a = await rawSession();
  const b = await rawSession();
  const res = await post({ jsonrpc: '2.0', id: 12, method: 'tools/call',
                           params: { name: 'run_python', arguments: { code: 'import time; time.sleep(1.5); print("kept")' } } },
                         sessionHeaders(a));
  await sleep(300);
  const cancel = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 12 } },
                            sessionHeaders(b));
  assert.equal(cancel.status, 202);
  assert.match(await res.text(), /kept/);
});

test('a run\'s kept output is readable only from the session that made the call', async () => {
  const big = await call('run_python', { code: 'print("y" * 100000)' });
  const uri = big.structuredContent.stdout_resource;
  assert.match(uri ?? '', /^tooljail:\/\/runs\/.+\/stdout$/);
  const page = await client.readResource({ uri: `${uri}?offset=65536` });
  assert.equal(page.contents[0].text.length, 100001 - 65536);

  const other = new Client({ name: 'tooljail-http-other', version: '1.0.0' });
  await other.connect(new StreamableHTTPClientTransport(new URL(server.url)));
  try {
    await assert.rejects(other.readResource({ uri }), (e) => e instanceof McpError && e.code === -32002);
    const { resources } = await other.listResources();
    assert.equal(resources.some((r) => r.uri.startsWith('tooljail://runs/')), false);
    assert.ok(resources.some((r) => r.uri === 'tooljail://policies/default'));
  } finally {
    await other.close();
  }
});

test('the SDK client can terminate its session', async () => {
  const c = new Client({ name: 'terminator', version: '1.0.0' });
  const t = new StreamableHTTPClientTransport(new URL(server.url));
  await c.connect(t);
  const sid = t.sessionId;
  await t.terminateSession();
  const reuse = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, sessionHeaders(sid));
  assert.equal(reuse.status, 404);
  await c.close();
});

// ---- process behaviour ----

test('a non-loopback listen address is refused', () => {
  let failure;
  try {
    execFileSync(binary, ['serve', '--http', '0.0.0.0:0', '--workspace', repo], { stdio: 'pipe' });
  } catch (e) { failure = e; }
  assert.ok(failure, 'tooljail refused to start');
  assert.equal(failure.status, 125);
  assert.match(failure.stderr.toString(), /non-loopback/);
});

test('sessions are capped at 256 in all: a client holding all of them makes room among its own', async () => {
  // One client (this process's uid) may hold the whole table here. Its 257th initialize ends
  // its own least recently used session rather than being refused: a client is never locked out
  // by its own abandoned sessions. The 503 with Retry-After of a table full of several clients'
  // sessions is in http_sessions.test.mjs.
  const s = await startServer(['--max-client-sessions', '256']);
  try {
    const open = (id) => post(initializeBody(id), {}, s.url);
    const ping = async (sid) => {
      const res = await post({ jsonrpc: '2.0', id: 7, method: 'ping' }, sessionHeaders(sid), s.url);
      await res.body?.cancel();
      return res.status;
    };
    const sids = [];
    for (let i = 0; i < 256; i += 32) {
      const batch = await Promise.all([...Array(32).keys()].map((j) => open(i + j)));
      for (const res of batch) {
        assert.equal(res.status, 200);
        sids.push(res.headers.get('mcp-session-id'));
        await res.body?.cancel();
      }
    }
    assert.equal(new Set(sids).size, 256, 'session ids are unique');
    const more = await open(999);
    assert.equal(more.status, 200);
    await more.body?.cancel();
    // The one that made room is among the first batch (opened at the same moment).
    const first = await Promise.all(sids.slice(0, 32).map(ping));
    assert.equal(first.filter((status) => status === 404).length, 1, JSON.stringify(first));
    assert.equal(await ping(sids[255]), 200);
    const del = await fetch(s.url, { method: 'DELETE', headers: { 'mcp-session-id': sids[255] } });
    assert.equal(del.status, 204);
    assert.equal(await ping(sids[255]), 404);
  } finally {
    assert.deepEqual(await stopServer(s), { code: 0, signal: null });
  }
});

test('SIGTERM with --drain-timeout 0 stops the server with status 0 and kills in-flight runs; stdout stays empty', async () => {
  const s = await startServer(['--drain-timeout', '0']);
  const c = new Client({ name: 'sigterm', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(s.url)));
  const pending = c.callTool({ name: 'run_python', arguments: { code: 'import time\ntime.sleep(60)' } });
  pending.catch(() => {});
  await sleep(700);
  assert.ok(sandboxedPythons().length >= 1, 'the run started');
  s.proc.kill('SIGTERM');
  assert.deepEqual(await s.exited, { code: 0, signal: null });
  assert.equal(s.stdout(), '');
  await waitForNoPythons();
  await c.close();
});
