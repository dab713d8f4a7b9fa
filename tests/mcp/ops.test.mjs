// Operations of `tooljail serve` (docs/OPERATIONS.md): /healthz, the --metrics-listen listener
// and its Prometheus text, and the SIGTERM drain over HTTP (the drain timeout cancels what is
// left) and stdio (a second SIGTERM cancels at once). Every run's record must end finished,
// never interrupted. Run by ctest (tests/CMakeLists.txt) with TOOLJAIL_BINARY set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { binary, makeRepo, sandboxedPythons, sleep, startHttpServer, stopHttpServer, text } from './fixture.mjs';

let repo;
let scratch;

before(() => {
  repo = makeRepo('tooljail-ops-');
  scratch = mkdtempSync(join(tmpdir(), 'tooljail-ops-store-'));
});

after(() => {
  for (const dir of [repo, scratch]) if (dir) rmSync(dir, { recursive: true, force: true });
});

const runsList = (store) => {
  const listed = spawnSync(binary, ['runs', 'list', '--json', '--limit', '0', '--records', store], { encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  return JSON.parse(listed.stdout);
};
const metricsUrl = (stderr) => stderr.match(/serving metrics at (http:\/\/127\.0\.0\.1:\d+)\/metrics/)?.[1];
// run_python interpreters descending from the server `pid`: other servers on the host (other
// test trees) run theirs at the same time.
const parentOf = (p) => Number(readFileSync(`/proc/${p}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
const descends = (p, pid) => {
  try {
    for (let cur = p, i = 0; cur > 1 && i < 64; cur = parentOf(cur), i++) if (cur === pid) return true;
  } catch { /* gone */ }
  return false;
};
const pythonsOf = (pid) => sandboxedPythons().map(Number).filter((p) => descends(p, pid));
const pythonsRunning = async (pid, n) => {
  for (let i = 0; i < 100 && pythonsOf(pid).length < n; i++) await sleep(100);
  const found = pythonsOf(pid);
  assert.equal(found.length, n, `${n} runs are going`);
  return found;
};
// The runs die with the drain: none of these interpreters is left.
const allGone = async (pids) => {
  for (let i = 0; i < 50 && pids.some((p) => existsSync(`/proc/${p}`)); i++) await sleep(100);
  assert.deepEqual(pids.filter((p) => existsSync(`/proc/${p}`)), []);
};
// A failed assertion must not leave a draining server behind (node would wait for it forever).
const killLeftover = (proc) => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); };
const sleeper = (seconds, word) => ({ code: `import time; time.sleep(${seconds}); print("${word}")` });

// fetch() may not set Host; node:http does. Resolves to the status.
const statusWithHost = (url, host) => new Promise((resolve, reject) => {
  get(url, { headers: { host } }, (res) => { res.resume(); resolve(res.statusCode); }).on('error', reject);
});

const ACCEPT = 'application/json, text/event-stream';
const mcpPost = (url, body, headers = {}) => fetch(url, {
  method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers }, body: JSON.stringify(body),
});

test('healthz and the metrics listener: Prometheus text, calls and refusals counted, loopback only', async () => {
  const store = join(scratch, 'metrics');
  const server = await startHttpServer(repo, ['--records', store, '--metrics-listen', '127.0.0.1:0', '--pool-size', '0']);
  try {
    const base = new URL(server.url).origin;
    const metrics = metricsUrl(server.stderr());
    assert.ok(metrics, server.stderr());

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    const body = await health.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.ready, true);
    assert.equal(typeof body.version, 'string');
    assert.ok(Number.isInteger(body.uptime_seconds));
    // Metrics are not on the MCP listener: its clients must not read other clients' numbers.
    assert.equal((await fetch(`${base}/metrics`)).status, 404);
    assert.equal((await fetch(`${metrics}/healthz`)).status, 200);

    const client = new Client({ name: 'tooljail-ops-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    const ok = await client.callTool({ name: 'run_command', arguments: { program: 'echo', args: ['hi'] } });
    assert.equal(ok.isError, false, text(ok));
    const bad = await client.callTool({ name: 'read_file', arguments: { path: '../etc/passwd' } });
    assert.equal(bad.isError, true);
    await client.close();
    assert.equal(await statusWithHost(`${base}/healthz`, 'evil.example'), 403);

    const res = await fetch(`${metrics}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const exposition = await res.text();
    const lines = exposition.split('\n');
    assert.ok(lines.includes('tooljail_calls_total{tool="run_command",client="tooljail-ops-test",outcome="ok"} 1'), exposition);
    assert.ok(lines.includes('tooljail_run_duration_seconds_count{tool="run_command"} 1'), exposition);
    assert.ok(lines.includes('tooljail_run_duration_seconds_bucket{tool="run_command",le="+Inf"} 1'), exposition);
    assert.ok(lines.includes('tooljail_refusals_total{reason="validation_error"} 1'), exposition);
    assert.ok(lines.includes('tooljail_refusals_total{reason="forbidden"} 1'), exposition);
    assert.ok(lines.includes('tooljail_runs_in_flight 0'), exposition);
    assert.ok(lines.includes('tooljail_queue_depth 0'), exposition);
    assert.ok(lines.includes('tooljail_draining 0'), exposition);
    assert.ok(lines.includes('tooljail_warm_pool_target{tool="run_command"} 0'), exposition);
    assert.ok(lines.some((l) => /^tooljail_build_info\{version="[^"]+"\} 1$/.test(l)), exposition);
    assert.ok(lines.some((l) => /^process_start_time_seconds \d+(\.\d+)?(e\+\d+)?$/.test(l)), exposition);
    // Every sample line is NAME{labels} VALUE, under a TYPE.
    for (const l of lines.filter((x) => x && !x.startsWith('#')))
      assert.match(l, /^[a-z_]+(\{[^}]*\})? [-+0-9.e]+$/, l);

    // Loopback Host only, no Origin: a browser page cannot read it through DNS rebinding.
    assert.equal(await statusWithHost(`${metrics}/metrics`, 'evil.example:9464'), 403);
    // httplib decodes %00 to a NUL, where its header lookup used to end the value (issue 16).
    assert.equal(await statusWithHost(`${metrics}/metrics`, '127.0.0.1%00.evil.example'), 403);
    assert.equal((await fetch(`${metrics}/metrics`, { headers: { origin: 'http://evil.example' } })).status, 403);
  } finally {
    assert.deepEqual(await stopHttpServer(server), { code: 0, signal: null }, server.stderr());
  }
});

test('SIGTERM over HTTP: no new calls, healthz 503, a short call finishes, a long one is cancelled at the drain timeout and answered', async () => {
  const store = join(scratch, 'http-drain');
  const server = await startHttpServer(repo, ['--records', store, '--drain-timeout', '4']);
  try {
    const base = new URL(server.url).origin;
    const init = await mcpPost(server.url, { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'drain', version: '1' } } });
    const sid = init.headers.get('mcp-session-id');
    const session = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    assert.equal((await mcpPost(server.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status, 202);
    const callBody = (id, args) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'run_python', arguments: args } });

    const short = mcpPost(server.url, callBody(2, sleeper(2, 'short done')), session).then((r) => r.text());
    const long = mcpPost(server.url, callBody(3, sleeper(60, 'never')), session).then((r) => r.text());
    const pythons = await pythonsRunning(server.proc.pid, 2);
    const signalled = Date.now();
    server.proc.kill('SIGTERM');
    await sleep(300);

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 503);
    assert.equal((await health.json()).status, 'draining');
    const refused = await mcpPost(server.url, callBody(4, sleeper(0, 'late')), session);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    const refusal = await refused.json();
    assert.equal(refusal.id, 4);
    assert.equal(refusal.error.data.code, 'SHUTTING_DOWN');

    assert.match(await short, /"id":2.*short done/s);
    // issue 16 item 10: the call the drain timeout ends still gets its response: its run was
    // cancelled.
    const cancelled = (await long).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6))).at(-1);
    assert.equal(cancelled?.id, 3, await long);
    assert.equal(cancelled.result.isError, true);
    assert.equal(cancelled.result.structuredContent.reason, 'cancelled');
    assert.deepEqual(await server.exited, { code: 0, signal: null }, server.stderr());
    assert.ok(Date.now() - signalled >= 3500, 'the long call had the drain timeout');
    await allGone(pythons);

    const records = runsList(store).filter((r) => r.tool === 'run_python');
    assert.deepEqual(records.map((r) => `${r.status}/${r.reason}`).sort(),
                     ['failure/cancelled', 'refused/shutting_down', 'success/exit']);
  } finally {
    killLeftover(server.proc);
  }
});

