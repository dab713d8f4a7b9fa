// The operator's view of `tooljail serve` (docs/OPERATIONS.md, "Logs", "Metrics", "Behind
// nginx"): with --log-format json every stderr line is a JSON object, the start-up lines too,
// numbers and booleans are typed, a successful reload is INFO; --trusted-proxy takes the client
// from X-Forwarded-For and nothing else does; --metrics-allow opens the metrics listener to named
// scrapers only. Run by ctest (tests/CMakeLists.txt) with TOOLJAIL_BINARY set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get, request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { binary, makeRepo, sleep, startHttpServer, stopHttpServer, text } from './fixture.mjs';

let repo;
let scratch;
let tokens;

before(() => {
  repo = makeRepo('tooljail-logs-');
  scratch = mkdtempSync(join(tmpdir(), 'tooljail-logs-store-'));
  tokens = join(scratch, 'etc', 'tokens.json');
  const created = spawnSync(binary, ['token', 'create', '--auth', tokens, '--client', 'ops', '--tools', '*'],
                            { encoding: 'utf8' });
  assert.equal(created.status, 0, created.stderr);
  // The token commands say how a running server takes the change: SIGHUP, not a restart.
  assert.match(created.stderr, /applies it on SIGHUP/);
  assert.doesNotMatch(created.stderr, /[Rr]estart tooljail serve/);
});

after(() => {
  for (const dir of [repo, scratch]) if (dir) rmSync(dir, { recursive: true, force: true });
});

