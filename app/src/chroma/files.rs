//! AICO's Chroma store read from its files, without a server: the move's source when the store
//! is in the format chromadb 1.0 writes (AICO pins 1.0.20) and every collection in it checks
//! out. A server holds a collection's whole HNSW index in memory (about 385 MiB for 50,000
//! segments of 768-d); this reads a batch at a time.
//!
//! What the files hold (checked against the stores chromadb 1.0.20 writes, in
//! `tests/tests/chroma_files.rs`):
//! - `chroma.sqlite3`: each collection's METADATA segment (its live records in `embeddings`,
//!   their documents and metadata in `embedding_metadata`) and VECTOR segment, and the log
//!   (`embeddings_queue`), which Chroma purges up to the VECTOR segment's last flush
//!   (`max_seq_id`). The log's vectors are little-endian `float32`.
//! - `<VECTOR segment>/`: the HNSW index as Chroma's hnswlib writes it. `header.bin` gives the
//!   layout, `data_level0.bin` has one slot a record (its links, its vector, its label), and
//!   `length.bin` one `float32` a slot: the vector's length (for `cosine` the slot holds the
//!   unit vector). `index_metadata.pickle` maps ids to labels.
//!
//! A record's vector is the newest one the log holds after the flush, exactly as AICO gave it.
//! Otherwise it is its slot's vector, times its length for `cosine`, which are the very `f32`s
//! Chroma's own `get` returns. For a record still in the log, Chroma's `get` returns the vector
//! normalised and scaled back, which can differ from AICO's in the last bit; the log's is the
//! original.
//!
//! Anything else is a [`ChromaError::StoreFormat`] naming what did not check out, and the caller
//! serves the store instead ([`super::Reader::open`]). That covers another header version, a space
//! other than `l2` or `cosine`, a METADATA segment behind the log, and a record without a vector.
//! `chroma.sqlite3` is read from a private copy; the store is only read, and stays byte for
//! byte as it was.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sea_orm::sqlx::{self, Row};
use serde_json::{Map, Value};

use super::{ChromaError, Record, STORE_FILE};

/// The log's operations (`embeddings_queue.operation`).
const DELETE: i64 = 3;
/// Metadata keys Chroma keeps for itself; the document is under the first.
const DOCUMENT_KEY: &str = "chroma:document";
const OWN_KEY_PREFIX: &str = "chroma:";
/// The only `header.bin` layout read (hnswlib's fields after a version number).
const HEADER_VERSION: i32 = 1;
const HEADER_LEN: usize = 100;

/// The store's collections in one tenant and database, each checked and ready to read.
pub struct StoreFiles {
    /// The store.
    path: PathBuf,
    /// By name.
    collections: HashMap<String, Arc<FileCollection>>,
}

/// One collection: its live records in Chroma's order, and where each one's vector is.
pub struct FileCollection {
    /// The store (for messages).
    path: PathBuf,
    /// A private copy of `chroma.sqlite3`, removed when the last collection is dropped.
    db: Arc<Db>,
    /// The width of its vectors (`None` before its first record).
    dimension: Option<u64>,
    /// Its live records: row id in `embeddings`, id, where the vector is.
    records: Vec<(i64, String, VectorAt)>,
    /// The vectors the log holds after the flush, as AICO gave them.
    logged: Vec<Vec<f32>>,
    /// The HNSW files (`None` before the first flush).
    slots: Option<Slots>,
}

/// Where a record's vector is.
#[derive(Clone, Copy, Debug)]
enum VectorAt {
    /// In the log: `logged[i]`.
    Logged(usize),
    /// In `data_level0.bin`: this slot.
    Slot(u64),
}

/// `data_level0.bin`'s layout, and each slot's length when the slots hold unit vectors.
struct Slots {
    data: PathBuf,
    stride: u64,
    offset_data: u64,
    dim: usize,
    lengths: Option<Vec<f32>>,
}

