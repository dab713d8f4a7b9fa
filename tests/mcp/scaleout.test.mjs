// Scale-out behind a real load balancer: three `tooljail serve --http` instances on loopback
// behind nginx (Debian's package), sharing one record store, as docs/OPERATIONS.md describes.
//  - stateless 2026-07-28 calls are spread round-robin over the instances;
//  - a 2025-11-25 session stays on the instance that created it: each instance prefixes its
//    session ids with --instance-id, and nginx routes on that prefix;
//  - SIGKILL of one instance mid-run: the others carry on, nothing of its run survives, and the
//    run's record ends `interrupted`.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { binary, makeRepo, sleep, startHttpServer, stopHttpServer } from './fixture.mjs';

const NGINX = '/usr/sbin/nginx';
const VERSION = '2026-07-28';
const names = ['a', 'b', 'c'];
const repo = makeRepo('tooljail-scaleout-');
const store = mkdtempSync(join(tmpdir(), 'tooljail-scaleout-records-'));
let instances = {};  // name -> startHttpServer result
let nginx;
let url;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// The load balancer: round-robin over the instances, except that a request carrying a session
// id goes to the instance named by its prefix. Host is passed through (tooljail checks it);
// responses are not buffered (tools/call answers with an SSE stream).
function nginxConf(dir, port) {
  const servers = names.map((n) => `    server 127.0.0.1:${instances[n].port} max_fails=1 fail_timeout=10s;`).join('\n');
  const pins = names.map((n) => `    ~^${n}- 127.0.0.1:${instances[n].port};`).join('\n');
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream tooljail {
${servers}
  }
  map $http_mcp_session_id $pinned {
${pins}
    default "";
  }
  server {
    listen 127.0.0.1:${port};
    location /mcp {
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
      if ($pinned) {
        proxy_pass http://$pinned;
      }
      proxy_pass http://tooljail;
    }
  }
}
`;
}

async function waitForPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      fetch(`http://127.0.0.1:${port}/`).then(() => resolve(true), () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nginx did not listen on ${port}`);
}

const records = () => JSON.parse(execFileSync(binary, ['runs', 'list', '--json', '--limit', '0', '--records', store]).toString());
const pidOf = (name) => instances[name].proc.pid;
const nameOfPid = (pid) => names.find((n) => pidOf(n) === pid);

before(async () => {
  assert.ok(existsSync(NGINX), `${NGINX} is missing: scripts/install-deps.sh installs nginx`);
  for (const n of names)
    instances[n] = await startHttpServer(repo, ['--instance-id', n, '--records', store, '--pool-size', '1']);
  const dir = mkdtempSync(join(tmpdir(), 'tooljail-nginx-'));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, port));
  nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(port);
  url = `http://127.0.0.1:${port}/mcp`;
});

after(async () => {
  nginx?.kill('SIGTERM');
  for (const n of names) await stopHttpServer(instances[n]);
});

// One stateless tools/call through the balancer; resolves to the result.
async function statelessCall(name, args, id) {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': VERSION,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'tooljail-scaleout-test', version: '1' },
  };
  const body = { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, _meta: meta } };
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
               'mcp-protocol-version': VERSION, 'mcp-method': 'tools/call', 'mcp-name': name },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const events = (await res.text()).split('\n\n').filter((e) => e.startsWith('event: message\ndata: '));
  const last = JSON.parse(events.at(-1).slice('event: message\ndata: '.length));
  assert.equal(last.result.isError, false, JSON.stringify(last));
  return last.result;
}

test('stateless calls are spread round-robin over the instances', async () => {
  const before = records().length;
  for (let i = 0; i < 9; i++) await statelessCall('list_directory', { path: '.' }, i + 1);
  const made = records().slice(0, records().length - before).filter((r) => r.tool === 'list_directory');
  assert.equal(made.length, 9);
  const perInstance = {};
  for (const r of made) perInstance[nameOfPid(r.supervisor.pid)] = (perInstance[nameOfPid(r.supervisor.pid)] ?? 0) + 1;
  assert.deepEqual(perInstance, { a: 3, b: 3, c: 3 }, JSON.stringify(perInstance));
});

test('a session stays on the instance that created it', async () => {
  const clients = [];
  for (let i = 0; i < 3; i++) {
    const client = new Client({ name: `scaleout-session-${i}`, version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(url));
    await client.connect(transport);
    clients.push({ client, transport });
  }
  for (const { client } of clients)
    for (let i = 0; i < 4; i++) {
      const r = await client.callTool({ name: 'git_status', arguments: {} });
      assert.equal(r.isError, false);
    }
  const all = records();
  for (const { transport } of clients) {
    const session = transport.sessionId;
    const owner = session.split('-')[0];
    assert.ok(names.includes(owner), `session id ${session} names no instance`);
    const mine = all.filter((r) => r.session === session);
    assert.equal(mine.length, 4);
    for (const r of mine) assert.equal(nameOfPid(r.supervisor.pid), owner, `a call of session ${session} ran elsewhere`);
  }
  for (const { client } of clients) await client.close();
});

test('killing one instance mid-run: the others carry on, its run is recorded interrupted', async () => {
  const client = new Client({ name: 'scaleout-victim', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  const victim = transport.sessionId.split('-')[0];
  // `tail -f` runs until its 10 s deadline: long enough to be killed mid-run.
  // The SDK does not fail a call when its stream breaks; its request timeout ends it.
  const pending = client.callTool({ name: 'run_command', arguments: { program: 'tail', args: ['-f', 'README.md'] } },
                                  undefined, { timeout: 12000 })
    .then(() => 'completed', (e) => `failed: ${e.message}`);
  let run;
  for (let i = 0; i < 100 && !run; i++) {
    run = records().find((r) => r.session === transport.sessionId && r.status === 'running');
    if (!run) await sleep(50);
  }
  assert.ok(run, 'the long run never showed up as running');
  assert.equal(nameOfPid(run.supervisor.pid), victim);

  instances[victim].proc.kill('SIGKILL');
  await instances[victim].exited;

  // Nothing of the run survives its supervisor: its pid namespace died with it.
  const tails = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('/usr/bin/tail\0-f\0'); } catch { return false; }
  });
  for (let i = 0; i < 50 && tails().length; i++) await sleep(100);
  assert.deepEqual(tails(), []);

  // The balancer skips the dead instance: stateless calls and new sessions still work.
  for (let i = 0; i < 6; i++) await statelessCall('list_directory', { path: '.' }, 100 + i);
  const fresh = new Client({ name: 'scaleout-after', version: '1' });
  const freshTransport = new StreamableHTTPClientTransport(new URL(url));
  await fresh.connect(freshTransport);
  assert.notEqual(freshTransport.sessionId.split('-')[0], victim);
  assert.equal((await fresh.callTool({ name: 'git_status', arguments: {} })).isError, false);
  await fresh.close();

  // The killed supervisor's run: `runs list` (like the next start) finds its lock released.
  const ended = records().find((r) => r.run_id === run.run_id);
  assert.equal(ended.status, 'interrupted', JSON.stringify(ended));
  assert.match(await pending, /^failed/);  // the client never got a result
  await client.close().catch(() => {});
});
