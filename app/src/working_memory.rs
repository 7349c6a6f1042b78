//! AICO's working memory: the LMDB environment `<memory dir>/working`, named database
//! `session_memory`, keys `"{conversation_id}:{timestamp}"`, values JSON messages — through heed.
//!
//! The backfill adds `temporal_metadata` to each message that lacks it, by inserting the one key
//! before the object's closing brace, so every other byte of the value is kept and keys are never
//! changed. Batches are write transactions that re-read each value and write only if it is still
//! the one that was read (AICO may have rewritten it meanwhile); a run resumes where the keys say.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use entity::values::{TemporalMetadata, Timestamp};
use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, MdbError, WithoutTls};
use serde::Serialize;
use serde_json::Value;

/// The named database AICO keeps messages in.
pub const DATABASE: &str = "session_memory";

/// The map size an environment is opened with at least, and the step it grows by.
const MIN_MAP_SIZE: usize = 64 << 20;

/// What can go wrong with the working memory.
#[derive(Debug, thiserror::Error)]
pub enum WorkingMemoryError {
    /// There is no LMDB environment there.
    #[error("no LMDB environment at {dir} (no data.mdb): set --memory-dir or AICO_MEMORY_DIR")]
    NotFound {
        /// The directory.
        dir: PathBuf,
    },
    /// The environment has no `session_memory` database.
    #[error("the LMDB environment at {dir} has no database {DATABASE:?}")]
    MissingDatabase {
        /// The directory.
        dir: PathBuf,
    },
    /// LMDB failed.
    #[error("LMDB at {dir}: {source}")]
    Lmdb {
        /// The directory.
        dir: PathBuf,
        /// The error.
        source: heed::Error,
    },
}

/// An entry the backfill left as it was, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadEntry {
    /// The key (lossy UTF-8).
    pub key: String,
    /// Why.
    pub reason: String,
}

/// What a working-memory backfill did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LmdbBackfill {
    /// Entries in `session_memory`.
    pub entries: u64,
    /// Entries that already had temporal metadata.
    pub already: u64,
    /// Entries this run filled (dry run: would fill).
    pub filled: u64,
    /// Entries changed by someone else between read and write: left for the next run.
    pub changed_meanwhile: u64,
    /// Entries that are not JSON objects or have no usable time.
    pub bad_count: u64,
    /// The first of those.
    pub bad_entries: Vec<BadEntry>,
    /// Times the map was grown.
    pub map_resizes: u32,
}

/// What the working memory holds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LmdbHealth {
    /// Entries in `session_memory`.
    pub entries: u64,
    /// Entries with temporal metadata.
    pub with_temporal: u64,
    /// `with_temporal` as a percentage of `entries` (two decimals).
    pub coverage_percent: f64,
    /// Entries whose value is not a JSON object, or whose metadata lacks a required key.
    pub bad_count: u64,
    /// The first of those.
    pub bad_entries: Vec<BadEntry>,
    /// Entries whose `_expires_at` has passed.
    pub expired: u64,
}

const LISTED: usize = 1000;

/// A key and its value, as stored.
type Entry = (Vec<u8>, Vec<u8>);

/// An open working memory.
pub struct WorkingMemory {
    dir: PathBuf,
    env: Env<WithoutTls>,
    /// `data.mdb`, resolved: how the map is found among this process's mappings.
    data_file: PathBuf,
}

impl WorkingMemory {
    /// Open AICO's environment in `dir` (the `working` directory) and its `session_memory`.
    pub fn open(dir: &Path) -> Result<Self, WorkingMemoryError> {
        let data = dir.join("data.mdb");
        let Ok(meta) = std::fs::metadata(&data) else {
            return Err(WorkingMemoryError::NotFound { dir: dir.to_owned() });
        };
        let err = |source| WorkingMemoryError::Lmdb { dir: dir.to_owned(), source };
        let size = round_to_page((meta.len() as usize).max(MIN_MAP_SIZE));
        // SAFETY: heed's contract is that the environment is not opened twice in this process
        // and its files are not truncated while mapped; this tool opens it once.
        let env = unsafe { EnvOpenOptions::new().read_txn_without_tls().max_dbs(16).map_size(size).open(dir) }
            .map_err(err)?;
        let data_file = data.canonicalize().unwrap_or(data);
        let memory = Self { dir: dir.to_owned(), env, data_file };
        memory.db()?;
        Ok(memory)
    }