const waitFor = async (check, what, log) => {
  for (let i = 0; i < 100; i++) {
    if (check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}:\n${log()}`);
};
const events = (stderr) => stderr.split('\n').filter((l) => l !== '').map((l) => {
  try { return JSON.parse(l); } catch { assert.fail(`a stderr line is not JSON: ${l}`); }
});
// A POST with a wrong token, as a proxy would forward it; resolves to the status. A connection of
// its own each time (agent: false): the refusal comes before the body is read.
const rawPost = (url, headers) => new Promise((resolve, reject) => {
  const u = new URL(url);
  const r = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false, headers: {
    'content-type': 'application/json', accept: 'application/json, text/event-stream',
    authorization: 'Bearer tjk_wrong', ...headers } }, (res) => { res.resume(); resolve(res.statusCode); });
  r.on('error', reject);
  r.end('{"jsonrpc":"2.0","id":1,"method":"ping"}');
});
const statusOf = (url, host) => new Promise((resolve, reject) => {
  get(url, { headers: host ? { host } : {} }, (res) => { res.resume(); resolve(res.statusCode); }).on('error', reject);
});

test('--log-format json: every line JSON, typed fields, reload at INFO', async () => {
  const server = await startHttpServer(repo, ['--records', join(scratch, 'json'), '--auth', tokens,
    '--metrics-listen', '127.0.0.1:0', '--pool-size', '0'],
  { globalArgs: ['--log-format', 'json', '--log-level', 'info'] });
  try {
    await waitFor(() => /serving metrics at/.test(server.stderr()), 'the metrics line', server.stderr);
    const created = spawnSync(binary, ['token', 'create', '--auth', tokens, '--client', 'late', '--tools', 'read_file'],
                              { encoding: 'utf8' });
    assert.equal(created.status, 0, created.stderr);
    const token = spawnSync(binary, ['token', 'create', '--auth', tokens, '--client', 'caller', '--tools', '*'],
                            { encoding: 'utf8' }).stdout.trim();
    server.proc.kill('SIGHUP');
    await waitFor(() => /tokens reloaded from/.test(server.stderr()), 'the token reload', server.stderr);

    const client = new Client({ name: 'tooljail-logs-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url),
      { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    const ok = await client.callTool({ name: 'list_directory', arguments: { path: '.' } });
    assert.equal(ok.isError, false, text(ok));
    await client.close();
    await waitFor(() => /"msg":"call tool=list_directory/.test(server.stderr()), 'the call event', server.stderr);
  } finally {
    assert.deepEqual(await stopHttpServer(server), { code: 0, signal: null }, server.stderr());
  }
  const all = events(server.stderr());
  for (const e of all) for (const key of ['ts', 'level', 'src', 'msg']) assert.ok(key in e, JSON.stringify(e));
  // The two start-up lines scripts read, as events: the URL is still in msg.
  assert.ok(all.some((e) => /^serving MCP over Streamable HTTP at http:\/\/127\.0\.0\.1:\d+\/mcp$/.test(e.msg)));
  assert.ok(all.some((e) => /^serving metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/.test(e.msg)));
  const call = all.find((e) => e.msg.startsWith('call tool=list_directory'));
  assert.equal(call.tool, 'list_directory');
  assert.equal(typeof call.wall_ms, 'number');
  assert.equal(typeof call.stdout_bytes, 'number');
  assert.equal(call.exit, 0);
  assert.equal(call.warm, false);
  assert.equal(typeof call.run_id, 'string');
  const reload = all.find((e) => e.msg.startsWith('tokens reloaded from'));
  assert.equal(reload.level, 'INFO');
  assert.deepEqual(reload.added.split(',').sort(), ['caller', 'late']);  // in the file's order
});

test('a successful reload is INFO: at the default level (warn) it is not logged', async () => {
  const server = await startHttpServer(repo, ['--records', join(scratch, 'reload'), '--pool-size', '0'],
                                       { globalArgs: ['--log-format', 'json'] });
  try {
    server.proc.kill('SIGHUP');
    await sleep(1500);
  } finally {
    assert.deepEqual(await stopHttpServer(server), { code: 0, signal: null }, server.stderr());
  }
  const all = events(server.stderr());
  assert.ok(all.some((e) => /^serving MCP over Streamable HTTP/.test(e.msg)), server.stderr());
  assert.ok(!all.some((e) => e.msg.startsWith('reload:')), server.stderr());
});

test('--trusted-proxy: the client from X-Forwarded-For, only behind a trusted proxy', async () => {
  const proxied = await startHttpServer(repo, ['--records', join(scratch, 'proxy'), '--auth', tokens,
    '--trusted-proxy', '127.0.0.1', '--trusted-proxy', '10.0.0.0/8', '--pool-size', '0']);
  const direct = await startHttpServer(repo, ['--records', join(scratch, 'direct'), '--auth', tokens, '--pool-size', '0']);
  try {
    assert.equal(await rawPost(proxied.url, { 'x-forwarded-for': '198.51.100.7' }), 401);
    assert.equal(await rawPost(proxied.url, { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.2.3' }), 401);
    assert.equal(await rawPost(direct.url, { 'x-forwarded-for': '198.51.100.7' }), 401);
    await waitFor(() => /from 203\.0\.113\.9/.test(proxied.stderr()), 'the proxied refusals', proxied.stderr);
    await waitFor(() => /refused POST \/mcp from/.test(direct.stderr()), 'the direct refusal', direct.stderr);
  } finally {
    await stopHttpServer(proxied);
    await stopHttpServer(direct);
  }
  assert.match(proxied.stderr(), /refused POST \/mcp from 198\.51\.100\.7: unknown bearer token/);
  assert.match(proxied.stderr(), /refused POST \/mcp from 203\.0\.113\.9: unknown bearer token/);
  assert.doesNotMatch(proxied.stderr(), /from 6\.6\.6\.6/);  // what the client wrote itself
  assert.match(direct.stderr(), /refused POST \/mcp from 127\.0\.0\.1: unknown bearer token/);
  assert.doesNotMatch(direct.stderr(), /198\.51\.100\.7/);

  const bad = spawnSync(binary, ['serve', '--http', '127.0.0.1:0', '--trusted-proxy', '10.0.0.1/8', '--workspace', repo],
                        { encoding: 'utf8', timeout: 30000 });
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /--trusted-proxy '10\.0\.0\.1\/8': address bits set beyond/);
});

// An address of this host that is not loopback, for a peer the metrics listener sees as remote.
const hostAddress = () => Object.values(networkInterfaces()).flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

const serveMetrics = (args) => new Promise((resolve) => {
  const proc = spawn(binary, ['serve', '--workspace', repo, '--records', join(scratch, 'm'), '--pool-size', '0', ...args],
                     { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
    const m = stderr.match(/serving metrics at http:\/\/[^:]+:(\d+)\/metrics/);
    if (m) resolve({ proc, port: m[1], stderr: () => stderr });
  });
  proc.on('exit', (code) => resolve({ code, stderr: () => stderr }));
});

test('--metrics-allow: beyond loopback only for the named scrapers', async () => {
  const refused = await serveMetrics(['--metrics-listen', '0.0.0.0:0']);
  assert.equal(refused.code, 125);
  assert.match(refused.stderr(), /loopback only .* unless --metrics-allow/);
  const malformed = await serveMetrics(['--metrics-listen', '0.0.0.0:0', '--metrics-allow', 'pods']);
  assert.equal(malformed.code, 125);
  assert.match(malformed.stderr(), /--metrics-allow 'pods'/);

  const address = hostAddress();
  if (!address) {
    console.log('# no non-loopback IPv4 address on this host: the remote-peer part is skipped');
    return;
  }
  const allowed = await serveMetrics(['--metrics-listen', '0.0.0.0:0', '--metrics-allow', `${address}/32`]);
  // Another single address, next to ours (a documentation range could be this host's network).
  const octets = address.split('.');
  const neighbour = [...octets.slice(0, 3), (Number(octets[3]) + 1) % 256].join('.');
  const other = await serveMetrics(['--metrics-listen', '0.0.0.0:0', '--metrics-allow', `${neighbour}/32`]);
  try {
    assert.ok(allowed.proc, allowed.stderr());
    assert.ok(other.proc, other.stderr());
    // Prometheus scrapes the pod address, so Host is that address.
    assert.equal(await statusOf(`http://${address}:${allowed.port}/metrics`), 200);
    assert.equal(await statusOf(`http://127.0.0.1:${allowed.port}/metrics`), 200);
    // A name in Host is what a DNS-rebinding page would send.
    assert.equal(await statusOf(`http://${address}:${allowed.port}/metrics`, `evil.example:${allowed.port}`), 403);
    // A peer outside the allowed ranges.
    assert.equal(await statusOf(`http://${address}:${other.port}/metrics`), 403);
  } finally {
    for (const s of [allowed, other]) if (s.proc) { s.proc.stdin.end(); s.proc.kill('SIGTERM'); }
  }
});
