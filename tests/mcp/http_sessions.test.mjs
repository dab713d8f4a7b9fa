// The session table of `tooljail serve --http` (docs/ADMISSION.md, "Sessions"), with raw fetch():
// one client flooding initialize holds only its own share (per token client with --auth, per
// socket owner without), a full table is 503 with Retry-After, and sessions end when unused,
// idle or at their lifetime, which no stream of pings or requests extends (issue 16 item 1).
// Run by ctest (tests/CMakeLists.txt) with TOOLJAIL_BINARY set; every server here writes its
// own record store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, makeRepo, sleep, startHttpServer, stopHttpServer } from './fixture.mjs';

const ACCEPT = 'application/json, text/event-stream';
const NOBODY = 65534;

let repo;
let scratch;
let tokens;
const token = {};
const servers = [];

before(() => {
  repo = makeRepo('tooljail-sessions-');
  scratch = mkdtempSync(join(tmpdir(), 'tooljail-sessions-store-'));
  tokens = join(scratch, 'etc', 'tokens.json');
  for (const [client, tools] of [['flood', 'read_file'], ['other', '*'], ['third', 'read_file']]) {
    const created = spawnSync(binary, ['token', 'create', '--client', client, '--tools', tools, '--auth', tokens],
                              { encoding: 'utf8' });
    assert.equal(created.status, 0, created.stderr);
    token[client] = created.stdout.trim();
  }
});

