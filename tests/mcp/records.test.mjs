// Issue 4's "done when", through the official SDK client over stdio: a mixed session (success,
// timeout, memory kill, validation refusal, unknown tool, cancellation, a secret in the
// arguments) leaves one record per call with the right reason; `tooljail runs show` gives the
// output, `verify` passes on the untouched store and fails, naming the entry, on a tampered one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { binary, makeRepo, sandboxedPythons, sleep, text, waitForNoPythons } from './fixture.mjs';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
let repo;
let scratch;
let records;
let client;

before(async () => {
  repo = makeRepo('tooljail-records-');
  scratch = mkdtempSync(join(tmpdir(), 'tooljail-records-store-'));
  records = join(scratch, 'records');
  // The shipped tools, with run_python's wall clock cut to 2 s so a timeout is quick.
  const tools = join(scratch, 'tools.d');
  cpSync(join(root, 'tools.d'), tools, { recursive: true });
  const py = JSON.parse(readFileSync(join(tools, 'run_python.json'), 'utf8'));
  py.limits.wall_timeout_ms = 2000;
  writeFileSync(join(tools, 'run_python.json'), JSON.stringify(py));

  client = new Client({ name: 'tooljail-records-test', version: '2.0.0' });
  await client.connect(new StdioClientTransport({
    command: binary,
    args: ['serve', '--workspace', repo, '--tools-dir', tools, '--records', records],
    stderr: 'pipe',
  }));
});

