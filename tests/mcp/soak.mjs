#!/usr/bin/env node
// Soak: many sandboxed calls through one `tooljail serve` (stdio, warm pool on), sequential and
// then parallel, with mixed outcomes: success, non-zero exit, timeout, memory kill, output cap and
// client cancellation. Afterwards the supervisor must be back where it started: open fds,
// threads, child processes (the warm sandboxes), no zombies, no process of a run left, the same
// cgroup leaves, RSS within a stated bound; and the record store must hold exactly one record
// per call, each with the outcome the call reported. Exits 1 on any failed check.
//
//   node tests/mcp/soak.mjs [--calls 20000] [--parallel 4] [--rss-growth-mib 8]
//        [--binary build/tooljail] [--json OUT]
//
// docs/SOAK.md has the results and what each bound means.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const opts = { calls: 20000, parallel: 4, rssGrowthMib: 8, binary: process.env.TOOLJAIL_BINARY, json: null };
for (let i = 2; i < process.argv.length; i += 2) {
  const [k, v] = [process.argv[i], process.argv[i + 1]];
  if (v === undefined) usage(`${k} needs a value`);
  if (k === '--calls') opts.calls = positive(k, v);
  else if (k === '--parallel') opts.parallel = positive(k, v);
  else if (k === '--rss-growth-mib') opts.rssGrowthMib = positive(k, v);
  else if (k === '--binary') opts.binary = resolve(v);
  else if (k === '--json') opts.json = resolve(v);
  else usage(`unknown option ${k}`);
}
if (!opts.binary) usage('--binary or TOOLJAIL_BINARY is required');
function usage(msg) {
  console.error(`soak.mjs: ${msg}\nusage: soak.mjs [--calls N] [--parallel N] [--rss-growth-mib N] [--binary PATH] [--json OUT]`);
  process.exit(2);
}
function positive(k, v) {
  const n = Number.parseInt(v, 10);
  if (!(n > 0)) usage(`${k} must be a positive integer`);
  return n;
}

// ---- the tools: one per outcome ------------------------------------------------------------
// weight = share of the calls; expect(result) checks what the call reported.
const kinds = [
  { name: 'soak_ok', weight: 60, argv: ['/bin/true'], policy: 'default',
    expect: (r) => !r.isError && r.structuredContent.reason === 'exit' && r.structuredContent.exit_code === 0 },
  { name: 'soak_exit', weight: 20, argv: ['/bin/false'], policy: 'default',
    expect: (r) => r.isError && r.structuredContent.reason === 'exit' && r.structuredContent.exit_code === 1 },
  { name: 'soak_timeout', weight: 5, argv: ['/bin/sleep', '10'], policy: 'default', limits: { wall_timeout_ms: 100 },
    expect: (r) => r.isError && r.structuredContent.reason === 'timeout' },
  // sort keeps a line in memory until its newline, and /dev/zero has none.
  { name: 'soak_oom', weight: 5, argv: ['/usr/bin/sort', '/dev/zero'], policy: 'default', limits: { memory_mb: 16 },
    expect: (r) => r.isError && r.structuredContent.reason === 'memory_limit' },
  // strict ends the run at the output cap.
  { name: 'soak_flood', weight: 5, argv: ['/usr/bin/yes'], policy: 'strict', limits: { output_bytes: 65536 },
    expect: (r) => r.isError && r.structuredContent.reason === 'output_cap' },
  // Cancelled by the client 20 ms after the request; the call gets no result.
  { name: 'soak_cancel', weight: 5, argv: ['/bin/sleep', '10'], policy: 'default', cancel: true },
];

const scratch = mkdtempSync(join(tmpdir(), 'tooljail-soak-'));
const toolsDir = join(scratch, 'tools.d');
const workspace = join(scratch, 'workspace');
const records = join(scratch, 'records');
mkdirSync(toolsDir);
mkdirSync(workspace);
chmodSync(scratch, 0o755);
chmodSync(workspace, 0o755);
for (const k of kinds) {
  writeFileSync(join(toolsDir, `${k.name}.json`), JSON.stringify({
    name: k.name,
    title: k.name,
    description: `Soak test tool: runs ${k.argv.join(' ')}.`,
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    risk: 'low',
    policy: k.policy,
    argv: k.argv,
    end_of_options: false,
    arguments: {},
    ...(k.limits ? { limits: k.limits } : {}),
    enabled: true,
  }, null, 2));
}

// ---- the supervisor's footprint ------------------------------------------------------------
function procStat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]) };
}
function processes() {
  const out = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try { out.push({ pid: Number(p), ...procStat(p) }); } catch { /* exited */ }
  }
  return out;
}
function descendants(root) {
  const all = processes();
  const found = [];
  let frontier = [root];
  while (frontier.length) {
    const next = all.filter((p) => frontier.includes(p.ppid));
    found.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return found;
}
// The run leaves this supervisor made: "run-<pid>-*" under <controller mount>/<own>/tooljail.
function leafDirs(pid) {
  const dirs = new Set();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [, controllers, path] = line.split(':');
    const mounts = controllers === '' ? ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']
      : controllers.split(',').map((c) => `/sys/fs/cgroup/${c}`).concat(`/sys/fs/cgroup/${controllers}`);
    for (const m of mounts) {
      const dir = join(m, path, 'tooljail');
      if (existsSync(dir)) dirs.add(dir);
    }
  }
  const leaves = [];
  for (const dir of dirs) leaves.push(...readdirSync(dir).filter((n) => n.startsWith(`run-${pid}-`)).map((n) => join(dir, n)));
  return leaves;
}
function footprint(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))[1]);
  const desc = descendants(pid);
  return {
    fds: readdirSync(`/proc/${pid}/fd`).length,
    threads: field('Threads'),
    rss_kib: field('VmRSS'),
    children: desc.filter((p) => p.ppid === pid).length,
    descendants: desc.length,
    zombies: desc.filter((p) => p.state === 'Z').length,
    leaves: leafDirs(pid).length,
  };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The pool refills and the reaper removes leaves in the background: wait (bounded) until the
