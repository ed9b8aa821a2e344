//! The search filter language (issue 14), decided once: a typed AST, its parser with positioned
//! errors, its type checks, `order_by`, keyset cursors, and an in-memory evaluator (the reference
//! the stores' SQL is tested against). No SQL here: `bindery-filter-sql` compiles the AST to each
//! store's dialect with every value as a parameter.
//!
//! ```text
//! expr      := or
//! or        := and (OR and)*
//! and       := unary (AND unary)*
//! unary     := NOT unary | '(' expr ')' | predicate
//! predicate := field (op value | [NOT] IN '(' value, ... ')' | [NOT] LIKE 'p' | [NOT] ILIKE 'p'
//!                     | IS [NOT] NULL)
//! op        := = | != | <> | < | <= | > | >=
//! field     := name | namespace | version | status | description | owner | created_at
//!            | updated_at | created_by | binding | metrics.<key> | params.<key> | tags.<key>
//!            | lineage.dataset | lineage.code_ref | lineage.run_id | lineage.parent
//!            | card | annotations.kind
//! ```
//! Keys with other characters are quoted with backticks: ``tags.`team.name` = 'risk'``.

mod eval;
mod parse;
mod time;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use eval::{Row, evaluate};
pub use parse::{parse_filter, parse_order};
pub use time::parse_rfc3339;

use crate::{Error, Result};

/// At most this many characters in a filter or an `order_by`.
pub const MAX_FILTER_CHARS: usize = 4_096;
/// At most this many comparisons in one filter, values in one `IN`, and nesting levels.
pub const MAX_PREDICATES: usize = 64;
pub const MAX_IN_VALUES: usize = 100;
pub const MAX_DEPTH: usize = 32;
/// At most this many `order_by` keys.
pub const MAX_ORDER_KEYS: usize = 5;

/// What is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Models,
    Versions,
}

impl Target {
    fn noun(self) -> &'static str {
        match self {
            Self::Models => "models",
            Self::Versions => "versions",
        }
    }
}

/// A field a filter or an order names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    /// The model's name.
    Name,
    /// The model name's namespace (absent when the name has none).
    Namespace,
    Version,
    Status,
    /// The version's description on versions, the model's on models.
    Description,
    /// The model's owner.
    Owner,
    CreatedAt,
    UpdatedAt,
    CreatedBy,
    Metric(String),
    Param(String),
    Tag(String),
    /// A binding pointing at the version (on models: one the model has).
    Binding,
    /// A dataset of the version's lineage, as `uri` or `uri@version`.
    LineageDataset,
    LineageCodeRef,
    LineageRunId,
    /// A parent version, as `model@version`.
    LineageParent,
    /// The card's markdown (the version's on versions, the model's on models); null when none.
    Card,
    /// The kind of an annotation (the version's on versions, the model's on models).
    AnnotationKind,
}

/// What a field's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Text,
    Number,
    Time,
}

impl Field {
    pub fn ty(&self) -> Type {
        match self {
            Self::Version | Self::Metric(_) => Type::Number,
            Self::CreatedAt | Self::UpdatedAt => Type::Time,
            _ => Type::Text,
        }
    }

    /// Fields with many values per row (`binding`, datasets, parents) match when any does.
    pub fn is_multi(&self) -> bool {
        matches!(self, Self::Binding | Self::LineageDataset | Self::LineageParent | Self::AnnotationKind)
    }

    /// Whether an `order_by` may name it: one-valued fields other than the card's long text.
    pub fn orders(&self) -> bool {
        !self.is_multi() && *self != Self::Card
    }

    /// Whether `IS NULL` makes sense: keys a row may lack, and many-valued fields (none).
    pub fn is_optional(&self) -> bool {
        matches!(
            self,
            Self::Namespace
                | Self::Metric(_)
                | Self::Param(_)
                | Self::Tag(_)
                | Self::LineageCodeRef
                | Self::LineageRunId
                | Self::Card
        ) || self.is_multi()
    }

    fn applies_to(&self, target: Target) -> bool {
        match target {
            Target::Versions => true,
            Target::Models => matches!(
                self,
                Self::Name
                    | Self::Namespace
                    | Self::Description
                    | Self::Owner
                    | Self::CreatedAt
                    | Self::UpdatedAt
                    | Self::CreatedBy
                    | Self::Tag(_)
                    | Self::Binding
                    | Self::Card
                    | Self::AnnotationKind
            ),
        }
    }

    /// How the field is written in the language.
    pub fn spelling(&self) -> String {
        let key = |prefix: &str, k: &str| {
            if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                format!("{prefix}.{k}")
            } else {
                format!("{prefix}.`{k}`")
            }
        };
        match self {
            Self::Name => "name".into(),
            Self::Namespace => "namespace".into(),
            Self::Version => "version".into(),
            Self::Status => "status".into(),
            Self::Description => "description".into(),
            Self::Owner => "owner".into(),
            Self::CreatedAt => "created_at".into(),
            Self::UpdatedAt => "updated_at".into(),
            Self::CreatedBy => "created_by".into(),
            Self::Metric(k) => key("metrics", k),
            Self::Param(k) => key("params", k),
            Self::Tag(k) => key("tags", k),
            Self::Binding => "binding".into(),
            Self::LineageDataset => "lineage.dataset".into(),
            Self::LineageCodeRef => "lineage.code_ref".into(),
            Self::LineageRunId => "lineage.run_id".into(),
            Self::LineageParent => "lineage.parent".into(),
            Self::Card => "card".into(),
            Self::AnnotationKind => "annotations.kind".into(),
        }
    }
}

