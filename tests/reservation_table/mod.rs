//! The hand-computed expectations for `tests/data/reservations/reservations.warc.gz`
//! (written by `tests/data/reservations/make.py`; the same table, in prose, is
//! in `tests/data/README.md`). Every verdict here was worked out from the
//! record's headers, markup and its site's files by the rules documented in
//! `crates/signals/src/optout.rs` and `crates/pipeline/src/site_signals.rs`,
//! not taken from the index.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The reservation crawl, inside the repository.
pub fn reservations_warc() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/reservations/reservations.warc.gz");
    assert!(
        path.is_file(),
        "reservation crawl not found at {}",
        path.display()
    );
    path
}

/// One expected opt-out signal of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sig {
    pub kind: &'static str,
    pub source: &'static str,
    pub stance: &'static str,
    pub value: &'static str,
    /// Empty: every agent.
    pub agent: &'static str,
}

const fn sig(
    kind: &'static str,
    source: &'static str,
    stance: &'static str,
    value: &'static str,
    agent: &'static str,
) -> Sig {
    Sig {
        kind,
        source,
        stance,
        value,
        agent,
    }
}

/// One capture of the crawl and what the index must say about it.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    pub url: &'static str,
    pub date: &'static str,
    /// The capture's verdict, which is also CheckOptOut's verdict for the URL
    /// (each URL is captured once).
    pub verdict: &'static str,
    /// Index in `signals` of the deciding signal.
    pub decider: Option<usize>,
    /// Every signal, in the order the index stores them (page headers, page
    /// meta, then robots.txt, tdmrep.json, ai.txt).
    pub signals: &'static [Sig],
}

const RES: &str = "reserved";
const NOT: &str = "not_reserved";
const UNK: &str = "unknown";

pub const NOVEL: &str = "https://tdmrep-json.example/books/novel.html";
pub const MIRROR: &str = "https://mirror.example/syndicated/novel.html";

