//! AICO's working memory on its PostgreSQL database (`working_memory_messages`, the successor of
//! its LMDB store): each message whose `payload_json` lacks `temporal_metadata` gains the object
//! the LMDB store wrote into each message ([`entity::values::TemporalMetadata`], as `crate::lmdb::backfill` writes
//! it), from the row's own columns: `created_at` and `last_updated` from `stored_at`,
//! `last_accessed` from `last_accessed_at` (else `stored_at`), `access_count` from
//! `access_count`; confidence 1.0, version 1, not superseded. Instants are RFC 3339 UTC with `Z`.
//!
//! `jsonb`'s `||` adds the one key and keeps every other as it was; the statement touches only
//! payloads that lack it (even a `null` one counts as present), and writes no other column.
//! Batched over the table's blocks (`super::blockwise`), each batch its own transaction.
//!
//! | file | holds |
//! |---|---|
//! | `backfill.rs` | [`backfill`](backfill()): `temporal_metadata` for each message that lacks it |
//! | `coverage.rs` | [`coverage`]: what `verify` ([`check`]) and `health` report of the working memory |

mod backfill;
mod coverage;

use aico_connect::dialect::Dialect;

pub use backfill::{WorkingBackfill, backfill, metadata_template};
pub use coverage::{CHECK, WorkingCoverage, check, coverage};

use crate::error::AppError;
use crate::sql::Db;
use crate::sql::dialect::StoreDialect;

/// AICO's working-memory table.
pub const TABLE: &str = "working_memory_messages";

/// SQL true for a message whose payload lacks the key (and is an object).
pub(super) const MISSING: &str =
    "(jsonb_typeof(payload_json) = 'object' AND NOT jsonb_exists(payload_json, 'temporal_metadata'))";

/// The SQL of a message's two instants: the canonical texts of `stored_at` and of
/// `last_accessed_at` (else `stored_at`), and a test that both can be written.
pub(super) struct Times {
    /// `stored_at`'s canonical text.
    pub stored: String,
    /// `last_accessed_at`'s, else `stored_at`'s.
    pub accessed: String,
    /// SQL true when neither is NULL (cheap: no canonical text is made for it).
    pub writable: String,
}

/// [`Times`] of the table's columns as they are declared.
pub(super) async fn times(db: &Db) -> Result<Times, AppError> {
    let declared = |column: &'static str| async move {
        db.dialect
            .column_type(&db.conn, TABLE, column)
            .await
            .map_err(|e| db.error(e))?
            .ok_or_else(|| AppError::MissingTable { target: db.target.to_string(), table: TABLE })
    };
    // Both at once: the pool's second connection, which the batches use, opens meanwhile.
    let (stored_type, accessed_type) = futures_util::try_join!(declared("stored_at"), declared("last_accessed_at"))?;
    let stored = Dialect::postgres_canonical_timestamp("stored_at", &stored_type);
    let accessed = Dialect::postgres_canonical_timestamp("last_accessed_at", &accessed_type);
    let writable = format!(
        "({} AND (last_accessed_at IS NULL OR {}))",
        Dialect::postgres_timestamp_writable("stored_at", &stored_type),
        Dialect::postgres_timestamp_writable("last_accessed_at", &accessed_type)
    );
    let accessed = format!("(CASE WHEN last_accessed_at IS NULL THEN {stored} ELSE {accessed} END)");
    Ok(Times { stored, accessed, writable })
}
