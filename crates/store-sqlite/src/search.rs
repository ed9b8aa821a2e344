//! Searches (issue 14) on the embedded store: the filter compiled by `bindery-filter-sql` for
//! SQLite, run as one parameterised statement, as on PostgreSQL.

use bindery_core::filter::{Keyset, Search, Type, Value};
use bindery_core::{Model, ModelVersion, Page, PageRequest, Result, Visibility};
use bindery_filter_sql::{Compiled, Dialect, Param, compile};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};

use crate::models::{MODEL_COLUMNS, model, model_row};
use crate::ops::{Sql, time};
use crate::versions::{VERSION_COLUMNS, version_from};

fn params(compiled: &Compiled) -> Vec<SqlValue> {
    compiled
        .params
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

/// Runs `search` over `from` (selecting `columns` and the order keys) and decodes each row with
/// `decode` into the item, its model name and version (0 for models).
fn run<T>(
    conn: &Connection,
    (search, visibility, page): (&Search, &Visibility, &PageRequest),
    columns: &str,
    from: &str,
    decode: impl Fn(&Row<'_>) -> Result<(T, String, u64)>,
) -> Result<Page<(T, Keyset)>> {
    let after = Keyset::from_cursor(page.after.as_ref())?;
    let compiled = compile(search, Dialect::Sqlite, visibility, after.as_ref())?;
    let keys: String = compiled.keys.iter().map(|k| format!(", {k}")).collect();
    let sql = format!(
        "SELECT {columns}{keys} FROM {from} WHERE {} ORDER BY {} LIMIT {}",
        compiled.where_sql,
        compiled.order_sql,
        u64::from(page.size) + 1
    );
    let mut stmt = conn.prepare(&sql).sql()?;
    let mut found = stmt.query(params_from_iter(params(&compiled))).sql()?;
    let mut items = Vec::new();
    while let Some(row) = found.next().sql()? {
        let (item, model, version) = decode(row)?;
        items.push((item, keyset(row, &compiled.key_types, &model, version)?));
    }
    Ok(Page::from_rows(items, page.size, |(_, k)| k.to_cursor()))
}

pub(crate) fn models(
    conn: &Connection,
    search: &Search,
    visibility: &Visibility,
    page: &PageRequest,
) -> Result<Page<(Model, Keyset)>> {
    run(conn, (search, visibility, page), MODEL_COLUMNS, "models m", |row| {
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
    run(conn, (search, visibility, page), &columns, "versions v JOIN models m ON m.id = v.model_id", |row| {
        let v = version_from(conn, row)?;
        let (name, number) = (v.model_name.as_str().to_owned(), v.version);
        Ok((v, name, number))
    })
}
