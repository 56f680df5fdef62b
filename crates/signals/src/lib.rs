//! provindex-signals: pure logic (no I/O) for per-capture signals.
//!
//! * [`urls`]: SURT keys, registered domains, lookup scan prefixes.
//! * license detection and opt-out signals (see the other modules).

pub mod urls;

pub use urls::{
    MatchMode, Surt, UrlError, domain_key_matches, key_matches, registered_domain, surt,
    surt_prefix, surt_scan_prefix,
};
