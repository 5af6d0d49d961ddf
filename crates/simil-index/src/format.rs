//! The `SIML` binary format.
//!
//! ```text
//! "SIML" | version u32 | section count u32
//! | count × (tag [u8; 4], length u64, crc32 u32) | crc32 of everything before
//! | section bodies, in table order
//! ```
//! Sections: `META` (JSON: config and counters), `MUTB` (mutable rows), then
//! one `SEGM` per sealed segment (rows, then per field the row→graph mapping,
//! the int8 quantizer and the graph in instant-distance's serde layout), then any extra sections
//! of the index's owner ([`Index::to_bytes_with`]; a collection stores its learned
//! fields there, tag `HEAD`), which a reader accepts only when it asks for their
//! tag. Every length is checked
//! against the remaining bytes and a cap before allocating, every section
//! against its CRC, and graphs against their structure.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::codec::{Reader, Writer};
use super::hnsw::{RowSet, SealedField};
use super::segment::{Liveness, MutableSegment, Row, SealedSegment, Segment};
use super::{ExtraSection, FieldSpec, Index, IndexConfig, IndexError, Location, check_vector};

const MAGIC: &[u8; 4] = b"SIML";
/// Format version written by this build. Version 2 added `int8_only` graph
/// points (kind 2), version 3 extra sections after the segments; files of
/// versions 1 and 2 hold neither and load unchanged.
pub(crate) const VERSION: u32 = 3;
/// Oldest format version this build reads.
const MIN_VERSION: u32 = 1;
const MAX_SECTIONS: usize = 1 << 16;
pub(crate) const MAX_ROWS: usize = u32::MAX as usize - 1;
const MAX_ID_BYTES: usize = 1 << 16;
/// Largest item version, segment id or generation a file may hold.
const MAX_COUNTER: u64 = 1 << 62;
const META: &[u8; 4] = b"META";
const MUTABLE: &[u8; 4] = b"MUTB";
const SEGMENT: &[u8; 4] = b"SEGM";

#[derive(Serialize, Deserialize)]
struct Meta {
    config: IndexConfig,
    next_seq: u64,
    next_segment: u64,
    generation: u64,
}

fn write_row_header(w: &mut Writer, id: &str, seq: u64, alive: bool, payload: &Value) {
    w.bytes(id.as_bytes());
    w.u64(seq);
    w.u8(alive.into());
    w.bytes(&serde_json::to_vec(payload).unwrap_or_default());
}

fn read_row_header(r: &mut Reader<'_>) -> Result<(String, u64, bool, Value), IndexError> {
    let id = r.str(MAX_ID_BYTES)?.to_string();
    let seq = r.u64()?;
    let alive = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(IndexError::Corrupt("bad alive flag".into())),
    };
    let payload = serde_json::from_slice(r.bytes(usize::MAX)?)
        .map_err(|e| IndexError::Corrupt(format!("payload of `{id}`: {e}")))?;
    Ok((id, seq, alive, payload))
}

/// Writes a row's vectors, one per field: a flag, then the values if there are any.
pub(crate) fn write_vectors(w: &mut Writer, vectors: &[Option<Arc<[f32]>>]) {
    for v in vectors {
        match v {
            None => w.u8(0),
            Some(v) => {
                w.u8(1);
                w.f32s(v);
            }
        }
    }
}

/// Reads the vectors [`write_vectors`] wrote for fields `specs`, each checked as `upsert`
/// checks it (an int8 field's values within the f16 range, or sealing the row would write a
/// file this reader refuses); `row` names the row in those errors.
pub(crate) fn read_vectors(
    r: &mut Reader<'_>,
    specs: &[FieldSpec],
    row: impl Fn() -> String,
) -> Result<Vec<Option<Arc<[f32]>>>, IndexError> {
    let mut vectors = Vec::with_capacity(specs.len());
    for spec in specs {
        vectors.push(match r.u8()? {
            0 => None,
            1 => {
                let v = r.f32s(spec.dim)?;
                check_vector(spec, &v)
                    .map_err(|e| IndexError::Corrupt(format!("{}: {e}", row())))?;
                Some(v.into())
            }
            _ => return Err(IndexError::Corrupt("bad vector flag".into())),
        });
    }
    Ok(vectors)
}

