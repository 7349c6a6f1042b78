//! The walk in key order: where the backend offers no range scan in storage order (a SQLite table
//! without a rowid; PostgreSQL before 14, which has no TID range scan).

use super::walk::{Column, OrderedColumn};

/// Batches of `batch_size` rows by the facts table's key (text: `id`, or AICO's `fact_id`).
pub(super) struct KeyOrder(Column);

impl KeyOrder {
    /// The walk along `table`'s key `key`.
    pub(super) fn new(table: &'static str, key: &'static str) -> Self {
        Self(Column { table, name: key })
    }
}

impl OrderedColumn for KeyOrder {
    type Position = String;

    fn column(&self) -> &Column {
        &self.0
    }
}
