#!/usr/bin/env node
// Reference embeddings for the MobileNetV2 and InceptionV3 parity tests, computed with
// @tensorflow/tfjs (node, CPU backend) on the original nsfwjs models (not on our converted
// weights).
//
//   node scripts/reference-embed.mjs [--count 50] [--out tests/fixtures/mobilenet_parity.json]
//                                    [--dump-inputs /tmp/mobilenet_inputs.f32]
//   node scripts/reference-embed.mjs --model inception_v3 [--tap mixed4] [--backend wasm]
//       (299 px, the tap's GeM embedding, to tests/fixtures/inception_parity.json; embeddings
//       rounded to 5 decimals and 16 input samples per image, to keep the fixture small;
//       the network runs on tfjs' wasm backend, which takes seconds where "cpu" takes minutes)
//
// Pipeline, identical to `src/model/preprocess.rs` + `src/model/mobilenet.rs`:
//  1. decode the PNG to RGBA8 (a minimal decoder below: 8-bit, non-interlaced);
//  2. composite on white in integer math: c' = (c * a + 255 * (255 - a) + 127) / 255;
//  3. float32, divide by 255 (as nsfwjs' `infer` does, for every model), then
//     tf.image.resizeBilinear to 224x224 (299x299 for InceptionV3) with alignCorners = true
//     (nsfwjs' setting; halfPixelCenters = false);
//  4. the tfjs model truncated at `block_10_expand_relu` ([1, 14, 14, 384], NHWC), or at
//     InceptionV3's tap;
//  5. GeM pooling with p = 3 over H and W (clamp(min 1e-6), cube, mean, cube root), then L2 norm.
//
// The fixture stores the file names, the embeddings rounded to 6 decimals and, per image, the
// sum and sum of squares of the preprocessed tensor plus 64 sampled values (NHWC index, value),
// so that the Rust test checks preprocessing separately from the network.
import { inflateSync } from "node:zlib";
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { loadTfjsModel } from "./convert-mobilenet.mjs";
import { DEFAULT_TAP } from "./convert-inception.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const MODEL = opt("--model", "mobilenet_v2");
const INCEPTION = MODEL === "inception_v3";
if (!INCEPTION && MODEL !== "mobilenet_v2") throw new Error(`unknown --model ${MODEL}`);
const COUNT = Number(opt("--count", "50"));
const OUT = resolve(root, opt("--out", `tests/fixtures/${INCEPTION ? "inception" : "mobilenet"}_parity.json`));
const DUMP = opt("--dump-inputs", null);
const SIZE = INCEPTION ? 299 : 224;
const TAP = INCEPTION ? opt("--tap", DEFAULT_TAP) : "block_10_expand_relu";
const GEM_P = 3;
const GEM_EPS = 1e-6;
const SAMPLES = INCEPTION ? 16 : 64;
const DECIMALS = INCEPTION ? 1e5 : 1e6;
const NET_BACKEND = opt("--backend", INCEPTION ? "wasm" : "cpu");
export const EMOJI_DIR = "node_modules/emoji-datasource-google/img/google/64";

