//! Searches (issue 14): the filter compiled by `bindery-filter-sql` for PostgreSQL, run as one
//! parameterised statement; the next page continues after the last row's order keys.

use std::time::SystemTime;

use bindery_core::filter::{Keyset, Search, Type, Value};
use bindery_core::{Model, ModelVersion, Page, PageRequest, Visibility};
use bindery_filter_sql::{Compiled, Dialect, Param, compile};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::StoreResult;
use crate::{PgStore, rows};

fn params(compiled: &Compiled) -> Vec<&(dyn ToSql + Sync)> {
    compiled
        .params
        .iter()
        .map(|p| match p {
            Param::Text(s) => s as &(dyn ToSql + Sync),
            Param::Number(n) => n,
            Param::Int(i) => i,
            Param::Time(t) => t,
        })
        .collect()
}

fn keyset(row: &Row, types: &[Type], model: &str, version: u64) -> StoreResult<Keyset> {
    let mut values = Vec::with_capacity(types.len());
    for (i, ty) in types.iter().enumerate() {
        let col = format!("k{i}");
        values.push(match ty {
            Type::Text => row.try_get::<_, Option<String>>(col.as_str())?.map(Value::Text),
            Type::Number => row.try_get::<_, Option<f64>>(col.as_str())?.map(Value::Number),
            Type::Time => row.try_get::<_, Option<SystemTime>>(col.as_str())?.map(Value::Time),
        });
    }
    Ok(Keyset { values, model: model.to_owned(), version })
}

/// Runs `search` over `from` (selecting `columns` and the order keys) and decodes each row with
/// `decode` into the item, its model name and version (0 for models).
async fn run<T>(
    store: &PgStore,
    (search, visibility, page): (&Search, &Visibility, &PageRequest),
    columns: &str,
    from: &str,
    decode: impl Fn(&Row) -> StoreResult<(T, String, u64)>,
) -> StoreResult<Page<(T, Keyset)>> {
    let after = Keyset::from_cursor(page.after.as_ref())?;
    let compiled = compile(search, Dialect::Postgres, visibility, after.as_ref())?;
    let keys: String = compiled.keys.iter().map(|k| format!(", {k}")).collect();
    let sql = format!(
        "SELECT {columns}{keys} FROM {from} WHERE {} ORDER BY {} LIMIT {}",
        compiled.where_sql,
        compiled.order_sql,
        u64::from(page.size) + 1
    );
    let client = store.client().await?;
    let found = client.query(&sql, &params(&compiled)).await?;
    let items = found
        .iter()
        .map(|row| {
            let (item, model, version) = decode(row)?;
            Ok((item, keyset(row, &compiled.key_types, &model, version)?))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |(_, k)| k.to_cursor()))
}

pub(crate) async fn models(
    store: &PgStore,
    search: &Search,
    visibility: &Visibility,
    page: &PageRequest,
) -> StoreResult<Page<(Model, Keyset)>> {
    run(store, (search, visibility, page), rows::MODEL_COLUMNS, "models m", |row| {
        let model = rows::model(row)?;
        let name = model.name.as_str().to_owned();
        Ok((model, name, 0))
    })
    .await
}

pub(crate) async fn versions(
    store: &PgStore,
    search: &Search,
    visibility: &Visibility,
    page: &PageRequest,
) -> StoreResult<Page<(ModelVersion, Keyset)>> {
    let columns = rows::listed_version_columns();
    run(store, (search, visibility, page), &columns, "versions v JOIN models m ON m.id = v.model_id", |row| {
        let version = rows::version(row)?;
        let (name, number) = (version.model_name.as_str().to_owned(), version.version);
        Ok((version, name, number))
    })
    .await
}
