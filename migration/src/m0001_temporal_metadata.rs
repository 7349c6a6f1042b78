//! Phase 1: `semantic_facts.temporal_metadata` (JSON) and its two expression indexes.
//!
//! Adopts a database where the seed's SQL already ran: an existing column is kept (on PostgreSQL a
//! `text` column becomes `json`, which keeps every byte), and `IF NOT EXISTS` skips existing
//! indexes. Down drops the indexes and keeps the column and its data, as the seed's rollback says.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::layout::{self, AICO_PHASE1, Makes, Objects, require_table};
use crate::phase::{On, Phase};
use aico_connect::dialect::Dialect;

const TABLE: &str = "semantic_facts";
const COLUMN: &str = layout::FACT_METADATA;
const INDEX_TEMPORAL: &str = "idx_semantic_facts_temporal";
const INDEX_SUPERSEDED: &str = "idx_semantic_facts_superseded";

/// What this migration makes: the two expression indexes (AICO's version 12 made its own two on
/// `user_memories`), and the column it adds to the facts table, which counts for this migration
/// in the fingerprints, not for the table's.
const MAKES: Makes = Makes {
    seed: Objects { tables: &[], indexes: &[(INDEX_TEMPORAL, TABLE), (INDEX_SUPERSEDED, TABLE)], columns: &[] },
    aico: Objects {
        tables: &[],
        indexes: &[
            ("idx_user_memories_temporal", layout::AICO_FACTS),
            ("idx_user_memories_superseded", layout::AICO_FACTS),
        ],
        columns: &[(layout::AICO_FACTS, &[COLUMN])],
    },
    aico_pg: Objects {
        tables: &[],
        indexes: &[
            ("idx_user_memories_temporal", layout::AICO_PG_FACTS),
            ("idx_user_memories_superseded", layout::AICO_PG_FACTS),
        ],
        columns: &[(layout::AICO_PG_FACTS, &[COLUMN])],
    },
    aico_version: AICO_PHASE1,
    adds_to_facts: &[COLUMN],
};

/// Adds temporal metadata to semantic facts.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The seed's two indexes, in `dialect`.
fn index_statements(dialect: Dialect) -> [String; 2] {
    [
        dialect.expression_index(
            INDEX_TEMPORAL,
            TABLE,
            &[dialect.json_text(COLUMN, "last_accessed"), dialect.json_number(COLUMN, "confidence")],
        ),
        dialect.expression_index(INDEX_SUPERSEDED, TABLE, &[dialect.json_text(COLUMN, "superseded_by")]),
    ]
}

/// A statement over `temporal_metadata` failed: if that is because some rows hold text that is
/// not JSON, say which.
async fn explain_invalid_json<C: ConnectionTrait>(dialect: Dialect, conn: &C, err: DbErr) -> DbErr {
    let message = err.to_string();
    if !message.to_lowercase().contains("json") {
        return err;
    }
    let ids = dialect.invalid_json_ids(conn, TABLE, COLUMN, 10).await.unwrap_or_default();
    let rows = if ids.is_empty() { String::new() } else { format!(" (rows with id {})", ids.join(", ")) };
    DbErr::Migration(format!(
        "{TABLE}.{COLUMN} holds values that are not valid JSON{rows}: fix or NULL them, then rerun ({message})"
    ))
}

#[async_trait::async_trait]
impl Phase for Migration {
    fn makes(&self) -> &'static Makes {
        &MAKES
    }

    fn aico_pg(&self) -> &'static [crate::aico_pg::Object] {
        crate::aico_pg::PHASE1
    }

    async fn up(&self, on: &On<'_, '_>) -> Result<(), DbErr> {
        let (conn, dialect, layout) = (on.conn, on.dialect, on.layout);
        if MAKES.aico_applied(layout) {
            // AICO's version 12 is this phase on `user_memories`: adopt it as AICO made it.
            let (table, _) = layout.facts();
            return require_table(conn, table, &on.catalog.aico_columns(table)).await;
        }
        layout.require_runnable(AICO_PHASE1)?;
        require_table(conn, TABLE, &["id"]).await?;
        match dialect.column_type(conn, TABLE, COLUMN).await? {
            None => {
                on.manager
                    .alter_table(
                        Table::alter().table(TABLE).add_column(ColumnDef::new(COLUMN).json().null()).to_owned(),
                    )
                    .await?
            }
            Some(declared) => {
                // The seed's "column already exists" case: keep it and its data.
                if let Some(sql) = dialect.adopt_text_as_json(TABLE, COLUMN, &declared)
                    && let Err(e) = conn.execute_raw(dialect.stmt(sql)).await
                {
                    return Err(explain_invalid_json(dialect, conn, e).await);
                }
            }
        }
        for sql in index_statements(dialect) {
            if let Err(e) = conn.execute_raw(dialect.stmt(sql)).await {
                return Err(explain_invalid_json(dialect, conn, e).await);
            }
        }
        Ok(())
    }

    async fn down(&self, on: &On<'_, '_>) -> Result<(), DbErr> {
        if MAKES.aico_applied(on.layout) {
            // AICO's indexes: its own migrator owns them.
            return Ok(());
        }
        for index in [INDEX_TEMPORAL, INDEX_SUPERSEDED] {
            on.manager.drop_index(Index::drop().name(index).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
