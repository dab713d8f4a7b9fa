// Drives `tooljail serve` over stdio with the official MCP TypeScript SDK client, against a real
// git repository as the workspace. Run by ctest (tests/CMakeLists.txt) with TOOLJAIL_BINARY set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { binary, makeRepo, sandboxedPythons, sleep, text, waitForNoPythons } from './fixture.mjs';

let repo;
let client;

before(async () => {
  repo = makeRepo('tooljail-sdk-');

  client = new Client({ name: 'tooljail-sdk-test', version: '1.0.0' });
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve', '--workspace', repo],
    env: process.env,  // TOOLJAIL_RECORDS from ctest, not the SDK's default subset
    stderr: 'pipe',
  });
  await client.connect(transport);
});

after(async () => {
  await client?.close();
  if (repo) rmSync(repo, { recursive: true, force: true });
});

const call = (name, args = {}, options) => client.callTool({ name, arguments: args }, undefined, options);

test('initialize negotiates the current protocol and names the server', () => {
  const info = client.getServerVersion();
  assert.equal(info.name, 'tooljail');
  assert.ok(client.getServerCapabilities().tools);
  assert.match(client.getInstructions() ?? '', /read-only at \/workspace/);
});

test('tools/list has every shipped tool with schemas and truthful annotations', async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['git_diff', 'git_log', 'git_show', 'git_status', 'list_directory',
                           'read_file', 'run_command', 'run_python', 'search_text']);
  for (const tool of tools) {
    assert.equal(tool.inputSchema.type, 'object', tool.name);
    assert.equal(tool.inputSchema.additionalProperties, false, tool.name);
    assert.equal(tool.outputSchema?.type, 'object', tool.name);
    assert.equal(tool.annotations.readOnlyHint, true, tool.name);
    assert.equal(tool.annotations.openWorldHint, false, tool.name);
    assert.ok(tool.description.length > 40, tool.name);
  }
});

test('list_directory and read_file see the workspace', async () => {
  const listing = await call('list_directory');
  assert.equal(listing.isError, false);
  assert.match(text(listing), /README\.md/);
  assert.equal(listing.structuredContent.status, 'success');
  assert.equal(listing.structuredContent.exit_code, 0);
  assert.match(listing.structuredContent.run_id, /^run-/);

  const lines = await call('read_file', { path: 'README.md', start_line: 2, end_line: 2 });
  assert.equal(lines.isError, false);
  assert.match(text(lines), /second line changed/);
  assert.doesNotMatch(text(lines), /third line/);
});

test('search_text finds a pattern', async () => {
  const found = await call('search_text', { pattern: 'needle' });
  assert.equal(found.isError, false);
  assert.match(text(found), /src\/main\.py:2:/);
});

test('git tools read the repository', async () => {
  const status = await call('git_status');
  assert.equal(status.isError, false, text(status));
  assert.match(text(status), /M README\.md/);
  const log = await call('git_log', { max_count: 5 });
  assert.equal(log.isError, false, text(log));
  assert.match(text(log), /first commit/);
  const diff = await call('git_diff');
  assert.equal(diff.isError, false, text(diff));
  assert.match(text(diff), /\+second line changed/);
  const show = await call('git_show', { rev: 'HEAD' });
  assert.equal(show.isError, false, text(show));
  assert.match(text(show), /first commit/);
});

test('run_python and run_command execute inside the sandbox', async () => {
  const py = await call('run_python', { code: 'import os\nprint(os.getuid(), os.getcwd())' });
  assert.equal(py.isError, false, text(py));
  assert.match(text(py), /^1000 \/workspace/);
  const wc = await call('run_command', { program: 'wc', args: ['-l', 'README.md'] });
  assert.equal(wc.isError, false, text(wc));
  assert.match(text(wc), /^3 README\.md/);
});

test('a failing program is a tool error with a code, not a protocol error', async () => {
  const py = await call('run_python', { code: 'import sys; sys.exit(4)' });
  assert.equal(py.isError, true);
  assert.equal(py.structuredContent.status, 'failure');
  assert.equal(py.structuredContent.exit_code, 4);
  assert.equal(py.structuredContent.error.code, 'EXIT_NONZERO');
});

