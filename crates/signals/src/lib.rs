//! provindex-signals: pure logic (no I/O) for per-capture signals.
//!
//! * [`urls`]: SURT keys, registered domains, lookup scan prefixes.
//! * [`license`]: Creative Commons license detection from HTML.
//! * opt-out / rights-reservation signals (see the other modules).

mod html;
pub mod license;
pub mod urls;

pub use html::Section;
pub use license::{
    CcKind, CcLicense, LicenseCandidate, LicenseClass, LicenseFinding, LicenseLocation,
    detect_license, detect_license_at, parse_cc_text, parse_cc_url,
};
pub use urls::{
    MatchMode, Surt, UrlError, domain_key_matches, key_matches, registered_domain, surt,
    surt_prefix, surt_scan_prefix,
};
