#!/usr/bin/env node
// Converts the MobileNetV2 tfjs layers model shipped in npm `nsfwjs` into the safetensors files
// that `src/model/weights.rs` loads. Only the layers up to `block_10_expand_relu` (the embedding
// tap) are kept.
//
//   node scripts/convert-mobilenet.mjs [out_dir=weights]
//
// What it does:
//  * decodes nsfwjs' base64 weight shard and dequantises it exactly as tfjs does
//    (`q * scale + min`, uint8 affine per tensor, stored as float32);
//  * folds each BatchNormalization (eps from the topology) into the preceding bias-free
//    convolution, in double precision: w' = w * g / sqrt(v + eps), b' = beta - m * g / sqrt(v + eps);
//  * transposes kernels from TF's HWIO (conv) / HWC1 (depthwise) layout to burn's
//    [out, in / groups, kh, kw];
//  * writes `mobilenet_v2.f32.safetensors` (F32 `<layer>.weight`, `<layer>.bias`) and
//    `mobilenet_v2.int8.safetensors` (I8 `<layer>.weight`, F32 `<layer>.weight_scale` per output
//    channel, symmetric, and F32 `<layer>.bias`), each with a `.sha256` next to it.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { quantizeRows, writeSafetensors } from "./safetensors.mjs";

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, process.argv[2] ?? "weights");

// ---------------------------------------------------------------------------------------------
// The architecture prefix, as `src/model/mobilenet.rs` builds it. `kind`: conv | dw.
// ---------------------------------------------------------------------------------------------
export function mobilenetLayers() {
  const layers = [];
  const conv = (name, bn, kind) => layers.push({ name, bn, kind });
  conv("Conv1", "bn_Conv1", "conv");
  conv("expanded_conv_depthwise", "expanded_conv_depthwise_BN", "dw");
  conv("expanded_conv_project", "expanded_conv_project_BN", "conv");
  for (let i = 1; i <= 9; i++) {
    conv(`block_${i}_expand`, `block_${i}_expand_BN`, "conv");
    conv(`block_${i}_depthwise`, `block_${i}_depthwise_BN`, "dw");
    conv(`block_${i}_project`, `block_${i}_project_BN`, "conv");
  }
  conv("block_10_expand", "block_10_expand_BN", "conv");
  return layers;
}

// `name`: a directory of nsfwjs' dist/models (mobilenet_v2, inception_v3).
export function loadTfjsModel(name = "mobilenet_v2") {
  const pkgDir = join(root, "node_modules/nsfwjs");
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const dir = join(pkgDir, "dist/models", name);
  const modelMod = require(join(dir, "model.min.js"));
  const modelJson = modelMod.default ?? modelMod;
  const chunks = [];
  const specs = [];
  for (const group of modelJson.weightsManifest) {
    for (const path of group.paths) {
      const mod = require(join(dir, `${path}.min.js`));
      chunks.push(Buffer.from(mod.default ?? mod, "base64"));
    }
    specs.push(...group.weights);
  }
  return { modelJson, weightData: Buffer.concat(chunks), specs, version: pkg.version, dir };
}

// Dequantise every weight exactly as tfjs' io.decodeWeights does (uint8/uint16 affine).
export function decodeWeights(specs, data) {
  const out = new Map();
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    let values;
    if (q) {
      const bytesPer = { uint8: 1, uint16: 2, float16: 2 }[q.dtype];
      if (q.dtype === "float16") throw new Error("float16 quantisation not handled");
      const raw = q.dtype === "uint8"
        ? new Uint8Array(data.buffer, data.byteOffset + offset, size)
        : new Uint16Array(data.buffer.slice(data.byteOffset + offset, data.byteOffset + offset + 2 * size));
      values = new Float32Array(size);
      for (let i = 0; i < size; i++) values[i] = raw[i] * q.scale + q.min;
      offset += size * bytesPer;
    } else {
      if (spec.dtype !== "float32") throw new Error(`unexpected dtype ${spec.dtype}`);
      values = new Float32Array(data.buffer.slice(data.byteOffset + offset, data.byteOffset + offset + 4 * size));
      offset += size * 4;
    }
    out.set(spec.name, { shape: spec.shape, values });
  }
  if (offset !== data.length) throw new Error(`weight data ${data.length} bytes, manifest ${offset}`);
  return out;
}

export function layerConfigs(modelJson) {
  const topo = modelJson.modelTopology.model_config ?? modelJson.modelTopology;
  return new Map(topo.config.layers.map((l) => [l.name, l]));
}

