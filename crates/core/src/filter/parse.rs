//! Lexer and recursive-descent parser of the filter language, with type checks. Every error is
//! `InvalidArgument` naming the position (1-based character) and what was expected there.

use super::{
    CmpOp, Expr, Field, MAX_DEPTH, MAX_FILTER_CHARS, MAX_IN_VALUES, MAX_ORDER_KEYS, MAX_PREDICATES, OrderKey,
    Target, Type, Value, parse_rfc3339,
};
use crate::{Error, Result, VersionStatus};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A field path: its segments (backtick-quoted ones verbatim).
    Path(Vec<String>),
    Str(String),
    Num(f64),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based character position.
    at: usize,
    /// The bare word, uppercased, when the token is a one-segment unquoted path (a keyword?).
    word: Option<String>,
}

fn err(field: &str, at: usize, what: impl std::fmt::Display) -> Error {
    Error::invalid(field, format!("at {at}: {what}"))
}

fn lex(field: &str, text: &str) -> Result<Vec<Token>> {
    if text.chars().count() > MAX_FILTER_CHARS {
        return Err(Error::invalid(field, format!("is longer than {MAX_FILTER_CHARS} characters")));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let simple = |tok: Tok| Token { tok, at, word: None };
        match c {
            '(' => {
                out.push(simple(Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push(simple(Tok::RParen));
                i += 1;
            }
            ',' => {
                out.push(simple(Tok::Comma));
                i += 1;
            }
            '=' => {
                out.push(simple(Tok::Op(CmpOp::Eq)));
                i += 1;
            }
            '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('!', Some('=')) => (CmpOp::Ne, 2),
                    ('<', Some('>')) => (CmpOp::Ne, 2),
                    ('<', Some('=')) => (CmpOp::Le, 2),
                    ('>', Some('=')) => (CmpOp::Ge, 2),
                    ('<', _) => (CmpOp::Lt, 1),
                    ('>', _) => (CmpOp::Gt, 1),
                    _ => return Err(err(field, at, "expected `!=`")),
                };
                out.push(simple(Tok::Op(op)));
                i += len;
            }
            '\'' | '"' => {
                // Quotes double to escape themselves: 'it''s'.
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(field, at, "unterminated string")),
                        Some(q) if *q == c && chars.get(i + 1) == Some(&c) => {
                            s.push(c);
                            i += 2;
                        }
                        Some(q) if *q == c => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            s.push(*other);
                            i += 1;
                        }
                    }
                }
                out.push(simple(Tok::Str(s)));
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_digit() || matches!(chars[i], '.' | 'e' | 'E' | '+' | '-'))
                {
                    // A sign only right after an exponent.
                    if matches!(chars[i], '+' | '-') && !matches!(chars[i - 1], 'e' | 'E') {
                        break;
                    }
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n: f64 = text
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| err(field, at, format!("{text:?} is not a number")))?;
                out.push(simple(Tok::Num(n)));
            }
            c if bare(c) || c == '`' => {
                let mut segments = Vec::new();
                let mut quoted_any = false;
                loop {
                    if chars.get(i) == Some(&'`') {
                        quoted_any = true;
                        let mut s = String::new();
                        i += 1;
                        loop {
                            match chars.get(i) {
                                None => return Err(err(field, at, "unterminated `quoted` key")),
                                Some('`') if chars.get(i + 1) == Some(&'`') => {
                                    s.push('`');
                                    i += 2;
                                }
                                Some('`') => {
                                    i += 1;
                                    break;
                                }
                                Some(other) => {
                                    s.push(*other);
                                    i += 1;
                                }
                            }
                        }
                        segments.push(s);
                    } else {
                        let start = i;
                        while i < chars.len() && bare(chars[i]) {
                            i += 1;
                        }
                        if start == i {
                            return Err(err(field, i + 1, "expected a name after `.`"));
                        }
                        segments.push(chars[start..i].iter().collect());
                    }
                    if chars.get(i) == Some(&'.') {
                        i += 1;
                    } else {
                        break;
                    }
                }
                let word = (segments.len() == 1 && !quoted_any).then(|| segments[0].to_ascii_uppercase());
                out.push(Token { tok: Tok::Path(segments), at, word });
            }
            other => return Err(err(field, at, format!("unexpected character {other:?}"))),
        }
    }
    out.push(Token { tok: Tok::End, at: chars.len() + 1, word: None });
    Ok(out)
}

fn describe(t: &Token) -> String {
    match &t.tok {
        Tok::Path(p) => format!("`{}`", p.join(".")),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Num(n) => format!("{n}"),
        Tok::Op(op) => format!("`{}`", op.as_str()),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::End => "the end".into(),
    }
}

const KEYWORDS: &[&str] = &["AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"];

