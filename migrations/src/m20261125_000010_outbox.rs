//! The event outbox: events written in the same transaction as the change they announce, with a
//! gap-free sequence assigned under a lock so consumers can resume from the last id they saw.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Seq,
    Id,
    EventType,
    ResourceType,
    ResourceId,
    At,
    TraceId,
    Data,
}

#[derive(DeriveIden)]
enum OutboxHead {
    Table,
    Id,
    Seq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(
                    ColumnDef::new(Outbox::Seq)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Outbox::Id)
                        .string_len(36)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Outbox::EventType).string_len(64).not_null())
                .col(
                    ColumnDef::new(Outbox::ResourceType)
                        .string_len(64)
                        .not_null(),
                )
                .col(ColumnDef::new(Outbox::ResourceId).string_len(64).not_null())
                .col(
                    ColumnDef::new(Outbox::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(Outbox::TraceId).string_len(64).not_null())
                .col(ColumnDef::new(Outbox::Data).text().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OutboxHead::Table)
                .col(
                    ColumnDef::new(OutboxHead::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(OutboxHead::Seq).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(OutboxHead::Table)
                .columns([OutboxHead::Id, OutboxHead::Seq])
                .values_panic([1.into(), 0i64.into()])
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(OutboxHead::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await?;
        Ok(())
    }
}
