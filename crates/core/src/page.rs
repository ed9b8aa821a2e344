//! Pagination: bounded page sizes and opaque page tokens.
//!
//! A token is the hex encoding of `<kind>:<cursor>`, where the cursor is the sort key of the last
//! item returned. The kind stops a token from one listing being replayed against another.

use crate::{Error, Result};

pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1_000;
/// What one list answer may weigh: a page of large items ends early and continues after the
/// last item it carries.
pub const MAX_ANSWER_BYTES: usize = 3 * 1024 * 1024;

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

    /// The page as an answer: each item converted once and kept while the converted items
    /// weigh at most `max_bytes` (as `size_of` says; at least one item). When items are dropped
    /// the token continues after the last one kept. Returns the items and the `kind` token.
    pub fn into_answer<P>(
        self,
        kind: &str,
        max_bytes: usize,
        convert: impl Fn(T) -> P,
        size_of: impl Fn(&P) -> usize,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> (Vec<P>, String) {
        let mut out = Vec::with_capacity(self.items.len());
        let (mut total, mut last, mut next) = (0usize, None, self.next);
        for item in self.items {
            let cursor = cursor_of(&item);
            let answer = convert(item);
            total = total.saturating_add(size_of(&answer));
            if total > max_bytes && !out.is_empty() {
                next = last;
                break;
            }
            out.push(answer);
            last = Some(cursor);
        }
        (out, next.map(|c| encode(kind, &c)).unwrap_or_default())
    }

    /// The opaque token for `next`, empty on the last page.
    pub fn next_token(&self, kind: &str) -> String {
        self.next.as_ref().map(|c| encode(kind, c)).unwrap_or_default()
    }

    /// The page of `all` a request asks for when the cursor is a position in it (e.g. the
    /// files of a manifest): `size` items from the offset its token carries.
    pub fn of_slice<'a>(all: &'a [T], request: &PageRequest) -> Page<&'a T> {
        let start = usize::try_from(request.after_number().unwrap_or(0)).unwrap_or(usize::MAX);
        let end = start.saturating_add(request.size as usize);
        let items = all.get(start..end.min(all.len())).unwrap_or_default().iter().collect();
        let next = (end < all.len()).then_some(Cursor::Number(end as u64));
        Page { items, next }
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
        let token = |n| Page::<()> { items: vec![], next: Some(Cursor::Number(n)) }.next_token("t");
        let fitted = page.clone().into_answer("t", 7, |n| n, |_| 3, |n| Cursor::Number(*n));
        assert_eq!(fitted, (vec![4, 3], token(3)));
        let one = page.into_answer("t", 1, |n| n, |_| 3, |n| Cursor::Number(*n));
        assert_eq!(one.0, vec![4], "at least one item");
        let all = Page { items: vec![2u64, 1], next: Some(Cursor::Number(1)) }.into_answer(
            "t",
            100,
            |n| n,
            |_| 3,
            |n| Cursor::Number(*n),
        );
        assert_eq!((all.0.len(), all.1), (2, token(1)), "untouched when it fits");
    }

    #[test]
    fn slices_page_by_offset_and_chain() {
        let files: Vec<u32> = (0..2_500).collect();
        let first = PageRequest::parse("files", 1_000, "").unwrap();
        let page = Page::of_slice(&files, &first);
        assert_eq!((page.items.len(), page.items.first().copied()), (1_000, Some(&0)));
        let second = PageRequest::parse("files", 1_000, &page.next_token("files")).unwrap();
        let page = Page::of_slice(&files, &second);
        assert_eq!(page.items.first().copied(), Some(&1_000));
        let third = PageRequest::parse("files", 10, &page.next_token("files")).unwrap();
        assert_eq!(Page::of_slice(&files, &third).items.first().copied(), Some(&2_000));
        let last = PageRequest::parse("files", 1_000, &page.next_token("files")).unwrap();
        assert_eq!(Page::of_slice(&files, &last).next_token("files"), "", "nothing after the last page");
        assert!(PageRequest::parse("files", 1_001, "").is_err());
        for bad in ["x", "files:", "12"] {
            assert!(PageRequest::parse("files", 0, bad).is_err(), "{bad}");
        }
        assert!(
            Page::of_slice(&files, &PageRequest { size: 10, after: Some(Cursor::Number(u64::MAX)) })
                .items
                .is_empty()
        );
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
