//! Column helpers so every table spells ids, timestamps and JSON the same way.

use sea_orm_migration::prelude::*;

/// Text primary key. Ids are chosen by the application (UUIDs or readable ids).
pub fn id(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().not_null().primary_key().take()
}

/// Required text.
pub fn text(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().not_null().take()
}

/// Optional text.
pub fn text_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().null().take()
}

/// Required text with a default.
pub fn text_default(name: &'static str, default: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .text()
        .not_null()
        .default(default)
        .take()
}

/// Required timestamp (UTC), defaulting to the time of insert.
pub fn ts(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .default(Expr::current_timestamp())
        .take()
}

/// Optional timestamp (UTC).
pub fn ts_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .take()
}

/// Required JSON with a default literal.
pub fn json_default(name: &'static str, default: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .json_binary()
        .not_null()
        .default(default)
        .take()
}

/// Optional JSON.
pub fn json_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).json_binary().null().take()
}

/// Required JSON.
pub fn json(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).json_binary().not_null().take()
}

/// Required integer with a default.
pub fn int_default(name: &'static str, default: i32) -> ColumnDef {
    ColumnDef::new(name)
        .integer()
        .not_null()
        .default(default)
        .take()
}

/// Optional integer.
pub fn int_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).integer().null().take()
}

/// Required boolean with a default.
pub fn bool_default(name: &'static str, default: bool) -> ColumnDef {
    ColumnDef::new(name)
        .boolean()
        .not_null()
        .default(default)
        .take()
}

/// `created_at` and `updated_at`.
pub fn stamps(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table.col(ts("created_at")).col(ts("updated_at"))
}

/// A foreign key `from.column -> to.id`.
pub fn fk(
    from: &'static str,
    column: &'static str,
    to: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from}_{column}"))
        .from(from, column)
        .to(to, "id")
        .on_delete(on_delete)
        .take()
}

/// A (non-unique) index.
pub fn index(
    name: &'static str,
    table: &'static str,
    cols: &[&'static str],
) -> IndexCreateStatement {
    let mut stmt = Index::create().name(name).table(table).take();
    for col in cols {
        stmt.col(*col);
    }
    stmt
}

/// Drops the tables in the order given.
pub async fn drop_all(manager: &SchemaManager<'_>, tables: &[&'static str]) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(*table).if_exists().take())
            .await?;
    }
    Ok(())
}
