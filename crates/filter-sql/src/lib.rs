//! Compiles a parsed search (`bindery_core::filter`) to SQL for PostgreSQL or SQLite: a `WHERE`
//! clause, an `ORDER BY`, the order keys to select (for the next page's cursor) and the
//! parameters. Every value and every key is a parameter; only fixed SQL text is spliced. The
//! semantics are `bindery_core::filter::evaluate`'s (SQL's three-valued logic, many-valued fields
//! matching when any value does, nulls last in every order), which the stores are tested against.
//!
//! Both stores share the schema shape: `models m` (name, description, owner, tags, created_*,
//! updated_*, deleted_at), `versions v` (model_id, version, status, params, metrics, tags,
//! lineage, description, created_*, updated_*), `bindings b` (model_id, name, version), `cards`
//! (model_id, version, edition, markdown) and `annotations` (model_id, version, kind), where
//! version 0 is the model's own. JSON
//! columns are `jsonb` on PostgreSQL and JSON text on SQLite; times are `timestamptz` on
//! PostgreSQL and microseconds on SQLite.

use std::time::SystemTime;

use bindery_core::filter::{CmpOp, Expr, Field, Keyset, Search, Target, Type, Value};
use bindery_core::{Error, Result, Visibility};

/// Which SQL to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// A parameter, in order: `$1`/`?1` is the first.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Number(f64),
    Int(i64),
    /// PostgreSQL binds it as `timestamptz`; SQLite as microseconds (`Int`).
    Time(SystemTime),
}

/// A compiled search: statements to run in order, each with `LIMIT` what the page still needs,
/// until the page is full. Their rows, one statement's after the other's, are the search's
/// order. Usually one statement; on PostgreSQL, a version search ordered first by a metric, tag
/// or param is two: the rows having that key, read from its side table's index in the key's
/// order (so the first page reads about a page of index entries, not every match), then the
/// rows lacking it (which sort last).
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub statements: Vec<Statement>,
}

/// One statement: `SELECT <row columns>, <keys> FROM <from_sql> WHERE <where_sql> ORDER BY
/// <order_sql> LIMIT n`. Select `keys` (aliased `k0`, `k1`, …) next to the row so the store can
/// build the next page's [`Keyset`] from the last row; their types are `key_types`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `models m`, or versions with their model (`v`, `m`), possibly driven from a side table.
    pub from_sql: String,
    /// Always starts with the row being live (`m.deleted_at IS NULL`).
    pub where_sql: String,
    pub order_sql: String,
    pub keys: Vec<String>,
    pub key_types: Vec<Type>,
    pub params: Vec<Param>,
}

struct Compiler {
    dialect: Dialect,
    target: Target,
    params: Vec<Param>,
    /// Parameters the enclosing statement binds before these (numbered first).
    offset: usize,
}

impl Compiler {
    fn bind(&mut self, p: Param) -> String {
        let p = match (self.dialect, p) {
            (Dialect::Sqlite, Param::Time(t)) => Param::Int(bindery_core::unix_micros(t)),
            (_, p) => p,
        };
        self.params.push(p);
        match self.dialect {
            Dialect::Postgres => format!("${}", self.offset + self.params.len()),
            Dialect::Sqlite => format!("?{}", self.offset + self.params.len()),
        }
    }

    fn value(&mut self, field: &Field, v: &Value) -> String {
        let param = match v {
            Value::Text(s) => Param::Text(s.clone()),
            // Versions are integers: compare them as such (the parser checked it is whole).
            Value::Number(n) if *field == Field::Version => Param::Int(*n as i64),
            Value::Number(n) => Param::Number(*n),
            Value::Time(t) => Param::Time(*t),
        };
        let p = self.bind(param);
        match (self.dialect, field.ty(), field) {
            (Dialect::Postgres, Type::Number, Field::Metric(_)) => format!("{p}::float8"),
            (Dialect::Postgres, Type::Text, _) => format!("{p}::text"),
            _ => p,
        }
    }

    /// The version's or the model's column.
    fn col(&self, version_col: &str, model_col: &str) -> String {
        match self.target {
            Target::Versions => format!("v.{version_col}"),
            Target::Models => format!("m.{model_col}"),
        }
    }