/// The private copy of `chroma.sqlite3`, opened.
struct Db {
    pool: SqlitePool,
    _copy: tempfile::TempDir,
}

impl StoreFiles {
    /// Read the store in `path`: every collection of `tenant`'s `database`, checked (a
    /// [`ChromaError::StoreFormat`] says what did not check out).
    pub async fn open(path: &Path, tenant: &str, database: &str) -> Result<Self, ChromaError> {
        let bad = |detail: String| ChromaError::StoreFormat { path: path.join(STORE_FILE), detail };
        let copy = super::server::private_dir().map_err(|e| bad(format!("could not make a private copy: {e}")))?;
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let name = format!("{STORE_FILE}{suffix}");
            if path.join(&name).is_file() {
                std::fs::copy(path.join(&name), copy.path().join(&name))
                    .map_err(|e| bad(format!("could not copy {name}: {e}")))?;
            }
        }
        let options = SqliteConnectOptions::new().filename(copy.path().join(STORE_FILE));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| bad(format!("cannot open it: {e}")))?;
        let db = Arc::new(Db { pool, _copy: copy });
        let found = sqlx::query(
            "SELECT c.id, c.name, c.dimension, c.config_json_str,
                    (SELECT str_value FROM collection_metadata m WHERE m.collection_id = c.id AND m.key = 'hnsw:space')
             FROM collections c JOIN databases d ON d.id = c.database_id
             WHERE d.name = ?1 AND d.tenant_id = ?2",
        )
        .bind(database)
        .bind(tenant)
        .fetch_all(&db.pool)
        .await
        .map_err(|e| bad(format!("reading its collections: {e}")))?;
        let mut collections = HashMap::new();
        for row in found {
            let collection = CollectionRow {
                id: row.try_get(0).map_err(|e| bad(e.to_string()))?,
                name: row.try_get(1).map_err(|e| bad(e.to_string()))?,
                dimension: row.try_get(2).map_err(|e| bad(e.to_string()))?,
                config: row.try_get(3).map_err(|e| bad(e.to_string()))?,
                space: row.try_get(4).map_err(|e| bad(e.to_string()))?,
            };
            let name = collection.name.clone();
            let read = FileCollection::read(path, &db, collection)
                .await
                .map_err(|detail| bad(format!("collection {name:?}: {detail}")))?;
            collections.insert(name, Arc::new(read));
        }
        Ok(Self { path: path.to_owned(), collections })
    }

    /// The store, for reports.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The collection `name`, or `None` when the store has no such collection.
    pub fn collection(&self, name: &str) -> Option<Arc<FileCollection>> {
        self.collections.get(name).cloned()
    }
}

/// A row of the log: sequence number, operation, id, vector, its encoding.
type LogRow = (i64, i64, String, Option<Vec<u8>>, Option<String>);

/// Each live id's slot in `data_level0.bin`.
type SlotOf = HashMap<String, u64>;

/// A row of `collections`, with the space from its metadata.
struct CollectionRow {
    id: String,
    name: String,
    dimension: Option<i64>,
    config: Option<String>,
    space: Option<String>,
}

