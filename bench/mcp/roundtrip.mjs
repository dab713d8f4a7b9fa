#!/usr/bin/env node
// The stdio MCP tools/call round trip of a trivial command, measured with the official SDK
// client, for `tooljail serve` (every layer of the default policy, warm pool on) and for the
// unsandboxed Node.js shell server `mcp-server-commands` 0.5.0 (run_command "/bin/true", which
// it runs through child_process.exec). Both servers run in this one process run, interleaved
// round by round so that drift in machine load hits both alike.
//
//   node bench/mcp/roundtrip.mjs --tooljail build-bench/tooljail [--rounds 3] [--calls 200]
//        [--idle-calls 40] [--json OUT]
//
// One sample = client.callTool() from the call to the resolved result (JSON-RPC request
// written, server work, response parsed). Modes: back_to_back (calls in a row) and
// after_50ms_idle (50 ms of sleep before each call, outside the timed region). Reported per
// server and mode: p50 / p95 (nearest rank) / mean per round, and the median of the rounds.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(fileURLToPath(import.meta.url));
const opts = { tooljail: null, rounds: 3, calls: 200, idleCalls: 40, warmup: 10, json: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const [k, v] = [argv[i], argv[i + 1]];
  if (v === undefined) usage(`${k} needs a value`);
  if (k === '--tooljail') opts.tooljail = resolve(v);
  else if (k === '--rounds') opts.rounds = int(k, v);
  else if (k === '--calls') opts.calls = int(k, v);
  else if (k === '--idle-calls') opts.idleCalls = int(k, v);
  else if (k === '--json') opts.json = resolve(v);
  else usage(`unknown option ${k}`);
}
if (!opts.tooljail) usage('--tooljail is required');

function usage(msg) {
  console.error(`roundtrip.mjs: ${msg}\nusage: roundtrip.mjs --tooljail PATH [--rounds N] [--calls N] [--idle-calls N] [--json OUT]`);
  process.exit(2);
}
function int(k, v) {
  const n = Number.parseInt(v, 10);
  if (!(n > 0)) usage(`${k} must be a positive integer`);
  return n;
}

const workspace = mkdtempSync(join(tmpdir(), 'tooljail-bench-ws-'));
chmodSync(workspace, 0o755);  // the sandbox user (host nobody) must enter it
const records = mkdtempSync(join(tmpdir(), 'tooljail-bench-records-'));
const servers = [
  {
    name: 'tooljail serve (default policy, warm pool)',
    key: 'tooljail',
    transport: () => new StdioClientTransport({
      command: opts.tooljail,
      args: ['serve', '--tools-dir', join(here, 'tools.d'), '--policy-dir', resolve(here, '../../policies'),
             '--workspace', workspace, '--records', records],
      env: process.env,
      stderr: 'ignore',
    }),
    call: { name: 'true', arguments: {} },
    ok: (r) => !r.isError && r.structuredContent?.exit_code === 0,
  },
  {
    name: 'mcp-server-commands 0.5.0 (no sandbox)',
    key: 'mcp_server_commands',
    transport: () => new StdioClientTransport({
      command: process.execPath,
      args: [join(here, 'node_modules/mcp-server-commands/build/index.js')],
      env: process.env,
      stderr: 'ignore',
    }),
    call: { name: 'run_command', arguments: { command: '/bin/true' } },
    ok: (r) => !r.isError,
  },
];

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const rank = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { p50: rank(0.5), p95: rank(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timedCall(server, client) {
  const t0 = process.hrtime.bigint();
  const result = await client.callTool(server.call);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!server.ok(result)) throw new Error(`${server.key}: call failed: ${JSON.stringify(result).slice(0, 400)}`);
  return ms;
}

async function measure(server, client, mode) {
  const samples = [];
  const n = mode === 'back_to_back' ? opts.calls : opts.idleCalls;
  for (let i = 0; i < n; i++) {
    if (mode === 'after_50ms_idle') await sleep(50);
    samples.push(await timedCall(server, client));
  }
  return stats(samples);
}

const clients = [];
for (const server of servers) {
  const client = new Client({ name: 'tooljail-roundtrip-bench', version: '1.0.0' });
  await client.connect(server.transport());
  for (let i = 0; i < opts.warmup; i++) await timedCall(server, client);
  clients.push(client);
}

const results = {};  // key -> mode -> [round stats]
for (let round = 0; round < opts.rounds; round++) {
  for (const mode of ['back_to_back', 'after_50ms_idle']) {
    // Alternate which server goes first, so neither always follows the other's load.
    const order = round % 2 ? [1, 0] : [0, 1];
    for (const i of order) {
      const r = await measure(servers[i], clients[i], mode);
      ((results[servers[i].key] ??= {})[mode] ??= []).push(r);
    }
  }
}
for (const client of clients) await client.close();
rmSync(workspace, { recursive: true, force: true });
rmSync(records, { recursive: true, force: true });

const fmt = (x) => x.toFixed(2).padStart(6);
console.log(`MCP stdio tools/call round trip, ms (median of ${opts.rounds} rounds; ` +
            `${opts.calls} back-to-back and ${opts.idleCalls} after-idle calls per round)`);
console.log('server                                        mode              p50     p95    mean');
const summary = {};
for (const server of servers) {
  for (const mode of ['back_to_back', 'after_50ms_idle']) {
    const rounds = results[server.key][mode];
    const m = { p50: median(rounds.map((r) => r.p50)), p95: median(rounds.map((r) => r.p95)),
                mean: median(rounds.map((r) => r.mean)) };
    (summary[server.key] ??= {})[mode] = { ...m, rounds };
    console.log(`${server.name.padEnd(45)} ${mode.padEnd(15)} ${fmt(m.p50)}  ${fmt(m.p95)}  ${fmt(m.mean)}`);
  }
}
for (const mode of ['back_to_back', 'after_50ms_idle']) {
  const ratio = summary.tooljail[mode].p50 / summary.mcp_server_commands[mode].p50;
  console.log(`tooljail / mcp-server-commands, ${mode} p50: ${ratio.toFixed(2)}`);
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), opts, summary }, null, 2));