after(async () => {
  for (const s of servers) {
    const exit = await stopHttpServer(s);
    assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM ends the server with status 0:\n${s.stderr()}`);
  }
  if (repo) rmSync(repo, { recursive: true, force: true });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

async function start(name, args) {
  const server = await startHttpServer(repo, ['--records', join(scratch, `records-${name}`),
                                              '--metrics-listen', '127.0.0.1:0', ...args]);
  server.metrics = server.stderr().match(/serving metrics at (http:\/\/127\.0\.0\.1:\d+)\/metrics/)?.[1];
  for (let i = 0; i < 50 && !server.metrics; i++) {
    await sleep(100);
    server.metrics = server.stderr().match(/serving metrics at (http:\/\/127\.0\.0\.1:\d+)\/metrics/)?.[1];
  }
  assert.ok(server.metrics, server.stderr());
  servers.push(server);
  return server;
}

async function metric(server, series) {
  const text = await (await fetch(`${server.metrics}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const sessionHeaders = (sid) => ({ 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
const bearer = (name) => (name ? { authorization: `Bearer ${token[name]}` } : {});
const post = (server, body, headers = {}) => fetch(server.url, {
  method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers }, body: JSON.stringify(body),
});
const initializeBody = (id = 1) => ({
  jsonrpc: '2.0', id, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
// One initialize: { status, sid, headers, body }.
async function initialize(server, client, id = 1) {
  const res = await post(server, initializeBody(id), bearer(client));
  return { status: res.status, sid: res.headers.get('mcp-session-id'), headers: res.headers, body: await res.json() };
}
// A request on a session: its HTTP status (the body read and dropped).
async function request(server, client, sid, method, id = 2) {
  const res = await post(server, { jsonrpc: '2.0', id, method, params: {} }, { ...bearer(client), ...sessionHeaders(sid) });
  await res.body?.cancel();
  return res.status;
}
// n initializes of one client, 32 at a time (the flood took 0.5 s for 256).
async function flood(server, client, n) {
  const out = [];
  for (let i = 0; i < n; i += 32) {
    const batch = await Promise.all([...Array(Math.min(32, n - i)).keys()].map((j) => initialize(server, client, i + j)));
    out.push(...batch);
  }
  return out;
}

function assertBusy(res, status) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After: ${res.headers.get('retry-after')}`);
  assert.equal(res.body.error.code, -32001);
  assert.equal(res.body.error.data.code, 'RATE_LIMITED');
  assert.equal(res.body.error.data.retry_after, retry);
  assert.equal(res.body.id, 1, 'the refusal carries the id of the initialize');
  return retry;
}

test('a token client flooding initialize churns through its own share; the others still get sessions', async () => {
  const server = await start('flood', ['--auth', tokens]);
  // The issue: 256 initialize POSTs of a client allowed only read_file took every session.
  const flooded = await flood(server, 'flood', 256);
  assert.ok(flooded.every((r) => r.status === 200), 'each initialize of the flood is answered');
  const other = await initialize(server, 'other');
  assert.equal(other.status, 200, JSON.stringify(other.body));
  assert.equal(await request(server, 'other', other.sid, 'tools/list'), 200);
  // The flooder kept its 16 most recent sessions; the older ones made room for them.
  assert.equal(await request(server, 'flood', flooded[255].sid, 'ping'), 200);
  assert.equal(await request(server, 'flood', flooded[0].sid, 'ping'), 404);
  assert.equal(await metric(server, 'tooljail_http_sessions'), 17);
  assert.equal(await metric(server, 'tooljail_http_sessions_ended_total{reason="evicted"}'), 240);
});

test('a full table is 503 with Retry-After and the request id; it never takes another client\'s session', async () => {
  const server = await start('full', ['--auth', tokens, '--max-sessions', '4', '--max-client-sessions', '2']);
  const a = await flood(server, 'flood', 2);
  const b = await flood(server, 'other', 2);
  assert.ok([...a, ...b].every((r) => r.status === 200));
  const refused = await initialize(server, 'third');
  const retry = assertBusy(refused, 503);
  // Nobody used a session yet: the first to expire is an unused one, 300 s after it opened.
  assert.ok(retry >= 290 && retry <= 300, `Retry-After ${retry}`);
  assert.match(refused.body.error.message, /too many sessions/);
  for (const r of [...a, ...b]) assert.equal(await request(server, r === a[0] || r === a[1] ? 'flood' : 'other', r.sid, 'ping'), 200);
  // A client at its own cap makes room among its own sessions.
  const again = await initialize(server, 'other');
  assert.equal(again.status, 200);
  assert.equal(await request(server, 'other', b[0].sid, 'ping'), 404);
  assert.equal(await request(server, 'flood', a[0].sid, 'ping'), 200);
  assert.equal(await metric(server, 'tooljail_refusals_total{reason="session_cap_server"}'), 1);
  assert.match(server.stderr(), /initialize refused: 4 sessions open/);
});

test('serve refuses --max-client-sessions above --max-sessions', () => {
  const run = spawnSync(binary, ['serve', '--http', '127.0.0.1:0', '--workspace', repo, '--max-sessions', '4',
                                 '--max-client-sessions', '8'], { encoding: 'utf8' });
  assert.equal(run.status, 125);
  assert.match(run.stderr, /--max-client-sessions 8 is above --max-sessions 4/);
});

// The client as another local user: a node child with uid 65534 sends one initialize.
function initializeAsNobody(server) {
  const code = `const res = await fetch(${JSON.stringify(server.url)}, { method: 'POST',
    headers: { 'content-type': 'application/json', accept: '${ACCEPT}' },
    body: JSON.stringify(${JSON.stringify(initializeBody())}) });
  await res.text();
  console.log(res.status);`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', code],
                          { uid: NOBODY, gid: NOBODY, cwd: '/', encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return Number(child.stdout.trim());
}

test('without --auth a client is the uid owning its socket: one local user cannot take every session',
     { skip: process.getuid() !== 0 && 'needs root to connect as another user' }, async () => {
  const server = await start('anon', ['--max-sessions', '8', '--max-client-sessions', '4']);
  // Source addresses are the flooder's to choose (any of 127.0.0.0/8), its uid is not.
  const flooded = await flood(server, null, 40);
  assert.ok(flooded.every((r) => r.status === 200));
  assert.equal(await metric(server, 'tooljail_http_sessions'), 4);
  assert.equal(initializeAsNobody(server), 200);
  // Another client's session: none of root's made room for it.
  assert.equal(await metric(server, 'tooljail_http_sessions'), 5);
  assert.equal(await metric(server, 'tooljail_http_sessions_ended_total{reason="evicted"}'), 36);
  assert.equal(await request(server, null, flooded[39].sid, 'ping'), 200);
  assert.equal(await request(server, null, flooded[0].sid, 'ping'), 404);
});

// GET on the session; resolves when the server ends the stream (or after `limitMs`: false).
async function streamEnds(server, sid, limitMs) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), limitMs);
  try {
    const res = await fetch(server.url, { headers: { accept: 'text/event-stream', ...sessionHeaders(sid) }, signal: abort.signal });
    assert.equal(res.status, 200);
    for await (const chunk of res.body) void chunk;
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

test('sessions end unused, idle and at their lifetime, whatever pings and requests they send; a running call finishes first', async () => {
  const server = await start('expiry', ['--session-idle', '2', '--session-lifetime', '6']);
  // Each session with when its initialize was sent (the server opened it after) and answered.
  const open = async () => {
    const sent = Date.now();
    const r = await initialize(server, null);
    assert.equal(r.status, 200);
    const ack = await post(server, { jsonrpc: '2.0', method: 'notifications/initialized' }, sessionHeaders(r.sid));
    assert.equal(ack.status, 202);
    return { sid: r.sid, sent, answered: Date.now() };
  };
  const since = (t) => Date.now() - t;
  const until = (t, ms) => sleep(Math.max(0, ms - since(t)));
  const [unused, busy, idle, streaming, calling] = [await open(), await open(), await open(), await open(), await open()];
  for (const s of [busy, idle, streaming, calling]) assert.equal(await request(server, null, s.sid, 'tools/list'), 200);
  const listedIdle = Date.now();
  const stream = (async () => {
    const ended = await streamEnds(server, streaming.sid, 20000);
    return { ended, after: since(streaming.sent) };
  })();

  // Pings every 400 ms keep neither a session that never asked for anything (unused: 2 s after
  // it opened) nor a used one beyond its lifetime (6 s).
  const pinger = async (s) => {
    let pings = 0;
    for (;;) {
      const status = await request(server, null, s.sid, 'ping');
      if (status === 404) return { after: since(s.sent), pings };
      assert.equal(status, 200);
      assert.ok(since(s.answered) < 10000, 'the session is still there after 10 s');
      pings++;
      await sleep(400);
    }
  };
  // Without requests a used session goes idle (2 s after its last one).
  const idleEnd = (async () => {
    await until(listedIdle, 2500);
    return request(server, null, idle.sid, 'ping');
  })();
  // A call running across the lifetime still gets its result; the session ends after it.
  const call = (async () => {
    while (since(calling.answered) < 4000) {
      assert.equal(await request(server, null, calling.sid, 'ping'), 200);
      await sleep(400);
    }
    const res = await post(server, { jsonrpc: '2.0', id: 9, method: 'tools/call',
                                     params: { name: 'run_python', arguments: { code: 'import time\ntime.sleep(3)\nprint("done")' } } },
                           sessionHeaders(calling.sid));
    assert.equal(res.status, 200);
    const body = await res.text();
    return { after: since(calling.sent), body };
  })();
  const [unusedEnd, busyEnd] = await Promise.all([pinger(unused), pinger(busy)]);
  assert.ok(unusedEnd.after >= 2000, `the pinged unused session ended ${unusedEnd.after} ms after it opened`);
  assert.ok(busyEnd.after >= 6000, `the pinged used session ended ${busyEnd.after} ms after it opened`);
  assert.ok(busyEnd.pings > unusedEnd.pings);
  assert.equal(await idleEnd, 404, 'a used session without requests went idle');
  const streamed = await stream;
  assert.equal(streamed.ended, true, 'the GET stream ended with its session\'s lifetime');
  assert.ok(streamed.after >= 6000, `the GET stream ended ${streamed.after} ms after its session opened`);
  assert.equal(await request(server, null, streaming.sid, 'ping'), 404);
  const called = await call;
  assert.ok(called.after >= 7000, `the call ended ${called.after} ms after its session opened`);
  assert.match(called.body, /done/);
  assert.match(called.body, /"isError":false/);
  assert.equal(await request(server, null, calling.sid, 'ping'), 404);
  for (const [why, n] of [['unused', 1], ['idle', 1], ['lifetime', 3]])
    assert.equal(await metric(server, `tooljail_http_sessions_ended_total{reason="${why}"}`), n, why);
});
