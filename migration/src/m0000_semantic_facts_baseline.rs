//! Baseline: AICO's facts table, adopted untouched when it exists, created when it does not.
//!
//! On the seed's layout that is `semantic_facts`. On AICO's own database (`_aico_schema_metadata`)
//! it is `user_memories`, keyed by `fact_id`, which AICO creates; a database below AICO's version
//! 12 is left alone with a message to let AICO bring it to version 13 first.

use sea_orm_migration::prelude::*;

use crate::layout::{self, AICO_PHASE1, Layout, Makes, Objects, adoptable, require_table};
use crate::phase::{On, Phase};

/// The columns of `semantic_facts` the AMS relies on: `id` names a fact (keyset batches, reports)
/// and `created_at` dates it (the backfill's source of time).
const REQUIRED_COLUMNS: [&str; 2] = ["id", "created_at"];

/// What this migration makes: the facts table (`user_memories` on AICO's database, AICO's own).
const MAKES: Makes = Makes {
    seed: Objects { tables: &["semantic_facts"], indexes: &[], columns: &[] },
    aico: Objects {
        tables: &[layout::AICO_FACTS],
        indexes: &[],
        columns: &[(layout::AICO_FACTS, &[layout::AICO_FACT_KEY, "created_at"])],
    },
    aico_pg: Objects {
        tables: &[layout::AICO_PG_FACTS],
        indexes: &[],
        columns: &[(layout::AICO_PG_FACTS, &["fact_id", "user_id", "created_at", "valid_from"])],
    },
    aico_version: AICO_PHASE1,
    adds_to_facts: &[],
};

/// Adopts or creates `semantic_facts`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl Phase for Migration {
    fn makes(&self) -> &'static Makes {
        &MAKES
    }

    fn aico_pg(&self) -> &'static [crate::aico_pg::Object] {
        crate::aico_pg::PHASE0
    }

    async fn up(&self, on: &On<'_, '_>) -> Result<(), DbErr> {
        let (conn, layout) = (on.conn, on.layout);
        if let Layout::Aico { .. } = layout {
            layout.require_runnable(AICO_PHASE1)?;
            let (table, _) = layout.facts();
            return require_table(conn, table, &on.catalog.aico_columns(table)).await;
        }
        if adoptable(conn, "semantic_facts", &REQUIRED_COLUMNS).await? {
            return Ok(());
        }
        on.manager
            .create_table(
                Table::create()
                    .table(SemanticFacts::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(SemanticFacts::Id).text().not_null().primary_key())
                    .col(ColumnDef::new(SemanticFacts::UserId).text().not_null())
                    .col(ColumnDef::new(SemanticFacts::Content).text().not_null())
                    .col(
                        ColumnDef::new(SemanticFacts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .col(
                        ColumnDef::new(SemanticFacts::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .to_owned(),
            )
            .await
    }

    /// Keeps `semantic_facts`: it is AICO's table and holds the companion's memory.
    async fn down(&self, _on: &On<'_, '_>) -> Result<(), DbErr> {
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SemanticFacts {
    Table,
    Id,
    UserId,
    Content,
    CreatedAt,
    UpdatedAt,
}