    /// A value of a JSON object column by key (the key a parameter).
    fn json_key(&mut self, column: &str, key: &str, number: bool) -> String {
        let k = self.bind(Param::Text(key.to_owned()));
        match (self.dialect, number) {
            (Dialect::Postgres, true) => format!("({column} ->> {k}::text)::float8"),
            (Dialect::Postgres, false) => format!("({column} ->> {k}::text)"),
            (Dialect::Sqlite, _) => format!("(SELECT j.value FROM json_each({column}) j WHERE j.key = {k})"),
        }
    }

    /// The one-valued field's SQL expression.
    fn scalar(&mut self, field: &Field) -> String {
        let pg = self.dialect == Dialect::Postgres;
        match field {
            Field::Name => "m.name".into(),
            Field::Namespace => {
                if pg {
                    "(CASE WHEN strpos(m.name, '/') > 0 THEN split_part(m.name, '/', 1) END)".into()
                } else {
                    "(CASE WHEN instr(m.name, '/') > 0 THEN substr(m.name, 1, instr(m.name, '/') - 1) END)"
                        .into()
                }
            }
            Field::Version => "v.version".into(),
            Field::Status => "v.status".into(),
            Field::Description => self.col("description", "description"),
            Field::Owner => "m.owner".into(),
            Field::CreatedAt => self.col("created_at", "created_at"),
            Field::UpdatedAt => self.col("updated_at", "updated_at"),
            Field::CreatedBy => self.col("created_by", "created_by"),
            Field::Metric(k) => self.json_key("v.metrics", k, true),
            Field::Param(k) => self.json_key("v.params", k, false),
            Field::Tag(k) => {
                let column = self.col("tags", "tags");
                self.json_key(&column, k, false)
            }
            Field::LineageCodeRef | Field::LineageRunId => {
                let key = if *field == Field::LineageCodeRef { "code_ref" } else { "training_run_id" };
                if pg {
                    format!("NULLIF(v.lineage ->> '{key}', '')")
                } else {
                    format!("NULLIF(json_extract(v.lineage, '$.{key}'), '')")
                }
            }
            Field::Card => {
                let owner = self.annotated("c");
                format!(
                    "(SELECT NULLIF(c.markdown, '') FROM cards c WHERE {owner} ORDER BY c.edition DESC LIMIT 1)"
                )
            }
            // Many-valued fields never reach here (the parser refuses to order by them).
            Field::Binding | Field::LineageDataset | Field::LineageParent | Field::AnnotationKind => {
                "NULL".into()
            }
        }
    }

    /// Text compares byte-wise on both stores.
    fn collate(&self, expr: String, ty: Type) -> String {
        if self.dialect == Dialect::Postgres && ty == Type::Text {
            format!("({expr}) COLLATE \"C\"")
        } else {
            expr
        }
    }

    fn like(&mut self, expr: &str, pattern: &str, case_insensitive: bool) -> String {
        match (self.dialect, case_insensitive) {
            (Dialect::Postgres, false) => {
                let p = self.bind(Param::Text(pattern.to_owned()));
                format!("{expr} LIKE {p} ESCAPE '\\'")
            }
            (Dialect::Postgres, true) => {
                // ASCII case folding, as SQLite's LIKE and the reference evaluator do.
                let p = self.bind(Param::Text(pattern.to_owned()));
                format!(
                    "translate({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') \
                     LIKE translate({p}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') ESCAPE '\\'"
                )
            }
            // SQLite's LIKE ignores ASCII case: case-sensitive matching is GLOB.
            (Dialect::Sqlite, false) => {
                let p = self.bind(Param::Text(glob(pattern)));
                format!("{expr} GLOB {p}")
            }
            (Dialect::Sqlite, true) => {
                let p = self.bind(Param::Text(pattern.to_owned()));
                format!("{expr} LIKE {p} ESCAPE '\\'")
            }
        }
    }

    /// The condition tying a card or annotation row (aliased `alias`) to the row searched: the
    /// version's own (`version` = its number), or the model's own (`version` = 0).
    fn annotated(&self, alias: &str) -> String {
        match self.target {
            Target::Versions => format!("{alias}.model_id = v.model_id AND {alias}.version = v.version"),
            Target::Models => format!("{alias}.model_id = m.id AND {alias}.version = 0"),
        }
    }

