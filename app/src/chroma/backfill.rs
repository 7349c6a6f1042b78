//! The collection's backfill: each record lacking them gains the seed's flat temporal fields.
//! Chroma's update *merges* metadata, so only the missing keys are sent: every other key, the
//! embedding and the document stay as they are. Batches never exceed the server's
//! `max_batch_size` (its pre-flight check; the server itself does not enforce it).

use entity::values::{TemporalMetadata, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};

use super::wire::UpdateRequest;
use super::{Chroma, ChromaError};
use crate::report::{BadItem, BadItems};

/// What a Chroma backfill did, or what `health` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChromaReport {
    /// Where the collection is: the server's URL (password hidden), or the store served for the
    /// run and the program serving it.
    pub at: String,
    /// Records in the collection.
    pub total: u64,
    /// Records that had every temporal field.
    pub with_temporal: u64,
    /// Records this run filled (dry run: would fill; 0 for health).
    pub filled: u64,
    /// Records without a usable time: left as they were (by id).
    #[serde(flatten)]
    pub bad: BadItems<BadItem>,
    /// The batch size used (the server's `max_batch_size` caps it).
    pub batch_size: u64,
}

/// The flat temporal fields of the seed, in its order.
pub const FIELDS: [&str; 5] = ["created_at", "confidence", "version", "last_accessed", "access_count"];

/// Give every record lacking them the seed's flat temporal fields (only the missing keys), in
/// batches of `batch` (capped by the server).
///
/// The server applies updates one at a time, so the time is the updates' and the reads ride
/// along: each page is read while the previous page's update is in flight (an update changes no
/// record's place in the collection, so the offsets stay true).
pub async fn backfill(chroma: &Chroma, batch: u64, dry_run: bool) -> Result<ChromaReport, ChromaError> {
    let batch = batch.clamp(1, chroma.max_batch_size);
    let mut report = ChromaReport { at: chroma.at.clone(), batch_size: batch, ..Default::default() };
    let mut offset = 0;
    let mut pending: Option<UpdateRequest> = None;
    loop {
        let update = pending.take();
        let (page, updated) = tokio::join!(chroma.page(offset, batch), async {
            match &update {
                Some(update) => chroma.update(update).await,
                None => Ok(()),
            }
        });
        updated?;
        let page = page?;
        if page.is_empty() {
            break;
        }
        offset += page.len() as u64;
        report.total += page.len() as u64;
        let mut next = UpdateRequest { ids: Vec::new(), metadatas: Vec::new() };
        for (id, meta) in page {
            match missing_fields(&meta) {
                Ok(None) => report.with_temporal += 1,
                Ok(Some(add)) => {
                    next.ids.push(id);
                    next.metadatas.push(add);
                }
                Err(reason) => report.bad.add(|| BadItem { id, reason }),
            }
        }
        report.filled += next.ids.len() as u64;
        if !dry_run && !next.ids.is_empty() {
            pending = Some(next);
        }
    }
    Ok(report)
}

/// The temporal keys `meta` lacks, with their initial values (`None` when it has them all), or
/// why none can be derived. The time comes from `created_at`, else AICO's `timestamp`; the values
/// are the seed's initial metadata, as [`TemporalMetadata::initial`] defines it.
pub fn missing_fields(meta: &Map<String, Value>) -> Result<Option<Map<String, Value>>, String> {
    if FIELDS.iter().all(|k| meta.contains_key(*k)) {
        return Ok(None);
    }
    let source = ["created_at", "timestamp"].iter().find_map(|k| meta.get(*k).map(|v| (*k, v)));
    let created = match source {
        Some((_, Value::String(s))) => Timestamp::parse(s).map_err(|e| e.to_string())?,
        Some((k, other)) => return Err(format!("{k} is not a timestamp string: {other}")),
        None => return Err("no created_at or timestamp in the metadata".into()),
    };
    let mut add = flat_fields(created);
    add.retain(|k, _| !meta.contains_key(k));
    Ok(Some(add))
}

/// The seed's flat temporal fields ([`FIELDS`], in its order) of a memory created at `created`:
/// the values of [`TemporalMetadata::initial`]. The one definition of the flat fields, for
/// Chroma's records and AICO's PostgreSQL segments alike.
pub fn flat_fields(created: Timestamp) -> Map<String, Value> {
    let initial = TemporalMetadata::initial(created).to_json();
    FIELDS.iter().filter_map(|k| initial.get(*k).map(|v| ((*k).to_owned(), v.clone()))).collect()
}

/// [`flat_fields`] as JSON text for a sentinel instant, and the sentinel's own text: replace the
/// one with a creation time's canonical text (in SQL) to get that time's flat fields.
pub fn flat_fields_template() -> (String, String) {
    let sentinel = Timestamp::UNIX_EPOCH;
    (Value::Object(flat_fields(sentinel)).to_string(), sentinel.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::missing_fields;
    use serde_json::json;

    #[test]
    fn only_missing_keys_are_added() {
        let meta = json!({"user_id": "u", "timestamp": "2025-11-07T18:00:00", "confidence": 0.4});
        let add = missing_fields(meta.as_object().expect("object")).expect("ok").expect("some");
        assert_eq!(
            serde_json::Value::Object(add),
            json!({"created_at": "2025-11-07T18:00:00Z", "version": 1, "last_accessed": "2025-11-07T18:00:00Z", "access_count": 0})
        );
        let full = json!({"created_at": "x", "confidence": 1, "version": 1, "last_accessed": "x", "access_count": 0});
        assert_eq!(missing_fields(full.as_object().expect("object")).expect("ok"), None);
        assert!(missing_fields(json!({"user_id": "u"}).as_object().expect("object")).is_err());
    }

    #[test]
    fn initial_values_are_the_seeds() {
        let add = missing_fields(json!({"created_at": "2025-11-07T18:00:00Z"}).as_object().expect("object"))
            .expect("ok")
            .expect("some");
        assert_eq!(
            serde_json::Value::Object(add),
            json!({"confidence": 1.0, "version": 1, "last_accessed": "2025-11-07T18:00:00Z", "access_count": 0})
        );
    }
}
