//! Pagination: bounded page sizes and opaque page tokens.
//!
//! A token is the hex encoding of `<kind>:<cursor>`, where the cursor is the sort key of the last
//! item returned. The kind stops a token from one listing being replayed against another.

use crate::{Error, Result};

pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// The sort key a page continues after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// Models, by name ascending.
    Name(String),
    /// Versions (descending) or history generations (descending).
    Number(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub size: u32,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Validates a request's `page_size` and `page_token` for the listing `kind`.
    pub fn parse(kind: &str, page_size: u32, page_token: &str) -> Result<Self> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n > MAX_PAGE_SIZE => {
                return Err(Error::invalid(
                    "page_size",
                    format!("{n} is too large; at most {MAX_PAGE_SIZE}"),
                ));
            }
            n => n,
        };
        let after = if page_token.is_empty() { None } else { Some(decode(kind, page_token)?) };
        Ok(Self { size, after })
    }

    pub fn after_name(&self) -> Option<&str> {
        match &self.after {
            Some(Cursor::Name(n)) => Some(n),
            _ => None,
        }
    }

    pub fn after_number(&self) -> Option<u64> {
        match self.after {
            Some(Cursor::Number(n)) => Some(n),
            _ => None,
        }
    }
}

/// One page of results; `next` is the cursor to continue after, `None` on the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `size + 1` rows fetched in order: the extra row only tells that
    /// more exist.
    pub fn from_rows(mut rows: Vec<T>, size: u32, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let size = size as usize;
        let next = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(cursor_of)
        } else {
            None
        };
        Self { items: rows, next }
    }

    /// What one answer may weigh: a page whose items would pass it ends early (at least one
    /// item), and `next` continues after the last one kept.
    pub const MAX_ANSWER_BYTES: usize = 3 * 1024 * 1024;

    /// Keeps the leading items that fit in `max_bytes` (as `size_of` weighs them; at least one)
    /// and points `next` after the last one kept when any were dropped.
    #[must_use]
    pub fn fit(
        mut self,
        max_bytes: usize,
        size_of: impl Fn(&T) -> usize,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Self {
        let mut total = 0usize;
        let keep = self
            .items
            .iter()
            .position(|item| {
                total = total.saturating_add(size_of(item));
                total > max_bytes
            })
            .map_or(self.items.len(), |i| i.max(1));
        if keep < self.items.len() {
            self.items.truncate(keep);
            self.next = self.items.last().map(cursor_of);
        }
        self
    }

    /// The opaque token for `next`, empty on the last page.
    pub fn next_token(&self, kind: &str) -> String {
        self.next.as_ref().map(|c| encode(kind, c)).unwrap_or_default()
    }
}

fn encode(kind: &str, cursor: &Cursor) -> String {
    let raw = match cursor {
        Cursor::Name(n) => format!("{kind}:s:{n}"),
        Cursor::Number(n) => format!("{kind}:n:{n}"),
    };
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode(kind: &str, token: &str) -> Result<Cursor> {
    let invalid =
        || Error::invalid("page_token", "is not a token returned by this listing; start again without one");
    if !token.len().is_multiple_of(2) || token.len() > 1_024 {
        return Err(invalid());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
    let rest = raw.strip_prefix(kind).and_then(|r| r.strip_prefix(':')).ok_or_else(invalid)?;
    match rest.split_once(':') {
        Some(("s", name)) => Ok(Cursor::Name(name.to_owned())),
        Some(("n", n)) => n.parse().map(Cursor::Number).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_fit_their_byte_budget() {
        let page = Page { items: vec![4u64, 3, 2, 1], next: None };
        let fitted = page.clone().fit(7, |_| 3, |n| Cursor::Number(*n));
        assert_eq!((fitted.items, fitted.next), (vec![4, 3], Some(Cursor::Number(3))));
        let one = page.fit(1, |_| 3, |n| Cursor::Number(*n));
        assert_eq!(one.items, vec![4], "at least one item");
        let all = Page { items: vec![2u64, 1], next: Some(Cursor::Number(1)) }.fit(
            100,
            |_| 3,
            |n| Cursor::Number(*n),
        );
        assert_eq!((all.items.len(), all.next), (2, Some(Cursor::Number(1))), "untouched when it fits");
    }

    #[test]
    fn tokens_round_trip_and_are_kind_bound() {
        let page = Page { items: vec![1], next: Some(Cursor::Name("team/fraud".into())) };
        let token = page.next_token("models");
        let req = PageRequest::parse("models", 10, &token).ok();
        assert_eq!(req.and_then(|r| r.after), Some(Cursor::Name("team/fraud".into())));
        assert!(PageRequest::parse("versions", 10, &token).is_err());
        assert!(PageRequest::parse("models", 10, "zz").is_err());
        assert!(PageRequest::parse("models", 1_001, "").is_err());
        assert_eq!(PageRequest::parse("models", 0, "").map(|r| r.size).ok(), Some(DEFAULT_PAGE_SIZE));
    }

    #[test]
    fn from_rows_uses_the_extra_row_only_as_a_signal() {
        let p = Page::from_rows(vec![5u64, 4, 3], 2, |v| Cursor::Number(*v));
        assert_eq!(p.items, vec![5, 4]);
        assert_eq!(p.next, Some(Cursor::Number(4)));
        let p = Page::from_rows(vec![5u64, 4], 2, |v| Cursor::Number(*v));
        assert_eq!(p.next, None);
    }
}
