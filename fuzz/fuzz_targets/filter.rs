//! Any text as a filter and as an `order_by`, on both targets: the parser never panics, every
//! failure is INVALID_ARGUMENT, and whatever parses compiles to SQL for both stores without
//! panicking.
//!
//! `cargo +nightly fuzz run filter` (from the repository root; cargo-fuzz installed). The stable
//! CI runs the bounded property tests in `crates/core/src/filter/tests.rs` instead.

#![no_main]

use bindery_core::Error;
use bindery_core::filter::{Search, Target};
use bindery_filter_sql::{Dialect, compile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line is the filter, the rest the order.
    let (filter, order) = text.split_once('\n').unwrap_or((text, ""));
    for target in [Target::Versions, Target::Models] {
        match Search::parse(target, filter, order, None) {
            Ok(search) => {
                for dialect in [Dialect::Postgres, Dialect::Sqlite] {
                    let compiled = compile(&search, dialect, &bindery_core::Visibility::All, None);
                    assert!(compiled.is_ok(), "{filter:?} / {order:?} parsed but did not compile");
                }
            }
            Err(Error::InvalidArgument(_)) => {}
            Err(other) => panic!("{filter:?} / {order:?}: {other:?}"),
        }
    }
});
