//! Searches (issue 14): the filter compiled by `bindery-filter-sql` for PostgreSQL, run as one
//! parameterised statement; the next page continues after the last row's order keys.

use std::time::SystemTime;

use bindery_core::filter::{Keyset, Search, Type, Value};
use bindery_core::{Model, ModelVersion, Page, PageRequest, Visibility};
use bindery_filter_sql::{Dialect, Param, Statement, compile};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::StoreResult;
use crate::{PgStore, rows};

fn params(compiled: &Statement) -> Vec<&(dyn ToSql + Sync)> {
    to_sql(&compiled.params)
}

/// Compiled parameters as the driver binds them.
pub(crate) fn to_sql(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
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

/// Runs `search` (selecting `columns` and the order keys), its statements in turn until the
/// page is full, and decodes each row with `decode` into the item, its model name and version
/// (0 for models).
async fn run<T>(
    store: &PgStore,
    (search, visibility, page): (&Search, &Visibility, &PageRequest),
    columns: &str,
    decode: impl Fn(&Row) -> StoreResult<(T, String, u64)>,
) -> StoreResult<Page<(T, Keyset)>> {
    let after = Keyset::from_cursor(page.after.as_ref())?;
    let compiled = compile(search, Dialect::Postgres, visibility, after.as_ref())?;
    let wanted = usize::try_from(page.size).unwrap_or(usize::MAX).saturating_add(1);
    let mut client = store.client().await?;
    // A page reads about a page of rows; starting parallel workers costs more than they save
    // (the planner's LIMIT costing misjudges it: 150 ms with two workers, 25 ms without, on the
    // benchmark's "bound, by metric").
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL max_parallel_workers_per_gather = 0").await?;
    let mut items = Vec::new();
    for statement in &compiled.statements {
        if items.len() >= wanted {
            break;
        }
        let sql = statement.sql(columns, wanted - items.len());
        for row in tx.query(&sql, &params(statement)).await? {
            let (item, model, version) = decode(&row)?;
            items.push((item, keyset(&row, &statement.key_types, &model, version)?));
        }
    }
    tx.commit().await?;
    Ok(Page::from_rows(items, page.size, |(_, k)| k.to_cursor()))
}

pub(crate) async fn models(
    store: &PgStore,
    search: &Search,
    visibility: &Visibility,
    page: &PageRequest,
) -> StoreResult<Page<(Model, Keyset)>> {
    run(store, (search, visibility, page), rows::MODEL_COLUMNS, |row| {
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
    run(store, (search, visibility, page), &columns, |row| {
        let version = rows::version(row)?;
        let (name, number) = (version.model_name.as_str().to_owned(), version.version);
        Ok((version, name, number))
    })
    .await
}
