// Keeps README's walkthrough true: tests/mcp/walkthrough.mjs runs every shipped tool through the
// official SDK client over stdio and over Streamable HTTP, against a real git repository.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { binary, makeRepo, startHttpServer, stopHttpServer } from './fixture.mjs';

const walkthrough = fileURLToPath(new URL('./walkthrough.mjs', import.meta.url));
let repo;

before(() => { repo = makeRepo('tooljail-walkthrough-'); });
after(() => { if (repo) rmSync(repo, { recursive: true, force: true }); });

function run(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [walkthrough, ...args], { timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? error.code : 0, stdout, stderr }));
  });
}

function check({ code, stdout, stderr }) {
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  for (const tool of ['list_directory', 'read_file', 'search_text', 'git_status', 'git_log', 'git_diff',
                      'git_show', 'run_python', 'run_command', 'resources/read'])
    assert.match(stdout, new RegExp(`^ok +${tool}`, 'm'), stdout);
  assert.match(stdout, /^all tools ran$/m);
}

test('over stdio', async () => {
  check(await run(['--', binary, 'serve', '--workspace', repo]));
});

test('over Streamable HTTP', async () => {
  const server = await startHttpServer(repo);
  try {
    check(await run(['--url', server.url]));
  } finally {
    const { code } = await stopHttpServer(server);
    assert.equal(code, 0);
  }
});
