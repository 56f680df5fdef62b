//! provindex-signals: pure logic (no I/O) for per-capture signals.
//!
//! * [`urls`]: SURT keys, registered domains, lookup scan prefixes.
//! * [`license`]: Creative Commons license detection from HTML.
//! * [`optout`]: opt-out / rights-reservation signals (TDMRep, noai,
//!   aipref `Content-Usage`, Cloudflare `Content-Signal`, robots.txt AI
//!   tokens, ai.txt) and the per-capture verdict.
//!
//! HTML is read with html5ever's streaming tokenizer (no DOM); nothing here
//! panics on input or does I/O.

mod html;
pub mod license;
pub mod optout;
mod rights_zh;
mod robots;
mod swar;
mod time;
pub mod urls;
mod visible_text;

pub use html::{HtmlScanner, HtmlTag, Section};
pub use license::{
    CcKind, CcLicense, LicenseCandidate, LicenseClass, LicenseFinding, LicenseLocation,
    detect_license, detect_license_at, parse_cc_text, parse_cc_url,
};
pub use optout::{
    AI_CRAWLER_TOKENS, RobotsTxt, Signal, SignalKind, SignalSource, Stance, Verdict,
    ai_txt_reservations, analyze_html, combine, effective_tdm, header_signals, html_signals,
    robots_reservations, stamp, tdmrep_json_signals,
};
pub use time::utc;
pub use urls::{
    MAX_HOSTNAME_BYTES, MAX_LABEL_BYTES, MatchMode, Surt, UrlError, domain_key_matches,
    hostname_problem, key_matches, registered_domain, surt, surt_prefix, surt_scan_prefix,
    url_prefix_covers,
};