impl FileCollection {
    /// Read and check one collection: its segments, live records, the log after the flush and
    /// the HNSW files' layout; each record's vector must be found.
    async fn read(path: &Path, db: &Arc<Db>, c: CollectionRow) -> Result<Self, String> {
        let space = space(&c)?;
        let pool = &db.pool;
        let segments: Vec<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT s.id, s.scope, m.seq_id FROM segments s LEFT JOIN max_seq_id m ON m.segment_id = s.id
             WHERE s.collection = ?1",
        )
        .bind(&c.id)
        .fetch_all(pool)
        .await
        .map_err(|e| format!("reading its segments: {e}"))?;
        let segment = |scope: &str| segments.iter().find(|(_, s, _)| s == scope).cloned();
        let (Some((metadata, _, metadata_seq)), Some((vector, _, vector_seq))) =
            (segment("METADATA"), segment("VECTOR"))
        else {
            return Err(format!("it does not have one METADATA and one VECTOR segment: {segments:?}"));
        };
        if vector.is_empty() || !vector.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(format!("its VECTOR segment id {vector:?} is not a uuid, the name of its directory"));
        }
        let flushed = vector_seq.unwrap_or(0);
        // The log after the flush: the newest vector of each id (a delete removes it).
        let topic_end = format!("/{}", c.id);
        let log: Vec<LogRow> = sqlx::query_as(
            "SELECT seq_id, operation, id, vector, encoding FROM embeddings_queue
             WHERE seq_id > ?1 AND substr(topic, -length(?2)) = ?2 ORDER BY seq_id",
        )
        .bind(flushed)
        .bind(&topic_end)
        .fetch_all(pool)
        .await
        .map_err(|e| format!("reading its log: {e}"))?;
        if let Some((last, ..)) = log.last()
            && metadata_seq.unwrap_or(0) < *last
        {
            return Err(format!(
                "its METADATA segment is at {} but the log goes to {last}: Chroma has not applied it all",
                metadata_seq.unwrap_or(0)
            ));
        }
        let mut newest: HashMap<String, Option<Vec<f32>>> = HashMap::new();
        for (seq, operation, id, vector, encoding) in log {
            if operation == DELETE {
                newest.insert(id, None);
            } else if let Some(bytes) = vector {
                if encoding.as_deref() != Some("FLOAT32") || bytes.len() % 4 != 0 {
                    return Err(format!("log entry {seq} ({id}) has a vector encoded as {encoding:?}"));
                }
                newest.insert(id, Some(f32s(&bytes).collect()));
            }
        }
        let (slots, labelled) = match Slots::read(&path.join(&vector), space, flushed)? {
            Some((slots, labelled)) => (Some(slots), labelled),
            None => (None, HashMap::new()),
        };
        let live: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, embedding_id FROM embeddings WHERE segment_id = ?1 ORDER BY id")
                .bind(&metadata)
                .fetch_all(pool)
                .await
                .map_err(|e| format!("reading its records: {e}"))?;
        let (mut records, mut logged) = (Vec::with_capacity(live.len()), Vec::new());
        for (row, id) in live {
            let at = match newest.remove(&id) {
                Some(Some(vector)) => {
                    logged.push(vector);
                    VectorAt::Logged(logged.len() - 1)
                }
                Some(None) => return Err(format!("record {id:?} is live but the log deletes it")),
                None => match labelled.get(&id) {
                    Some(slot) => VectorAt::Slot(*slot),
                    None => return Err(format!("record {id:?} has no vector in the log nor in the HNSW files")),
                },
            };
            records.push((row, id, at));
        }
        let dimension = match c.dimension {
            Some(d) => Some(u64::try_from(d).map_err(|_| format!("its dimension is {d}"))?),
            None => None,
        };
        let widths = logged.iter().map(Vec::len).chain(slots.iter().map(|s| s.dim));
        for width in widths {
            if dimension.is_some_and(|d| d != width as u64) {
                return Err(format!("a vector of {width} dimensions in a collection of {dimension:?}"));
            }
        }
        Ok(Self { path: path.to_owned(), db: Arc::clone(db), dimension, records, logged, slots })
    }

    /// The width of the collection's vectors (`None` before its first record).
    pub fn dimension(&self) -> Option<u64> {
        self.dimension
    }

    /// How many records the collection holds.
    pub fn count(&self) -> u64 {
        self.records.len() as u64
    }

    /// Up to `limit` whole records from `offset`, in Chroma's order.
    pub async fn records(&self, offset: u64, limit: u64) -> Result<Vec<Record>, ChromaError> {
        let bad = |detail: String| ChromaError::StoreFormat { path: self.path.clone(), detail };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.records.len());
        let end = start.saturating_add(usize::try_from(limit).unwrap_or(usize::MAX)).min(self.records.len());
        let page = &self.records[start..end];
        let (Some(first), Some(last)) = (page.first(), page.last()) else { return Ok(Vec::new()) };
        let index: HashMap<i64, usize> = page.iter().enumerate().map(|(i, (row, ..))| (*row, i)).collect();
        let mut out: Vec<Record> = page
            .iter()
            .map(|(_, id, _)| Record { id: id.clone(), embedding: None, document: None, metadata: Map::new() })
            .collect();
        let rows = sqlx::query(
            "SELECT id, key, string_value, int_value, float_value, bool_value FROM embedding_metadata
             WHERE id BETWEEN ?1 AND ?2 ORDER BY id, key",
        )
        .bind(first.0)
        .bind(last.0)
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| bad(format!("reading metadata: {e}")))?;
        for row in rows {
            let cell = |e: sqlx::Error| bad(format!("reading metadata: {e}"));
            let Some(&i) = index.get(&row.try_get::<i64, _>(0).map_err(cell)?) else { continue };
            let key: String = row.try_get(1).map_err(cell)?;
            let (text, int, float, flag) = (
                row.try_get::<Option<String>, _>(2).map_err(cell)?,
                row.try_get::<Option<i64>, _>(3).map_err(cell)?,
                row.try_get::<Option<f64>, _>(4).map_err(cell)?,
                row.try_get::<Option<i64>, _>(5).map_err(cell)?,
            );
            if key == DOCUMENT_KEY {
                out[i].document = text;
                continue;
            }
            if key.starts_with(OWN_KEY_PREFIX) {
                continue;
            }
            let value = match (text, int, float, flag) {
                (Some(t), ..) => Value::String(t),
                (_, _, _, Some(b)) => Value::Bool(b != 0),
                (_, Some(n), ..) => Value::from(n),
                (_, _, Some(x), _) => serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
                _ => Value::Null,
            };
            out[i].metadata.insert(key, value);
        }
        let mut data = match &self.slots {
            Some(s) => Some(File::open(&s.data).map_err(|e| bad(format!("cannot open {}: {e}", s.data.display())))?),
            None => None,
        };
        for ((_, _, at), record) in page.iter().zip(&mut out) {
            record.embedding = Some(match (*at, &self.slots, &mut data) {
                (VectorAt::Logged(i), ..) => self.logged[i].clone(),
                (VectorAt::Slot(slot), Some(slots), Some(file)) => {
                    slots.vector(file, slot).map_err(|e| bad(format!("reading {}: {e}", slots.data.display())))?
                }
                (VectorAt::Slot(_), ..) => return Err(bad("a slot without HNSW files".into())),
            });
        }
        Ok(out)
    }
}

