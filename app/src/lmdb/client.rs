//! The open environment: [`WorkingMemory::open`], its entries read a page at a time (with the
//! map's pages let go after each), and [`run`], which opens it for a job and sorts what went
//! wrong into a report [`Outcome`].

use std::ops::Bound;
use std::path::{Path, PathBuf};

use entity::values::Timestamp;
use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, WithoutTls};
use serde_json::Value;

use super::{DATABASE, WorkingMemoryError};
use crate::report::Outcome;

/// The map size an environment is opened with at least, and the step it grows by.
pub(super) const MIN_MAP_SIZE: usize = 64 << 20;

/// The outcome of opening the working memory at `dir` and running `job` on it.
pub fn run<T>(
    dir: Result<PathBuf, String>,
    job: impl FnOnce(&WorkingMemory) -> Result<T, WorkingMemoryError>,
) -> Outcome<T> {
    let dir = match dir {
        Ok(dir) => dir,
        Err(detail) => return Outcome::NotConfigured { detail },
    };
    match WorkingMemory::open(&dir).and_then(|m| job(&m)) {
        Ok(t) => Outcome::Done(t),
        Err(e @ (WorkingMemoryError::NotFound { .. } | WorkingMemoryError::MissingDatabase { .. })) => {
            Outcome::NotConfigured { detail: e.to_string() }
        }
        Err(e) => Outcome::Failed { detail: e.to_string() },
    }
}

/// A key and its value, as stored.
pub type Entry = (Vec<u8>, Vec<u8>);

/// An open working memory.
pub struct WorkingMemory {
    pub(super) dir: PathBuf,
    pub(super) env: Env<WithoutTls>,
    /// `data.mdb`, resolved: how the map is found among this process's mappings.
    data_file: PathBuf,
}

impl WorkingMemory {
    /// Open AICO's environment in `dir` (the `working` directory) and its `session_memory`.
    pub fn open(dir: &Path) -> Result<Self, WorkingMemoryError> {
        Self::open_with(dir, false)
    }

    /// Open it as [`open`](Self::open) does, read-only (LMDB's `MDB_RDONLY`): `aico-ams move`'s source.
    pub fn open_read_only(dir: &Path) -> Result<Self, WorkingMemoryError> {
        Self::open_with(dir, true)
    }

    fn open_with(dir: &Path, read_only: bool) -> Result<Self, WorkingMemoryError> {
        let data = dir.join("data.mdb");
        let Ok(meta) = std::fs::metadata(&data) else {
            return Err(WorkingMemoryError::NotFound { dir: dir.to_owned() });
        };
        let err = |source| WorkingMemoryError::Lmdb { dir: dir.to_owned(), source };
        let size = round_to_page((meta.len() as usize).max(MIN_MAP_SIZE));
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.max_dbs(16).map_size(size);
        if read_only {
            // SAFETY: MDB_RDONLY only forbids write transactions, which a read-only user never begins.
            unsafe { options.flags(EnvFlags::READ_ONLY) };
        }
        // SAFETY: heed's contract is that the environment is not opened twice in this process
        // and its files are not truncated while mapped; this tool opens it once.
        let env = unsafe { options.open(dir) }.map_err(err)?;
        let data_file = data.canonicalize().unwrap_or(data);
        let memory = Self { dir: dir.to_owned(), env, data_file };
        memory.db()?;
        Ok(memory)
    }

    /// The `session_memory` database.
    pub(super) fn db(&self) -> Result<Database<'_, Bytes, Bytes>, WorkingMemoryError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        self.env
            .open_databases_and_commit(rtxn, |opener, rtxn| {
                opener.open_database::<Bytes, Bytes>(rtxn, Some(DATABASE)).map(CommitOrAbort::<_, ()>::Commit)
            })
            .map_err(|e| self.err(e))?
            .unwrap_commit()
            .ok_or_else(|| WorkingMemoryError::MissingDatabase { dir: self.dir.clone() })
    }

    /// The entries of the named database `name`; None when the environment has no such database.
    pub fn count_of(&self, name: &str) -> Result<Option<u64>, WorkingMemoryError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let db = self
            .env
            .open_databases_and_commit(rtxn, |opener, rtxn| {
                opener.open_database::<Bytes, Bytes>(rtxn, Some(name)).map(CommitOrAbort::<_, ()>::Commit)
            })
            .map_err(|e| self.err(e))?
            .unwrap_commit();
        let Some(db) = db else { return Ok(None) };
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        db.len(&rtxn).map(Some).map_err(|e| self.err(e))
    }

    pub(super) fn err(&self, source: heed::Error) -> WorkingMemoryError {
        WorkingMemoryError::Lmdb { dir: self.dir.clone(), source }
    }

    /// Up to `limit` entries after `after` (from the start when None), in key order.
    pub fn page(&self, after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>, WorkingMemoryError> {
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

pub(super) fn round_to_page(size: usize) -> usize {
    const PAGE: usize = 4096;
    size.div_ceil(PAGE) * PAGE
}

/// A time as AICO writes it: an ISO string (read leniently) or Unix seconds; None unless AICO can
/// read it back (see [`Timestamp`]).
pub fn time_of(v: &Value) -> Option<Timestamp> {
    match v {
        Value::String(s) => Timestamp::parse(s).ok(),
        Value::Number(n) => n
            .as_f64()
            .and_then(|secs| chrono::DateTime::from_timestamp_micros((secs * 1e6) as i64))
            .and_then(|dt| Timestamp::try_from(dt).ok()),
        _ => None,
    }
}