test('bad arguments are VALIDATION_ERROR results naming the argument and rule', async () => {
  const escape = await call('read_file', { path: '../../etc/passwd' });
  assert.equal(escape.isError, true);
  assert.equal(escape.structuredContent.error.code, 'VALIDATION_ERROR');
  assert.equal(escape.structuredContent.error.argument, 'path');
  const injection = await call('git_show', { rev: '--output=/tmp/x' });
  assert.equal(injection.isError, true);
  assert.equal(injection.structuredContent.error.code, 'VALIDATION_ERROR');
  const unknown = await call('list_directory', { path: '.', extra: 1 });
  assert.equal(unknown.isError, true);
  assert.equal(unknown.structuredContent.error.code, 'VALIDATION_ERROR');
  const shell = await call('run_command', { program: 'wc', args: ['-l;id'] });
  assert.equal(shell.isError, true);
  assert.equal(shell.structuredContent.error.rule, 'metacharacter');
});

test('an unknown tool is a JSON-RPC error', async () => {
  await assert.rejects(call('no_such_tool'), (e) => e instanceof McpError && e.code === -32602);
});

test('a slow call does not block ping or other calls', async () => {
  const slow = call('run_python', { code: 'import time; time.sleep(3); print("slow done")' });
  let slowDone = false;
  slow.then(() => { slowDone = true; });
  await client.ping();
  const quick = await call('list_directory');
  assert.equal(quick.isError, false);
  assert.equal(slowDone, false, 'ping and a quick call returned while the slow call still ran');
  const result = await slow;
  assert.match(text(result), /slow done/);
});

test('calls run in parallel', async () => {
  // Calls share nothing, so overlap shows in the completion order: four sleepers of decreasing
  // length started together finish shortest-first only if they ran at the same time.
  const order = [];
  const sleeps = [2.0, 1.5, 1.0, 0.5];
  await Promise.all(sleeps.map((s) =>
    call('run_python', { code: `import time; time.sleep(${s}); print(${s})` }).then((r) => {
      assert.equal(r.isError, false, text(r));
      order.push(s);
    })));
  assert.deepEqual(order, [0.5, 1.0, 1.5, 2.0]);
});