/// The collection's space: its configuration's, else its metadata's `hnsw:space`, else Chroma's
/// default `l2`. Only `l2` and `cosine` are read.
fn space(c: &CollectionRow) -> Result<bool, String> {
    let configured = c
        .config
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|config| config.pointer("/vector_index/hnsw/space").and_then(Value::as_str).map(str::to_owned));
    match configured.or_else(|| c.space.clone()).as_deref().unwrap_or("l2") {
        "l2" => Ok(false),
        "cosine" => Ok(true),
        other => Err(format!("its space is {other:?}; only l2 and cosine are read from the files")),
    }
}

impl Slots {
    /// The HNSW files in `dir` (`None` when they hold no vector yet), and each live id's slot.
    /// The index must have been saved at the flush the database records (`flushed`).
    fn read(dir: &Path, cosine: bool, flushed: i64) -> Result<Option<(Self, SlotOf)>, String> {
        let header_file = dir.join("header.bin");
        if !header_file.is_file() {
            return match flushed {
                0 => Ok(None),
                _ => Err(format!("its vectors were flushed at {flushed}, but {} is missing", header_file.display())),
            };
        }
        let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("cannot read {name}: {e}"));
        let header = read("header.bin")?;
        if header.len() != HEADER_LEN {
            return Err(format!("header.bin has {} bytes, not {HEADER_LEN}", header.len()));
        }
        let int = |at: usize| i32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        let word = |at: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let (version, offset_level0, count, stride, label_offset, offset_data) =
            (int(0), word(4), word(20), word(28), word(36), word(44));
        if version != HEADER_VERSION
            || offset_level0 != 0
            || label_offset.checked_add(8) != Some(stride)
            || offset_data >= label_offset
            || (label_offset - offset_data) % 4 != 0
        {
            return Err(format!(
                "header.bin is not a layout this reads (version {version}, level 0 at {offset_level0}, \
                 {stride} bytes a slot, data at {offset_data}, label at {label_offset})"
            ));
        }
        if count == 0 {
            // Chroma writes an empty index before its first flush, without the pickle.
            return Ok(None);
        }
        let dim = ((label_offset - offset_data) / 4) as usize;
        let data = dir.join("data_level0.bin");
        let size = std::fs::metadata(&data).map_err(|e| format!("cannot read data_level0.bin: {e}"))?.len();
        if size < count.saturating_mul(stride) {
            return Err(format!("data_level0.bin has {size} bytes, fewer than {count} slots of {stride}"));
        }
        let lengths = match cosine {
            false => None,
            true => {
                let lengths: Vec<f32> = f32s(&read("length.bin")?).collect();
                if (lengths.len() as u64) < count {
                    return Err(format!("length.bin has {} lengths for {count} slots", lengths.len()));
                }
                Some(lengths)
            }
        };
        let (labels, saved_at) = id_to_label(&read("index_metadata.pickle")?)?;
        if saved_at.is_some_and(|at| at != flushed) {
            return Err(format!("the HNSW files were saved at {saved_at:?}, but the database says {flushed}"));
        }
        // Each slot's label, and whether hnswlib marked it deleted (bit 0 of the third byte of
        // its level-0 link count).
        let mut slot_of: HashMap<u64, u64> = HashMap::with_capacity(labels.len());
        let file = File::open(&data).map_err(|e| format!("cannot open data_level0.bin: {e}"))?;
        let mut file = std::io::BufReader::with_capacity(1 << 20, file);
        let mut slot = vec![0; stride as usize];
        for i in 0..count {
            file.read_exact(&mut slot).map_err(|e| format!("reading slot {i} of data_level0.bin: {e}"))?;
            let deleted = slot[2] & 1 == 1;
            let mut bytes = [0; 8];
            bytes.copy_from_slice(&slot[label_offset as usize..]);
            let label = u64::from_le_bytes(bytes);
            if !deleted && slot_of.insert(label, i).is_some() {
                return Err(format!("label {label} is in two slots"));
            }
        }
        let mut labelled = HashMap::with_capacity(labels.len());
        for (id, label) in labels {
            let Some(slot) = slot_of.get(&label) else {
                return Err(format!("record {id:?} has label {label}, which no live slot holds"));
            };
            labelled.insert(id, *slot);
        }
        Ok(Some((Self { data, stride, offset_data, dim, lengths }, labelled)))
    }

    /// The vector in `slot` (times its length for `cosine`).
    fn vector(&self, file: &mut File, slot: u64) -> std::io::Result<Vec<f32>> {
        let mut bytes = vec![0; self.dim * 4];
        file.seek(SeekFrom::Start(slot * self.stride + self.offset_data))?;
        file.read_exact(&mut bytes)?;
        let length = self.lengths.as_ref().and_then(|l| usize::try_from(slot).ok().and_then(|s| l.get(s)).copied());
        Ok(f32s(&bytes).map(|x| length.map_or(x, |l| x * l)).collect())
    }
}