    /// `EXISTS` over a many-valued field's values, each tested by `cond` (given the value's SQL).
    fn exists(&mut self, field: &Field, cond: &mut dyn FnMut(&mut Self, &str) -> String) -> String {
        let pg = self.dialect == Dialect::Postgres;
        match field {
            Field::Binding => {
                // A version is bound by every binding that uses it: as its single version, a side
                // of its split or a shadow.
                let (table, owner) = match self.target {
                    Target::Versions => {
                        ("binding_versions", "b.model_id = v.model_id AND b.version = v.version")
                    }
                    Target::Models => ("bindings", "b.model_id = m.id"),
                };
                format!("EXISTS (SELECT 1 FROM {table} b WHERE {owner} AND {})", cond(self, "b.name"))
            }
            Field::AnnotationKind => {
                let owner = self.annotated("a");
                format!("EXISTS (SELECT 1 FROM annotations a WHERE {owner} AND {})", cond(self, "a.kind"))
            }
            Field::LineageDataset => {
                let (from, uri, ver) = if pg {
                    ("jsonb_array_elements(v.lineage -> 'datasets') d", "(d ->> 'uri')", "(d ->> 'version')")
                } else {
                    (
                        "json_each(v.lineage, '$.datasets') d",
                        "json_extract(d.value, '$.uri')",
                        "json_extract(d.value, '$.version')",
                    )
                };
                let plain = cond(self, uri);
                let versioned = cond(self, &format!("{uri} || '@' || {ver}"));
                format!("EXISTS (SELECT 1 FROM {from} WHERE ({plain}) OR ({ver} <> '' AND {versioned}))")
            }
            Field::LineageParent => {
                let (from, value) = if pg {
                    (
                        "jsonb_array_elements(v.lineage -> 'parent_versions') p",
                        "(p ->> 'model_name') || '@' || (p ->> 'version')",
                    )
                } else {
                    (
                        "json_each(v.lineage, '$.parent_versions') p",
                        "json_extract(p.value, '$.model_name') || '@' || json_extract(p.value, '$.version')",
                    )
                };
                format!("EXISTS (SELECT 1 FROM {from} WHERE {})", cond(self, value))
            }
            _ => "1 = 0".into(),
        }
    }

    /// On PostgreSQL, a version's metrics, params, tags and datasets are searched through their
    /// indexed side tables (`version_metrics`, …): each comparison an `EXISTS`, which is exact
    /// because the filter is in negation normal form (see `Expr::negation_normal_form`).
    fn indexed(&self, field: &Field) -> bool {
        self.dialect == Dialect::Postgres
            && self.target == Target::Versions
            && matches!(field, Field::Metric(_) | Field::Param(_) | Field::Tag(_) | Field::LineageDataset)
    }

    fn indexed_atom(&mut self, e: &Expr) -> String {
        let (Expr::Compare { field, .. }
        | Expr::In { field, .. }
        | Expr::Like { field, .. }
        | Expr::IsNull { field, .. }) = e
        else {
            return "1 = 0".into();
        };
        let (table, key, column) = match field {
            Field::Metric(k) => ("version_metrics", Some(k), "x.value"),
            Field::Param(k) => ("version_params", Some(k), "x.value"),
            Field::Tag(k) => ("version_tags", Some(k), "x.value"),
            _ => ("version_datasets", None, "x.ref"),
        };
        let key = match key {
            Some(k) => {
                let p = self.bind(Param::Text(k.clone()));
                format!(" AND x.key = {p}::text")
            }
            None => String::new(),
        };
        let head =
            format!("SELECT 1 FROM {table} x WHERE x.model_id = v.model_id AND x.version = v.version{key}");
        let multi = field.is_multi();
        let (cond, none) = match e {
            Expr::Compare { op, value, .. } => {
                let p = self.value(field, value);
                match (multi, op) {
                    (true, CmpOp::Ne) => (format!("{column} = {p}"), true),
                    (true, _) => (format!("{column} = {p}"), false),
                    (false, CmpOp::Ne) => (format!("{column} <> {p}"), false),
                    (false, op) => (format!("{column} {} {p}", op.as_str()), false),
                }
            }
            Expr::In { values, negated, .. } => {
                let ps: Vec<String> = values.iter().map(|x| self.value(field, x)).collect();
                match (multi, negated) {
                    (true, n) => (format!("{column} IN ({})", ps.join(", ")), *n),
                    (false, true) => (format!("{column} NOT IN ({})", ps.join(", ")), false),
                    (false, false) => (format!("{column} IN ({})", ps.join(", ")), false),
                }
            }
            Expr::Like { pattern, case_insensitive, negated, .. } => {
                let like = self.like(column, pattern, *case_insensitive);
                match (multi, negated) {
                    (true, n) => (like, *n),
                    (false, true) => (format!("NOT ({like})"), false),
                    (false, false) => (like, false),
                }
            }
            Expr::IsNull { negated, .. } => ("TRUE".to_owned(), !negated),
            _ => ("FALSE".to_owned(), false),
        };
        let exists = format!("EXISTS ({head} AND {cond})");
        if none { format!("(NOT {exists})") } else { exists }
    }

