// Writes the demo's sample collection into www/data/ (build output, git-ignored): every emoji of
// npm `emoji-datasource-google`, embedded natively with the browser's default model and written
// as a collection file (www/data/emoji.siml) by examples/build_sample.rs, plus the PNGs it shows
// (www/data/emoji/). Skipped while the file is newer than everything it is made from.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}www/data`;
const target = `${out}/emoji.siml`;
const inputs = [
  'examples/build_sample.rs',
  'node_modules/emoji-datasource-google/emoji.json',
  'weights/mobilenet_v2.int8.safetensors',
  'weights/mobilenet_v2.whitening.safetensors',
  'weights/minilm.int8.safetensors',
  'Cargo.lock',
].map((p) => `${root}${p}`);

const mtime = (file) => statSync(file).mtimeMs;
rmSync(`${out}/mnist-sample.json`, { force: true }); // the previous demo's data
if (existsSync(target) && existsSync(`${out}/emoji`) && inputs.every((f) => mtime(f) < mtime(target))) {
  console.log('www/data/emoji.siml is up to date');
} else {
  const started = Date.now();
  const run = spawnSync('cargo', ['run', '--quiet', '--example', 'build_sample', '--', out], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
  console.log(`www/data/emoji.siml: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
