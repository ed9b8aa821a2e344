//! Read nodes (design.md §3): a [`Cache`] of every binding, kept current by a [`Follower`] that
//! applies a [`bindery_core::ChangeFeed`] in revision order, and [`ReaderService`], the
//! `ResolverService` answered from the cache alone. A node can also follow another read node
//! ([`UpstreamFeed`], a tier-2 node) and let others follow it ([`ReplicationServer`]).

mod cache;
mod follower;
mod redirect;
mod replication;
mod service;
mod upstream;

pub use cache::{Cache, ChangesAfter, Event, Subscription, Target, WatchFilter, WatchMessage};
pub use follower::{FeedStatus, Follower, FollowerConfig};
pub use redirect::{PRIMARY_HEADER, WriteRedirect};
pub use replication::ReplicationServer;
pub use service::{ReaderService, WatchLimits};
pub use upstream::{UpstreamConnection, UpstreamFeed};