    fn expr(&mut self, e: &Expr) -> String {
        match e {
            Expr::Compare { field, .. }
            | Expr::In { field, .. }
            | Expr::Like { field, .. }
            | Expr::IsNull { field, .. }
                if self.indexed(field) =>
            {
                self.indexed_atom(e)
            }
            Expr::And(a, b) => format!("({} AND {})", self.expr(a), self.expr(b)),
            Expr::Or(a, b) => format!("({} OR {})", self.expr(a), self.expr(b)),
            Expr::Not(a) => format!("(NOT {})", self.expr(a)),
            Expr::Compare { field, op, value } if field.is_multi() => {
                let mut cond = |c: &mut Self, v: &str| {
                    let p = c.value(field, value);
                    format!("{v} = {p}")
                };
                let any = self.exists(field, &mut cond);
                if *op == CmpOp::Ne { format!("(NOT {any})") } else { any }
            }
            Expr::Compare { field, op, value } => {
                let expr = self.scalar(field);
                let expr = self.collate(expr, field.ty());
                let p = self.value(field, value);
                let op = match op {
                    CmpOp::Ne => "<>",
                    other => other.as_str(),
                };
                format!("({expr} {op} {p})")
            }
            Expr::In { field, values, negated } if field.is_multi() => {
                let mut cond = |c: &mut Self, v: &str| {
                    let ps: Vec<String> = values.iter().map(|x| c.value(field, x)).collect();
                    format!("{v} IN ({})", ps.join(", "))
                };
                let any = self.exists(field, &mut cond);
                if *negated { format!("(NOT {any})") } else { any }
            }
            Expr::In { field, values, negated } => {
                let expr = self.scalar(field);
                let ps: Vec<String> = values.iter().map(|x| self.value(field, x)).collect();
                let not = if *negated { "NOT " } else { "" };
                format!("({expr} {not}IN ({}))", ps.join(", "))
            }
            Expr::Like { field, pattern, case_insensitive, negated } if field.is_multi() => {
                let mut cond = |c: &mut Self, v: &str| c.like(v, pattern, *case_insensitive);
                let any = self.exists(field, &mut cond);
                if *negated { format!("(NOT {any})") } else { any }
            }
            Expr::Like { field, pattern, case_insensitive, negated } => {
                let expr = self.scalar(field);
                let like = self.like(&expr, pattern, *case_insensitive);
                if *negated { format!("(NOT ({like}))") } else { format!("({like})") }
            }
            Expr::IsNull { field, negated } if field.is_multi() => {
                let any = self.exists(field, &mut |_, v| format!("{v} IS NOT NULL"));
                if *negated { any } else { format!("(NOT {any})") }
            }
            Expr::IsNull { field, negated } => {
                let expr = self.scalar(field);
                format!("({expr} IS {}NULL)", if *negated { "NOT " } else { "" })
            }
        }
    }

