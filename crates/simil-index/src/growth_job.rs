//! Growth in another worker: a browser has no shared memory without cross-origin isolation,
//! so a builder worker keeps its own copy of the graphs rows grow into, and graph growth
//! runs there while the index's worker goes on answering.
//!
//! The index plans a step ([`Index::plan_growth`]: the rows' vectors, and the first time a
//! copy of the target's graphs as they are in memory); the builder ([`Builder::run`])
//! inserts the rows into its copy exactly as [`Index::grow_step`] would (same points, same
//! order, same levels) and sends back only what changed (a `LinksDelta`: the layer-0 lists
//! that differ, the upper layers whole); the index appends the same points unlinked and
//! applies the delta ([`Index::apply_growth`]), which costs a copy of the changed lists
//! instead of the distance computations of the insertions. Both sides then hold the same
//! graph, so the next step needs no copy. A step planned before the index changed shape
//! goes stale, and the builder's copy is then sent again.
//!
//! The bytes are checked as a file is: a frame with a version and a CRC, every length and
//! graph id bounded, so a confused peer causes an error, never an out-of-range index.

use super::codec::{Reader, Writer};
use super::config::IndexConfig;
use super::format::{read_vectors, write_vectors};
use super::growth::{Source, Step};
use super::hnsw::SealedField;
use super::maintenance::build_job;
use super::segment::Segment;
use super::{Index, IndexError};

/// Tags a growth job's bytes.
const JOB_MAGIC: &[u8; 4] = b"SIGJ";
/// Tags a grown delta's bytes.
const GROWN_MAGIC: &[u8; 4] = b"SIGD";
/// Version of both framings.
const VERSION: u32 = 1;
/// Copies a builder keeps (one per growing index), the least recently grown dropped first.
const MAX_COPIES: usize = 4;

/// Which copy of a sealed segment's graphs a builder must hold to grow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CopyKey {
    /// The index instance (never saved, unique in the process).
    pub instance: u64,
    /// The segment's id in that index.
    pub segment: u64,
    /// Its row count.
    pub rows: usize,
}

/// A growth step out to a builder, kept by the index's owner until the delta comes back.
#[derive(Debug, Clone, PartialEq)]
pub struct GrowthTicket {
    key: CopyKey,
    generation: u64,
    step: Step,
}

impl GrowthTicket {
    /// The copy the builder must hold for the step.
    pub fn key(&self) -> CopyKey {
        self.key
    }

    /// The copy the builder holds once it grew by the step.
    pub fn after(&self) -> CopyKey {
        CopyKey {
            rows: self.key.rows + self.step.rows.len(),
            ..self.key
        }
    }
}

/// Wraps `body` as `magic`, version, body, CRC of the body.
fn frame(magic: &[u8; 4], body: Vec<u8>) -> Vec<u8> {
    let mut w = Writer::default();
    w.buf.extend_from_slice(magic);
    w.u32(VERSION);
    let crc = crc32fast::hash(&body);
    w.buf.extend_from_slice(&body);
    w.u32(crc);
    w.buf
}

/// The body of bytes framed by [`frame`] with `magic`, checked.
fn unframe<'a>(bytes: &'a [u8], magic: &[u8; 4], what: &str) -> Result<&'a [u8], IndexError> {
    if bytes.len() < 12 || &bytes[..4] != magic {
        return Err(IndexError::Corrupt(format!("{what}: not one")));
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version != VERSION {
        return Err(IndexError::UnsupportedVersion(version, VERSION));
    }
    let (body, crc) = bytes[8..].split_at(bytes.len() - 12);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(IndexError::ChecksumMismatch("growth"));
    }
    Ok(body)
}

fn write_key(w: &mut Writer, key: CopyKey) {
    w.u64(key.instance);
    w.u64(key.segment);
    w.u64(key.rows as u64);
}

fn read_key(r: &mut Reader<'_>) -> Result<CopyKey, IndexError> {
    Ok(CopyKey {
        instance: r.u64()?,
        segment: r.u64()?,
        rows: usize::try_from(r.u64()?).map_err(|_| IndexError::SizeLimit("segment rows"))?,
    })
}

impl Index {
    /// The copy a builder needs to grow this index's graphs, if there is growth to do.
    pub fn growth_key(&self) -> Option<CopyKey> {
        self.plan_step(1).map(|step| self.copy_key(step.target))
    }

    fn copy_key(&self, target: usize) -> CopyKey {
        CopyKey {
            instance: self.instance,
            segment: self.sealed[target].id,
            rows: self.sealed[target].rows(),
        }
    }

    /// Plans a growth step of up to `max_rows` rows for a builder ([`Builder::run`]): the
    /// job's ticket, to keep, and its bytes (the rows' vectors, the configuration, and with
    /// `send_copy` a copy of the graphs the rows grow into). `None` when there is no growth.
    /// Run one step at a time: any growth or segment installed meanwhile makes it stale.
    pub fn plan_growth(&self, max_rows: usize, send_copy: bool) -> Option<(GrowthTicket, Vec<u8>)> {
        let step = self.plan_step(max_rows)?;
        let key = self.copy_key(step.target);
        let mut w = Writer::default();
        write_key(&mut w, key);
        let mut config = IndexConfig::with_fields(self.config.fields.clone());
        config.hnsw = self.config.hnsw.clone();
        w.bytes(&serde_json::to_vec(&config).unwrap_or_default());
        w.u8(u8::from(send_copy));
        if send_copy {
            self.sealed[step.target]
                .fields
                .iter()
                .for_each(|f| f.write_as_is(&mut w));
        }
        w.u64(step.rows.len() as u64);
        for &r in &step.rows {
            match step.source {
                Source::Mutable => write_vectors(&mut w, &self.mutable.rows[r as usize].vectors),
                Source::Sealed(at) => write_vectors(&mut w, &self.sealed[at].row(r).vectors),
            }
        }
        let ticket = GrowthTicket {
            key,
            generation: self.generation,
            step,
        };
        Some((ticket, frame(JOB_MAGIC, w.buf)))
    }

