// The Kubernetes files' linter (docs/OPERATIONS.md, "Kubernetes"): every object of every
// deploy/k8s/*.yaml is validated offline, three ways:
//   1. against the Kubernetes API's JSON schemas bundled in kubernetes-models (types, enums,
//      required fields, formats);
//   2. strictly: a field the API does not know (a typo such as `procmount`) is an error. The
//      schemas allow unknown fields, as the API server's non-strict decoding does, so the known
//      fields come from the models' type declarations (.d.ts), walked along the object;
//   3. against tooljail's own rules: what the issue that brought these files asked for (requests
//      and limits, distinct probes, fsGroup, writable /tmp and /run under a read-only root,
//      procMount: Unmasked only with hostUsers: false, the token Secret where --auth reads it)
//      and that the Service, the NetworkPolicy and the PodDisruptionBudget select the pods.
//   node lint.mjs DIR...        lint every *.yaml in each DIR (kustomization.yaml's list too)
//   node lint.mjs --self-test [DIR]  the files pass, and each mutation of them in MUTATIONS (a
//                               typo, a missing request, ...) fails for its own reason
// Exit status 0 when everything passes, 1 otherwise (each problem on its own line).
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
// kubernetes-models/v1 -> its index.js; the package's directory is two levels up.
const modelsRoot = dirname(dirname(fileURLToPath(import.meta.resolve('kubernetes-models/v1'))));

// apiVersion -> the models' directory ("apps/v1" -> kubernetes-models/apps/v1).
const groupDir = (apiVersion) => join(modelsRoot, apiVersion === 'v1' ? 'v1' : apiVersion);

// ---- 1. the bundled schemas ----
async function schemaProblems(obj) {
  const file = join(groupDir(obj.apiVersion), `${obj.kind}.js`);
  if (!existsSync(file)) return [`unknown kind ${obj.apiVersion}/${obj.kind}`];
  const mod = await import(file);
  const Model = mod[obj.kind];
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    return [`schema: ${e.message}`];
  }
}

// ---- 2. strict fields, from the type declarations ----
const interfaces = new Map();  // .d.ts path -> { fields: Map<name, type>, imports: Map<name, path> }
// "./DeploymentSpec.js" -> its .d.ts beside; "@kubernetes-models/apimachinery/apis/meta/v1/
// ObjectMeta" -> that path in node_modules (the packages' exports maps hide their package.json).
const nodeModules = dirname(modelsRoot);
function resolveImport(fromFile, spec) {
  if (spec.startsWith('.')) return join(dirname(fromFile), spec.replace(/\.js$/, '.d.ts'));
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  return join(nodeModules, ...parts.slice(0, n), `${parts.slice(n).join('/') || 'index'}.d.ts`);
}
function readInterface(file) {
  if (interfaces.has(file)) return interfaces.get(file);
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const imports = new Map();
  for (const m of text.matchAll(/import \{([^}]+)\} from "([^"]+)"/g))
    for (const name of m[1].split(',').map((s) => s.trim()).filter(Boolean)) imports.set(name, resolveImport(file, m[2]));
  const start = text.match(/export interface I\w+( extends ([\w, ]+))? \{\n/);
  let result = null;  // a type alias (IntOrString, Quantity, Time): a leaf
  if (start) {
    const fields = new Map();
    if (start[2] && /\bTypeMeta\b/.test(start[2])) { fields.set('apiVersion', 'string'); fields.set('kind', 'string'); }
    let depth = 1;
    let current = null;
    for (const line of text.slice(start.index + start[0].length).split('\n')) {
      const m = depth === 1 && line.match(/^\s+"([^"]+)"\??: (.*)$/);
      if (m) { current = m[1]; fields.set(current, m[2].replace(/;$/, '')); }
      depth += (line.match(/\{/g) || []).length - (line.match(/\}/g) || []).length;
      if (depth <= 0) break;
    }
    result = { fields, imports };
  }
  interfaces.set(file, result);
  return result;
}
function strictProblems(value, type, fromFile, path, out) {
  if (value === null || value === undefined) return;
  const array = type.match(/^Array<(.+)>$/);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => strictProblems(v, array[1], fromFile, `${path}[${i}]`, out));
    return;
  }
  const ref = type.match(/^(I\w+)$/);
  if (!ref || typeof value !== 'object' || Array.isArray(value)) return;  // maps, literals, leaves
  const file = readInterface(fromFile).imports.get(ref[1]);
  if (!file) return;
  const iface = readInterface(file);
  if (!iface) return;
  for (const [key, v] of Object.entries(value)) {
    const fieldType = iface.fields.get(key);
    if (fieldType === undefined) out.push(`${path ? `${path}.` : ''}${key}: unknown field`);
    else strictProblems(v, fieldType, file, path ? `${path}.${key}` : key, out);
  }
}
function topStrictProblems(obj) {
  const file = join(groupDir(obj.apiVersion), `${obj.kind}.d.ts`);
  const iface = readInterface(file);
  const out = [];
  for (const [key, v] of Object.entries(obj)) {
    const fieldType = iface.fields.get(key);
    if (fieldType === undefined) out.push(`${key}: unknown field`);
    else strictProblems(v, fieldType, file, key, out);
  }
  return out.map((p) => `strict: ${p}`);
}

