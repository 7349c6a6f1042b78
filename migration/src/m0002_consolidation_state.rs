//! Phase 2: `consolidation_state`, where memory consolidation records its progress.
//!
//! On AICO's own database this is AICO's version 13, a per-user `consolidation_state` of its own
//! shape: adopted as AICO made it (a database at version 12 must let AICO reach 13 first).

use sea_orm_migration::prelude::*;

use crate::layout::{AICO_PHASE2, Layout, Makes, Objects, adoptable, require_table};
use crate::phase::{On, Phase};

const INDEX_UPDATED: &str = "idx_consolidation_state_updated";

/// What this migration makes: `consolidation_state` (on AICO's database, AICO's per-user one of
/// its version 13, with its two indexes).
const MAKES: Makes = Makes {
    seed: Objects {
        tables: &["consolidation_state"],
        indexes: &[(INDEX_UPDATED, "consolidation_state")],
        columns: &[],
    },
    aico: Objects {
        tables: &["consolidation_state"],
        indexes: &[
            ("idx_consolidation_status", "consolidation_state"),
            ("idx_consolidation_last_run", "consolidation_state"),
        ],
        columns: &[(
            "consolidation_state",
            &[
                "user_id",
                "last_consolidation_at",
                "messages_consolidated",
                "memories_created",
                "status",
                "error_message",
                "created_at",
                "updated_at",
            ],
        )],
    },
    aico_pg: Objects {
        tables: &["ams_consolidation_state"],
        indexes: &[(INDEX_UPDATED, "ams_consolidation_state")],
        columns: &[("ams_consolidation_state", &["id", "state_json", "updated_at"])],
    },
    aico_version: AICO_PHASE2,
    adds_to_facts: &[],
};

/// Creates the consolidation state table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl Phase for Migration {
    fn makes(&self) -> &'static Makes {
        &MAKES
    }

    fn aico_pg(&self) -> &'static [crate::aico_pg::Object] {
        crate::aico_pg::PHASE2
    }

    fn drops(&self, layout: Layout) -> Vec<&'static str> {
        match layout {
            // AICO's table, made by AICO's version 13.
            Layout::Aico { .. } => Vec::new(),
            _ => vec!["consolidation_state"],
        }
    }

    async fn up(&self, on: &On<'_, '_>) -> Result<(), DbErr> {
        let (conn, layout, manager) = (on.conn, on.layout, on.manager);
        if let Layout::Aico { .. } = layout {
            layout.require_runnable(AICO_PHASE2)?;
            let table = "consolidation_state";
            return require_table(conn, table, &on.catalog.aico_columns(table)).await;
        }
        adoptable(conn, "consolidation_state", &["id", "state_json", "updated_at"]).await?;
        manager
            .create_table(
                Table::create()
                    .table(ConsolidationState::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ConsolidationState::Id).text().not_null().primary_key())
                    .col(ColumnDef::new(ConsolidationState::StateJson).json().not_null())
                    .col(
                        ColumnDef::new(ConsolidationState::UpdatedAt)
                            .timestamp_with_time_zone()
                            .default(Expr::current_timestamp()),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(INDEX_UPDATED)
                    .table(ConsolidationState::Table)
                    .col((ConsolidationState::UpdatedAt, IndexOrder::Desc))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, on: &On<'_, '_>) -> Result<(), DbErr> {
        for table in self.drops(on.layout) {
            on.manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ConsolidationState {
    Table,
    Id,
    StateJson,
    UpdatedAt,
}
