//! Phase 2: `consolidation_state`, where memory consolidation records its progress.

use sea_orm_migration::prelude::*;

use crate::safety;

/// Creates the consolidation state table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
                    .name("idx_consolidation_state_updated")
                    .table(ConsolidationState::Table)
                    .col((ConsolidationState::UpdatedAt, IndexOrder::Desc))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        safety::guard_drop(manager, &["consolidation_state"], "m0002").await?;
        manager.drop_table(Table::drop().table(ConsolidationState::Table).if_exists().to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ConsolidationState {
    Table,
    Id,
    StateJson,
    UpdatedAt,
}
