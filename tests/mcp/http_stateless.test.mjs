// Drives `tooljail serve --http` with the stateless 2026-07-28 revision over raw fetch(): no
// session, the version in every request's params._meta, and the MCP-Protocol-Version, Mcp-Method
// and Mcp-Name headers mirroring the body (SEP-2243/SEP-2575). Also CORS preflight, which both
// revisions share. Run by ctest (tests/CMakeLists.txt) with TOOLJAIL_BINARY set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { makeRepo, sandboxedPythons, sleep, startHttpServer, waitForNoPythons } from './fixture.mjs';

const VERSION = '2026-07-28';
const ACCEPT = 'application/json, text/event-stream';

let repo;
let server;  // { proc, url, port, stderr(), exited }

const startServer = () => startHttpServer(repo, ['--allowed-origin', 'http://localhost:5173']);

before(async () => {
  repo = makeRepo('tooljail-http-stateless-');
  server = await startServer();
});

after(async () => {
  if (server && server.proc.exitCode === null) server.proc.kill('SIGTERM');
  const exit = await server?.exited;
  if (repo) rmSync(repo, { recursive: true, force: true });
  assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM ends the server with status 0:\n${server?.stderr()}`);
});

// ---- helpers ----

const meta = {
  'io.modelcontextprotocol/protocolVersion': VERSION,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'tooljail-stateless-test', version: '1' },
};

// A request of this revision: params._meta carries the version and capabilities.
const request = (method, params = {}, id = 1) => ({
  jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...meta, ...params._meta } },
});

// The headers a conforming client sends for `body`.
function mirrors(body) {
  const headers = { 'mcp-protocol-version': VERSION, 'mcp-method': body.method };
  if (body.method === 'tools/call' || body.method === 'prompts/get') headers['mcp-name'] = body.params.name;
  if (body.method === 'resources/read') headers['mcp-name'] = body.params.uri;
  return headers;
}

const without = (headers, name) => Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name));

function post(body, headers = mirrors(body), options = {}) {
  return fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...options,
  });
}

// The JSON-RPC messages of a text/event-stream body.
function events(body) {
  const prefix = 'event: message\ndata: ';
  return body.split('\n\n').filter((e) => e.startsWith(prefix)).map((e) => JSON.parse(e.slice(prefix.length)));
}

// tools/call: the SSE response's final message.
async function callTool(name, args, id = 1, extraMeta = {}) {
  const body = request('tools/call', { name, arguments: args, _meta: extraMeta }, id);
  const res = await post(body);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const messages = events(await res.text());
  return { res, messages, last: messages.at(-1) };
}

// node:http keeps header names and values exactly as given (fetch() trims values).
function rawPost(body, headers) {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(server.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: ACCEPT, 'Content-Length': Buffer.byteLength(text),
                 ...headers },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

// One request written byte for byte on its own connection (node:http and fetch() refuse NUL and
// other control bytes in header values): `lines` are the request line and headers. Resolves to
// { status, head, body } once the server closes the connection (Connection: close).
function rawRequest(lines, body = '') {
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(server.port), '127.0.0.1');
    const chunks = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(text.slice(9, 12)), head: text.slice(0, split), body: text.slice(split + 4) });
    });
    const payload = Buffer.from(body);
    // Not end(): the server takes a half-closed connection for a client that left.
    sock.write(Buffer.concat([
      Buffer.from([...lines, 'Content-Type: application/json', `Accept: ${ACCEPT}`,
                   `Content-Length: ${payload.length}`, 'Connection: close', '', ''].join('\r\n'), 'latin1'),
      payload]));
  });
}

// The JSON body of a rawRequest() answered with Content-Length.
const rawJson = (res) => JSON.parse(res.body);

async function assertRefused(res, status, code, id) {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const body = await res.json();
  assert.equal(body.error.code, code, JSON.stringify(body));
  assert.equal(body.id, id, 'the error carries the request id');
  return body.error;
}

// ---- requests ----

test('server/discover answers without a session, with the versions and caching hints', async () => {
  const res = await post(request('server/discover', {}, 'd1'));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.equal(res.headers.get('mcp-session-id'), null, 'no session is minted');
  const { id, result } = await res.json();
  assert.equal(id, 'd1');
  assert.ok(result.supportedVersions.includes(VERSION));
  assert.ok(result.supportedVersions.includes('2025-11-25'));
  assert.ok(result.capabilities.tools);
  assert.equal(result.resultType, 'complete');
  assert.equal(result._meta['io.modelcontextprotocol/serverInfo'].name, 'tooljail');
  assert.equal(typeof result.ttlMs, 'number');
  assert.ok(['public', 'private'].includes(result.cacheScope));
});

test('tools/list carries resultType, ttlMs and cacheScope', async () => {
  const res = await post(request('tools/list', {}, 2));
  assert.equal(res.status, 200);
  const { result } = await res.json();
  assert.equal(result.resultType, 'complete');
  assert.equal(typeof result.ttlMs, 'number');
  assert.ok(result.ttlMs > 0);
  assert.ok(['public', 'private'].includes(result.cacheScope));
  const names = result.tools.map((t) => t.name);
  for (const name of ['list_directory', 'read_file', 'run_python']) assert.ok(names.includes(name), name);
});

test('tools/call streams progress then the result over SSE', async () => {
  const { res, messages, last } = await callTool('list_directory', {}, 7, { progressToken: 'p' });
  assert.equal(res.headers.get('x-accel-buffering'), 'no');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  assert.equal(last.id, 7);
  assert.equal(last.result.isError, false);
  assert.equal(last.result.resultType, 'complete');
  assert.equal(last.result._meta['io.modelcontextprotocol/serverInfo'].name, 'tooljail');
  assert.match(last.result.content.map((c) => c.text).join('\n'), /README\.md/);
  for (const m of messages.slice(0, -1)) assert.equal(m.method, 'notifications/progress');
});

test('run_python runs and reports its output', async () => {
  const { last } = await callTool('run_python', { code: 'print(6 * 7)' }, 'py');
  assert.equal(last.result.isError, false, JSON.stringify(last));
  assert.match(last.result.content.map((c) => c.text).join('\n'), /42/);
});

test('a notification gets 202 with no body', async () => {
  const note = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: meta } };
  const res = await post(note);
  assert.equal(res.status, 202);
  assert.equal(await res.text(), '');
});

// ---- header mirrors: 400 with -32020 (HeaderMismatch) naming the header ----

test('a missing or different Mcp-Method is 400 with -32020', async () => {
  const body = request('tools/list', {}, 10);
  let error = await assertRefused(await post(body, without(mirrors(body), 'mcp-method')), 400, -32020, 10);
  assert.match(error.message, /Mcp-Method/);
  assert.equal(error.data.header, 'Mcp-Method');
  error = await assertRefused(await post(body, { ...mirrors(body), 'mcp-method': 'prompts/list' }), 400, -32020, 10);
  assert.match(error.message, /Mcp-Method header 'prompts\/list' does not match the body's method 'tools\/list'/);
  // Values are case-sensitive.
  await assertRefused(await post(body, { ...mirrors(body), 'mcp-method': 'TOOLS/LIST' }), 400, -32020, 10);
  // Notifications mirror their method too.
  const note = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: meta } };
  const res = await post(note, { ...mirrors(note), 'mcp-method': 'tools/list' });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, -32020);
});

test('a missing or different MCP-Protocol-Version is 400 with -32020', async () => {
  const body = request('tools/list', {}, 11);
  // Stateless by its _meta alone: the header is still required.
  let error = await assertRefused(await post(body, without(mirrors(body), 'mcp-protocol-version')), 400, -32020, 11);
  assert.match(error.message, /MCP-Protocol-Version/);
  assert.equal(error.data.header, 'MCP-Protocol-Version');
  const other = request('server/discover', { _meta: { 'io.modelcontextprotocol/protocolVersion': 'v999.0.0' } }, 12);
  error = await assertRefused(await post(other, mirrors(other)), 400, -32020, 12);
  assert.match(error.message, /MCP-Protocol-Version header '2026-07-28' does not match params\._meta/);
});

test('tools/call, resources/read and prompts/get need a matching Mcp-Name', async () => {
  const call = request('tools/call', { name: 'list_directory', arguments: {} }, 13);
  let error = await assertRefused(await post(call, without(mirrors(call), 'mcp-name')), 400, -32020, 13);
  assert.match(error.message, /Mcp-Name header is required for tools\/call/);
  assert.equal(error.data.header, 'Mcp-Name');
  error = await assertRefused(await post(call, { ...mirrors(call), 'mcp-name': 'read_file' }), 400, -32020, 13);
  assert.match(error.message, /Mcp-Name header 'read_file' does not match params\.name 'list_directory'/);

  const read = request('resources/read', { uri: 'file:///workspace/README.md' }, 14);
  error = await assertRefused(await post(read, { ...mirrors(read), 'mcp-name': 'file:///etc/passwd' }), 400, -32020, 14);
  assert.match(error.message, /params\.uri/);
  await assertRefused(await post(read, without(mirrors(read), 'mcp-name')), 400, -32020, 14);

  const prompt = request('prompts/get', { name: 'review' }, 15);
  await assertRefused(await post(prompt, { ...mirrors(prompt), 'mcp-name': 'other' }), 400, -32020, 15);
  await assertRefused(await post(prompt, without(mirrors(prompt), 'mcp-name')), 400, -32020, 15);
});

test('a percent-encoded resource URI mirrored as sent is not a mismatch', async () => {
  // Compared byte for byte: the URI's own escapes are part of the value.
  const read = request('resources/read', { uri: 'tooljail://policies/no%20such' }, 18);
  const res = await post(read);
  const body = await res.json();
  assert.notEqual(body.error?.code, -32020, JSON.stringify(body));
  await assertRefused(await post(read, { ...mirrors(read), 'mcp-name': 'tooljail://policies/other' }), 400, -32020, 18);
});

test('header names are case-insensitive and values are trimmed', async () => {
  const list = request('tools/list', {}, 16);
  for (const name of ['mcp-method', 'MCP-METHOD', 'Mcp-Method']) {
    const res = await rawPost(list, { 'MCP-Protocol-Version': VERSION, [name]: 'tools/list' });
    assert.equal(res.status, 200, name);
    assert.ok(JSON.parse(res.body).result.tools, name);
  }
  const call = request('tools/call', { name: 'list_directory', arguments: {} }, 17);
  const res = await rawPost(call, { 'MCP-Protocol-Version': VERSION, 'Mcp-Method': 'tools/call',
                                    'Mcp-Name': '  list_directory  ' });
  assert.equal(res.status, 200);
  assert.equal(events(res.body).at(-1).result.isError, false);
});

// issue 16 item 8: values are compared with the body as sent. cpp-httplib decodes percent-escapes
// in every header value and its lookup ends a value at a NUL, which made these match.
test('mirrors are compared as sent: percent-escapes and NUL bytes do not match the body', async () => {
  const host = `Host: 127.0.0.1:${server.port}`;
  const call = (id, name) => JSON.stringify(request('tools/call', { name, arguments: {} }, id));
  const cases = [
    ['Mcp-Name: list%5Fdirectory', 'Mcp-Method: tools/call', call(80, 'list_directory'), 80],
    ['Mcp-Name: list_directory%00.x', 'Mcp-Method: tools/call', call(81, 'list_directory'), 81],
    ['Mcp-Name: list_directory\0.x', 'Mcp-Method: tools/call', call(82, 'list_directory'), 82],
    ['Mcp-Name: list_directory', 'Mcp-Method: tools%2Fcall', call(83, 'list_directory'), 83],
    ['Mcp-Name: list_directory', 'Mcp-Method: tools/call\0', call(84, 'list_directory'), 84],
  ];
  for (const [name, method, body, id] of cases) {
    const res = await rawRequest(['POST /mcp HTTP/1.1', host, `MCP-Protocol-Version: ${VERSION}`, method, name], body);
    assert.equal(res.status, 400, `${name} / ${method}: ${res.body}`);
    const reply = rawJson(res);
    assert.equal(reply.id, id);
    assert.equal(reply.error.code, -32020, res.body);
    assert.match(reply.error.data.header, /^Mcp-(Name|Method)$/);
  }
  // The same request mirrored as it is runs.
  const ok = await rawRequest(['POST /mcp HTTP/1.1', host, `MCP-Protocol-Version: ${VERSION}`,
                               'Mcp-Method: tools/call', 'Mcp-Name: list_directory'], call(85, 'list_directory'));
  assert.equal(ok.status, 200, ok.body);
  assert.match(ok.body, /"id":85/);
});

test('Mcp-Name in the =?base64?...?= form is decoded before the comparison', async () => {
  const encoded = `=?base64?${Buffer.from('list_directory').toString('base64')}?=`;
  const { last } = await (async () => {
    const body = request('tools/call', { name: 'list_directory', arguments: {} }, 86);
    const res = await post(body, { ...mirrors(body), 'mcp-name': encoded });
    assert.equal(res.status, 200);
    return { last: events(await res.text()).at(-1) };
  })();
  assert.equal(last.id, 86);
  assert.equal(last.result.isError, false, JSON.stringify(last));
  // A name that is not ASCII only travels this way; the body's UTF-8 is what it must decode to.
  const prompt = request('prompts/get', { name: 'caf\u00e9' }, 87);
  const res = await post(prompt, { ...mirrors(prompt), 'mcp-name': `=?base64?${Buffer.from('caf\u00e9').toString('base64')}?=` });
  assert.notEqual((await res.json()).error?.code, -32020);
  // Invalid Base64 inside the markers (here: no padding) is a mismatch, not a literal.
  const body = request('tools/call', { name: 'list_directory', arguments: {} }, 88);
  const error = await assertRefused(await post(body, { ...mirrors(body), 'mcp-name': '=?base64?bGlzdF9kaXJlY3Rvcnk?=' }),
                                    400, -32020, 88);
  assert.match(error.message, /Base64/);
});

test('a Host or Origin carrying a NUL, raw or percent-encoded, is 403', async () => {
  const list = JSON.stringify(request('tools/list', {}, 89));
  const mirrored = [`MCP-Protocol-Version: ${VERSION}`, 'Mcp-Method: tools/list'];
  for (const bad of [`Host: 127.0.0.1%00.evil.example:${server.port}`, `Host: 127.0.0.1\0.evil.example:${server.port}`,
                     'Host: localhost\0']) {
    const res = await rawRequest(['POST /mcp HTTP/1.1', bad, ...mirrored], list);
    assert.equal(res.status, 403, bad);
  }
  const host = `Host: 127.0.0.1:${server.port}`;
  for (const bad of ['Origin: http://localhost:5173\0.evil.example', 'Origin: http://localhost:5173%00.evil.example']) {
    const res = await rawRequest(['POST /mcp HTTP/1.1', host, bad, ...mirrored], list);
    assert.equal(res.status, 403, bad);
    assert.doesNotMatch(res.head, /access-control-allow-origin/i);
  }
  // Two Hosts (RFC 9112: a server must refuse), and two Origins.
  assert.equal((await rawRequest(['POST /mcp HTTP/1.1', host, 'Host: evil.example', ...mirrored], list)).status, 403);
  assert.equal((await rawRequest(['POST /mcp HTTP/1.1', host, 'Origin: http://localhost:5173',
                                  'Origin: http://evil.example', ...mirrored], list)).status, 403);
  const ok = await rawRequest(['POST /mcp HTTP/1.1', host, 'Origin: http://localhost:5173', ...mirrored], list);
  assert.equal(ok.status, 200, ok.body);
});

// issue 16 item 13: this revision has no sessions; its servers ignore the header.
test('a 2026-07-28 request carrying Mcp-Session-Id is served statelessly, the header ignored', async () => {
  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize',
                            params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }, {});
  const sid = init.headers.get('mcp-session-id');
  assert.ok(sid);
  for (const id of ['not-a-session', sid]) {
    const body = request('tools/list', {}, 90);
    const res = await post(body, { ...mirrors(body), 'mcp-session-id': id });
    assert.equal(res.status, 200, id);
    assert.equal(res.headers.get('mcp-session-id'), null, 'no session id is echoed');
    const reply = await res.json();
    assert.equal(reply.result.resultType, 'complete');
  }
  const { last } = await (async () => {
    const body = request('tools/call', { name: 'list_directory', arguments: {} }, 91);
    const res = await post(body, { ...mirrors(body), 'mcp-session-id': 'stale' });
    assert.equal(res.status, 200);
    return { last: events(await res.text()).at(-1) };
  })();
  assert.equal(last.id, 91);
  assert.equal(last.result.resultType, 'complete');
  // GET and DELETE of this revision are 405 whatever session id they carry; the session lives on.
  const headers = { 'mcp-protocol-version': VERSION, 'mcp-session-id': sid };
  assert.equal((await fetch(server.url, { headers: { accept: 'text/event-stream', ...headers } })).status, 405);
  assert.equal((await fetch(server.url, { method: 'DELETE', headers })).status, 405);
  const ping = await post({ jsonrpc: '2.0', id: 2, method: 'ping' }, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
  assert.equal(ping.status, 200);
});

// issue 16 item 11: a response is never answered.
test('a JSON-RPC response POSTed by the client is accepted and dropped: 202, no body', async () => {
  for (const body of [{ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } },
                      { jsonrpc: '2.0', id: 5, result: {} },
                      { jsonrpc: '2.0', error: { code: -32600, message: 'x' } }]) {
    const res = await post(body, { 'mcp-protocol-version': VERSION });
    assert.equal(res.status, 202, JSON.stringify(body));
    assert.equal(await res.text(), '');
  }
});

// issue 16 item 9: valid JSON that is not taken is answered with the request's id.
test('a lone surrogate or too deep a request is 400 with -32602 and the request id', async () => {
  const mirrored = { 'mcp-protocol-version': VERSION, 'mcp-method': 'tools/list' };
  const metaText = JSON.stringify(meta);
  let res = await post(`{"jsonrpc":"2.0","id":92,"method":"tools/list","params":{"x":"\\ud800","_meta":${metaText}}}`, mirrored);
  let error = await assertRefused(res, 400, -32602, 92);
  assert.match(error.message, /lone UTF-16 surrogate escape \(\\ud800\)/);
  res = await post(`{"jsonrpc":"2.0","id":93,"method":"tools/list","params":{"x":${'['.repeat(80)}${']'.repeat(80)},"_meta":${metaText}}}`, mirrored);
  error = await assertRefused(res, 400, -32602, 93);
  assert.match(error.message, /nested deeper than 64 levels/);
});

// ---- _meta, versions and methods ----

test('a request without the _meta version or client capabilities is 400 with -32602', async () => {
  const bare = { jsonrpc: '2.0', id: 20, method: 'server/discover', params: {} };
  const error = await assertRefused(await post(bare), 400, -32602, 20);
  assert.match(error.message, /io\.modelcontextprotocol\/protocolVersion/);
  const noCaps = { jsonrpc: '2.0', id: 21, method: 'server/discover',
                   params: { _meta: { 'io.modelcontextprotocol/protocolVersion': VERSION } } };
  const capsError = await assertRefused(await post(noCaps), 400, -32602, 21);
  assert.match(capsError.message, /io\.modelcontextprotocol\/clientCapabilities/);
  // clientInfo is a SHOULD: its absence is served.
  const noInfo = { jsonrpc: '2.0', id: 22, method: 'server/discover',
                   params: { _meta: { 'io.modelcontextprotocol/protocolVersion': VERSION,
                                      'io.modelcontextprotocol/clientCapabilities': {} } } };
  assert.equal((await post(noInfo)).status, 200);
});

test('an unsupported version is 400 with -32022 listing the supported ones', async () => {
  const body = request('server/discover', { _meta: { 'io.modelcontextprotocol/protocolVersion': 'v999.0.0' } }, 30);
  const error = await assertRefused(await post(body, { ...mirrors(body), 'mcp-protocol-version': 'v999.0.0' }),
                                    400, -32022, 30);
  assert.ok(error.data.supported.includes(VERSION));
  assert.equal(error.data.requested, 'v999.0.0');
});

test('an unknown or removed method is 404 with -32601', async () => {
  for (const [i, method] of ['unknown/method', 'initialize', 'ping', 'logging/setLevel'].entries()) {
    const body = request(method, {}, 40 + i);
    await assertRefused(await post(body), 404, -32601, 40 + i);
  }
});

test('an unknown tool is 400 with -32602', async () => {
  const body = request('tools/call', { name: 'no_such_tool', arguments: {} }, 50);
  const error = await assertRefused(await post(body), 400, -32602, 50);
  assert.equal(error.data.code, 'UNKNOWN_TOOL');
});

test('malformed JSON with the 2026-07-28 header is 400 with a parse error', async () => {
  const res = await post('{"jsonrpc":', { 'mcp-protocol-version': VERSION, 'mcp-method': 'tools/list' });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, -32700);
});

test('GET and DELETE without a session are 405', async () => {
  const get = await fetch(server.url, { headers: { accept: 'text/event-stream', 'mcp-protocol-version': VERSION } });
  assert.equal(get.status, 405);
  const del = await fetch(server.url, { method: 'DELETE', headers: { 'mcp-protocol-version': VERSION } });
  assert.equal(del.status, 405);
  assert.match(del.headers.get('allow'), /POST/);
  assert.equal((await del.json()).error.code, -32600);
});

// ---- runs ----

test('closing the response stream cancels the call and kills its run', async () => {
  const controller = new AbortController();
  const body = request('tools/call', { name: 'run_python', arguments: { code: 'import time\ntime.sleep(60)' } }, 60);
  const res = await post(body, mirrors(body), { signal: controller.signal });
  assert.equal(res.status, 200);
  await sleep(700);
  assert.ok(sandboxedPythons().length >= 1, 'the run started');
  controller.abort();
  await waitForNoPythons();
  assert.equal((await post(request('tools/list', {}, 61))).status, 200, 'the server keeps serving');
});

test('two calls with the same id at once both complete', async () => {
  // The longer one is sent first; it finishes last only if both ran at the same time.
  const order = [];
  const [slow, quick] = await Promise.all([['slow', 1.5], ['quick', 0.3]].map(([word, seconds]) =>
    callTool('run_python', { code: `import time; time.sleep(${seconds}); print("${word}")` }, 99).then((r) => {
      order.push(word);
      return r;
    })));
  for (const [{ last }, word] of [[slow, 'slow'], [quick, 'quick']]) {
    assert.equal(last.id, 99);
    assert.equal(last.result.isError, false, JSON.stringify(last));
    assert.match(last.result.content.map((c) => c.text).join('\n'), new RegExp(word));
  }
  assert.deepEqual(order, ['quick', 'slow']);
});

// issue 16 item 10: the call the drain ends still gets its response on its stream.
test('SIGTERM with a stateless call in flight and --drain-timeout 0 exits 0, kills the run and answers the call', async () => {
  const own = await startHttpServer(repo, ['--drain-timeout', '0']);
  const body = request('tools/call', { name: 'run_python', arguments: { code: 'import time\ntime.sleep(60)' } }, 62);
  const res = await fetch(own.url, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, ...mirrors(body) },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  const text = res.text().catch(() => '');
  await sleep(700);
  assert.ok(sandboxedPythons().length >= 1, 'the run started');
  own.proc.kill('SIGTERM');
  assert.deepEqual(await own.exited, { code: 0, signal: null });
  const last = events(await text).at(-1);
  assert.equal(last?.id, 62, 'the stream ends with the call\'s response');
  assert.equal(last.result.isError, true);
  assert.equal(last.result.structuredContent.reason, 'cancelled');
  await waitForNoPythons();
});

test('sessions of 2025-11-25 still open next to stateless requests', async () => {
  const res = await post({ jsonrpc: '2.0', id: 1, method: 'initialize',
                           params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
                         {});
  assert.equal(res.status, 200);
  assert.match(res.headers.get('mcp-session-id') ?? '', /^[0-9a-f]{32}$/);
  assert.equal((await res.json()).result.protocolVersion, '2025-11-25');
});

// ---- CORS ----

test('a preflight from an allowed Origin gets 204 with the CORS headers', async () => {
  for (const origin of [`http://localhost:${server.port}`, 'http://localhost:5173']) {
    const res = await fetch(server.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST',
                 'access-control-request-headers': 'content-type, mcp-protocol-version, mcp-method, mcp-name' },
    });
    assert.equal(res.status, 204, origin);
    assert.equal(res.headers.get('access-control-allow-origin'), origin);
    assert.match(res.headers.get('vary'), /Origin/);
    assert.deepEqual(res.headers.get('access-control-allow-methods').split(/,\s*/).sort(), ['DELETE', 'GET', 'POST']);
    const allowed = res.headers.get('access-control-allow-headers').toLowerCase().split(/,\s*/);
    for (const h of ['content-type', 'accept', 'authorization', 'mcp-session-id', 'mcp-protocol-version',
                     'mcp-method', 'mcp-name', 'last-event-id']) assert.ok(allowed.includes(h), h);
    assert.equal(res.headers.get('access-control-expose-headers'), 'Mcp-Session-Id, WWW-Authenticate');
    assert.ok(Number(res.headers.get('access-control-max-age')) > 0);
  }
});