/// Every capture, in the order of the WARC file.
pub const CAPTURES: &[Expect] = &[
    // ---- site files: no rule of their own site covers them ----------------
    // tdmrep.json's only rule is for /books/*.
    Expect {
        url: "https://tdmrep-json.example/.well-known/tdmrep.json",
        date: "2024-05-01T08:00:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    // robots.txt is never evaluated against itself.
    Expect {
        url: "https://robots-ai.example/robots.txt",
        date: "2024-05-01T08:01:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    Expect {
        url: "https://robots-pref.example/robots.txt",
        date: "2024-05-01T08:02:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    // ai.txt: `Allow: /` is the longest match for /ai.txt.
    Expect {
        url: "https://ai-txt.example/ai.txt",
        date: "2024-05-01T08:03:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    // ---- TDMRep HTTP header ------------------------------------------------
    Expect {
        url: "https://tdm-header.example/articles/reserved.html",
        date: "2024-05-01T09:00:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[
            sig("tdm_reservation", "http_header", RES, "1", ""),
            sig(
                "tdm_policy",
                "http_header",
                "info",
                "https://tdm-header.example/policies/tdm.json",
                "",
            ),
        ],
    },
    Expect {
        url: "https://tdm-header.example/articles/open.html",
        date: "2024-05-01T09:01:00Z",
        verdict: NOT,
        decider: Some(0),
        signals: &[sig("tdm_reservation", "http_header", NOT, "0", "")],
    },
    // ---- TDMRep HTML meta -----------------------------------------------------
    Expect {
        url: "https://tdm-meta.example/papers/reserved.html",
        date: "2024-05-01T09:02:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[
            sig("tdm_reservation", "html_meta", RES, "1", ""),
            sig(
                "tdm_policy",
                "html_meta",
                "info",
                "https://tdm-meta.example/policies/tdm.json",
                "",
            ),
        ],
    },
    Expect {
        url: "https://tdm-meta.example/papers/plain.html",
        date: "2024-05-01T09:03:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    // ---- tdmrep.json ({"location": "/books/*", "tdm-reservation": 1}) -------
    Expect {
        url: NOVEL,
        date: "2024-05-01T09:04:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[
            sig("tdm_reservation", "tdmrep_json", RES, "1", ""),
            sig(
                "tdm_policy",
                "tdmrep_json",
                "info",
                "https://tdmrep-json.example/policies/tdm.json",
                "",
            ),
        ],
    },
    // The page's own <meta name="tdm-reservation" content="0"> supersedes
    // tdmrep.json (TDMRep: HTML meta > HTTP header > tdmrep.json).
    Expect {
        url: "https://tdmrep-json.example/books/sample.html",
        date: "2024-05-01T09:05:00Z",
        verdict: NOT,
        decider: Some(0),
        signals: &[
            sig("tdm_reservation", "html_meta", NOT, "0", ""),
            sig("tdm_reservation", "tdmrep_json", RES, "1", ""),
            sig(
                "tdm_policy",
                "tdmrep_json",
                "info",
                "https://tdmrep-json.example/policies/tdm.json",
                "",
            ),
        ],
    },
    // /blog/ is outside /books/*: no rule, no signal.
    Expect {
        url: "https://tdmrep-json.example/blog/post.html",
        date: "2024-05-01T09:06:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    // ---- X-Robots-Tag --------------------------------------------------------
    // `noai, noimageai`: both reserve; the first in order decides.
    Expect {
        url: "https://noai-header.example/photos/a.html",
        date: "2024-05-01T09:07:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[
            sig("noai", "http_header", RES, "noai", ""),
            sig("noimageai", "http_header", RES, "noimageai", ""),
        ],
    },
    Expect {
        url: "https://noai-header.example/photos/b.html",
        date: "2024-05-01T09:08:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[sig("noimageai", "http_header", RES, "noimageai", "")],
    },
    // `X-Robots-Tag: noarchive` is no AI signal.
    Expect {
        url: "https://noai-header.example/index.html",
        date: "2024-05-01T09:09:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    // ---- <meta name="robots"> ------------------------------------------------
    Expect {
        url: "https://noai-meta.example/gallery/a.html",
        date: "2024-05-01T09:10:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[
            sig("noai", "html_meta", RES, "noai", ""),
            sig("noimageai", "html_meta", RES, "noimageai", ""),
        ],
    },
    Expect {
        url: "https://noai-meta.example/gallery/b.html",
        date: "2024-05-01T09:11:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[sig("noimageai", "html_meta", RES, "noimageai", "")],
    },
    // `content="index, follow"`.
    Expect {
        url: "https://noai-meta.example/about.html",
        date: "2024-05-01T09:12:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    // ---- Content-Usage header --------------------------------------------------
    Expect {
        url: "https://content-usage.example/reports/a.html",
        date: "2024-05-01T09:13:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[sig("content_usage", "http_header", RES, "train-ai=n", "")],
    },
    Expect {
        url: "https://content-usage.example/reports/b.html",
        date: "2024-05-01T09:14:00Z",
        verdict: NOT,
        decider: Some(0),
        signals: &[sig("content_usage", "http_header", NOT, "train-ai=y", "")],
    },
    // ---- Content-Signal header -------------------------------------------------
    // `search=yes` is information only; `ai-train=no` reserves.
    Expect {
        url: "https://content-signal.example/news/a.html",
        date: "2024-05-01T09:15:00Z",
        verdict: RES,
        decider: Some(1),
        signals: &[
            sig("content_signal", "http_header", "info", "search=yes", ""),
            sig("content_signal", "http_header", RES, "ai-train=no", ""),
        ],
    },
    Expect {
        url: "https://content-signal.example/news/b.html",
        date: "2024-05-01T09:16:00Z",
        verdict: NOT,
        decider: Some(2),
        signals: &[
            sig("content_signal", "http_header", "info", "search=yes", ""),
            sig("content_signal", "http_header", "info", "ai-input=yes", ""),
            sig("content_signal", "http_header", NOT, "ai-train=yes", ""),
        ],
    },
    // ---- robots.txt: GPTBot /private/; CCBot + Google-Extended /drafts/; * /tmp/
    Expect {
        url: "https://robots-ai.example/private/report.html",
        date: "2024-05-01T09:17:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[sig(
            "robots_disallow",
            "robots_txt",
            RES,
            "/private/",
            "GPTBot",
        )],
    },
    // Both named agents' groups disallow it; CCBot comes first in the token list.
    Expect {
        url: "https://robots-ai.example/drafts/chapter.html",
        date: "2024-05-01T09:18:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[
            sig("robots_disallow", "robots_txt", RES, "/drafts/", "CCBot"),
            sig(
                "robots_disallow",
                "robots_txt",
                RES,
                "/drafts/",
                "Google-Extended",
            ),
        ],
    },
    // A `User-agent: *` disallow restricts crawling; it is no AI reservation.
    Expect {
        url: "https://robots-ai.example/tmp/scratch.html",
        date: "2024-05-01T09:19:00Z",
        verdict: UNK,
        decider: None,
        signals: &[sig("robots_disallow", "robots_txt", "info", "/tmp/", "*")],
    },
    Expect {
        url: "https://robots-ai.example/public/welcome.html",
        date: "2024-05-01T09:20:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    // ---- robots.txt Content-Usage: `/archive/ train-ai=n`, else `train-ai=y` --
    Expect {
        url: "https://robots-pref.example/archive/2019.html",
        date: "2024-05-01T09:21:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[sig("content_usage", "robots_txt", RES, "train-ai=n", "")],
    },
    Expect {
        url: "https://robots-pref.example/current.html",
        date: "2024-05-01T09:22:00Z",
        verdict: NOT,
        decider: Some(0),
        signals: &[sig("content_usage", "robots_txt", NOT, "train-ai=y", "")],
    },
    // ---- ai.txt: `User-Agent: *` / `Disallow: /art/` --------------------------
    Expect {
        url: "https://ai-txt.example/art/portrait.html",
        date: "2024-05-01T09:23:00Z",
        verdict: RES,
        decider: Some(0),
        signals: &[sig("ai_txt_disallow", "ai_txt", RES, "/art/", "")],
    },
    Expect {
        url: "https://ai-txt.example/shop/index.html",
        date: "2024-05-01T09:24:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
    // ---- the novel's HTML again, on a host without any signal ----------------
    Expect {
        url: MIRROR,
        date: "2024-05-01T10:30:00Z",
        verdict: UNK,
        decider: None,
        signals: &[],
    },
];

/// Captures in the crawl (one per URL).
pub const CAPTURE_COUNT: u64 = 30;
/// Distinct texts: every capture has its own except the mirror, which has
/// the novel's.
pub const CONTENT_COUNT: u64 = 29;
/// Site files the index keeps (tdmrep.json, 2 robots.txt, ai.txt).
pub const SITE_FILES: u64 = 4;
/// URLs whose CheckOptOut verdict is `reserved` / `not_reserved` / `unknown`.
pub const URLS_RESERVED: usize = 13;
pub const URLS_NOT_RESERVED: usize = 5;
pub const URLS_UNKNOWN: usize = 12;

/// `provindex export` without a registry: contents excluded, by reason (the
/// kind of the deciding signal of the reserved capture). The novel counts once,
/// for its tdmrep.json reservation, although its mirror capture is unreserved.
pub const EXPORT_EXCLUDED: &[(&str, u64)] = &[
    ("crawl_signal:ai_txt_disallow", 1),
    ("crawl_signal:content_signal", 1),
    ("crawl_signal:content_usage", 2),
    ("crawl_signal:noai", 2),
    ("crawl_signal:noimageai", 2),
    ("crawl_signal:robots_disallow", 2),
    ("crawl_signal:tdm_reservation", 3),
];
/// Contents the export keeps: 29 - 13 (none is a near-duplicate).
pub const EXPORT_KEPT: u64 = 16;

/// The URL of every kept content (its earliest capture): the unreserved and
/// the explicitly not-reserved pages, and the four site files.
pub const KEPT_URLS: &[&str] = &[
    "https://ai-txt.example/ai.txt",
    "https://ai-txt.example/shop/index.html",
    "https://content-signal.example/news/b.html",
    "https://content-usage.example/reports/b.html",
    "https://noai-header.example/index.html",
    "https://noai-meta.example/about.html",
    "https://robots-ai.example/public/welcome.html",
    "https://robots-ai.example/robots.txt",
    "https://robots-ai.example/tmp/scratch.html",
    "https://robots-pref.example/current.html",
    "https://robots-pref.example/robots.txt",
    "https://tdm-header.example/articles/open.html",
    "https://tdm-meta.example/papers/plain.html",
    "https://tdmrep-json.example/.well-known/tdmrep.json",
    "https://tdmrep-json.example/blog/post.html",
    "https://tdmrep-json.example/books/sample.html",
];

/// The expectation for `url`.
pub fn expect(url: &str) -> &'static Expect {
    CAPTURES
        .iter()
        .find(|e| e.url == url)
        .unwrap_or_else(|| panic!("{url} is not in the reservation crawl"))
}
