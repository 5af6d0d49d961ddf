// Shared by the benchmark scripts: each owns one `## <title>` section of BENCHMARKS.md and
// replaces only that section, between markers, so the scripts can run in any order.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';

/** The number after `--name` on the command line, or `fallback`. */
export function numberArg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** The machine, as the results files name it. */
export const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`;

/**
 * Runs `cargo <args>` (a program that prints one JSON object) and parses its output. Builds go
 * where the README commands put them (scripts/setup.sh), outside the clone.
 */
export function cargoJson(args) {
  const env = { ...process.env, CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR ?? `${homedir()}/.cache/simil-target` };
  return JSON.parse(execFileSync('cargo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env }));
}

/** Replaces (or appends) the section `title` of the markdown file at `file` with `body`. */
export function replaceSection(file, title, body) {
  const start = `<!-- section: ${title} -->`;
  const end = `<!-- end: ${title} -->`;
  const block = `${start}\n## ${title}\n\n${body.trim()}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nEvery table is written by the script named in it; peers are measured in the same run.\n';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}
