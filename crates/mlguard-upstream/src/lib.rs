#![doc = include_str!("../README.md")]

mod cache;
mod client;
mod forward;
mod lookups;

pub use client::{UpstreamClient, UpstreamError, UpstreamOptions};
pub use lookups::TrackingLookups;