/// A typed literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Text(String),
    Number(f64),
    Time(SystemTime),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// A type-checked filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare {
        field: Field,
        op: CmpOp,
        value: Value,
    },
    In {
        field: Field,
        values: Vec<Value>,
        negated: bool,
    },
    /// `LIKE` (`%` any run, `_` one character, `\` escapes), case-insensitive for `ILIKE`.
    Like {
        field: Field,
        pattern: String,
        case_insensitive: bool,
        negated: bool,
    },
    IsNull {
        field: Field,
        negated: bool,
    },
}

impl CmpOp {
    /// The comparison that is true exactly when this one is false (and unknown when it is).
    pub fn negated(self) -> Self {
        match self {
            Self::Eq => Self::Ne,
            Self::Ne => Self::Eq,
            Self::Lt => Self::Ge,
            Self::Le => Self::Gt,
            Self::Gt => Self::Le,
            Self::Ge => Self::Lt,
        }
    }
}

impl Expr {
    /// The same filter with every `NOT` pushed into the comparisons (De Morgan, and each
    /// comparison flipped), which holds in three-valued logic. The result is monotone in its
    /// comparisons, so a store may treat "unknown" (a missing key) as false in each of them —
    /// e.g. as an `EXISTS` over an index — and keep exactly the rows the filter keeps.
    #[must_use]
    pub fn negation_normal_form(self) -> Self {
        self.push(false)
    }

    fn push(self, negate: bool) -> Self {
        match (self, negate) {
            (Self::Not(inner), n) => inner.push(!n),
            (Self::And(a, b), false) => Self::And(Box::new(a.push(false)), Box::new(b.push(false))),
            (Self::Or(a, b), false) => Self::Or(Box::new(a.push(false)), Box::new(b.push(false))),
            (Self::And(a, b), true) => Self::Or(Box::new(a.push(true)), Box::new(b.push(true))),
            (Self::Or(a, b), true) => Self::And(Box::new(a.push(true)), Box::new(b.push(true))),
            (e, false) => e,
            (Self::Compare { field, op, value }, true) => Self::Compare { field, op: op.negated(), value },
            (Self::In { field, values, negated }, true) => Self::In { field, values, negated: !negated },
            (Self::Like { field, pattern, case_insensitive, negated }, true) => {
                Self::Like { field, pattern, case_insensitive, negated: !negated }
            }
            (Self::IsNull { field, negated }, true) => Self::IsNull { field, negated: !negated },
        }
    }
}

/// One `order_by` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderKey {
    pub field: Field,
    pub descending: bool,
}

/// A parsed search: what, which, in what order. Rows tie-break on the model name (and the
/// version, descending), so every order is total.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub target: Target,
    pub filter: Option<Expr>,
    pub order: Vec<OrderKey>,
    /// Versions only: of one model.
    pub model: Option<crate::ModelName>,
    /// The text the search was parsed from, for binding page tokens to it.
    fingerprint: String,
}

impl Search {
    /// Parses `filter` and `order_by` for `target`. Errors are `InvalidArgument` naming the
    /// field (`filter` or `order_by`), the position and what was expected.
    pub fn parse(
        target: Target,
        filter: &str,
        order_by: &str,
        model: Option<crate::ModelName>,
    ) -> Result<Self> {
        let parsed = parse_filter(target, filter)?;
        let order = parse_order(target, order_by)?;
        let text = format!(
            "{}\n{filter}\n{order_by}\n{}",
            target.noun(),
            model.as_ref().map_or("", crate::ModelName::as_str)
        );
        let digest = <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes());
        let fingerprint = crate::hex(&digest[..8]);
        Ok(Self { target, filter: parsed, order, model, fingerprint })
    }

    /// A search built in code (not parsed), e.g. the children of a version for lineage.
    pub fn of(target: Target, filter: Expr) -> Self {
        let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("{target:?}\n{filter:?}").as_bytes());
        Self {
            target,
            filter: Some(filter),
            order: Vec::new(),
            model: None,
            fingerprint: crate::hex(&digest[..8]),
        }
    }

    /// The page token kind: bound to this filter, order and model.
    pub fn page_kind(&self) -> String {
        format!("search-{}-{}", self.target.noun(), self.fingerprint)
    }
}

/// Where a page continues: the last row's order key values and its tie-breakers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyset {
    /// One per order key; `None` where the row lacks the key.
    pub values: Vec<Option<Value>>,
    pub model: String,
    /// Versions only.
    pub version: u64,
}

impl Keyset {
    pub fn to_cursor(&self) -> crate::Cursor {
        crate::Cursor::Name(serde_json::to_string(self).unwrap_or_default())
    }

    pub fn from_cursor(cursor: Option<&crate::Cursor>) -> Result<Option<Self>> {
        match cursor {
            None => Ok(None),
            Some(crate::Cursor::Name(json)) => serde_json::from_str(json)
                .map(Some)
                .map_err(|_| Error::invalid("page_token", "is not a token of this search")),
            Some(crate::Cursor::Number(_)) => {
                Err(Error::invalid("page_token", "is not a token of this search"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
