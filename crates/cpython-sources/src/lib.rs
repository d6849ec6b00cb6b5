//! CPython source releases: which ones we support, where they come from, how
//! they are checked and unpacked, and how our patch series is applied to them.

pub mod patchlevel;
