//! Read nodes (design.md §3): a [`Cache`] of every binding, kept current by a [`Follower`] that
//! applies a [`bindery_core::ChangeFeed`] in revision order, and [`ReaderService`], the
//! `ResolverService` answered from the cache alone.

mod cache;
mod follower;
mod redirect;
mod service;

pub use cache::{Cache, Event, Subscription, Target, WatchFilter, WatchMessage};
pub use follower::{FeedStatus, Follower, FollowerConfig};
pub use redirect::{PRIMARY_HEADER, WriteRedirect};
pub use service::{ReaderService, WatchLimits};