/// Smallest encoding of a row header: empty id and payload lengths, seq, flag.
const MIN_ROW_BYTES: usize = 8 + 8 + 1 + 8;

/// Serializes `index`, then the `extra` sections.
pub(crate) fn encode(index: &Index, extra: Vec<ExtraSection>) -> Vec<u8> {
    let mut sections: Vec<([u8; 4], Vec<u8>)> = Vec::new();
    let meta = Meta {
        config: index.config.clone(),
        next_seq: index.next_seq,
        next_segment: index.next_segment,
        generation: index.generation,
    };
    sections.push((*META, serde_json::to_vec(&meta).unwrap_or_default()));

    let mut w = Writer::default();
    let m = &index.mutable;
    w.u64(m.rows.len() as u64);
    for (i, row) in m.rows.iter().enumerate() {
        write_row_header(
            &mut w,
            &row.id,
            row.seq,
            m.alive().contains(i as u32),
            &row.payload,
        );
        write_vectors(&mut w, &row.vectors);
    }
    sections.push((*MUTABLE, w.buf));

    for seg in &index.sealed {
        let mut w = Writer::default();
        w.u64(seg.id);
        w.u64(seg.rows() as u64);
        for row in 0..seg.rows() {
            write_row_header(
                &mut w,
                &seg.ids[row],
                seg.seqs[row],
                seg.alive().contains(row as u32),
                &seg.payloads[row],
            );
        }
        seg.fields.iter().for_each(|f| f.write(&mut w));
        sections.push((*SEGMENT, w.buf));
    }
    sections.extend(extra);

    let mut out = Writer::default();
    out.buf.extend_from_slice(MAGIC);
    out.u32(VERSION);
    out.u32(sections.len() as u32);
    for (tag, body) in &sections {
        out.buf.extend_from_slice(tag);
        out.u64(body.len() as u64);
        out.u32(crc32fast::hash(body));
    }
    let header_crc = crc32fast::hash(&out.buf);
    out.u32(header_crc);
    for (_, body) in sections {
        out.buf.extend_from_slice(&body);
    }
    out.buf
}

/// A section tag and its body.
type Section<'a> = ([u8; 4], &'a [u8]);

/// Splits `bytes` into checked `(tag, body)` sections.
fn sections(bytes: &[u8]) -> Result<Vec<Section<'_>>, IndexError> {
    let mut r = Reader::new(bytes, "header");
    if r.take(4).map_err(|_| IndexError::BadMagic)? != MAGIC {
        return Err(IndexError::BadMagic);
    }
    let version = r.u32()?;
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(IndexError::UnsupportedVersion(version, VERSION));
    }
    let count = r.u32()? as usize;
    if count > MAX_SECTIONS || count * 16 + 4 > r.remaining() {
        return Err(IndexError::SizeLimit("section table"));
    }
    let mut table = Vec::with_capacity(count);
    for _ in 0..count {
        let tag: [u8; 4] = r
            .take(4)?
            .try_into()
            .map_err(|_| IndexError::Truncated("header"))?;
        table.push((tag, r.u64()?, r.u32()?));
    }
    let header_len = bytes.len() - r.remaining();
    if r.u32()? != crc32fast::hash(&bytes[..header_len]) {
        return Err(IndexError::ChecksumMismatch("header"));
    }
    let mut r = Reader::new(&bytes[header_len + 4..], "section");
    let mut out = Vec::with_capacity(count);
    for (tag, len, crc) in table {
        let len = usize::try_from(len).map_err(|_| IndexError::SizeLimit("section"))?;
        let body = r.take(len)?;
        if crc32fast::hash(body) != crc {
            return Err(IndexError::ChecksumMismatch("section"));
        }
        out.push((tag, body));
    }
    r.finish()?;
    Ok(out)
}

