// Shared by the SDK tests: the git-repository workspace and helpers over results and processes.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, chmodSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const binary = process.env.TOOLJAIL_BINARY;
assert.ok(binary, 'TOOLJAIL_BINARY must point at the tooljail binary');

// A git repository with one commit and one uncommitted change, readable by the sandbox user
// (host nobody): world-readable files and directories.
export function makeRepo(prefix) {
  const repo = mkdtempSync(join(tmpdir(), prefix));
  const git = (...args) => execFileSync(
    'git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { stdio: 'pipe' });
  chmodSync(repo, 0o755);
  git('init', '-q', '-b', 'main');
  mkdirSync(join(repo, 'src'));
  writeFileSync(join(repo, 'README.md'), 'hello tooljail\nsecond line\nthird line\n');
  writeFileSync(join(repo, 'src', 'main.py'), 'def greet():\n    return "needle in a haystack"\n');
  git('add', '.');
  git('commit', '-q', '-m', 'first commit');
  writeFileSync(join(repo, 'README.md'), 'hello tooljail\nsecond line changed\nthird line\n');
  execFileSync('chmod', ['-R', 'o+rX', repo]);
  return repo;
}

export const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Host processes running run_python's interpreter (argv "/usr/bin/python3 -I -B -").
export function sandboxedPythons() {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8') === '/usr/bin/python3\0-I\0-B\0-\0';
    } catch { return false; }
  });
}

// The kill is asynchronous to the client's abort: allow the server a moment to reap.
export async function waitForNoPythons() {
  for (let i = 0; i < 50 && sandboxedPythons().length > 0; i++) await sleep(100);
  assert.deepEqual(sandboxedPythons(), []);
}

// Starts `tooljail ...globalArgs serve --http 127.0.0.1:0 --workspace repo ...extraArgs` and
// resolves once it prints the URL it bound: { proc, url, port, stdout(), stderr(), exited }.
// globalArgs are tooljail's own (--log-level info to see INFO events such as reloads).
export function startHttpServer(repo, extraArgs = [], { globalArgs = [] } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(binary, [...globalArgs, 'serve', '--http', '127.0.0.1:0', '--workspace', repo, ...extraArgs],
                       { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = stderr.match(/serving MCP over Streamable HTTP at (http:\/\/127\.0\.0\.1:(\d+)\/mcp)/);
      if (m) resolve({ proc, url: m[1], port: m[2], stdout: () => stdout, stderr: () => stderr, exited });
    });
    proc.on('error', reject);
    exited.then(({ code }) => reject(new Error(`tooljail exited with ${code} before listening:\n${stderr}`)));
  });
}

// SIGTERM, then the exit status.
export async function stopHttpServer(server) {
  if (!server || server.proc.exitCode !== null) return server?.exited;
  server.proc.kill('SIGTERM');
  return server.exited;
}