    /// The `session_memory` database.
    fn db(&self) -> Result<Database<'_, Bytes, Bytes>, WorkingMemoryError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        self.env
            .open_databases_and_commit(rtxn, |opener, rtxn| {
                opener.open_database::<Bytes, Bytes>(rtxn, Some(DATABASE)).map(CommitOrAbort::<_, ()>::Commit)
            })
            .map_err(|e| self.err(e))?
            .unwrap_commit()
            .ok_or_else(|| WorkingMemoryError::MissingDatabase { dir: self.dir.clone() })
    }

    fn err(&self, source: heed::Error) -> WorkingMemoryError {
        WorkingMemoryError::Lmdb { dir: self.dir.clone(), source }
    }

    /// Up to `limit` entries after `after` (from the start when None), in key order.
    fn page(&self, after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>, WorkingMemoryError> {
        release_mapped_pages(&self.data_file);
        let db = self.db()?;
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let range = (lower, Bound::Unbounded);
        let iter = db.range(&rtxn, &range).map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(limit);
        for item in iter.take(limit) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Add temporal metadata to every message lacking it, `batch` entries per write transaction.
    pub fn backfill(
        &self,
        batch: usize,
        dry_run: bool,
        mut progress: impl FnMut(u64),
    ) -> Result<LmdbBackfill, WorkingMemoryError> {
        let mut report = LmdbBackfill::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.page(after.as_deref(), batch)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            report.entries += page.len() as u64;
            let mut updates = Vec::new();
            for (key, value) in page {
                match with_metadata(&value) {
                    Ok(Some(new)) => updates.push((key, value, new)),
                    Ok(None) => report.already += 1,
                    Err(reason) => {
                        report.bad_count += 1;
                        if report.bad_entries.len() < LISTED {
                            report
                                .bad_entries
                                .push(BadEntry { key: String::from_utf8_lossy(&key).into_owned(), reason });
                        }
                    }
                }
            }
            if dry_run {
                report.filled += updates.len() as u64;
            } else if !updates.is_empty() {
                let (filled, changed) = self.write(&updates, &mut report.map_resizes)?;
                report.filled += filled;
                report.changed_meanwhile += changed;
            }
            progress(report.entries);
        }
        Ok(report)
    }

    /// Write one batch in one transaction, growing the map when it is full.
    fn write(
        &self,
        updates: &[(Vec<u8>, Vec<u8>, Vec<u8>)],
        resizes: &mut u32,
    ) -> Result<(u64, u64), WorkingMemoryError> {
        let db = self.db()?;
        loop {
            match self.try_write(db, updates) {
                Err(heed::Error::Mdb(MdbError::MapFull)) => {
                    let grown = round_to_page(self.env.info().map_size.saturating_mul(2).max(MIN_MAP_SIZE));
                    tracing::info!(dir = %self.dir.display(), "LMDB map full: growing it to {grown} bytes");
                    // SAFETY: the failed transaction was dropped (aborted); no transaction of this
                    // process is active.
                    unsafe { self.env.resize(grown) }.map_err(|e| self.err(e))?;
                    *resizes += 1;
                }
                other => return other.map_err(|e| self.err(e)),
            }
        }
    }

    fn try_write(
        &self,
        db: Database<'_, Bytes, Bytes>,
        updates: &[(Vec<u8>, Vec<u8>, Vec<u8>)],
    ) -> Result<(u64, u64), heed::Error> {
        let mut wtxn = self.env.write_txn()?;
        let (mut filled, mut changed) = (0, 0);
        for (key, old, new) in updates {
            // Write only if the value is still the one we read: AICO may have rewritten it.
            if db.get(&wtxn, key)? == Some(old.as_slice()) {
                db.put(&mut wtxn, key, new)?;
                filled += 1;
            } else {
                changed += 1;
            }
        }
        wtxn.commit()?;
        Ok((filled, changed))
    }

    /// Coverage, bad values and expired entries, read in one pass.
    pub fn health(&self, now: chrono::DateTime<chrono::Utc>) -> Result<LmdbHealth, WorkingMemoryError> {
        let mut h = LmdbHealth::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.page(after.as_deref(), 1000)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (key, value) in page {
                h.entries += 1;
                let bad = |h: &mut LmdbHealth, reason: String| {
                    h.bad_count += 1;
                    if h.bad_entries.len() < LISTED {
                        h.bad_entries.push(BadEntry { key: String::from_utf8_lossy(&key).into_owned(), reason });
                    }
                };
                let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(&value) else {
                    bad(&mut h, "value is not a JSON object".into());
                    continue;
                };
                if let Some(meta) = message.get("temporal_metadata") {
                    h.with_temporal += 1;
                    if let Err(e) = TemporalMetadata::from_json(meta) {
                        bad(&mut h, format!("temporal_metadata: {e}"));
                    }
                }
                if message.get("_expires_at").and_then(time_of).is_some_and(|t| t.as_datetime() < now) {
                    h.expired += 1;
                }
            }
        }
        h.coverage_percent = percent(h.with_temporal, h.entries);
        Ok(h)
    }
}

