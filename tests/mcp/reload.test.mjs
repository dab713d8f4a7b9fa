// Reload, drift, the lock file and the kill switch over stdio with the official SDK client
// (docs/TOOLS.md "Reload, drift, lock and kill switch"). Each server gets its own copy of tools.d
// and policies so that the test can change them and send SIGHUP to the tooljail process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { binary, makeRepo, sleep, startHttpServer, stopHttpServer } from './fixture.mjs';

const source = join(import.meta.dirname, '..', '..');
let repo;
let dir;

before(() => {
  repo = makeRepo('tooljail-reload-');
  dir = mkdtempSync(join(tmpdir(), 'tooljail-reload-config-'));
});

after(() => {
  for (const d of [repo, dir]) if (d) rmSync(d, { recursive: true, force: true });
});

// A private copy of tools.d and policies, and a state directory, under dir/name.
function configCopy(name) {
  const tools = join(dir, name, 'tools.d');
  const policies = join(dir, name, 'policies');
  const state = join(dir, name, 'state');
  cpSync(join(source, 'tools.d'), tools, { recursive: true });
  cpSync(join(source, 'policies'), policies, { recursive: true });
  return { tools, policies, state, args: ['--tools-dir', tools, '--policy-dir', policies, '--state', state] };
}

const waitFor = async (check, what, log) => {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}; server log:\n${log()}`);
};

// A stdio server on its own config copy: { client, hangup(), log(), waitLog(re), seen(), waitChanged(n), ... }.
async function startServer(name, extraArgs = []) {
  const { tools, policies, state, args: config } = configCopy(name);
  // At INFO: a successful reload is an INFO event (a failed one an ERROR, drift a WARN).
  const args = ['--log-level', 'info', 'serve', '--workspace', repo, ...config, '--pool-size', '1', ...extraArgs];
  const transport = new StdioClientTransport({ command: binary, args, env: process.env, stderr: 'pipe' });
  let log = '';
  transport.stderr.on('data', (d) => { log += d; });
  const client = new Client({ name: 'tooljail-reload-test', version: '1.0.0' });
  let notified = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { notified++; });
  await client.connect(transport);
  return {
    client, tools, policies, state,
    hangup: () => process.kill(transport.pid, 'SIGHUP'),
    log: () => log,
    waitLog: (re) => waitFor(() => re.test(log), String(re), () => log),
    // Resolves on the next notifications/tools/list_changed after `since` (a count from seen()).
    seen: () => notified,
    waitChanged: (since) => waitFor(() => notified > since, 'notifications/tools/list_changed', () => log),
  };
}

const call = (client, name, args = {}) => client.callTool({ name, arguments: args });
const names = async (client) => (await client.listTools()).tools.map((t) => t.name).sort();
const errorCode = (result) => result.structuredContent?.error?.code;

function editDescription(tools, tool, description) {
  const file = join(tools, `${tool}.json`);
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  manifest.description = description;
  writeFileSync(file, JSON.stringify(manifest, null, 2));
}

const tooljail = (...args) => execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('reload: a bad manifest keeps the old set, a changed description is announced and served', async () => {
  const s = await startServer('plain');
  try {
    assert.equal(s.client.getServerCapabilities().tools.listChanged, true);
    const before = await names(s.client);
    assert.ok(before.includes('list_directory'));

    // (a) An invalid manifest: the reload is refused naming the file, the old set stays.
    writeFileSync(join(s.tools, 'broken.json'), '{"name": "broken",');
    s.hangup();
    await s.waitLog(/reload failed, still serving the previous tools: .*broken\.json/);
    assert.deepEqual(await names(s.client), before);
    assert.equal((await call(s.client, 'list_directory')).isError, false);
    unlinkSync(join(s.tools, 'broken.json'));

    // (b) A changed description: drift is logged, list_changed arrives, the list shows it.
    const seen = s.seen();
    editDescription(s.tools, 'list_directory', 'List a directory of the workspace (changed for the reload test).');
    s.hangup();
    await s.waitChanged(seen);
    assert.match(s.log(), /tool drift: list_directory old=[0-9a-f]{64} new=[0-9a-f]{64}/);
    assert.match(s.log(), /reload: 9 tools served, added=- removed=- changed=list_directory/);
    const listed = (await s.client.listTools()).tools.find((t) => t.name === 'list_directory');
    assert.match(listed.description, /changed for the reload test/);
    assert.equal((await call(s.client, 'list_directory')).isError, false);

    // (d) The kill switch: refused from the next call, hidden and announced; enable undoes it.
    const beforeKill = s.seen();
    assert.match(tooljail('tools', 'disable', 'list_directory', '--state', s.state), /disabled list_directory/);
    const refused = await call(s.client, 'list_directory');
    assert.equal(refused.isError, true);
    assert.equal(errorCode(refused), 'TOOL_DISABLED');
    assert.ok(!(await names(s.client)).includes('list_directory'));
    const resources = (await s.client.listResources()).resources.map((r) => r.uri);
    assert.ok(resources.includes('tooljail://tools/read_file/policy'));
    assert.ok(!resources.includes('tooljail://tools/list_directory/policy'), 'a disabled tool\'s policy is not listed');
    await s.waitChanged(beforeKill);
    const beforeEnable = s.seen();
    tooljail('tools', 'enable', 'list_directory', '--state', s.state);
    assert.equal((await call(s.client, 'list_directory')).isError, false);
    await s.waitChanged(beforeEnable);
    assert.ok((await names(s.client)).includes('list_directory'));
  } finally {
    await s.client.close();
  }
});

test('a call running across a reload finishes with the tool it started with', async () => {
  const s = await startServer('running');
  try {
    // The run waits for a file in the (read-only, shared) workspace that the test creates only
    // after the reload that removed the tool has been taken.
    const flag = join(repo, 'reload-flag');
    const running = call(s.client, 'run_python', {
      code: "import os, time\nwhile not os.path.exists('reload-flag'): time.sleep(0.02)\nprint('finished')",
    });
    // The stdio loop handles messages in order: once a later request is answered, the call has
    // been dispatched with its snapshot.
    await s.client.listTools();
    unlinkSync(join(s.tools, 'run_python.json'));
    s.hangup();
    await s.waitLog(/reload: 8 tools served, added=- removed=run_python/);
    writeFileSync(flag, '');
    chmodSync(flag, 0o644);
    const result = await running;
    unlinkSync(flag);
    assert.equal(result.isError, false, JSON.stringify(result));
    assert.match(result.structuredContent.stdout, /finished/);
    await assert.rejects(call(s.client, 'run_python', { code: 'print(1)' }), /unknown tool: run_python/);
  } finally {
    await s.client.close();
  }
});

test('lock: a changed tool is refused with TOOL_NOT_APPROVED until approved and reloaded', async () => {
  const lock = join(dir, 'tools.lock');
  // The lock must exist before the server starts: approve the shipped set first.
  const tools = join(dir, 'locked', 'tools.d');
  const policies = join(dir, 'locked', 'policies');
  cpSync(join(source, 'tools.d'), tools, { recursive: true });
  cpSync(join(source, 'policies'), policies, { recursive: true });
  tooljail('tools', 'approve', '--all', '--lock', lock, '--tools-dir', tools, '--policy-dir', policies);
  rmSync(join(dir, 'locked'), { recursive: true });
  const s = await startServer('locked', ['--tools-lock', lock]);
  try {
    assert.equal((await call(s.client, 'read_file', { path: 'README.md' })).isError, false);

    const seen = s.seen();
    editDescription(s.tools, 'read_file', 'Read a file (changed behind the approver\'s back).');
    s.hangup();
    await s.waitChanged(seen);
    assert.ok(!(await names(s.client)).includes('read_file'));
    const refused = await call(s.client, 'read_file', { path: 'README.md' });
    assert.equal(refused.isError, true);
    assert.equal(errorCode(refused), 'TOOL_NOT_APPROVED');
    const approvedBefore = JSON.parse(readFileSync(lock, 'utf8')).read_file;
    assert.equal(refused.structuredContent.error.approved_sha256, approvedBefore);
    assert.match(refused.structuredContent.error.current_sha256, /^[0-9a-f]{64}$/);
    assert.notEqual(refused.structuredContent.error.current_sha256, approvedBefore);

    // `tools list` shows the drift against the lock.
    const listed = JSON.parse(tooljail('tools', 'list', '--json', '--lock', lock, '--tools-dir', s.tools,
                                       '--policy-dir', s.policies, '--state', s.state));
    const entry = listed.find((t) => t.name === 'read_file');
    assert.equal(entry.approved, false);
    assert.equal(entry.sha256, refused.structuredContent.error.current_sha256);

    tooljail('tools', 'approve', 'read_file', '--lock', lock, '--tools-dir', s.tools, '--policy-dir', s.policies);
    const again = s.seen();
    s.hangup();
    await s.waitChanged(again);
    assert.ok((await names(s.client)).includes('read_file'));
    assert.equal((await call(s.client, 'read_file', { path: 'README.md' })).isError, false);
  } finally {
    await s.client.close();
  }
});

// The list_changed push over HTTP (GET streams) is tested in http_push.test.mjs.
test('http: SIGHUP reloads for sessions, the kill switch refuses', async () => {
  const config = configCopy('http');
  const server = await startHttpServer(repo, config.args, { globalArgs: ['--log-level', 'info'] });
  const client = new Client({ name: 'tooljail-reload-http', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    assert.equal(client.getServerCapabilities().tools.listChanged, true);
    editDescription(config.tools, 'git_log', 'Show the commit log (changed for the HTTP reload test).');
    server.proc.kill('SIGHUP');
    await waitFor(() => /reload: 9 tools served.*changed=git_log/.test(server.stderr()), 'the reload', server.stderr);
    const listed = (await client.listTools()).tools.find((t) => t.name === 'git_log');
    assert.match(listed.description, /changed for the HTTP reload test/);

    tooljail('tools', 'disable', 'git_log', '--state', config.state);
    const refused = await call(client, 'git_log');
    assert.equal(errorCode(refused), 'TOOL_DISABLED');
    assert.ok(!(await names(client)).includes('git_log'));
  } finally {
    await client.close();
    await stopHttpServer(server);
  }
});

// Fault (issue 7): SIGHUP during heavy load. 8 clients' worth of calls in flight while the tools
// are reloaded ten times (each reload changes a description): every call gets its normal
// result, the server keeps answering, each reload is announced, and the store holds exactly one
// record per call.
test('stdio: SIGHUP during heavy load loses no call and no record', async () => {
  const store = mkdtempSync(join(tmpdir(), 'tooljail-reload-load-records-'));
  const s = await startServer('load', ['--records', store, '--max-parallel', '4', '--max-queued', '64']);
  const calls = 240;
  let next = 0;
  let ok = 0;
  const failures = [];
  const workers = Array.from({ length: 8 }, async () => {
    while (next < calls) {
      const i = next++;
      const r = await call(s.client, i % 2 ? 'git_status' : 'list_directory', i % 2 ? {} : { path: '.' });
      if (r.isError) failures.push(JSON.stringify(r.structuredContent ?? r).slice(0, 300));
      else ok++;
    }
  });
  const reloads = (async () => {
    for (let i = 0; i < 10; i++) {
      await sleep(150);
      const since = s.seen();
      editDescription(s.tools, 'git_status', `Git status, revision ${i} of the description under load.`);
      s.hangup();
      await s.waitChanged(since);
    }
  })();
  await Promise.all([...workers, reloads]);
  assert.deepEqual(failures, []);
  assert.equal(ok, calls);
  await s.client.ping();
  const listed = JSON.parse(tooljail('runs', 'list', '--json', '--limit', '0', '--records', store));
  assert.equal(listed.length, calls);
  assert.ok(listed.every((r) => r.status === 'success'), 'a run did not succeed');
  assert.match(s.log(), /reload: /);
  assert.doesNotMatch(s.log(), /reload failed/);
  await s.client.close();
  rmSync(store, { recursive: true, force: true });
});