    fn visibility(&mut self, visibility: &Visibility) -> String {
        match visibility {
            Visibility::All => "1 = 1".into(),
            Visibility::Only { namespaces, models } => {
                let mut any = Vec::new();
                if !models.is_empty() {
                    let ps: Vec<String> =
                        models.iter().map(|m| self.bind(Param::Text(m.as_str().to_owned()))).collect();
                    any.push(format!("m.name IN ({})", ps.join(", ")));
                }
                if !namespaces.is_empty() {
                    let ns = self.scalar(&Field::Namespace);
                    let ps: Vec<String> =
                        namespaces.iter().map(|n| self.bind(Param::Text(n.clone()))).collect();
                    any.push(format!("{ns} IN ({})", ps.join(", ")));
                }
                if any.is_empty() { "1 = 0".into() } else { format!("({})", any.join(" OR ")) }
            }
        }
    }

    /// Rows after `cursor` in the order `keys` (each `(expr, descending)`, nulls last), then the
    /// tie-breakers (model name ascending, version descending).
    fn after(&mut self, search: &Search, keys: &[(String, bool, Type)], cursor: &Keyset) -> Result<String> {
        if cursor.values.len() != keys.len() {
            return Err(Error::invalid("page_token", "is not a token of this search"));
        }
        let mut alternatives = Vec::new();
        let mut equal_so_far: Vec<String> = Vec::new();
        for ((expr, descending, ty), value) in keys.iter().zip(&cursor.values) {
            let expr = self.collate(expr.clone(), *ty);
            match value {
                Some(v) => {
                    let p = self.key_param(v, *ty)?;
                    let op = if *descending { "<" } else { ">" };
                    let mut alt = equal_so_far.clone();
                    alt.push(format!("({expr} {op} {p} OR {expr} IS NULL)"));
                    alternatives.push(alt.join(" AND "));
                    let p = self.key_param(v, *ty)?;
                    equal_so_far.push(format!("{expr} = {p}"));
                }
                // Nulls come last: nothing non-null follows a null.
                None => equal_so_far.push(format!("{expr} IS NULL")),
            }
        }
        let name = self.collate("m.name".into(), Type::Text);
        let n1 = self.bind(Param::Text(cursor.model.clone()));
        let tie = match search.target {
            Target::Models => format!("{name} > {n1}::text"),
            Target::Versions => {
                let n2 = self.bind(Param::Text(cursor.model.clone()));
                let v = self.bind(Param::Int(i64::try_from(cursor.version).unwrap_or(i64::MAX)));
                format!("({name} > {n1}::text OR (m.name = {n2}::text AND v.version < {v}))")
            }
        };
        let mut last = equal_so_far;
        last.push(tie);
        alternatives.push(last.join(" AND "));
        let sql =
            format!("({})", alternatives.iter().map(|a| format!("({a})")).collect::<Vec<_>>().join(" OR "));
        Ok(if self.dialect == Dialect::Sqlite { sql.replace("::text", "") } else { sql })
    }

    fn key_param(&mut self, v: &Value, ty: Type) -> Result<String> {
        let bad = || Error::invalid("page_token", "is not a token of this search");
        let p = match (v, ty) {
            (Value::Text(s), Type::Text) => Param::Text(s.clone()),
            (Value::Number(n), Type::Number) => Param::Number(*n),
            (Value::Time(t), Type::Time) => Param::Time(*t),
            _ => return Err(bad()),
        };
        let p = self.bind(p);
        Ok(match (self.dialect, ty) {
            (Dialect::Postgres, Type::Text) => format!("{p}::text"),
            (Dialect::Postgres, Type::Number) => format!("{p}::float8"),
            _ => p,
        })
    }
}

impl Statement {
    /// The statement selecting `columns` (the row's own) and the order keys, at most `limit`
    /// rows.
    pub fn sql(&self, columns: &str, limit: usize) -> String {
        let keys: String = self.keys.iter().map(|k| format!(", {k}")).collect();
        format!(
            "SELECT {columns}{keys} FROM {} WHERE {} ORDER BY {} LIMIT {limit}",
            self.from_sql, self.where_sql, self.order_sql
        )
    }
}