    /// Moves the rows of `ticket`'s step into its segment, linked as the builder's copy grew
    /// (`bytes`, from [`Builder::run`]). Rows deleted or replaced meanwhile stay so. Fails with
    /// [`IndexError::StaleSegment`] when the index changed shape since the plan (nothing is
    /// changed then, nor when the bytes do not read).
    pub fn apply_growth(&mut self, ticket: GrowthTicket, bytes: &[u8]) -> Result<(), IndexError> {
        let GrowthTicket {
            key,
            generation,
            step,
        } = ticket;
        let fresh = key.instance == self.instance
            && generation == self.generation
            && self.sealed.get(step.target).map(|s| (s.id, s.rows()))
                == Some((key.segment, key.rows));
        if !fresh {
            return Err(IndexError::StaleSegment);
        }
        let mut r = Reader::new(unframe(bytes, GROWN_MAGIC, "grown links")?, "grown links");
        if read_key(&mut r)? != key {
            return Err(IndexError::StaleSegment);
        }
        let fields = &self.sealed[step.target].fields;
        let mut deltas = Vec::with_capacity(fields.len());
        for (f, field) in fields.iter().enumerate() {
            let added = step
                .rows
                .iter()
                .filter(|&&row| self.step_has_vector(&step, row, f))
                .count();
            deltas.push(field.read_delta(&mut r, &self.config.hnsw, field.nodes() + added)?);
        }
        r.finish()?;
        self.take_step(&step, false);
        if let Some(target) = self.sealed.iter_mut().find(|s| s.id == key.segment) {
            for (field, delta) in target.fields.iter_mut().zip(deltas) {
                field.apply_delta(delta);
            }
        }
        Ok(())
    }
}

/// A copy of a segment's graphs, grown in a builder.
struct Copy {
    key: CopyKey,
    fields: Vec<SealedField>,
}

/// Another worker's side of index upkeep: builds segments ([`build_job`]) and grows copies
/// of the graphs rows grow into ([`Index::plan_growth`]).
#[derive(Default)]
pub struct Builder {
    copies: Vec<Copy>,
}

impl Builder {
    /// Runs a job from [`super::MaintenanceJob::into_parts`] or [`Index::plan_growth`];
    /// returns the bytes for [`super::JobTicket::built`] or [`Index::apply_growth`]. A growth
    /// step for a copy this builder does not hold fails with [`IndexError::StaleSegment`]
    /// (the index then plans the next one with a copy).
    pub fn run(&mut self, job: &[u8]) -> Result<Vec<u8>, IndexError> {
        if job.starts_with(JOB_MAGIC) {
            self.grow(job)
        } else {
            build_job(job)
        }
    }

    /// Number of graph copies held.
    pub fn copies(&self) -> usize {
        self.copies.len()
    }

    fn grow(&mut self, job: &[u8]) -> Result<Vec<u8>, IndexError> {
        let mut r = Reader::new(unframe(job, JOB_MAGIC, "growth job")?, "growth job");
        let key = read_key(&mut r)?;
        let config: IndexConfig = serde_json::from_slice(r.bytes(usize::MAX)?)
            .map_err(|e| IndexError::Corrupt(format!("growth job configuration: {e}")))?;
        config.validate()?;
        let (specs, params) = (&config.fields, &config.hnsw);
        if r.u8()? == 1 {
            let fields = specs
                .iter()
                .map(|spec| SealedField::read_as_is(&mut r, spec, params))
                .collect::<Result<Vec<_>, _>>()?;
            if fields.iter().any(|f| f.rows() != key.rows) {
                return Err(IndexError::Corrupt("growth job: copy row count".into()));
            }
            self.copies.retain(|c| c.key.instance != key.instance);
            if self.copies.len() == MAX_COPIES {
                self.copies.remove(0);
            }
            self.copies.push(Copy { key, fields });
        }
        let at = self
            .copies
            .iter()
            .position(|c| c.key == key && c.fields.len() == specs.len())
            .ok_or(IndexError::StaleSegment)?;
        let n = r.count(specs.len(), usize::MAX)?;
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            rows.push(read_vectors(&mut r, specs, || {
                format!("growth job row {i}")
            })?);
        }
        r.finish()?;
        // Most recently grown last.
        let mut copy = self.copies.remove(at);
        let mut w = Writer::default();
        write_key(&mut w, key);
        for (f, (field, spec)) in copy.fields.iter_mut().zip(specs).enumerate() {
            let before = field.zero_links();
            for (i, vectors) in rows.iter().enumerate() {
                field.insert(spec, params, (key.rows + i) as u32, vectors[f].as_ref());
            }
            field.delta(&before).write(&mut w);
        }
        copy.key.rows += n;
        self.copies.push(copy);
        Ok(frame(GROWN_MAGIC, w.buf))
    }
}