test('SIGTERM over stdio: new calls get a JSON-RPC error, the short call answers, a second SIGTERM cancels and answers the rest', async () => {
  const store = join(scratch, 'stdio-drain');
  const proc = spawn(binary, ['serve', '--workspace', repo, '--records', store, '--drain-timeout', '120'],
                     { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  try {
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const replies = new Map();
    let buffered = '';
    proc.stdout.on('data', (d) => {
      buffered += d;
      for (let nl; (nl = buffered.indexOf('\n')) >= 0; buffered = buffered.slice(nl + 1)) {
        const m = JSON.parse(buffered.slice(0, nl));
        if (m.id !== undefined) replies.set(m.id, m);
      }
    });
    const reply = async (id) => {
      for (let i = 0; i < 200 && !replies.has(id); i++) await sleep(50);
      assert.ok(replies.has(id), `a reply to ${id}:\n${stderr}`);
      return replies.get(id);
    };
    const send = (m) => proc.stdin.write(JSON.stringify(m) + '\n');
    const callTool = (id, args) => send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'run_python', arguments: args } });
    send({ jsonrpc: '2.0', id: 1, method: 'initialize',
           params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'drain', version: '1' } } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await reply(1);
    callTool(2, sleeper(2, 'short done'));
    callTool(3, sleeper(60, 'never'));
    const pythons = await pythonsRunning(proc.pid, 2);

    proc.kill('SIGTERM');
    await sleep(300);
    callTool(4, sleeper(0, 'late'));
    const refused = await reply(4);
    assert.equal(refused.error.code, -32001);
    assert.equal(refused.error.data.code, 'SHUTTING_DOWN');
    const short = await reply(2);
    assert.match(text(short.result), /short done/);
    assert.equal(proc.exitCode, null, 'the long call keeps the server draining');

    proc.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null }, stderr);
    // The server ended it, not the client: it is answered (issue 16 item 10).
    const cancelled = await reply(3);
    assert.equal(cancelled.result.structuredContent.reason, 'cancelled', JSON.stringify(cancelled));
    await allGone(pythons);
    const records = runsList(store).filter((r) => r.tool === 'run_python');
    assert.deepEqual(records.map((r) => `${r.status}/${r.reason}`).sort(),
                     ['failure/cancelled', 'refused/shutting_down', 'success/exit']);
  } finally {
    killLeftover(proc);
  }
});