// --- minimal PNG decoder (8-bit depth, colour types 0, 2, 3, 4, 6, no interlace) -------------
export function decodePng(buf) {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  sig.forEach((b, i) => { if (buf[i] !== b) throw new Error("not a PNG"); });
  let pos = 8;
  let width, height, depth, ctype, interlace, palette, trns;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString("latin1", pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    pos += 12 + len;
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      depth = data[8];
      ctype = data[9];
      interlace = data[12];
    } else if (type === "PLTE") palette = data;
    else if (type === "tRNS") trns = data;
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
  }
  if (depth !== 8 || interlace !== 0) throw new Error(`unsupported PNG depth ${depth} interlace ${interlace}`);
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[ctype];
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? px[y * stride + x - channels] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad filter ${filter}`);
      px[y * stride + x] = v & 255;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    let r, g, b, a = 255;
    if (ctype === 6) [r, g, b, a] = px.subarray(i * 4, i * 4 + 4);
    else if (ctype === 2) [r, g, b] = px.subarray(i * 3, i * 3 + 3);
    else if (ctype === 0) r = g = b = px[i];
    else if (ctype === 4) { r = g = b = px[i * 2]; a = px[i * 2 + 1]; }
    else if (ctype === 3) {
      const k = px[i];
      [r, g, b] = palette.subarray(k * 3, k * 3 + 3);
      a = trns && k < trns.length ? trns[k] : 255;
    }
    rgba.set([r, g, b, a], i * 4);
  }
  return { width, height, rgba };
}

// Composite on white in integer math (must match preprocess.rs).
export function compositeOnWhite({ width, height, rgba }) {
  const rgb = new Int32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const a = rgba[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      rgb[i * 3 + c] = Math.floor((rgba[i * 4 + c] * a + 255 * (255 - a) + 127) / 255);
    }
  }
  return rgb;
}

// `count` files spread evenly over the sorted list, except that the first few slots go to
// palette (colour type 3) and grey + alpha (type 4) PNGs, so that the decoders are compared on
// more than RGBA.
export function pickEmoji(count) {
  const files = readdirSync(join(root, EMOJI_DIR)).filter((f) => f.endsWith(".png")).sort();
  const colourType = (f) => readFileSync(join(root, EMOJI_DIR, f))[25];
  const special = [
    ...files.filter((f) => colourType(f) === 3).slice(0, 2),
    ...files.filter((f) => colourType(f) === 4).slice(0, 3),
  ];
  const rest = files.filter((f) => !special.includes(f));
  const n = count - special.length;
  const step = Math.floor(rest.length / n);
  return [...special, ...Array.from({ length: n }, (_, i) => rest[i * step])];
}

// Deterministic sample positions (LCG), shared with the Rust test through the fixture.
function samplePositions(n, total, seed) {
  let s = seed >>> 0;
  const out = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s % total);
  }
  return out;
}

async function main() {
  // Preprocessing on the CPU backend (the exact numbers the Rust test compares) ...
  await tf.setBackend("cpu");
  await tf.ready();
  const names = pickEmoji(COUNT);
  const inputs = names.map((name) => {
    const png = decodePng(readFileSync(join(root, EMOJI_DIR, name)));
    const rgb = compositeOnWhite(png);
    return tf.tidy(() => {
      const img = tf.tensor3d(rgb, [png.height, png.width, 3], "int32");
      const normalized = img.toFloat().div(tf.scalar(255));
      return tf.image.resizeBilinear(normalized, [SIZE, SIZE], true).dataSync();
    });
  });
  // ... the network on NET_BACKEND (InceptionV3 is ~6 GFLOPs a pass: minutes on "cpu").
  await tf.setBackend(NET_BACKEND);
  await tf.ready();
  const { modelJson, weightData, specs, version } = loadTfjsModel(MODEL);
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs: specs,
    weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.length),
  }));
  const tap = tf.model({ inputs: model.inputs, outputs: model.getLayer(TAP).output });

  const images = [];
  const dumps = [];
  for (const [idx, name] of names.entries()) {
    const x = inputs[idx];
    const emb = tf.tidy(() => {
      const batched = tf.tensor4d(x, [1, SIZE, SIZE, 3]);
      const act = tap.predict(batched); // [1, h, w, c]
      const gem = act.clipByValue(GEM_EPS, Infinity).pow(GEM_P).mean([1, 2]).pow(1 / GEM_P);
      const norm = gem.div(gem.norm("euclidean", 1, true));
      return norm.squeeze([0]);
    });
    const e = Array.from(emb.dataSync());
    emb.dispose();
    let sum = 0, sumsq = 0;
    for (const v of x) { sum += v; sumsq += v * v; }
    const pos = samplePositions(SAMPLES, x.length, idx + 1);
    images.push({
      file: name,
      input_sum: sum,
      input_sumsq: sumsq,
      input_samples: pos.map((p) => [p, x[p]]),
      embedding: e.map((v) => Math.round(v * DECIMALS) / DECIMALS),
    });
    if (DUMP) dumps.push(Buffer.from(new Float32Array(x).buffer));
    if (idx % 10 === 9) console.error(`${idx + 1} / ${names.length}`);
  }
  const fixture = {
    description: `${INCEPTION ? "InceptionV3" : "MobileNetV2"} (nsfwjs) ${TAP}, GeM p=3, L2; reference: @tensorflow/tfjs, preprocessing on cpu, network on ${NET_BACKEND}`,
    source: `nsfwjs@${version}`,
    tfjs: tf.version.tfjs,
    image_dir: EMOJI_DIR,
    preprocess: `rgba8 -> composite on white (integer) -> f32 / 255 -> resizeBilinear ${SIZE}x${SIZE} alignCorners=true`,
    input_layout: `NHWC [1, ${SIZE}, ${SIZE}, 3]`,
    tap: TAP,
    gem_p: GEM_P,
    gem_eps: GEM_EPS,
    images,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(fixture) + "\n");
  console.log(`wrote ${OUT}: ${images.length} images, dim ${images[0].embedding.length}`);
  if (DUMP) {
    writeFileSync(DUMP, Buffer.concat(dumps));
    console.log(`wrote ${DUMP}: ${images.length} x NHWC [${SIZE}, ${SIZE}, 3] f32 inputs`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