after(async () => {
  await client?.close();
  if (repo) rmSync(repo, { recursive: true, force: true });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const call = (name, args = {}, options) => client.callTool({ name, arguments: args }, undefined, options);
const runsIn = (store, ...args) => spawnSync(binary, ['runs', ...args, '--records', store], { encoding: 'utf8' });
const runs = (...args) => runsIn(records, ...args);

test('a mixed session leaves one record per call with the right reason', async () => {
  const ok = await call('list_directory');
  assert.equal(ok.isError, false, text(ok));
  const slow = await call('run_python', { code: 'import time\ntime.sleep(30)' });
  assert.equal(slow.structuredContent.error.code, 'TIMEOUT');
  const hog = await call('run_python', { code: 'x = bytearray(1536 * 1024 * 1024)\nx[::4096] = b"1" * len(x[::4096])' });
  assert.equal(hog.structuredContent.error.code, 'MEMORY_LIMIT', text(hog));
  const bad = await call('read_file', { path: '../../etc/shadow' });
  assert.equal(bad.structuredContent.error.code, 'VALIDATION_ERROR');
  await assert.rejects(call('no_such_tool'));
  const secret = await call('run_python', { code: 'api_key = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"\nprint("done")' });
  assert.equal(secret.isError, false, text(secret));

  const controller = new AbortController();
  const pending = call('run_python', { code: 'import time\ntime.sleep(30)' }, { signal: controller.signal });
  await sleep(700);
  controller.abort('test cancels');
  await assert.rejects(pending);
  await waitForNoPythons();
  await sleep(300);  // the cancelled run's end entry is written as it is reaped

  const listed = runs('list', '--json', '--limit', '0');
  assert.equal(listed.status, 0, listed.stderr);
  const all = JSON.parse(listed.stdout);
  const reasons = all.map((r) => [r.tool, r.status, r.reason]);
  assert.deepEqual(reasons, [
    ['list_directory', 'success', 'exit'],
    ['run_python', 'failure', 'timeout'],
    ['run_python', 'failure', 'memory_limit'],
    ['read_file', 'refused', 'validation_error'],
    ['no_such_tool', 'refused', 'validation_error'],
    ['run_python', 'success', 'exit'],
    ['run_python', 'failure', 'cancelled'],
  ]);
  for (const r of all) {
    assert.equal(r.client.transport, 'stdio');
    assert.equal(r.client.client_info.name, 'tooljail-records-test');
    assert.equal(r.client.os_user.uid, process.getuid());
  }
  const [first] = all;
  assert.equal(first.run_id, ok.structuredContent.run_id);
  assert.match(first.manifest_sha256, /^[0-9a-f]{64}$/);
  assert.equal(first.policy, 'default');
  assert.match(first.policy_sha256, /^[0-9a-f]{64}$/);
  assert.ok(first.layers.namespaces.includes('net'));
  assert.ok(first.argv.length > 0);

  // The secret is gone from the record, which says where it was.
  const redacted = all[5];
  assert.equal(JSON.stringify(redacted).includes('ghp_abcdefghijklmnopqrstuvwxyz0123456789'), false);
  assert.equal(redacted.redacted, true);
  assert.ok(redacted.redacted_pointers.some((p) => p.startsWith('/arguments')), redacted.redacted_pointers);

  // show gives the record and the output.
  const shown = runs('show', ok.structuredContent.run_id);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /README\.md/);

  const table = runs('list');
  assert.match(table.stdout, /memory_limit/);
  assert.match(table.stdout, /cancelled/);
});

test('verify passes on the untouched store and names the entry edited in a tampered one', () => {
  const intact = runs('verify');
  assert.equal(intact.status, 0, intact.stdout + intact.stderr);
  assert.match(intact.stdout, /intact/);

  const journal = readdirSync(records).filter((f) => /^journal-\d+\.jsonl$/.test(f)).sort()[0];
  const path = join(records, journal);
  const lines = readFileSync(path, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes('"memory_limit"'));
  assert.ok(i >= 0);
  lines[i] = lines[i].replace('"memory_limit"', '"exit"');
  writeFileSync(path, lines.join('\n'));
  const tampered = runs('verify');
  assert.equal(tampered.status, 1, tampered.stdout + tampered.stderr);
  assert.match(tampered.stdout + tampered.stderr, /seq \d+.*edited|edited.*seq \d+/);
});

test('a serve killed with SIGKILL mid-run: nothing survives, the next start marks the record interrupted', async () => {
  const store = join(scratch, 'killed');
  const proc = spawn(binary, ['serve', '--workspace', repo, '--records', store], { stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const send = (m) => proc.stdin.write(JSON.stringify(m) + '\n');
  send({ jsonrpc: '2.0', id: 0, method: 'initialize',
         params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'victim', version: '1' } } });
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  send({ jsonrpc: '2.0', id: 1, method: 'tools/call',
         params: { name: 'run_python', arguments: { code: 'import time\ntime.sleep(30)' } } });
  // The run's interpreter: the one whose cgroup path names the run recorded as started.
  const startEntry = () => {
    try {
      return readFileSync(join(store, 'journal-1.jsonl'), 'utf8').split('\n').filter(Boolean)
        .map((l) => JSON.parse(l)).find((e) => e.type === 'start');
    } catch { return undefined; }
  };
  const inRun = (runId) => sandboxedPythons().filter((p) => {
    try { return readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(runId); } catch { return false; }
  });
  let start;
  for (let i = 0; i < 100 && !(start = startEntry()); i++) await sleep(100);
  assert.ok(start, 'the run was recorded');
  for (let i = 0; i < 100 && inRun(start.run_id).length === 0; i++) await sleep(100);
  assert.equal(inRun(start.run_id).length, 1, 'the run is going');
  const [victim] = inRun(start.run_id);

  proc.kill('SIGKILL');
  assert.deepEqual(await exited, { code: null, signal: 'SIGKILL' });
  // The sandbox dies with its supervisor.
  for (let i = 0; i < 50 && sandboxedPythons().includes(victim); i++) await sleep(100);
  assert.equal(sandboxedPythons().includes(victim), false, 'the run died with its supervisor');

  // The next start (here one that ends at once: stdin is empty) recovers the store and removes
  // the dead supervisor's cgroup leaves.
  const next = spawnSync(binary, ['serve', '--workspace', repo, '--records', store], { input: '', encoding: 'utf8' });
  assert.equal(next.status, 0, next.stderr);
  const [record] = JSON.parse(runsIn(store, 'list', '--json').stdout);
  assert.equal(record.run_id, start.run_id);
  assert.equal(record.status, 'interrupted');
  assert.equal(record.tool, 'run_python');
  const leaves = spawnSync('find', ['/sys/fs/cgroup', '-type', 'd', '-name', start.run_id], { encoding: 'utf8' });
  assert.equal(leaves.stdout, '', 'no cgroup of the run remains');
  // Untampered, but the run has no outcome: verify says so and exits 2.
  const verified = runsIn(store, 'verify');
  assert.equal(verified.status, 2, verified.stdout);
  assert.match(verified.stdout, new RegExp(`^records: INCOMPLETE: 1 run\\(s\\) have no outcome.*\n  run ${start.run_id} `));
});
