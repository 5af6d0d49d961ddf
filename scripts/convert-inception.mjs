#!/usr/bin/env node
// Converts the InceptionV3 tfjs layers model shipped in npm `nsfwjs` into the safetensors files
// that `src/model/inception.rs` loads, with the same folding, layout and int8 quantisation as
// scripts/convert-mobilenet.mjs (whose helpers it reuses). Only the convolutions that feed the
// embedding tap are kept (found by walking the model graph back from the tap).
//
//   node scripts/convert-inception.mjs [out_dir=weights] [--tap mixed4]
//
// Layers keep their Keras names (`conv2d_<n>`, BatchNorm `batch_normalization_<n>` folded in);
// `src/model/inception.rs` builds the same blocks in the order Keras created them. The files'
// metadata say `model: inception_v3` and the tap, which the loader reads.
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { decodeWeights, foldLayer, layerConfigs, loadTfjsModel, writeWeightFiles } from "./convert-mobilenet.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The default tap: the mixed block whose GeM embedding retrieves best (bench/embed-quality.mjs). */
export const DEFAULT_TAP = "mixed4";

// Every Conv2D the tap depends on, in Keras' creation order (conv2d_1, conv2d_2, ...).
export function convsFeeding(modelJson, tap) {
  const topo = modelJson.modelTopology.model_config ?? modelJson.modelTopology;
  const byName = new Map(topo.config.layers.map((l) => [l.name, l]));
  if (!byName.has(tap)) throw new Error(`no layer ${tap} in InceptionV3`);
  const seen = new Set();
  const stack = [tap];
  while (stack.length) {
    const name = stack.pop();
    if (seen.has(name)) continue;
    seen.add(name);
    for (const node of byName.get(name).inbound_nodes ?? []) for (const [src] of node) stack.push(src);
  }
  const convs = [...seen].filter((n) => byName.get(n).class_name === "Conv2D");
  const num = (n) => Number(n.split("_").pop());
  convs.sort((a, b) => num(a) - num(b));
  // The blocks are built in order, so the convolutions feeding a tap are conv2d_1..conv2d_k.
  convs.forEach((n, i) => { if (num(n) !== i + 1) throw new Error(`unexpected conv ${n}`); });
  return convs;
}

function main() {
  const args = process.argv.slice(2);
  const t = args.indexOf("--tap");
  const tap = t >= 0 ? args.splice(t, 2)[1] : DEFAULT_TAP;
  const outDir = resolve(root, args[0] ?? "weights");
  const { modelJson, weightData, specs, version } = loadTfjsModel("inception_v3");
  const weights = decodeWeights(specs, weightData);
  const configs = layerConfigs(modelJson);
  const layers = convsFeeding(modelJson, tap).map((name) => ({
    name,
    bn: name.replace("conv2d_", "batch_normalization_"),
    kind: "conv",
  }));
  const folded = layers.map((l) => ({ ...l, ...foldLayer(l, weights, configs) }));
  const metadata = {
    model: "inception_v3",
    source: `npm nsfwjs@${version} dist/models/inception_v3 (tfjs layers, uint8-quantised)`,
    tap,
    input: "NCHW RGB in [0,1] (pixels / 255), 299x299",
    batchnorm: "folded",
    layers: layers.map((l) => l.name).join(","),
  };
  const files = writeWeightFiles(outDir, "inception_v3", folded, metadata);
  const params = folded.reduce((n, l) => n + l.weight.length + l.bias.length, 0);
  console.log(`tap ${tap}: ${layers.length} conv layers, ${params} parameters (BN folded)`);
  for (const f of files) console.log(`${f.path}: ${f.size} bytes, sha256 ${f.sha}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
