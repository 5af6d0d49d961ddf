// Shared by the benchmark scripts: each owns one `## <title>` section of BENCHMARKS.md and
// replaces only that section, between markers, so the scripts can run in any order.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

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
