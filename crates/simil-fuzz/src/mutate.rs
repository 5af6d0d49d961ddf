//! Mutators: AFL-style havoc over bytes, and structure-aware mutators for the two container
//! formats, which mutate inside a part of the file and then make the container consistent
//! again (section lengths and CRC-32s of a `SIML` file; the header length of a safetensors
//! file), so the inputs get past the outer checks and exercise the parsers' inner ones.

use crate::rng::Rng;

/// Values that often sit on a boundary: lengths, counts, dimensions.
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    31,
    32,
    64,
    127,
    128,
    255,
    256,
    1 << 15,
    (1 << 16) - 1,
    1 << 16,
    1 << 24,
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    i64::MAX as u64,
    u64::MAX,
    u64::MAX - 1,
];

/// AFL's havoc: 1 to 8 random edits (bit flips, interesting values, inserted, deleted,
/// duplicated or spliced ranges, truncation).
pub fn havoc(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) {
    let edits = 1 + rng.below(8);
    for _ in 0..edits {
        let len = data.len();
        match rng.below(11) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next_u64() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                data[i] = *rng.pick(&[0u8, 1, 0x7f, 0x80, 0xff, b'"', b'{', b'[', b'-', b'9']);
            }
            3 | 4 if len >= 4 => {
                let v = *rng.pick(INTERESTING);
                let width = *rng.pick(&[1usize, 2, 4, 8]).min(&len);
                let i = rng.below(len - width + 1);
                data[i..i + width].copy_from_slice(&v.to_le_bytes()[..width]);
            }
            5 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let ins = rng.bytes(n);
                data.splice(i..i, ins);
            }
            6 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                data.drain(i..i + n);
            }
            7 if len > 0 => {
                data.truncate(rng.below(len));
            }
            8 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                let chunk = data[i..i + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            9 if !others.is_empty() => {
                let other = rng.pick(others);
                if !other.is_empty() {
                    let i = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - i).min(64));
                    let at = rng.below(len + 1);
                    let end = (at + n).min(len);
                    data.splice(at..end, other[i..i + n].iter().copied());
                }
            }
            _ if len > 0 => {
                // A decimal number where JSON text has one: shapes, offsets, dims.
                let i = rng.below(len);
                if data[i].is_ascii_digit() {
                    let end = (i..len).find(|&j| !data[j].is_ascii_digit()).unwrap_or(len);
                    let v = rng.pick(INTERESTING).to_string();
                    data.splice(i..end, v.into_bytes());
                }
            }
            _ => {}
        }
    }
}

/// A `SIML` file taken apart: version, and `(tag, body)` per section.
pub type Siml = (u32, Vec<([u8; 4], Vec<u8>)>);

/// Splits a well-formed `SIML` file into its sections (CRCs not checked).
pub fn siml_parse(bytes: &[u8]) -> Option<Siml> {
    let u32_at = |i: usize| Some(u32::from_le_bytes(bytes.get(i..i + 4)?.try_into().ok()?));
    let u64_at = |i: usize| Some(u64::from_le_bytes(bytes.get(i..i + 8)?.try_into().ok()?));
    if bytes.get(..4)? != b"SIML" {
        return None;
    }
    let version = u32_at(4)?;
    let count = u32_at(8)? as usize;
    if count > 1024 {
        return None;
    }
    let mut at = 12 + count * 16 + 4;
    let mut sections = Vec::with_capacity(count);
    for s in 0..count {
        let entry = 12 + s * 16;
        let tag: [u8; 4] = bytes.get(entry..entry + 4)?.try_into().ok()?;
        let len = usize::try_from(u64_at(entry + 4)?).ok()?;
        let body = bytes.get(at..at.checked_add(len)?)?.to_vec();
        at += len;
        sections.push((tag, body));
    }
    Some((version, sections))
}

