//! The reference semantics of a filter, in memory, with SQL's three-valued logic: a comparison
//! with a missing key is unknown (`None`), `NOT unknown` is unknown, and only `Some(true)` keeps
//! a row. Many-valued fields (bindings, datasets, parents) match when any value does and are never
//! unknown. The stores' SQL must agree with this on every row (tested on both stores).

use std::cmp::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use super::{CmpOp, Expr, Field, Value};
use crate::{Model, ModelVersion};

/// One row a filter looks at: a model, or a version with its model.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub model: &'a Model,
    pub version: Option<&'a ModelVersion>,
    /// Bindings pointing at the version (on models: every binding the model has).
    pub bindings: &'a [String],
    /// The row's own card (the version's, or the model's on models), if it has one.
    pub card: Option<&'a str>,
    /// The kinds of the row's own annotations.
    pub annotation_kinds: &'a [String],
}

impl<'a> Row<'a> {
    /// A row with no card and no annotations.
    pub fn new(model: &'a Model, version: Option<&'a ModelVersion>, bindings: &'a [String]) -> Self {
        Self { model, version, bindings, card: None, annotation_kinds: &[] }
    }
}

/// Whether `expr` keeps `row`: `Some(true)` keeps it; `None` is SQL's unknown.
pub fn evaluate(expr: &Expr, row: &Row<'_>) -> Option<bool> {
    match expr {
        Expr::And(a, b) => match (evaluate(a, row), evaluate(b, row)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Or(a, b) => match (evaluate(a, row), evaluate(b, row)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expr::Not(a) => evaluate(a, row).map(|v| !v),
        Expr::Compare { field, op, value } => {
            let values = values(field, row);
            if field.is_multi() {
                let any = values.iter().any(|v| compare(v, value) == Some(Ordering::Equal));
                return Some(if *op == CmpOp::Ne { !any } else { any });
            }
            let ord = compare(values.first()?, value)?;
            Some(match op {
                CmpOp::Eq => ord == Ordering::Equal,
                CmpOp::Ne => ord != Ordering::Equal,
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                CmpOp::Ge => ord != Ordering::Less,
            })
        }
        Expr::In { field, values: set, negated } => {
            let values = values(field, row);
            let hit = |v: &Value| set.iter().any(|s| compare(v, s) == Some(Ordering::Equal));
            let found = if field.is_multi() { values.iter().any(hit) } else { hit(values.first()?) };
            Some(found != *negated)
        }
        Expr::Like { field, pattern, case_insensitive, negated } => {
            let values = values(field, row);
            let hit = |v: &Value| matches!(v, Value::Text(t) if like(t, pattern, *case_insensitive));
            let found = if field.is_multi() { values.iter().any(hit) } else { hit(values.first()?) };
            Some(found != *negated)
        }
        Expr::IsNull { field, negated } => Some(values(field, row).is_empty() != *negated),
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Text(a), Value::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
        // Stores keep microseconds.
        (Value::Time(a), Value::Time(b)) => Some(micros(*a).cmp(&micros(*b))),
        _ => None,
    }
}

fn micros(t: std::time::SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_micros()
}

fn text(s: &str) -> Vec<Value> {
    vec![Value::Text(s.to_owned())]
}

fn nonempty(s: &str) -> Vec<Value> {
    if s.is_empty() { Vec::new() } else { text(s) }
}

/// The values `field` has on `row` (empty: null).
fn values(field: &Field, row: &Row<'_>) -> Vec<Value> {
    let (m, v) = (row.model, row.version);
    match field {
        Field::Name => text(m.name.as_str()),
        Field::Namespace => m.name.namespace().map(text).unwrap_or_default(),
        Field::Version => v.map(|v| vec![Value::Number(v.version as f64)]).unwrap_or_default(),
        Field::Status => v.map(|v| text(v.status.as_str())).unwrap_or_default(),
        Field::Description => text(v.map_or(&m.description, |v| &v.description)),
        Field::Owner => text(&m.owner),
        Field::CreatedAt => vec![Value::Time(v.map_or(m.created_at, |v| v.created_at))],
        Field::UpdatedAt => vec![Value::Time(v.map_or(m.updated_at, |v| v.updated_at))],
        Field::CreatedBy => text(v.map_or(&m.created_by, |v| &v.created_by)),
        Field::Metric(k) => {
            v.and_then(|v| v.metrics.get(k)).map(|n| vec![Value::Number(*n)]).unwrap_or_default()
        }
        Field::Param(k) => v.and_then(|v| v.params.get(k)).map(|s| text(s)).unwrap_or_default(),
        Field::Tag(k) => v.map_or(&m.tags, |v| &v.tags).get(k).map(|s| text(s)).unwrap_or_default(),
        Field::Binding => row.bindings.iter().map(|b| Value::Text(b.clone())).collect(),
        Field::LineageDataset => v
            .map(|v| {
                v.lineage
                    .datasets
                    .iter()
                    .flat_map(|d| {
                        let mut both = vec![Value::Text(d.uri.clone())];
                        if !d.version.is_empty() {
                            both.push(Value::Text(format!("{}@{}", d.uri, d.version)));
                        }
                        both
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Field::LineageCodeRef => v.map(|v| nonempty(&v.lineage.code_ref)).unwrap_or_default(),
        Field::LineageRunId => v.map(|v| nonempty(&v.lineage.training_run_id)).unwrap_or_default(),
        Field::LineageParent => v
            .map(|v| {
                v.lineage
                    .parent_versions
                    .iter()
                    .map(|p| Value::Text(format!("{}@{}", p.model_name, p.version)))
                    .collect()
            })
            .unwrap_or_default(),
        Field::Card => row.card.filter(|c| !c.is_empty()).map(text).unwrap_or_default(),
        Field::AnnotationKind => row.annotation_kinds.iter().map(|k| Value::Text(k.clone())).collect(),
    }
}

/// SQL `LIKE`: `%` any run, `_` one character, `\` escapes the next character. Case folding for
/// `ILIKE` is ASCII only (as in SQLite; PostgreSQL folds all of Unicode).
pub fn like(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Char(char),
    }
    let fold = |c: char| if case_insensitive { c.to_ascii_lowercase() } else { c };
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        pat.push(match c {
            '%' => P::Any,
            '_' => P::One,
            '\\' => P::Char(fold(chars.next().unwrap_or('\\'))),
            c => P::Char(fold(c)),
        });
    }
    let text: Vec<char> = text.chars().map(fold).collect();
    // matched[j]: the pattern's first i elements match the text's first j characters.
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    for p in pat {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match p {
                P::Any => matched[j] || (j > 0 && next[j - 1]),
                P::One => j > 0 && matched[j - 1],
                P::Char(c) => j > 0 && matched[j - 1] && text[j - 1] == c,
            };
        }
        matched = next;
    }
    matched[text.len()]
}