/// Which rows a statement reads, and from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drive<'a> {
    /// Every row, from the row tables.
    All,
    /// Versions having the first order key (a metric, tag or param: its side table and key),
    /// read from the side table.
    Having(&'static str, &'a str),
    /// Versions lacking it.
    Lacking(&'static str, &'a str),
}

/// The side table holding a key of versions.
fn side_table(field: &Field) -> Option<(&'static str, &str)> {
    match field {
        Field::Metric(k) => Some(("version_metrics", k)),
        Field::Tag(k) => Some(("version_tags", k)),
        Field::Param(k) => Some(("version_params", k)),
        _ => None,
    }
}

/// `visibility` as a condition on the models table aliased `m`, for statements outside searches
/// (listings that must show only what the caller may view). Its parameters are numbered after
/// the `bound` the statement already has.
pub fn visibility_condition(visibility: &Visibility, dialect: Dialect, bound: usize) -> (String, Vec<Param>) {
    let mut c = Compiler { dialect, target: Target::Models, params: Vec::new(), offset: bound };
    let condition = c.visibility(visibility);
    (condition, c.params)
}

/// Compiles `search` for `dialect`, limited to what `visibility` allows and continuing after
/// `after` (a cursor of this same search).
pub fn compile(
    search: &Search,
    dialect: Dialect,
    visibility: &Visibility,
    after: Option<&Keyset>,
) -> Result<Compiled> {
    // Every statement and the split decision read the same negation normal form.
    let filter = search.filter.clone().map(Expr::negation_normal_form);
    let filter = filter.as_ref();
    let first = search.order.first().map(|k| &k.field);
    let side = first.and_then(side_table);
    let split = side.filter(|_| dialect == Dialect::Postgres && search.target == Target::Versions);
    let Some((table, key)) = split else {
        return Ok(Compiled {
            statements: vec![statement(search, filter, dialect, visibility, after, Drive::All)?],
        });
    };
    let mut statements = Vec::new();
    // After a row lacking the key, no row having it follows.
    if !after.is_some_and(|c| c.values.first() == Some(&None)) {
        statements.push(statement(search, filter, dialect, visibility, after, Drive::Having(table, key))?);
    }
    // A filter that keeps no row lacking the key needs no statement for them (which would scan
    // every version to find none).
    if !first.is_some_and(|f| filter.is_some_and(|e| requires(e, f))) {
        statements.push(statement(search, filter, dialect, visibility, after, Drive::Lacking(table, key))?);
    }
    Ok(Compiled { statements })
}

/// Whether `expr` (in negation normal form) keeps no row lacking the one-valued `field`: a
/// comparison with a missing key is unknown, and unknown is not kept.
fn requires(expr: &Expr, field: &Field) -> bool {
    match expr {
        Expr::And(a, b) => requires(a, field) || requires(b, field),
        Expr::Or(a, b) => requires(a, field) && requires(b, field),
        Expr::Not(_) => false,
        Expr::Compare { field: f, .. } | Expr::In { field: f, .. } | Expr::Like { field: f, .. } => {
            f == field
        }
        Expr::IsNull { field: f, negated } => f == field && *negated,
    }
}

