#!/usr/bin/env node
// README walkthrough: connects the official MCP SDK client to `tooljail serve`, lists the tools
// and runs each shipped tool once against the workspace (a git repository), then pages through
// a run's output as a resource. Exits 1 when any step fails.
//
//   node tests/mcp/walkthrough.mjs -- build/tooljail serve --workspace ~/src/repo   (stdio)
//   node tests/mcp/walkthrough.mjs --url http://127.0.0.1:8931/mcp                  (HTTP)
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const argv = process.argv.slice(2);
let transport;
if (argv[0] === '--url' && argv[1]) {
  transport = new StreamableHTTPClientTransport(new URL(argv[1]));
} else if (argv[0] === '--' && argv[1]) {
  // The server gets this environment (TOOLJAIL_RECORDS, TOOLJAIL_POLICY_DIR, ...), not the SDK's
  // default subset.
  transport = new StdioClientTransport({ command: argv[1], args: argv.slice(2), env: process.env, stderr: 'inherit' });
} else {
  console.error('usage: walkthrough.mjs --url URL | walkthrough.mjs -- TOOLJAIL serve --workspace REPO');
  process.exit(2);
}

// One call per shipped tool; each must succeed on any git repository with a commit.
const calls = [
  ['list_directory', { path: '.' }],
  ['read_file', { path: '.git/HEAD' }],
  ['search_text', { pattern: 'e', max_count: 3 }],
  ['git_status', {}],
  ['git_log', { max_count: 3 }],
  ['git_diff', {}],
  ['git_show', { rev: 'HEAD' }],
  ['run_python', { code: 'import os, sys\nprint("python", sys.version.split()[0], "as uid", os.getuid(), "in", os.getcwd())' }],
  ['run_command', { program: 'wc', args: ['-l', '.git/HEAD'] }],
];

const client = new Client({ name: 'tooljail-walkthrough', version: '1.0.0' });
let failures = 0;
try {
  await client.connect(transport);
  const server = client.getServerVersion();
  console.log(`connected to ${server.name} ${server.version}`);
  const { tools } = await client.listTools();
  console.log(`tools: ${tools.map((t) => t.name).join(', ')}`);
  for (const [name, args] of calls) {
    if (!tools.some((t) => t.name === name)) {
      console.log(`FAIL ${name}: not listed`);
      failures++;
      continue;
    }
    const result = await client.callTool({ name, arguments: args });
    const s = result.structuredContent;
    const first = (s.stdout.split('\n').find((l) => l.trim()) ?? '').slice(0, 70);
    console.log(`${result.isError ? 'FAIL' : 'ok  '} ${name.padEnd(15)} ${s.reason} exit=${s.exit_code} ` +
                `${s.wall_ms} ms  ${first}`);
    if (result.isError) {
      console.log(`     ${s.error?.code}: ${s.error?.message}\n${s.stderr}`);
      failures++;
    }
  }
  // Output too long for a result stays readable as a resource, one page at a time.
  const big = await client.callTool({ name: 'run_python', arguments: { code: 'print("x" * 100000)' } });
  const uri = big.structuredContent.stdout_resource;
  const page = uri ? await client.readResource({ uri: `${uri}?offset=65536` }) : null;
  const length = page?.contents[0].text.length ?? 0;
  console.log(`${length === 100001 - 65536 ? 'ok  ' : 'FAIL'} resources/read ${uri}?offset=65536: ${length} bytes`);
  if (length !== 100001 - 65536) failures++;
} catch (e) {
  console.log(`FAIL ${e.message}`);
  failures++;
} finally {
  await client.close().catch(() => {});
}
console.log(failures === 0 ? 'all tools ran' : `${failures} step(s) failed`);
process.exit(failures === 0 ? 0 : 1);
