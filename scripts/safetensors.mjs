// The safetensors files of simil's converters (convert-mobilenet.mjs, convert-inception.mjs,
// convert-minilm.mjs): read one, write one with a `.sha256` beside it, and quantise a tensor
// to int8 with one scale per row.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";

export const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

// The tensors of a safetensors file: [{ name, dtype, shape, bytes }] in header order.
export function readSafetensors(buf) {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  const base = 8 + n;
  const tensors = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [a, b] = info.data_offsets;
    tensors.push({ name, dtype: info.dtype, shape: info.shape, bytes: buf.subarray(base + a, base + b) });
  }
  return tensors;
}

// Writes `<path>.sha256` (`sha256sum` format) for `bytes`; returns the hash.
export function writeChecksum(path, bytes) {
  const sha = sha256(bytes);
  writeFileSync(`${path}.sha256`, `${sha}  ${path.split("/").pop()}\n`);
  return sha;
}

// Minimal safetensors writer: 8-byte LE header length, JSON header (space padded to 8 bytes),
// then the tensors' bytes ({ name, dtype, shape, data: a typed array }) back to back in
// header order; and its `.sha256`. Returns { size, sha }.
export function writeSafetensors(path, tensors, metadata) {
  const header = { __metadata__: metadata };
  let offset = 0;
  const buffers = [];
  for (const t of tensors) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    buffers.push(bytes);
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const file = Buffer.concat([len, Buffer.from(json), ...buffers]);
  writeFileSync(path, file);
  return { size: file.length, sha: writeChecksum(path, file) };
}

// Symmetric int8 with one F32 scale per row (`rows` rows of `values.length / rows`):
// scale = max |row| / 127 (1 for a zero row), q = round(v / scale) clamped to ±127, against
// the f32 scale the loader will use. Returns { scale: Float32Array, q: Int8Array }.
export function quantizeRows(values, rows) {
  const per = values.length / rows;
  const scale = new Float32Array(rows);
  const q = new Int8Array(values.length);
  for (let r = 0; r < rows; r++) {
    let maxAbs = 0;
    for (let i = 0; i < per; i++) maxAbs = Math.max(maxAbs, Math.abs(values[r * per + i]));
    scale[r] = maxAbs > 0 ? maxAbs / 127 : 1;
    const s = scale[r];
    for (let i = 0; i < per; i++) q[r * per + i] = Math.max(-127, Math.min(127, Math.round(values[r * per + i] / s)));
  }
  return { scale, q };
}