// Returns { weight: Float64Array in [out, in/g, kh, kw], shape, bias: Float64Array }.
export function foldLayer(layer, weights, configs) {
  const kernelName = layer.kind === "dw" ? `${layer.name}/depthwise_kernel` : `${layer.name}/kernel`;
  const k = weights.get(kernelName);
  if (!k) throw new Error(`missing ${kernelName}`);
  const cfg = configs.get(layer.name).config;
  if (cfg.use_bias) throw new Error(`${layer.name}: bias not expected`);
  const bnCfg = configs.get(layer.bn).config;
  const eps = bnCfg.epsilon;
  const get = (n) => weights.get(`${layer.bn}/${n}`).values;
  const gamma = bnCfg.scale === false ? null : get("gamma");
  const beta = bnCfg.center === false ? null : get("beta");
  const mean = get("moving_mean");
  const variance = get("moving_variance");

  const [kh, kw, cin, m] = k.shape;
  let cout, cinPerGroup;
  if (layer.kind === "dw") {
    if (m !== 1) throw new Error("depth multiplier must be 1");
    cout = cin;
    cinPerGroup = 1;
  } else {
    cout = m;
    cinPerGroup = cin;
  }
  const mul = new Float64Array(cout);
  const bias = new Float64Array(cout);
  for (let o = 0; o < cout; o++) {
    const g = gamma ? gamma[o] : 1;
    mul[o] = g / Math.sqrt(variance[o] + eps);
    bias[o] = (beta ? beta[o] : 0) - mean[o] * mul[o];
  }
  const weight = new Float64Array(cout * cinPerGroup * kh * kw);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let j = 0; j < m; j++) {
          const src = ((y * kw + x) * cin + i) * m + j;
          const o = layer.kind === "dw" ? i : j;
          const ci = layer.kind === "dw" ? 0 : i;
          weight[((o * cinPerGroup + ci) * kh + y) * kw + x] = k.values[src] * mul[o];
        }
      }
    }
  }
  return { weight, shape: [cout, cinPerGroup, kh, kw], bias };
}

// Writes `<base>.f32.safetensors` and `<base>.int8.safetensors` (+ `.sha256`) from folded
// layers ({ name, weight, shape, bias }); returns [{ path, size, sha }] for both.
export function writeWeightFiles(outDir, base, folded, metadata) {
  // f32
  const f32 = [];
  for (const l of folded) {
    f32.push({ name: `${l.name}.weight`, dtype: "F32", shape: l.shape, data: Float32Array.from(l.weight) });
    f32.push({ name: `${l.name}.bias`, dtype: "F32", shape: [l.shape[0]], data: Float32Array.from(l.bias) });
  }
  mkdirSync(outDir, { recursive: true });
  const f32Path = join(outDir, `${base}.f32.safetensors`);
  const a = writeSafetensors(f32Path, f32, { ...metadata, format: "f32" });

  // int8, symmetric per output channel. F32 tensors first, I8 last (keeps F32 data 4-aligned).
  const floats = [];
  const ints = [];
  for (const l of folded) {
    const [cout] = l.shape;
    const { scale, q } = quantizeRows(l.weight, cout);
    floats.push({ name: `${l.name}.weight_scale`, dtype: "F32", shape: [cout], data: scale });
    floats.push({ name: `${l.name}.bias`, dtype: "F32", shape: [cout], data: Float32Array.from(l.bias) });
    ints.push({ name: `${l.name}.weight`, dtype: "I8", shape: l.shape, data: q });
  }
  const int8Path = join(outDir, `${base}.int8.safetensors`);
  const b = writeSafetensors(int8Path, [...floats, ...ints], { ...metadata, format: "int8-per-channel-symmetric" });
  return [{ path: f32Path, ...a }, { path: int8Path, ...b }];
}

function main() {
  const { modelJson, weightData, specs, version } = loadTfjsModel();
  const weights = decodeWeights(specs, weightData);
  const configs = layerConfigs(modelJson);
  const layers = mobilenetLayers();
  const folded = layers.map((l) => ({ ...l, ...foldLayer(l, weights, configs) }));

  const metadata = {
    model: "mobilenet_v2",
    source: `npm nsfwjs@${version} dist/models/mobilenet_v2 (tfjs layers, uint8-quantised)`,
    tap: "block_10_expand_relu",
    input: "NCHW RGB in [0,1] (pixels / 255), 224x224",
    batchnorm: "folded",
    layers: layers.map((l) => l.name).join(","),
  };
  const [a, b] = writeWeightFiles(outDir, "mobilenet_v2", folded, metadata);

  const params = folded.reduce((n, l) => n + l.weight.length + l.bias.length, 0);
  console.log(`${layers.length} conv layers, ${params} parameters (BN folded)`);
  console.log(`${a.path}: ${a.size} bytes, sha256 ${a.sha}`);
  console.log(`${b.path}: ${b.size} bytes, sha256 ${b.sha}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