// ---- 3. tooljail's rules ----
const matches = (selector, labels) => Object.entries(selector || {}).every(([k, v]) => labels?.[k] === v);
function deploymentProblems(d, all) {
  const out = [];
  const pod = d.spec.template.spec;
  const labels = d.spec.template.metadata?.labels || {};
  if (!pod.securityContext?.fsGroup) out.push('the pod sets no fsGroup: the records volume would not be writable');
  if (pod.securityContext?.runAsNonRoot !== true) out.push('the pod does not set runAsNonRoot: true');
  if (pod.automountServiceAccountToken !== false) out.push('the pod mounts a service account token it does not need');
  const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
  for (const c of pod.containers) {
    const where = `container ${c.name}`;
    for (const kind of ['requests', 'limits'])
      for (const r of ['cpu', 'memory'])
        if (!c.resources?.[kind]?.[r]) out.push(`${where}: no resources.${kind}.${r}`);
    if (!c.readinessProbe || !c.livenessProbe) out.push(`${where}: needs both a readiness and a liveness probe`);
    else if (isDeepStrictEqual(c.readinessProbe, c.livenessProbe)) out.push(`${where}: liveness and readiness probes are the same`);
    else if (c.livenessProbe.httpGet?.path === '/healthz')
      out.push(`${where}: liveness on /healthz fails while the pod drains (503) and would kill the drain`);
    const sc = c.securityContext || {};
    if (sc.procMount === 'Unmasked' && pod.hostUsers !== false)
      out.push(`${where}: procMount: Unmasked without hostUsers: false`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation is not false`);
    if (!(sc.capabilities?.drop || []).includes('ALL')) out.push(`${where}: does not drop ALL capabilities`);
    if (sc.privileged) out.push(`${where}: privileged`);
    const mounts = new Map((c.volumeMounts || []).map((m) => [m.mountPath, m]));
    if (sc.readOnlyRootFilesystem === true)
      for (const dir of ['/tmp', '/run']) {
        const m = mounts.get(dir);
        if (!m || m.readOnly || !volumes.get(m.name)?.emptyDir)
          out.push(`${where}: readOnlyRootFilesystem needs a writable emptyDir at ${dir}`);
      }
    const args = c.args || [];
    const flag = (name) => args.map((a, i) => (a === name ? args[i + 1] : a.startsWith(`${name}=`) ? a.slice(name.length + 1) : undefined)).find((v) => v !== undefined);
    const auth = flag('--auth');
    if (auth) {
      const m = [...mounts.values()].find((mm) => auth.startsWith(`${mm.mountPath}/`));
      const v = m && volumes.get(m.name);
      if (!v?.secret) out.push(`${where}: --auth ${auth} is not in a Secret volume`);
      else if (((v.secret.defaultMode ?? 0o644) & 0o022) !== 0) out.push(`${where}: the token Secret's files would be group/other-writable`);
      else if (m.subPath) out.push(`${where}: the token Secret is mounted with subPath, which never sees an update`);
    }
    const metrics = flag('--metrics-listen');
    if (metrics && !/^(127\.|localhost|\[::1\])/.test(metrics) && !flag('--metrics-allow'))
      out.push(`${where}: --metrics-listen ${metrics} beyond loopback needs --metrics-allow`);
  }
  const select = (kind) => all.filter((o) => o.kind === kind);
  for (const kind of ['Service', 'NetworkPolicy', 'PodDisruptionBudget']) {
    const found = select(kind).filter((o) => matches(kind === 'Service' ? o.spec.selector : o.spec.podSelector?.matchLabels ?? o.spec.selector?.matchLabels, labels));
    if (found.length === 0) out.push(`no ${kind} selects the pods of Deployment ${d.metadata.name}`);
  }
  return out;
}

