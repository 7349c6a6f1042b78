//! The working memory's backfill: `temporal_metadata` for each message that lacks it, inserted
//! before the object's closing brace so that every other byte of the value is kept.

use entity::values::{TemporalMetadata, Timestamp};
use heed::types::Bytes;
use heed::{Database, MdbError};
use serde::Serialize;
use serde_json::Value;

use super::client::{MIN_MAP_SIZE, round_to_page, time_of};
use super::{WorkingMemory, WorkingMemoryError};
use crate::report::{BadItem, BadItems};

/// What a working-memory backfill did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LmdbBackfill {
    /// Entries in `session_memory`.
    pub total: u64,
    /// Entries that already had temporal metadata.
    pub with_temporal: u64,
    /// Entries this run filled (dry run: would fill).
    pub filled: u64,
    /// Entries changed by someone else between read and write: left for the next run.
    pub changed_meanwhile: u64,
    /// Entries that are not JSON objects or have no usable time (by key).
    #[serde(flatten)]
    pub bad: BadItems<BadItem>,
    /// Times the map was grown.
    pub map_resizes: u32,
}
/// Add temporal metadata to every message lacking it, `batch` entries per write transaction.
pub fn backfill(
    memory: &WorkingMemory,
    batch: usize,
    dry_run: bool,
    mut progress: impl FnMut(u64),
) -> Result<LmdbBackfill, WorkingMemoryError> {
    let mut report = LmdbBackfill::default();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = memory.page(after.as_deref(), batch)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        report.total += page.len() as u64;
        let mut updates = Vec::new();
        for (key, value) in page {
            match with_metadata(&value) {
                Ok(Some(new)) => updates.push((key, value, new)),
                Ok(None) => report.with_temporal += 1,
                Err(reason) => report.bad.add(|| BadItem { id: String::from_utf8_lossy(&key).into_owned(), reason }),
            }
        }
        if dry_run {
            report.filled += updates.len() as u64;
        } else if !updates.is_empty() {
            let (filled, changed) = write(memory, &updates, &mut report.map_resizes)?;
            report.filled += filled;
            report.changed_meanwhile += changed;
        }
        progress(report.total);
    }
    Ok(report)
}

/// Write one batch in one transaction, growing the map when it is full.
fn write(
    memory: &WorkingMemory,
    updates: &[(Vec<u8>, Vec<u8>, Vec<u8>)],
    resizes: &mut u32,
) -> Result<(u64, u64), WorkingMemoryError> {
    let db = memory.db()?;
    loop {
        match try_write(memory, db, updates) {
            Err(heed::Error::Mdb(MdbError::MapFull)) => {
                let grown = round_to_page(memory.env.info().map_size.saturating_mul(2).max(MIN_MAP_SIZE));
                tracing::info!(dir = %memory.dir.display(), "LMDB map full: growing it to {grown} bytes");
                // SAFETY: the failed transaction was dropped (aborted); no transaction of this
                // process is active.
                unsafe { memory.env.resize(grown) }.map_err(|e| memory.err(e))?;
                *resizes += 1;
            }
            other => return other.map_err(|e| memory.err(e)),
        }
    }
}

fn try_write(
    memory: &WorkingMemory,
    db: Database<'_, Bytes, Bytes>,
    updates: &[(Vec<u8>, Vec<u8>, Vec<u8>)],
) -> Result<(u64, u64), heed::Error> {
    let mut wtxn = memory.env.write_txn()?;
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