test('cancelling a call kills its run and the server keeps serving', async () => {
  const controller = new AbortController();
  const pending = call('run_python', { code: 'import time\ntime.sleep(60)' }, { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(sandboxedPythons().length >= 1, 'the run started');
  controller.abort('test cancels');
  await assert.rejects(pending);
  await client.ping();
  const after = await call('list_directory');
  assert.equal(after.isError, false);
  await waitForNoPythons();
});

test('progress notifications carry elapsed time and output while a call runs', async () => {
  const updates = [];
  const result = await call('run_python',
    { code: 'import time, sys\nfor i in range(3):\n    print("step", i, flush=True)\n    time.sleep(0.8)\n' },
    { onprogress: (p) => updates.push(p) });
  assert.equal(result.isError, false, text(result));
  assert.ok(updates.length >= 2, `got ${updates.length} progress notifications`);
  for (let i = 1; i < updates.length; i++) assert.ok(updates[i].progress > updates[i - 1].progress);
  assert.match(updates.map((u) => u.message).join('\n'), /running for \d+\.\d s/);
  assert.match(updates.map((u) => u.message).join('\n'), /step 0/);
});

test('a search with no match is an empty success, not an error', async () => {
  const none = await call('search_text', { pattern: 'no-such-text-anywhere-xyz' });
  assert.equal(none.isError, false, text(none));
  assert.equal(none.structuredContent.exit_code, 1);
  assert.equal(none.structuredContent.status, 'success');
});

test('resources: the effective policies are listed and readable', async () => {
  const { resources } = await client.listResources();
  const uris = resources.map((r) => r.uri);
  for (const u of ['tooljail://policies/default', 'tooljail://policies/strict', 'tooljail://policies/ci',
                   'tooljail://tools/run_python/policy', 'tooljail://tools/read_file/policy'])
    assert.ok(uris.includes(u), u);
  const ci = await client.readResource({ uri: 'tooljail://policies/ci' });
  const doc = JSON.parse(ci.contents[0].text);
  assert.equal(ci.contents[0].mimeType, 'application/json');
  assert.equal(doc.name, 'ci');
  assert.equal(doc.limits.memory_mb, 1024);
  const effective = JSON.parse((await client.readResource({ uri: 'tooljail://tools/run_python/policy' })).contents[0].text);
  assert.equal(effective.name, 'ci');
  assert.ok(effective.workspace.source.length > 0);
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.ok(resourceTemplates.some((t) => t.uriTemplate === 'tooljail://runs/{run_id}/stdout{?offset,length}'));
  assert.ok(client.getServerCapabilities().resources);
});

test('resources: output cut from a result is paged back in full', async () => {
  // 300 000 bytes of numbered lines: more than a result shows (64 KiB), less than the capture cap.
  const code = 'import sys\nfor i in range(30000):\n    sys.stdout.write("%09d\\n" % i)\n';
  const result = await call('run_python', { code });
  assert.equal(result.isError, false, text(result));
  const s = result.structuredContent;
  assert.equal(s.stdout_truncated, true);
  assert.equal(s.stdout_bytes, 300000);
  assert.equal(s.stdout_captured_bytes, 300000);
  assert.equal(s.stdout.length, 65536);
  assert.equal(s.stdout_resource, `tooljail://runs/${s.run_id}/stdout`);
  assert.ok(result.content.some((c) => c.type === 'resource_link' && c.uri === s.stdout_resource));
  assert.match(text(result), new RegExp(`${s.stdout_resource}\\?offset=65536`));

  let uri = `${s.stdout_resource}?offset=65536`;
  let all = s.stdout;
  let pages = 0;
  while (uri) {
    const page = await client.readResource({ uri });
    const item = page.contents[0];
    assert.equal(item.mimeType, 'text/plain');
    all += item.text;
    uri = item._meta['tooljail/page'].next;
    pages++;
  }
  assert.equal(pages, 4);
  assert.equal(all.length, 300000);
  assert.ok(all.endsWith('000029999\n'));
  assert.equal(all.split('\n').length, 30001);

  const small = await client.readResource({ uri: `${s.stdout_resource}?offset=10&length=20` });
  assert.equal(small.contents[0].text, '000000001\n000000002\n');

  const { resources } = await client.listResources();
  assert.ok(resources.some((r) => r.uri === s.stdout_resource && r.size === 300000));
  const summary = JSON.parse((await client.readResource({ uri: `tooljail://runs/${s.run_id}` })).contents[0].text);
  assert.equal(summary.tool, 'run_python');
  assert.equal(summary.stdout_bytes, 300000);
});

test('resources: unknown or malformed URIs are JSON-RPC errors', async () => {
  for (const uri of ['tooljail://runs/run-0-0/stdout', 'tooljail://policies/nope', 'file:///etc/passwd',
                     'tooljail://runs/x/stdout?length=0'])
    await assert.rejects(client.readResource({ uri }), (e) => e instanceof McpError && e.code === -32002, uri);
});

test('logging/setLevel filters notifications/message about runs', async () => {
  const messages = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => messages.push(n.params));
  assert.deepEqual(await client.setLoggingLevel('debug'), {});
  const ok = await call('list_directory');
  const runId = ok.structuredContent.run_id;
  await sleep(200);
  const mine = messages.filter((m) => m.data.run_id === runId);
  assert.deepEqual(mine.map((m) => [m.level, m.data.event]), [['debug', 'run_started'], ['info', 'run_finished']]);
  assert.equal(mine[1].logger, 'tooljail');

  messages.length = 0;
  await client.setLoggingLevel('warning');
  await call('list_directory');
  const failed = await call('run_python', { code: 'raise SystemExit(3)' });
  await sleep(200);
  assert.deepEqual(messages.map((m) => [m.level, m.data.event, m.data.run_id]),
                   [['warning', 'run_finished', failed.structuredContent.run_id]]);
  for (const m of messages) assert.equal(JSON.stringify(m).includes('SystemExit'), false, 'no arguments in logs');
  await assert.rejects(client.setLoggingLevel('loud'), (e) => e instanceof McpError && e.code === -32602);
});