// ---- files ----
async function lintDir(dir) {
  const problems = [];
  const objects = [];
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  for (const f of files) {
    const docs = parseAllDocuments(readFileSync(join(dir, f), 'utf8'));
    for (const doc of docs) {
      if (doc.errors.length) { problems.push(`${f}: YAML: ${doc.errors[0].message}`); continue; }
      const obj = doc.toJS();
      if (obj === null) continue;
      objects.push({ file: f, obj });
    }
  }
  for (const { file, obj } of objects) {
    const name = `${file}: ${obj.kind}/${obj.metadata?.name ?? '?'}`;
    if (obj.kind === 'Kustomization') {
      for (const r of obj.resources || []) if (!existsSync(join(dir, r))) problems.push(`${name}: resource ${r} does not exist`);
      continue;
    }
    const schema = await schemaProblems(obj);
    problems.push(...schema.map((p) => `${name}: ${p}`));
    if (schema.length === 0) problems.push(...topStrictProblems(obj).map((p) => `${name}: ${p}`));
    if (obj.kind === 'Deployment' && schema.length === 0)
      problems.push(...deploymentProblems(obj, objects.map((o) => o.obj)).map((p) => `${name}: ${p}`));
  }
  return { problems, count: objects.length };
}

// Mutations of the real files, each of which must fail for its reason.
const c0 = (o) => o.find((x) => x.kind === 'Deployment').spec.template.spec.containers[0];
const pod = (o) => o.find((x) => x.kind === 'Deployment').spec.template.spec;
const MUTATIONS = [
  ['a typo in a field name', 'securityContext.procmount: unknown field', (o) => {
    const sc = c0(o).securityContext; sc.procmount = sc.procMount; delete sc.procMount; }],
  ['a field in the wrong place', 'spec.hostUsers: unknown field', (o) => {
    o.find((x) => x.kind === 'Deployment').spec.hostUsers = false; }],
  ['a wrong type', 'schema:', (o) => { c0(o).ports[0].containerPort = '8931'; }],
  ['procMount: Unmasked without hostUsers: false', 'without hostUsers: false', (o) => { delete pod(o).hostUsers; }],
  ['no requests', 'no resources.requests.cpu', (o) => { delete c0(o).resources.requests.cpu; }],
  ['liveness on /healthz', 'liveness on /healthz', (o) => {
    c0(o).livenessProbe = { httpGet: { path: '/healthz', port: 'mcp' } }; }],
  ['the same probe twice', 'are the same', (o) => { c0(o).livenessProbe = c0(o).readinessProbe; }],
  ['no fsGroup', 'no fsGroup', (o) => { delete pod(o).securityContext.fsGroup; }],
  ['no writable /tmp', 'writable emptyDir at /tmp', (o) => {
    c0(o).volumeMounts = c0(o).volumeMounts.filter((m) => m.mountPath !== '/tmp'); }],
  ['metrics beyond loopback without --metrics-allow', 'needs --metrics-allow', (o) => {
    c0(o).args = c0(o).args.filter((a) => !a.startsWith('--metrics-allow')); }],
  ['the token Secret through subPath', 'subPath', (o) => {
    c0(o).volumeMounts.find((m) => m.name === 'tokens').subPath = 'tokens.json'; }],
  ['a writable token file', 'group/other-writable', (o) => {
    pod(o).volumes.find((v) => v.name === 'tokens').secret.defaultMode = 0o664; }],
  ['no Service for the pods', 'no Service selects the pods', (o) => {
    o.find((x) => x.kind === 'Service').spec.selector = { app: 'other' }; }],
  ['a privilege-escalating container', 'allowPrivilegeEscalation', (o) => {
    c0(o).securityContext.allowPrivilegeEscalation = true; }],
];

async function selfTest(dir) {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { stringify } = await import('yaml');
  const objects = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()).filter(Boolean));
  let failed = 0;
  const check = async (what, expect, mutate) => {
    const copy = structuredClone(objects);
    if (mutate) mutate(copy);
    const tmp = mkdtempSync(join(tmpdir(), 'k8s-lint-'));
    writeFileSync(join(tmp, 'all.yaml'), copy.map((o) => stringify(o)).join('---\n'));
    const { problems } = await lintDir(tmp);
    rmSync(tmp, { recursive: true });
    const ok = expect ? problems.some((p) => p.includes(expect)) : problems.length === 0;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${ok ? '' : `: ${problems.join('; ') || 'no problem found'}`}`);
    if (!ok) failed++;
  };
  await check('the files as they are', null, null);
  for (const [what, expect, mutate] of MUTATIONS) await check(what, expect, mutate);
  return failed;
}

const args = process.argv.slice(2);
if (args[0] === '--self-test') {
  process.exit((await selfTest(args[1] ?? join(here, '..'))) ? 1 : 0);
}
let bad = 0;
for (const dir of args.length ? args : [join(here, '..')]) {
  const { problems, count } = await lintDir(dir);
  for (const p of problems) console.error(`${dir}/${p}`);
  console.log(`k8s lint: ${dir}: ${count} objects, ${problems.length} problems`);
  bad += problems.length;
}
process.exit(bad ? 1 : 0);