/// Let go of the map's pages this process has touched: the kernel keeps them in its page cache, but
/// they no longer count in this process's resident set, which so stays about one batch however
/// large the environment (a pass over a million entries would otherwise leave the whole file
/// resident here). Pages are read back from the file when touched again. Not Linux: nothing.
fn release_mapped_pages(data_file: &Path) {
    #[cfg(target_os = "linux")]
    {
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return };
        for line in maps.lines() {
            // `start-end perms offset dev inode   path`; the path may hold spaces.
            let mut fields = line.splitn(6, ' ');
            let range = fields.next().unwrap_or_default();
            if fields.nth(4).map(str::trim_start).map(Path::new) != Some(data_file) {
                continue;
            }
            let Some((start, end)) = range.split_once('-') else { continue };
            let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) else {
                continue;
            };
            // SAFETY: the range is a whole mapping of `data.mdb` that this process holds (LMDB's
            // shared, read-only map of the environment). MADV_DONTNEED on a shared file mapping
            // only drops this process's page-table entries: the next access reads the same bytes
            // back from the page cache or the file, so no reference into the map is invalidated.
            let rc = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
            if rc != 0 {
                tracing::debug!("madvise on the LMDB map failed: {}", std::io::Error::last_os_error());
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = data_file;
}

/// `part` of `whole` in percent, two decimals (0 for an empty whole).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { (part as f64 * 10_000.0 / whole as f64).round() / 100.0 }
}

fn round_to_page(size: usize) -> usize {
    const PAGE: usize = 4096;
    size.div_ceil(PAGE) * PAGE
}

/// A time as AICO writes it: an ISO string (read leniently) or Unix seconds; None unless AICO can
/// read it back (see [`Timestamp`]).
fn time_of(v: &Value) -> Option<Timestamp> {
    match v {
        Value::String(s) => Timestamp::parse(s).ok(),
        Value::Number(n) => n
            .as_f64()
            .and_then(|secs| chrono::DateTime::from_timestamp_micros((secs * 1e6) as i64))
            .and_then(|dt| Timestamp::try_from(dt).ok()),
        _ => None,
    }
}

/// What the backfill needs of a message, read without building it: whether it has
/// `temporal_metadata` (even `null`: a second key must never be added), its time, and whether it
/// has no keys at all. Every other member is skipped unparsed.
#[derive(serde::Deserialize)]
struct Probe {
    #[serde(default)]
    temporal_metadata: Seen,
    timestamp: Option<Value>,
    #[serde(rename = "_stored_at")]
    stored_at: Option<Value>,
}

/// A member that is present, whatever its value.
#[derive(Default)]
struct Seen(bool);

impl<'de> serde::Deserialize<'de> for Seen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Seen(true))
    }
}