/// `bytes` as little-endian `float32`s (a trailing part of fewer than 4 bytes is not one).
fn f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// `index_metadata.pickle`: each id's label, and the sequence number it was saved at (chromadb
/// 1.0 leaves it `None`).
fn id_to_label(bytes: &[u8]) -> Result<(HashMap<String, u64>, Option<i64>), String> {
    use serde_pickle::{HashableValue, Value as Pickled};
    let bad = |what: &str| format!("index_metadata.pickle: {what}");
    let value =
        serde_pickle::value_from_slice(bytes, serde_pickle::DeOptions::new()).map_err(|e| bad(&e.to_string()))?;
    let Pickled::Dict(fields) = value else { return Err(bad("not a dict")) };
    let field = |name: &str| fields.get(&HashableValue::String(name.to_owned()));
    let saved_at = match field("max_seq_id") {
        Some(Pickled::I64(n)) => Some(*n),
        Some(Pickled::None) | None => None,
        Some(other) => return Err(bad(&format!("max_seq_id is {other:?}"))),
    };
    let Some(Pickled::Dict(map)) = field("id_to_label") else { return Err(bad("no id_to_label dict")) };
    let mut labels = HashMap::with_capacity(map.len());
    for (id, label) in map {
        let (HashableValue::String(id), Pickled::I64(label)) = (id, label) else {
            return Err(bad(&format!("an entry {id:?}: {label:?} of id_to_label")));
        };
        labels.insert(id.clone(), u64::try_from(*label).map_err(|_| bad(&format!("label {label} of {id:?}")))?);
    }
    Ok((labels, saved_at))
}

