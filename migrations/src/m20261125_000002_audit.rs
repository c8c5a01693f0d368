//! The tamper-evident audit trail: hash-chained entries in several independent chains, their
//! chain heads, and (PostgreSQL) a trigger that refuses UPDATE and DELETE on entries.

use sea_orm_migration::prelude::*;

use crate::columns::text;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Number of independent hash chains; entries of one resource always go to the same chain.
pub const AUDIT_CHAINS: i32 = 16;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    Chain,
    Seq,
    At,
    Actor,
    CallingService,
    RequestId,
    TraceId,
    Rpc,
    ResourceType,
    ResourceId,
    Action,
    Change,
    ChangeDigest,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHeads {
    Table,
    Chain,
    Seq,
    Hash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(text(AuditLog::Id, 36).primary_key())
                .col(ColumnDef::new(AuditLog::Chain).integer().not_null())
                .col(ColumnDef::new(AuditLog::Seq).big_integer().not_null())
                .col(
                    ColumnDef::new(AuditLog::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(text(AuditLog::Actor, 256))
                .col(
                    ColumnDef::new(AuditLog::CallingService)
                        .string_len(256)
                        .null(),
                )
                .col(text(AuditLog::RequestId, 256))
                .col(text(AuditLog::TraceId, 64))
                .col(text(AuditLog::Rpc, 256))
                .col(text(AuditLog::ResourceType, 64))
                .col(text(AuditLog::ResourceId, 64))
                .col(text(AuditLog::Action, 64))
                .col(ColumnDef::new(AuditLog::Change).text().not_null())
                .col(text(AuditLog::ChangeDigest, 64))
                .col(text(AuditLog::PrevHash, 64))
                .col(text(AuditLog::Hash, 64))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_audit_chain_seq")
                .table(AuditLog::Table)
                .col(AuditLog::Chain)
                .col(AuditLog::Seq)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_resource")
                .table(AuditLog::Table)
                .col(AuditLog::ResourceType)
                .col(AuditLog::ResourceId)
                .col(AuditLog::At)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AuditHeads::Table)
                .col(
                    ColumnDef::new(AuditHeads::Chain)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(AuditHeads::Seq).big_integer().not_null())
                .col(text(AuditHeads::Hash, 64))
                .to_owned(),
        )
        .await?;
        let genesis = "0".repeat(64);
        for chain in 0..AUDIT_CHAINS {
            m.exec_stmt(
                Query::insert()
                    .into_table(AuditHeads::Table)
                    .columns([AuditHeads::Chain, AuditHeads::Seq, AuditHeads::Hash])
                    .values_panic([chain.into(), 0i64.into(), genesis.clone().into()])
                    .to_owned(),
            )
            .await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            let db = m.get_connection();
            db.execute_unprepared(
                "CREATE FUNCTION kinerja_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP; END $$",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log \
                 FOR EACH ROW EXECUTE FUNCTION kinerja_audit_append_only()",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log \
                 FOR EACH STATEMENT EXECUTE FUNCTION kinerja_audit_append_only()",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS kinerja_audit_append_only() CASCADE")
                .await?;
        }
        m.drop_table(Table::drop().table(AuditHeads::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await?;
        Ok(())
    }
}