test('a preflight from a foreign Origin is 403 without CORS headers', async () => {
  const res = await fetch(server.url, {
    method: 'OPTIONS', headers: { origin: 'http://evil.example.com', 'access-control-request-method': 'POST' },
  });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  assert.equal((await res.json()).error.code, -32600);
});

test('responses to an allowed Origin carry Access-Control-Allow-Origin and expose Mcp-Session-Id', async () => {
  const origin = 'http://localhost:5173';
  const res = await post(request('tools/list', {}, 70), { ...mirrors(request('tools/list')), origin });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), origin);
  assert.equal(res.headers.get('access-control-expose-headers'), 'Mcp-Session-Id, WWW-Authenticate');
  const refused = await post(request('tools/list', {}, 71), { origin: 'http://evil.example.com' });
  assert.equal(refused.status, 403);
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
});

test('resources: list and read carry resultType and cache hints; an unknown URI is -32602', async () => {
  const list = await (await post(request('resources/list'))).json();
  assert.equal(list.result.resultType, 'complete');
  assert.equal(list.result.cacheScope, 'private');
  assert.ok(list.result.resources.some((r) => r.uri === 'tooljail://policies/default'));

  const policy = await (await post(request('resources/read', { uri: 'tooljail://policies/strict' }))).json();
  assert.equal(JSON.parse(policy.result.contents[0].text).name, 'strict');
  assert.equal(policy.result.resultType, 'complete');

  const { last } = await callTool('run_python', { code: 'print("z" * 70000)' }, 5);
  const uri = last.result.structuredContent.stdout_resource;
  const page = await (await post(request('resources/read', { uri: `${uri}?offset=65536` }))).json();
  assert.equal(page.result.contents[0].text.length, 70001 - 65536);
  assert.equal(page.result.contents[0]._meta['tooljail/page'].next, null);

  const res = await post(request('resources/read', { uri: 'tooljail://runs/run-0-0/stdout' }));
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, -32602);
});