#[cfg(test)]
mod tests {
    use super::{CollectionRow, Slots, space};

    fn header(version: i32, count: u64, stride: u64, label: u64, data: u64) -> Vec<u8> {
        let mut h = version.to_le_bytes().to_vec();
        for word in [0, 10_000, count, stride, label, data] {
            h.extend(u64::to_le_bytes(word));
        }
        h.resize(super::HEADER_LEN, 0);
        h
    }

    #[test]
    fn only_the_header_layout_that_was_checked_is_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |h: Vec<u8>| std::fs::write(dir.path().join("header.bin"), h).expect("write");
        // No files, nothing flushed: nothing to read. Files missing after a flush: refused.
        assert!(Slots::read(dir.path(), true, 0).expect("no files").is_none());
        assert!(Slots::read(dir.path(), true, 2000).err().expect("missing").contains("header.bin is missing"));
        // An empty index, as Chroma writes it before its first flush.
        write(header(1, 0, 172, 164, 132));
        assert!(Slots::read(dir.path(), true, 0).expect("empty").is_none());
        write(header(2, 5, 172, 164, 132));
        assert!(Slots::read(dir.path(), true, 0).err().expect("version").contains("version 2"));
        write(header(1, 5, 180, 164, 132));
        assert!(Slots::read(dir.path(), true, 0).err().expect("layout").contains("180 bytes a slot"));
        write(header(1, 5, 172, 164, 132));
        std::fs::write(dir.path().join("data_level0.bin"), [0; 172 * 4]).expect("write");
        assert!(Slots::read(dir.path(), true, 0).err().expect("short").contains("fewer than 5 slots"));
    }

    #[test]
    fn the_space_is_the_configurations_else_the_metadatas_else_l2() {
        let row = |config: Option<&str>, space: Option<&str>| CollectionRow {
            id: "c".into(),
            name: "n".into(),
            dimension: None,
            config: config.map(str::to_owned),
            space: space.map(str::to_owned),
        };
        assert_eq!(space(&row(Some(r#"{"vector_index":{"hnsw":{"space":"cosine"}}}"#), Some("l2"))), Ok(true));
        assert_eq!(space(&row(None, Some("cosine"))), Ok(true));
        assert_eq!(space(&row(Some("{}"), None)), Ok(false));
        assert!(space(&row(None, Some("ip"))).expect_err("ip").contains("\"ip\""));
    }
}