/// Parses and validates an index; sections tagged with one of `allowed` come back as they
/// are, other unknown tags are errors.
pub(crate) fn decode(
    bytes: &[u8],
    allowed: &[[u8; 4]],
) -> Result<(Index, Vec<ExtraSection>), IndexError> {
    let sections = sections(bytes)?;
    let mut iter = sections.into_iter();
    let (meta, mutable) = match (iter.next(), iter.next()) {
        (Some((t1, meta)), Some((t2, mutable))) if &t1 == META && &t2 == MUTABLE => (meta, mutable),
        _ => return Err(IndexError::Corrupt("missing META or MUTB section".into())),
    };
    let meta: Meta =
        serde_json::from_slice(meta).map_err(|e| IndexError::Corrupt(format!("metadata: {e}")))?;
    meta.config.validate()?;
    // The counters grow by one per write: one near the top of u64 would overflow at the next.
    if [meta.next_seq, meta.next_segment, meta.generation]
        .iter()
        .any(|&c| c > MAX_COUNTER)
    {
        return Err(IndexError::Corrupt("counter out of range".into()));
    }
    let config = meta.config;

    let mut r = Reader::new(mutable, "mutable segment");
    let n = r.count(MIN_ROW_BYTES + config.fields.len(), MAX_ROWS)?;
    let mut seg = MutableSegment::new();
    for _ in 0..n {
        let (id, seq, alive, payload) = read_row_header(&mut r)?;
        let vectors = read_vectors(&mut r, &config.fields, || format!("row `{id}`"))?;
        let row = seg.push(Row {
            id: id.into(),
            seq,
            payload,
            vectors,
        });
        if !alive {
            seg.liveness.kill(row);
        }
    }
    r.finish()?;

    let mut sealed = Vec::new();
    let mut extra = Vec::new();
    for (tag, body) in iter {
        if &tag != SEGMENT {
            if allowed.contains(&tag) && ![*META, *MUTABLE].contains(&tag) {
                extra.push((tag, body.to_vec()));
                continue;
            }
            return Err(IndexError::Corrupt("unknown section".into()));
        }
        let mut r = Reader::new(body, "sealed segment");
        let id = r.u64()?;
        let n = r.count(MIN_ROW_BYTES, MAX_ROWS)?;
        let (mut ids, mut seqs, mut payloads) = (Vec::new(), Vec::new(), Vec::new());
        let mut alive = RowSet::new(n, false);
        for row in 0..n {
            let (id, seq, live, payload) = read_row_header(&mut r)?;
            ids.push(id.into());
            seqs.push(seq);
            payloads.push(payload);
            alive.set(row as u32, live);
        }
        let fields = config
            .fields
            .iter()
            .map(|spec| SealedField::read(&mut r, spec, &config.hnsw, n))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        sealed.push(SealedSegment {
            id,
            ids,
            seqs,
            payloads,
            liveness: Liveness::new(n, alive),
            fields,
        });
    }

    let mut locations = HashMap::new();
    let all = std::iter::once((None, &seg as &dyn Segment))
        .chain(sealed.iter().map(|s| (Some(s.id), s as &dyn Segment)));
    for (segment, s) in all {
        if segment.is_some_and(|id| id >= meta.next_segment) {
            return Err(IndexError::Corrupt("segment id out of range".into()));
        }
        for row in s.alive().iter() {
            let loc = Location {
                segment,
                row,
                seq: 0,
            };
            if locations.insert(Arc::clone(s.id(row)), loc).is_some() {
                return Err(IndexError::Corrupt(format!(
                    "item `{}` is stored twice",
                    s.id(row)
                )));
            }
        }
    }
    let seq_of = |loc: &Location, row: u32| match loc.segment {
        None => seg.rows[row as usize].seq,
        Some(id) => sealed
            .iter()
            .find(|s| s.id == id)
            .map_or(0, |s| s.seqs[row as usize]),
    };
    for loc in locations.values_mut() {
        loc.seq = seq_of(loc, loc.row);
        if loc.seq >= meta.next_seq {
            return Err(IndexError::Corrupt("item version out of range".into()));
        }
    }
    let mut ids: Vec<u64> = sealed.iter().map(|s| s.id).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(IndexError::Corrupt("duplicate segment id".into()));
    }
    let index = Index {
        config,
        mutable: seg,
        generation: meta.generation,
        sealed,
        locations,
        next_seq: meta.next_seq,
        next_segment: meta.next_segment,
        instance: super::maintenance::next_instance(),
    };
    Ok((index, extra))
}