struct Parser<'a> {
    field: &'a str,
    target: Target,
    tokens: Vec<Token>,
    pos: usize,
    predicates: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn is_word(&self, word: &str) -> bool {
        self.peek().word.as_deref() == Some(word)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let yes = self.is_word(word);
        if yes {
            self.next();
        }
        yes
    }

    fn expected(&self, what: &str) -> Error {
        let t = self.peek();
        err(self.field, t.at, format!("expected {what}, found {}", describe(t)))
    }

    fn or(&mut self, depth: usize) -> Result<Expr> {
        let mut left = self.and(depth)?;
        while self.eat_word("OR") {
            let right = self.and(depth)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Expr> {
        let mut left = self.unary(depth)?;
        while self.eat_word("AND") {
            let right = self.unary(depth)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr> {
        if depth >= MAX_DEPTH {
            return Err(err(self.field, self.peek().at, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        if self.eat_word("NOT") {
            return Ok(Expr::Not(Box::new(self.unary(depth + 1)?)));
        }
        if self.peek().tok == Tok::LParen {
            self.next();
            let inner = self.or(depth + 1)?;
            if self.peek().tok != Tok::RParen {
                return Err(self.expected("`)`"));
            }
            self.next();
            return Ok(inner);
        }
        self.predicate()
    }

    fn field(&mut self) -> Result<(Field, usize)> {
        let t = self.next();
        let Tok::Path(segments) = &t.tok else {
            self.pos -= usize::from(t.tok != Tok::End);
            return Err(err(self.field, t.at, format!("expected a field, found {}", describe(&t))));
        };
        if t.word.as_deref().is_some_and(|w| KEYWORDS.contains(&w)) {
            return Err(err(
                self.field,
                t.at,
                format!("expected a field, found the keyword {}", describe(&t)),
            ));
        }
        let unknown = || {
            err(
                self.field,
                t.at,
                format!(
                    "unknown field `{}`; fields are name, namespace, version, status, description, owner, \
                     created_at, updated_at, created_by, binding, metrics.<key>, params.<key>, tags.<key>, \
                     lineage.dataset, lineage.code_ref, lineage.run_id, lineage.parent, card, \
                     annotations.kind",
                    segments.join(".")
                ),
            )
        };
        let field = match segments.as_slice() {
            [one] => match one.as_str() {
                "name" => Field::Name,
                "namespace" => Field::Namespace,
                "version" => Field::Version,
                "status" => Field::Status,
                "description" => Field::Description,
                "owner" => Field::Owner,
                "created_at" => Field::CreatedAt,
                "updated_at" => Field::UpdatedAt,
                "created_by" => Field::CreatedBy,
                "binding" => Field::Binding,
                "card" => Field::Card,
                _ => return Err(unknown()),
            },
            [prefix, key] => {
                if key.is_empty() || key.chars().count() > 250 {
                    return Err(err(self.field, t.at, "a key has 1 to 250 characters"));
                }
                match prefix.as_str() {
                    "metrics" => Field::Metric(key.clone()),
                    "params" => Field::Param(key.clone()),
                    "tags" => Field::Tag(key.clone()),
                    "lineage" => match key.as_str() {
                        "dataset" => Field::LineageDataset,
                        "code_ref" => Field::LineageCodeRef,
                        "run_id" => Field::LineageRunId,
                        "parent" => Field::LineageParent,
                        _ => return Err(unknown()),
                    },
                    "annotations" if key == "kind" => Field::AnnotationKind,
                    _ => return Err(unknown()),
                }
            }
            _ => return Err(unknown()),
        };
        if !field.applies_to(self.target) {
            return Err(err(
                self.field,
                t.at,
                format!("`{}` is a field of versions, not of {}", field.spelling(), self.target.noun()),
            ));
        }
        Ok((field, t.at))
    }

    /// A literal for `field`, type-checked.
    fn value(&mut self, field: &Field) -> Result<Value> {
        let t = self.next();
        let mismatch = |want: &str| {
            err(
                self.field,
                t.at,
                format!("`{}` compares with {want}, found {}", field.spelling(), describe(&t)),
            )
        };
        match (field.ty(), &t.tok) {
            (Type::Number, Tok::Num(n)) => {
                if *field == Field::Version && (n.fract() != 0.0 || *n < 1.0) {
                    return Err(mismatch("a version number (1, 2, ...)"));
                }
                Ok(Value::Number(*n))
            }
            (Type::Number, _) => Err(mismatch("a number")),
            (Type::Time, Tok::Str(s)) => parse_rfc3339(s).map(Value::Time).ok_or_else(|| {
                err(self.field, t.at, format!("{s:?} is not an RFC 3339 time such as 2026-11-30T12:00:00Z"))
            }),
            (Type::Time, _) => Err(mismatch("an RFC 3339 time in quotes")),
            (Type::Text, Tok::Str(s)) => {
                if *field == Field::Status && VersionStatus::parse(s).is_none() {
                    return Err(err(
                        self.field,
                        t.at,
                        format!("{s:?} is not a status: READY, ARCHIVED or DELETED"),
                    ));
                }
                if *field == Field::AnnotationKind && crate::annotation::AnnotationKind::parse(s).is_none() {
                    return Err(err(
                        self.field,
                        t.at,
                        format!(
                            "{s:?} is not an annotation kind: {}",
                            crate::annotation::AnnotationKind::names()
                        ),
                    ));
                }
                Ok(Value::Text(s.clone()))
            }
            (Type::Text, _) => Err(mismatch("a string in quotes")),
        }
    }

    fn predicate(&mut self) -> Result<Expr> {
        let (field, at) = self.field()?;
        self.predicates += 1;
        if self.predicates > MAX_PREDICATES {
            return Err(err(self.field, at, format!("more than {MAX_PREDICATES} comparisons")));
        }
        if let Tok::Op(op) = self.peek().tok {
            self.next();
            if field.is_multi() && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(err(
                    self.field,
                    at,
                    format!("`{}` compares with = or != only", field.spelling()),
                ));
            }
            if field.ty() == Type::Text && field == Field::Status && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(err(self.field, at, "`status` compares with = or != only"));
            }
            let value = self.value(&field)?;
            return Ok(Expr::Compare { field, op, value });
        }
        if self.eat_word("IS") {
            let negated = self.eat_word("NOT");
            if !self.eat_word("NULL") {
                return Err(self.expected("NULL"));
            }
            if !field.is_optional() {
                return Err(err(self.field, at, format!("`{}` is never null", field.spelling())));
            }
            return Ok(Expr::IsNull { field, negated });
        }
        let negated = self.eat_word("NOT");
        if self.eat_word("IN") {
            if self.peek().tok != Tok::LParen {
                return Err(self.expected("`(`"));
            }
            self.next();
            let mut values = vec![self.value(&field)?];
            while self.peek().tok == Tok::Comma {
                self.next();
                values.push(self.value(&field)?);
                if values.len() > MAX_IN_VALUES {
                    return Err(err(self.field, at, format!("IN takes at most {MAX_IN_VALUES} values")));
                }
            }
            if self.peek().tok != Tok::RParen {
                return Err(self.expected("`,` or `)`"));
            }
            self.next();
            return Ok(Expr::In { field, values, negated });
        }
        let case_insensitive = self.is_word("ILIKE");
        if self.eat_word("LIKE") || self.eat_word("ILIKE") {
            if field.ty() != Type::Text || field == Field::Status {
                return Err(err(
                    self.field,
                    at,
                    format!("`{}` is not text: LIKE does not apply", field.spelling()),
                ));
            }
            let t = self.next();
            let Tok::Str(pattern) = t.tok else {
                return Err(err(
                    self.field,
                    t.at,
                    format!("LIKE takes a pattern in quotes, found {}", describe(&t)),
                ));
            };
            return Ok(Expr::Like { field, pattern, case_insensitive, negated });
        }
        Err(self.expected(if negated {
            "IN, LIKE or ILIKE"
        } else {
            "a comparison (= != < <= > >=), IN, LIKE, ILIKE or IS [NOT] NULL"
        }))
    }
}

/// Parses a filter for `target`; empty (or blank) is no filter.
pub fn parse_filter(target: Target, text: &str) -> Result<Option<Expr>> {
    let tokens = lex("filter", text)?;
    if tokens.len() == 1 {
        return Ok(None);
    }
    let mut p = Parser { field: "filter", target, tokens, pos: 0, predicates: 0 };
    let expr = p.or(0)?;
    if p.peek().tok != Tok::End {
        return Err(p.expected("AND, OR or the end"));
    }
    Ok(Some(expr))
}

/// Parses `order_by`: `field [ASC|DESC], ...` over one-valued fields.
pub fn parse_order(target: Target, text: &str) -> Result<Vec<OrderKey>> {
    let tokens = lex("order_by", text)?;
    let mut p = Parser { field: "order_by", target, tokens, pos: 0, predicates: 0 };
    let mut keys = Vec::new();
    if p.peek().tok == Tok::End {
        return Ok(keys);
    }
    loop {
        let (field, at) = p.field()?;
        if field.is_multi() {
            return Err(err(
                "order_by",
                at,
                format!("`{}` has many values per row; it cannot order", field.spelling()),
            ));
        }
        if !field.orders() {
            return Err(err("order_by", at, format!("`{}` is free text; it cannot order", field.spelling())));
        }
        let descending = if p.eat_word("DESC") {
            true
        } else {
            p.eat_word("ASC");
            false
        };
        keys.push(OrderKey { field, descending });
        if keys.len() > MAX_ORDER_KEYS {
            return Err(err("order_by", at, format!("at most {MAX_ORDER_KEYS} keys")));
        }
        match p.peek().tok {
            Tok::Comma => {
                p.next();
            }
            Tok::End => return Ok(keys),
            _ => return Err(p.expected("`,`, ASC, DESC or the end")),
        }
    }
}