/// One statement of `search`, whose filter in negation normal form is `filter`.
fn statement(
    search: &Search,
    filter: Option<&Expr>,
    dialect: Dialect,
    visibility: &Visibility,
    after: Option<&Keyset>,
    drive: Drive<'_>,
) -> Result<Statement> {
    let mut c = Compiler { dialect, target: search.target, params: Vec::new(), offset: 0 };
    let mut from = match search.target {
        Target::Models => "models m".to_owned(),
        Target::Versions => "versions v JOIN models m ON m.id = v.model_id".to_owned(),
    };
    let mut clauses = vec!["m.deleted_at IS NULL".to_owned(), c.visibility(visibility)];
    match drive {
        Drive::All => {}
        Drive::Having(table, key) | Drive::Lacking(table, key) => {
            let k = c.bind(Param::Text(key.to_owned()));
            if matches!(drive, Drive::Having(..)) {
                from = format!(
                    "{table} o JOIN versions v ON v.model_id = o.model_id AND v.version = o.version \
                     JOIN models m ON m.id = v.model_id"
                );
                clauses.push(format!("o.key = {k}::text"));
            } else {
                clauses.push(format!(
                    "NOT EXISTS (SELECT 1 FROM {table} o WHERE o.model_id = v.model_id \
                     AND o.version = v.version AND o.key = {k}::text)"
                ));
            }
        }
    }
    if let Some(model) = &search.model {
        let p = c.bind(Param::Text(model.as_str().to_owned()));
        clauses.push(format!("m.name = {p}"));
    }
    if let Some(filter) = filter {
        clauses.push(c.expr(filter));
    }
    // Order keys as SQL: numbers as float8/REAL so every numeric cursor value is a float.
    let mut keys = Vec::new();
    let mut optional = Vec::new();
    for (i, k) in search.order.iter().enumerate() {
        if i == 0 && matches!(drive, Drive::Having(..)) {
            // The side table's value, never null here: the index's own order.
            keys.push(("o.value".to_owned(), k.descending, k.field.ty()));
            optional.push(false);
            continue;
        }
        let expr = c.scalar(&k.field);
        keys.push((expr, k.descending, k.field.ty()));
        optional.push(k.field.is_optional());
    }
    if let Some(cursor) = after {
        clauses.push(c.after(search, &keys, cursor)?);
    }
    // Nulls last; said only for keys a row may lack, so an index on a column that is never null
    // (created_at, …) can serve the order as it is.
    let mut order: Vec<String> = keys
        .iter()
        .zip(&optional)
        .map(|((expr, desc, ty), optional)| {
            let expr = c.collate(expr.clone(), *ty);
            let nulls = if *optional { " NULLS LAST" } else { "" };
            format!("{expr} {}{nulls}", if *desc { "DESC" } else { "ASC" })
        })
        .collect();
    order.push(format!("{} ASC", c.collate("m.name".into(), Type::Text)));
    if search.target == Target::Versions {
        order.push("v.version DESC".into());
    }
    let selected = keys
        .iter()
        .enumerate()
        .map(|(i, (expr, _, ty))| match (dialect, ty) {
            (Dialect::Postgres, Type::Number) => format!("({expr})::float8 AS k{i}"),
            (Dialect::Sqlite, Type::Number) => format!("CAST({expr} AS REAL) AS k{i}"),
            _ => format!("{expr} AS k{i}"),
        })
        .collect();
    Ok(Statement {
        from_sql: from,
        where_sql: clauses.join(" AND "),
        order_sql: order.join(", "),
        keys: selected,
        key_types: keys.iter().map(|k| k.2).collect(),
        params: c.params,
    })
}