/// Writes sections as a `SIML` file with correct lengths and CRC-32s.
pub fn siml_encode(version: u32, sections: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut out = b"SIML".to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for (tag, body) in sections {
        out.extend_from_slice(tag);
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    for (_, body) in sections {
        out.extend_from_slice(body);
    }
    out
}

/// Recomputes the CRC-32s of a `SIML` file in place where its table still fits the bytes
/// (after a raw havoc): the lengths stay as they are.
pub fn siml_fix_crcs(bytes: &mut [u8]) {
    if bytes.len() < 16 || &bytes[..4] != b"SIML" {
        return;
    }
    let count = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let table_end = 12 + count.min(1 << 16) * 16;
    if table_end + 4 > bytes.len() {
        return;
    }
    let mut at = table_end + 4;
    for s in 0..count {
        let entry = 12 + s * 16;
        let len = u64::from_le_bytes(bytes[entry + 4..entry + 12].try_into().unwrap());
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| at.checked_add(l))
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let crc = crc32fast::hash(&bytes[at..end]);
        bytes[entry + 12..entry + 16].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
    let crc = crc32fast::hash(&bytes[..table_end]);
    bytes[table_end..table_end + 4].copy_from_slice(&crc.to_le_bytes());
}

/// A mutated `SIML` file: mostly section-aware (havoc inside one section, a changed version,
/// sections dropped, duplicated, swapped or borrowed from another file, then lengths and
/// CRCs rewritten), sometimes raw havoc with or without the CRCs recomputed.
pub fn siml(rng: &mut Rng, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    if rng.one_in(4) {
        let mut out = seed.to_vec();
        havoc(rng, &mut out, others);
        if !rng.one_in(4) {
            siml_fix_crcs(&mut out);
        }
        return out;
    }
    let Some((mut version, mut sections)) = siml_parse(seed) else {
        let mut out = seed.to_vec();
        havoc(rng, &mut out, others);
        return out;
    };
    let bodies: Vec<Vec<u8>> = others
        .iter()
        .filter_map(|o| siml_parse(o))
        .flat_map(|(_, s)| s.into_iter().map(|(_, b)| b))
        .collect();
    for _ in 0..1 + rng.below(3) {
        match rng.below(24) {
            0 => version = *rng.pick(&[0, 1, 2, 3, 4, u32::MAX]),
            1 if !sections.is_empty() => {
                sections.remove(rng.below(sections.len()));
            }
            2 if !sections.is_empty() => {
                let s = sections[rng.below(sections.len())].clone();
                sections.insert(rng.below(sections.len() + 1), s);
            }
            3 if sections.len() > 1 => {
                let (a, b) = (rng.below(sections.len()), rng.below(sections.len()));
                sections.swap(a, b);
            }
            4 if !sections.is_empty() => {
                let i = rng.below(sections.len());
                sections[i].0 =
                    *rng.pick(&[*b"META", *b"MUTB", *b"SEGM", *b"COLL", *b"HEAD", *b"XXXX"]);
            }
            5 if !sections.is_empty() && !bodies.is_empty() => {
                let i = rng.below(sections.len());
                sections[i].1 = rng.pick(&bodies).clone();
            }
            _ if !sections.is_empty() => {
                let i = rng.below(sections.len());
                let body = &mut sections[i].1;
                match learned_parts(body).filter(|_| !rng.one_in(4)) {
                    Some(parts) => *body = learned(rng, parts, &bodies),
                    None => havoc(rng, body, &bodies),
                }
            }
            _ => {}
        }
    }
    siml_encode(version, &sections)
}

/// The four parts of a learned field's `HEAD` section (each a u64 length, then the bytes):
/// name, source field, head (safetensors), index (`SIML`).
fn learned_parts(body: &[u8]) -> Option<[Vec<u8>; 4]> {
    let mut at = 0;
    let mut parts: [Vec<u8>; 4] = Default::default();
    for part in &mut parts {
        let n = usize::try_from(u64::from_le_bytes(body.get(at..at + 8)?.try_into().ok()?)).ok()?;
        *part = body.get(at + 8..(at + 8).checked_add(n)?)?.to_vec();
        at += 8 + n;
    }
    (at == body.len()).then_some(parts)
}

/// A `HEAD` section with one part mutated (the name or source renamed, the head's
/// safetensors or the nested index mutated by their own mutators), lengths rewritten.
fn learned(rng: &mut Rng, mut parts: [Vec<u8>; 4], bodies: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(6) {
        0 | 1 => {
            let i = rng.below(2);
            parts[i] = rng
                .pick(&["v", "w", "x", "learned", "", "other"])
                .as_bytes()
                .to_vec();
        }
        2 | 3 => parts[2] = safetensors(rng, &parts[2], &[]),
        4 => {
            let i = rng.below(4);
            havoc(rng, &mut parts[i], bodies);
        }
        _ => parts[3] = siml(rng, &parts[3], &[]),
    }
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(&part);
    }
    out
}