// issue 16 item 10: the drain timeout ends what still runs and every call is answered: the
// running one with its run's result (cancelled), the queued one with SHUTTING_DOWN (nothing ran).
test('SIGTERM over stdio: at the drain timeout the running call and the queued one still get a response', async () => {
  const store = join(scratch, 'stdio-drain-timeout');
  const proc = spawn(binary, ['serve', '--workspace', repo, '--records', store, '--drain-timeout', '1',
                              '--max-parallel', '1'],
                     { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  try {
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const lines = [];
    let buffered = '';
    proc.stdout.on('data', (d) => {
      buffered += d;
      for (let nl; (nl = buffered.indexOf('\n')) >= 0; buffered = buffered.slice(nl + 1)) lines.push(JSON.parse(buffered.slice(0, nl)));
    });
    const send = (m) => proc.stdin.write(JSON.stringify(m) + '\n');
    send({ jsonrpc: '2.0', id: 1, method: 'initialize',
           params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'drain', version: '1' } } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    for (const id of [2, 3])
      send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'run_python', arguments: sleeper(60, 'never') } });
    const pythons = await pythonsRunning(proc.pid, 1);
    proc.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null }, stderr);
    await allGone(pythons);
    const byId = (id) => lines.filter((m) => m.id === id);
    assert.equal(byId(2).length, 1, JSON.stringify(lines));
    assert.equal(byId(2)[0].result.structuredContent.reason, 'cancelled');
    assert.equal(byId(3).length, 1, JSON.stringify(lines));
    assert.equal(byId(3)[0].error.code, -32001);
    assert.equal(byId(3)[0].error.data.code, 'SHUTTING_DOWN');
    const records = runsList(store).filter((r) => r.tool === 'run_python');
    assert.deepEqual(records.map((r) => `${r.status}/${r.reason}`).sort(), ['failure/cancelled', 'refused/cancelled']);
  } finally {
    killLeftover(proc);
  }
});