/// A `LIKE` pattern as a `GLOB` pattern: `%` → `*`, `_` → `?`, `\x` → `x` literally, and GLOB's
/// own specials made literal.
fn glob(like: &str) -> String {
    let mut out = String::new();
    let mut chars = like.chars();
    let literal = |c: char, out: &mut String| match c {
        '*' | '?' | '[' => {
            out.push('[');
            out.push(c);
            out.push(']');
        }
        c => out.push(c),
    };
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '\\' => literal(chars.next().unwrap_or('\\'), &mut out),
            c => literal(c, &mut out),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindery_core::filter::Search;

    #[test]
    fn values_are_parameters_never_sql_text() {
        let evil = "x'; DROP TABLE models; --";
        let quoted = evil.replace('\'', "''");
        let filter = format!("name = '{quoted}' OR tags.`k'` LIKE '%{quoted}' OR binding IN ('{quoted}')");
        let search = Search::parse(Target::Versions, &filter, "metrics.auc DESC", None).unwrap();
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            for c in compile(&search, dialect, &Visibility::All, None).unwrap().statements {
                assert!(!c.where_sql.contains("DROP") && !c.where_sql.contains("k'"), "{}", c.where_sql);
                assert!(c.params.contains(&Param::Text(evil.to_owned())));
                assert_eq!(c.keys.len(), 1);
            }
        }
    }

    #[test]
    fn visibility_conditions_number_their_parameters_after_the_statement_s_own() {
        let only = Visibility::Only {
            namespaces: vec!["fraud".into()],
            models: vec![bindery_core::ModelName::parse("m", "ads/ranker").unwrap()],
        };
        let (pg, params) = visibility_condition(&only, Dialect::Postgres, 5);
        assert!(pg.contains("m.name IN ($6)") && pg.contains("IN ($7)"), "{pg}");
        assert_eq!(params, vec![Param::Text("ads/ranker".into()), Param::Text("fraud".into())]);
        let (lite, params) = visibility_condition(&only, Dialect::Sqlite, 6);
        assert!(lite.contains("?7") && lite.contains("?8") && params.len() == 2, "{lite}");
        assert_eq!(
            visibility_condition(&Visibility::All, Dialect::Postgres, 5),
            ("1 = 1".to_owned(), vec![])
        );
        let none = Visibility::Only { namespaces: vec![], models: vec![] };
        assert_eq!(visibility_condition(&none, Dialect::Sqlite, 6).0, "1 = 0");
    }

    #[test]
    fn a_side_table_key_first_in_the_order_drives_the_search_on_postgres() {
        let search =
            Search::parse(Target::Versions, "binding = 'production'", "metrics.auc DESC", None).unwrap();
        let pg = compile(&search, Dialect::Postgres, &Visibility::All, None).unwrap().statements;
        assert_eq!(pg.len(), 2);
        assert!(pg[0].from_sql.starts_with("version_metrics o JOIN versions v"), "{}", pg[0].from_sql);
        assert!(pg[0].order_sql.starts_with("o.value DESC, "), "{}", pg[0].order_sql);
        assert!(
            pg[1].where_sql.contains("NOT EXISTS (SELECT 1 FROM version_metrics o"),
            "{}",
            pg[1].where_sql
        );
        // A page that ended among the rows lacking the key continues there only.
        let cursor = Keyset { values: vec![None], model: "m".into(), version: 3 };
        assert_eq!(
            compile(&search, Dialect::Postgres, &Visibility::All, Some(&cursor)).unwrap().statements.len(),
            1
        );
        // A filter that needs the key: no statement for the rows lacking it.
        for filter in [
            "metrics.auc > 0.5",
            "metrics.auc IS NOT NULL AND name = 'x'",
            "NOT metrics.auc = 1 OR (metrics.auc < 0 AND version = 1)",
        ] {
            let needs = Search::parse(Target::Versions, filter, "metrics.auc DESC", None).unwrap();
            let statements = compile(&needs, Dialect::Postgres, &Visibility::All, None).unwrap().statements;
            assert_eq!(statements.len(), 1, "{filter}");
            assert!(statements[0].from_sql.starts_with("version_metrics o"));
        }
        for filter in ["metrics.auc IS NULL OR name = 'x'", "NOT metrics.auc IS NOT NULL", "metrics.f1 > 0.5"]
        {
            let maybe = Search::parse(Target::Versions, filter, "metrics.auc DESC", None).unwrap();
            assert_eq!(
                compile(&maybe, Dialect::Postgres, &Visibility::All, None).unwrap().statements.len(),
                2,
                "{filter}"
            );
        }
        // SQLite, other orders and models: one statement.
        assert_eq!(compile(&search, Dialect::Sqlite, &Visibility::All, None).unwrap().statements.len(), 1);
        let by_time = Search::parse(Target::Versions, "", "created_at DESC, metrics.auc", None).unwrap();
        assert_eq!(compile(&by_time, Dialect::Postgres, &Visibility::All, None).unwrap().statements.len(), 1);
    }

    #[test]
    fn like_becomes_glob_on_sqlite() {
        assert_eq!(glob("a%b_c"), "a*b?c");
        assert_eq!(glob("50\\%*"), "50%[*]");
    }

    #[test]
    fn a_cursor_of_another_shape_is_refused() {
        let search = Search::parse(Target::Versions, "", "metrics.auc", None).unwrap();
        let wrong = Keyset { values: vec![], model: "m".into(), version: 1 };
        assert!(compile(&search, Dialect::Postgres, &Visibility::All, Some(&wrong)).is_err());
        let typed = Keyset { values: vec![Some(Value::Text("x".into()))], model: "m".into(), version: 1 };
        assert!(compile(&search, Dialect::Sqlite, &Visibility::All, Some(&typed)).is_err());
    }
}