/// A message as the backfill sees it.
struct Message {
    has_metadata: bool,
    created: Option<Timestamp>,
    empty: bool,
}

impl Message {
    fn read(value: &[u8]) -> Result<Self, String> {
        let mut rest = value.iter().skip_while(|b| b.is_ascii_whitespace());
        if rest.next() == Some(&b'{') {
            let empty = rest.find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
            if let Ok(p) = serde_json::from_slice::<Probe>(value) {
                let created = p.timestamp.as_ref().and_then(time_of).or_else(|| p.stored_at.as_ref().and_then(time_of));
                return Ok(Self { has_metadata: p.temporal_metadata.0, created, empty });
            }
        }
        // Not an object, or an unusual one (a repeated key): read it whole.
        let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(value) else {
            return Err("value is not a JSON object".into());
        };
        Ok(Self {
            has_metadata: message.contains_key("temporal_metadata"),
            created: ["timestamp", "_stored_at"].iter().find_map(|k| message.get(*k).and_then(time_of)),
            empty: message.is_empty(),
        })
    }
}

/// The message `value` with `temporal_metadata` added (`None` when it has it already), or why not.
/// The key is inserted before the closing brace: every byte of the original stays as it was.
pub fn with_metadata(value: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let message = Message::read(value)?;
    if message.has_metadata {
        return Ok(None);
    }
    let created =
        message.created.ok_or_else(|| "no usable time: neither timestamp nor _stored_at is a timestamp".to_owned())?;
    let meta = TemporalMetadata::initial_json_string(created);
    let end = value.iter().rposition(|b| *b == b'}').ok_or_else(|| "value is not a JSON object".to_owned())?;
    let mut out = Vec::with_capacity(value.len() + meta.len() + 24);
    out.extend_from_slice(&value[..end]);
    if !message.empty {
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(b"\"temporal_metadata\": ");
    out.extend_from_slice(meta.as_bytes());
    out.extend_from_slice(&value[end..]);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::with_metadata;

    #[test]
    fn inserting_keeps_every_byte() {
        let v = br#"{"role": "user", "content": "hi \u00e9 }", "timestamp": "2025-11-07T18:00:00Z"}"#;
        let new = with_metadata(v).expect("ok").expect("some");
        assert!(new.starts_with(&v[..v.len() - 1]));
        let parsed: serde_json::Value = serde_json::from_slice(&new).expect("json");
        assert_eq!(parsed["temporal_metadata"]["created_at"], "2025-11-07T18:00:00Z");
        assert_eq!(parsed["content"], "hi é }");
        assert_eq!(with_metadata(&new).expect("ok"), None, "already has it");
        assert!(with_metadata(b"not json").is_err());
        assert!(with_metadata(br#"{"role": "user"}"#).expect_err("no time").contains("no usable time"));
        let stored = with_metadata(br#"{"_stored_at": 1762538400.5}"#).expect("ok").expect("some");
        let parsed: serde_json::Value = serde_json::from_slice(&stored).expect("json");
        assert_eq!(parsed["temporal_metadata"]["created_at"], "2025-11-07T18:00:00.500Z");
        // Present but null: never a second key. A repeated key or an array: read whole.
        assert_eq!(with_metadata(br#"{"temporal_metadata": null, "timestamp": "2025-11-07T18:00:00Z"}"#), Ok(None));
        let twice = with_metadata(br#"{"timestamp": "x", "timestamp": "2025-11-07T18:00:00Z"}"#).expect("ok");
        assert!(twice.is_some(), "the last of a repeated key wins, as everywhere in serde_json");
        assert!(with_metadata(br#"["2025-11-07T18:00:00Z", null, null]"#).is_err(), "an array is no message");
        let empty = with_metadata(b"{ }").expect_err("no time");
        assert!(empty.contains("no usable time"));
        let spaced = with_metadata(br#"  { "timestamp" : "2025-11-07T18:00:00Z" }  "#).expect("ok").expect("some");
        assert!(spaced.starts_with(br#"  { "timestamp" : "2025-11-07T18:00:00Z" , "temporal_metadata": {"#));
    }
}
