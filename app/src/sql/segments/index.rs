//! AICO's HNSW index on the segments, set aside while many segments are written, and put back
//! exactly as it was ([`crate::sql::indexes`]).
//!
//! Two segments fill a page, so an update is never HOT: every new row version enters
//! `idx_conversation_segments_embedding` again, which costs far more than building the index once.
//! It is dropped and built again concurrently: AICO's nearest-neighbour query still answers
//! meanwhile, by an exact scan.

use super::{AICO_INDEX, TABLE, count, counts};
use crate::error::AppError;
use crate::sql::Db;
use crate::sql::indexes::{self, Aside, Build, Parking};

/// AICO's HNSW index, the one index of the segments set aside.
const PARKING: Parking<'static> = Parking { table: TABLE, only: Some(AICO_INDEX) };

/// Before a bulk write of segments: AICO's index set aside when `worth` it, or what an earlier
/// run left finished ([`indexes::set_aside_for`]).
pub async fn set_aside_for(db: &Db, worth: bool) -> Result<Aside, AppError> {
    indexes::set_aside_for(db, PARKING, worth).await
}

/// After the write: AICO's index built back concurrently from its record, if it was set aside,
/// with the memory its graph needs; the seconds that took.
pub async fn put_back(db: &Db, aside: &Aside) -> Result<f64, AppError> {
    if aside.recorded.is_empty() {
        return Ok(0.0);
    }
    let memory_kib = build_memory_kib(db).await?;
    indexes::put_back(db, PARKING, aside, Build::Concurrently { memory_kib }).await
}

/// `maintenance_work_mem` for the build: enough for the HNSW graph of every segment (a graph that
/// fits is built several times faster), from 64 MiB to 1 GiB.
async fn build_memory_kib(db: &Db) -> Result<u64, AppError> {
    let [rows, width] = counts(
        db,
        &format!(
            "SELECT (SELECT COUNT(*) FROM {TABLE}) AS rows, (SELECT CAST(atttypmod AS bigint) FROM pg_attribute \
             WHERE attrelid = to_regclass('{TABLE}') AND attname = 'embedding') AS width"
        ),
        &["rows", "width"],
    )
    .await?[..] else {
        unreachable!("two columns asked for")
    };
    let per_row = count(width.max(768)) * 4 + 512;
    Ok((count(rows) * per_row * 5 / 4 / 1024).clamp(64 * 1024, 1024 * 1024))
}