// counts that must return to their baseline do, or stop changing.
async function settle(pid, want) {
  let last;
  for (let i = 0; i < 100; i++) {
    const f = footprint(pid);
    const back = want && ['fds', 'threads', 'children', 'descendants', 'zombies', 'leaves'].every((k) => f[k] === want[k]);
    if (back || (!want && last && JSON.stringify({ ...f, rss_kib: 0 }) === JSON.stringify({ ...last, rss_kib: 0 }))) return f;
    last = f;
    await sleep(100);
  }
  return footprint(pid);
}

// ---- the run -------------------------------------------------------------------------------
const transport = new StdioClientTransport({
  command: opts.binary,
  args: ['serve', '--tools-dir', toolsDir, '--workspace', workspace, '--records', records,
         '--max-parallel', String(opts.parallel)],
  env: process.env,
  stderr: 'ignore',
});
const client = new Client({ name: 'tooljail-soak', version: '1.0.0' });
await client.connect(transport);
const pid = transport.pid;

const failures = [];
const tally = {};  // kind -> count
function pick(i) {
  // Deterministic mix: a fixed pattern over 100 calls, in the weights above.
  const slot = (i * 37) % 100;
  let acc = 0;
  for (const k of kinds) {
    acc += k.weight;
    if (slot < acc) return k;
  }
  return kinds[0];
}
async function call(k) {
  tally[k.name] = (tally[k.name] ?? 0) + 1;
  if (k.cancel) {
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort('soak'), 20);
    try {
      await client.callTool({ name: k.name, arguments: {} }, undefined, { signal: ac.signal });
      failures.push(`${k.name}: completed although cancelled`);
    } catch (e) {
      if (!ac.signal.aborted) failures.push(`${k.name}: ${e.message}`);
    } finally {
      clearTimeout(t);
    }
    return;
  }
  try {
    const r = await client.callTool({ name: k.name, arguments: {} });
    if (!k.expect(r)) failures.push(`${k.name}: unexpected result ${JSON.stringify(r.structuredContent ?? r).slice(0, 300)}`);
  } catch (e) {
    failures.push(`${k.name}: ${e.message}`);
  }
}

// Every tool once, then the baseline with every warm sandbox back in place.
for (const k of kinds) await call(k);
const before = await settle(pid, null);
const started = Date.now();
const sequential = Math.floor(opts.calls / 2);
for (let i = 0; i < sequential; i++) await call(pick(i));
let next = sequential;
await Promise.all(Array.from({ length: opts.parallel }, async () => {
  while (next < opts.calls) await call(pick(next++));
}));
const seconds = (Date.now() - started) / 1000;
const after = await settle(pid, before);
await client.close();

// ---- checks --------------------------------------------------------------------------------
const check = (ok, what) => { if (!ok) failures.push(what); };
for (const key of ['fds', 'threads', 'children', 'descendants', 'leaves'])
  check(after[key] === before[key], `supervisor ${key}: ${before[key]} before, ${after[key]} after`);
check(after.zombies === 0, `zombies: ${after.zombies}`);
check(after.rss_kib - before.rss_kib <= opts.rssGrowthMib * 1024,
      `RSS grew by ${((after.rss_kib - before.rss_kib) / 1024).toFixed(1)} MiB (bound ${opts.rssGrowthMib} MiB)`);

const total = opts.calls + kinds.length;
const listed = JSON.parse(execFileSync(opts.binary, ['runs', 'list', '--json', '--records', records, '--limit', String(total + 100)],
                                       { maxBuffer: 1 << 30 }).toString());
check(listed.length === total, `records: ${listed.length} for ${total} calls`);
// Each tool's records must all carry its outcome, one per call made.
const reasonOf = { soak_ok: 'exit', soak_exit: 'exit', soak_timeout: 'timeout', soak_oom: 'memory_limit',
                   soak_flood: 'output_cap', soak_cancel: 'cancelled' };
const byStatus = {};
for (const r of listed) {
  const key = `${r.tool}:${r.reason}`;
  byStatus[key] = (byStatus[key] ?? 0) + 1;
}
for (const k of kinds)
  check(byStatus[`${k.name}:${reasonOf[k.name]}`] === tally[k.name],
        `${k.name}: ${tally[k.name]} calls, ${byStatus[`${k.name}:${reasonOf[k.name]}`] ?? 0} records with reason ${reasonOf[k.name]}`);
const verify = execFileSync(opts.binary, ['runs', 'verify', '--records', records]).toString().trim();

const report = { calls: total, parallel: opts.parallel, seconds, calls_per_s: opts.calls / seconds, tally, before, after,
                 records: listed.length, records_by_tool_and_outcome: byStatus, verify, failures: failures.slice(0, 50),
                 failure_count: failures.length };
console.log(JSON.stringify(report, null, 2));
if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2));
rmSync(scratch, { recursive: true, force: true });
if (failures.length) {
  console.error(`soak: ${failures.length} failed checks`);
  process.exit(1);
}
console.error(`soak: ${total} calls in ${seconds.toFixed(1)} s, supervisor back to its baseline, one record per call`);
