//! The walk by `rowid` ranges (SQLite, a table with a rowid): the order SQLite stores rows in, so a
//! walk reads and writes each page once, where a walk by a random key (AICO's uuid4 `fact_id`)
//! touches pages all over the table in every batch.

use super::walk::{Column, OrderedColumn};

/// Batches of `batch_size` rows by the storage-order column (SQLite's `rowid`).
pub(super) struct Rowids(Column);

impl Rowids {
    /// The walk along `table`'s storage-order column `column`.
    pub(super) fn new(table: &'static str, column: &'static str) -> Self {
        Self(Column { table, name: column })
    }
}

impl OrderedColumn for Rowids {
    type Position = i64;

    fn column(&self) -> &Column {
        &self.0
    }
}