/// A mutated safetensors file: mostly the JSON header edited (shapes, dtypes, offsets, names
/// and metadata) with the 8-byte header length rewritten to match, sometimes the data or
/// the raw bytes.
pub fn safetensors(rng: &mut Rng, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let parsed = seed.get(..8).and_then(|n| {
        let n = usize::try_from(u64::from_le_bytes(n.try_into().ok()?)).ok()?;
        let header = seed.get(8..8usize.checked_add(n)?)?;
        Some((header.to_vec(), seed[8 + n..].to_vec()))
    });
    let Some((mut header, mut data)) = parsed.filter(|_| !rng.one_in(5)) else {
        let mut out = seed.to_vec();
        havoc(rng, &mut out, others);
        return out;
    };
    match rng.below(6) {
        0 => havoc(rng, &mut data, &[]),
        1 => {
            if let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&header) {
                edit_json(rng, &mut json);
                header = serde_json::to_vec(&json).unwrap_or(header);
            }
        }
        _ => {
            havoc(rng, &mut header, &[]);
            if !rng.one_in(4) {
                // Keep the header text: past the UTF-8 check, into the JSON and the shapes.
                header = String::from_utf8_lossy(&header).into_owned().into_bytes();
            }
        }
    }
    if rng.one_in(3) {
        data.truncate(rng.below(data.len() + 1));
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(&data);
    out
}

/// One semantic edit somewhere in a JSON value: a number, a string, an array length, a key.
pub fn edit_json(rng: &mut Rng, v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            match rng.below(6) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    let value = map.remove(&key).unwrap_or(Value::Null);
                    map.insert(format!("{key}{}", rng.below(3)), value);
                }
                _ => edit_json(rng, map.get_mut(&key).expect("key present")),
            }
        }
        Value::Array(items) if !items.is_empty() && !rng.one_in(4) => {
            let i = rng.below(items.len());
            match rng.below(5) {
                0 => {
                    items.remove(i);
                }
                1 => items.push(items[i].clone()),
                _ => edit_json(rng, &mut items[i]),
            }
        }
        Value::String(s) => {
            *s = rng
                .pick(&[
                    "F32",
                    "I8",
                    "F16",
                    "BF16",
                    "U8",
                    "I64",
                    "F64",
                    "BOOL",
                    "",
                    "x",
                    "F4",
                    "{\"input\":4,\"hidden\":[],\"output\":0}",
                    "{\"input\":1,\"hidden\":[99999999],\"output\":99999999}",
                ])
                .to_string()
        }
        _ => {
            *v = match rng.below(6) {
                0 => Value::from(*rng.pick(INTERESTING)),
                1 => Value::from(-1),
                2 => Value::from(rng.below(64)),
                3 => Value::Array(vec![Value::from(rng.below(8)); rng.below(5)]),
                4 => Value::from(1.5),
                _ => Value::Null,
            }
        }
    }
}
