//! CHECK constraint violations as a value a caller can match on: the rule that was broken, by the
//! constraint's name (`ck_<table>_<column>`, as the migrations name them), on either backend.

use std::ops::Deref;

use sea_orm::{DbErr, RuntimeErr};

/// A row broke one of the schema's CHECK constraints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckViolation {
    /// The constraint's name, e.g. `ck_feedback_events_reward`.
    pub constraint: String,
}

/// SQLite's extended result code for a failed CHECK (`SQLITE_CONSTRAINT_CHECK`).
const SQLITE_CONSTRAINT_CHECK: &str = "275";
/// PostgreSQL's SQLSTATE for a failed CHECK (`check_violation`).
const PG_CHECK_VIOLATION: &str = "23514";

impl CheckViolation {
    /// The CHECK violation `err` reports, if it is one.
    pub fn of(err: &DbErr) -> Option<Self> {
        let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err else {
            return None;
        };
        let sea_orm::sqlx::Error::Database(db) = e.deref() else { return None };
        match db.code().as_deref() {
            Some(PG_CHECK_VIOLATION) => db.constraint().map(|c| Self { constraint: c.to_owned() }),
            Some(SQLITE_CONSTRAINT_CHECK) => db
                .message()
                .split_once("CHECK constraint failed: ")
                .map(|(_, name)| Self { constraint: name.trim().to_owned() }),
            _ => None,
        }
    }
}
