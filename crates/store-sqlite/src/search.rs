//! Searches (issue 14) on the embedded store: the filter compiled by `bindery-filter-sql` for
//! SQLite, run as one parameterised statement, as on PostgreSQL.

use bindery_core::filter::{Keyset, Search, Type, Value};
use bindery_core::{Model, ModelVersion, Page, PageRequest, Result, Visibility};
use bindery_filter_sql::{Dialect, Param, Statement, compile};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};

use crate::models::{MODEL_COLUMNS, model, model_row};
use crate::ops::{Sql, time};
use crate::versions::{VERSION_COLUMNS, version_from};

fn params(compiled: &Statement) -> Vec<SqlValue> {
    to_sql(&compiled.params)
}

/// Compiled parameters as the driver binds them.
pub(crate) fn to_sql(params: &[Param]) -> Vec<SqlValue> {
    params
        .iter()
        .map(|p| match p {
            Param::Text(s) => SqlValue::Text(s.clone()),
            Param::Number(n) => SqlValue::Real(*n),
            Param::Int(i) => SqlValue::Integer(*i),
            Param::Time(t) => SqlValue::Integer(bindery_core::unix_micros(*t)),
        })
        .collect()
}

fn keyset(row: &Row<'_>, types: &[Type], model: &str, version: u64) -> Result<Keyset> {
    let mut values = Vec::with_capacity(types.len());
    for (i, ty) in types.iter().enumerate() {
        let col = format!("k{i}");
        values.push(match ty {
            Type::Text => row.get::<_, Option<String>>(col.as_str()).sql()?.map(Value::Text),
            Type::Number => row.get::<_, Option<f64>>(col.as_str()).sql()?.map(Value::Number),
            Type::Time => row.get::<_, Option<i64>>(col.as_str()).sql()?.map(|m| Value::Time(time(m))),
        });
    }
    Ok(Keyset { values, model: model.to_owned(), version })
}

/// Runs `search` (selecting `columns` and the order keys), its statements in turn until the
/// page is full, and decodes each row with `decode` into the item, its model name and version
/// (0 for models).
fn run<T>(
    conn: &Connection,
    (search, visibility, page): (&Search, &Visibility, &PageRequest),
    columns: &str,
    decode: impl Fn(&Row<'_>) -> Result<(T, String, u64)>,
) -> Result<Page<(T, Keyset)>> {
    let after = Keyset::from_cursor(page.after.as_ref())?;
    let compiled = compile(search, Dialect::Sqlite, visibility, after.as_ref())?;
    let wanted = usize::try_from(page.size).unwrap_or(usize::MAX).saturating_add(1);
    let mut items = Vec::new();
    for statement in &compiled.statements {
        if items.len() >= wanted {
            break;
        }
        let sql = statement.sql(columns, wanted - items.len());
        let mut stmt = conn.prepare(&sql).sql()?;
        let mut found = stmt.query(params_from_iter(params(statement))).sql()?;
        while let Some(row) = found.next().sql()? {
            let (item, model, version) = decode(row)?;
            items.push((item, keyset(row, &statement.key_types, &model, version)?));
        }
    }
    Ok(Page::from_rows(items, page.size, |(_, k)| k.to_cursor()))
}

pub(crate) fn models(
    conn: &Connection,
    search: &Search,
    visibility: &Visibility,
    page: &PageRequest,
) -> Result<Page<(Model, Keyset)>> {
    run(conn, (search, visibility, page), MODEL_COLUMNS, |row| {
        let m = model(model_row(row).sql()?)?;
        let name = m.name.as_str().to_owned();
        Ok((m, name, 0))
    })
}

pub(crate) fn versions(
    conn: &Connection,
    search: &Search,
    visibility: &Visibility,
    page: &PageRequest,
) -> Result<Page<(ModelVersion, Keyset)>> {
    // Listings leave manifests out (GetVersion has them).
    let columns = VERSION_COLUMNS.replace(
        "v.artifact_verification,",
        "json_remove(v.artifact_verification, '$.files') AS artifact_verification,",
    );
    run(conn, (search, visibility, page), &columns, |row| {
        let v = version_from(conn, row)?;
        let (name, number) = (v.model_name.as_str().to_owned(), v.version);
        Ok((v, name, number))
    })
}
