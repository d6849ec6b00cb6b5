//! CPython source releases: which ones we support, where they come from, how
//! they are checked and unpacked, and how our patch series is applied to them.

pub mod debian;
pub mod dep3;
pub mod download;
pub mod export;
pub mod extract;
pub mod fetch;
pub mod patch;
pub mod patchlevel;
pub mod series;
pub mod versions;
