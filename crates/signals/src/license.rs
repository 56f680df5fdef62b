//! Creative Commons license detection from HTML.
//!
//! # What counts
//!
//! A license is any Creative Commons license or public-domain tool named by
//! URL (`creativecommons.org/licenses/<type>/<version>/[<jurisdiction>/]`,
//! `/publicdomain/zero/1.0/`, `/publicdomain/mark/1.0/`,
//! `/licenses/publicdomain/`) or, in metadata values only, by name
//! (`CC BY-SA 4.0`, `CC-BY-4.0`, `Creative Commons Attribution-ShareAlike 4.0`,
//! `CC0`). Every license type of every version 1.0–4.0 is recognized,
//! ported (`/licenses/by/3.0/de/`) ones included.
//!
//! Where it can be found, ranked (higher wins):
//!
//! | rank | [`LicenseLocation`] | element |
//! |---|---|---|
//! | 5 | `meta` | `<meta name\|property\|itemprop=…>` with name `dc.rights`, `dcterms.rights`, `dc.license`, `dcterms.license`, `license`, `rights`, `cc:license`, `dc:rights`, `dcterms:license`, `og:license`, `copyright` |
//! | 4 | `json_ld` | `"license"` of a top-level JSON-LD object, a `@graph` member or a `mainEntity` that is not a media object (ImageObject, VideoObject, AudioObject, MediaObject, Photograph) |
//! | 3 | `link_rel` | `<link rel="license">` (also `cc:license`, `dc:license`, `dcterms:license` rel tokens and `itemprop="license"`) |
//! | 2 | `anchor_rel` | `<a rel="license">` (same tokens) |
//! | 1 | `anchor` | plain `<a href="…creativecommons.org/licenses/…">` |
//!
//! Within one rank, head beats footer beats body, then document order.
//!
//! # What does not count (a "mention", kept in `candidates` but never the page license)
//!
//! * Anything inside `<figure>` / `<figcaption>` or an element whose class or
//!   id contains `caption`, `credit` or `attribution` — that is the license of
//!   a picture, not of the page (rel=license included).
//! * An anchor (rel=license or not, footer included) whose preceding 60
//!   chars contain a media word (`photo`, `image`, `picture`, `foto`, `bild`,
//!   `flickr`, `credit`, `illustration`, …) with no licensing wording after
//!   it: a credit line for a picture (`Header photo: <a>CC BY</a>`).
//! * A plain anchor (no rel=license) outside a footer that is not preceded
//!   (within 200 chars) by licensing wording (`licensed under`, `available
//!   under`, `released under`, `published under`, `is licensed`, `unless
//!   otherwise`, `except where`, `some rights reserved`, and a few
//!   translations) nor directly by a `License:` label — a link that merely
//!   names a license (`the <a>CC BY-SA license</a> requires…`) is not a
//!   licensing statement.
//! * A plain anchor on a page that says "All rights reserved" (or a
//!   translation, or a Chinese statement such as `版权所有` or
//!   `未经授权不得转载`: see `rights_zh.rs` for which count and which,
//!   like `转载请注明出处`, do not) anywhere in its text or rights
//!   metadata: the page explicitly
//!   reserves its rights, so a bare CC link there is treated as someone else's
//!   (e.g. an image badge). Explicit markup (rank ≥ 2) still counts on such a
//!   page; `all_rights_reserved` is reported so callers can see the tension.
//! * JSON-LD `license` on nested objects (an image's license).
//! * Badge images (`i.creativecommons.org/l/…`, `licensebuttons.net`) — only
//!   the anchor around a badge counts, as an anchor.
//!
//! No counted candidate → class `unknown`, no license (never a guess).
//! Several counted candidates naming different licenses → `conflict = true`;
//! the best-ranked one is still reported. A version-less name (`CC BY-SA`)
//! does not conflict with a versioned one of the same type.
//!
//! # Identifiers
//!
//! `spdx` is an SPDX License List id when the list has one: the unported
//! licenses (`CC-BY-SA-4.0`, `CC-BY-NC-ND-1.0` for the 1.0 `by-nd-nc`),
//! the ported ones SPDX lists (`CC-BY-3.0-DE`, `CC-BY-SA-2.0-UK`, …),
//! `CC0-1.0`, `CC-PDDC` (the old `/licenses/publicdomain/` dedication and
//! certification), `CC-SA-1.0`, and `CC-PDM-1.0` for the Public Domain Mark
//! (added to the SPDX list in 2024; older tooling may not know it).
//! Otherwise `spdx` is `None` and `id` still names it in the same style
//! (`CC-BY-SA-3.0-ES`, `CC-NC-1.0`, `CC-BY-SA` when no version is given).
//!
//! # Classes
//!
//! `public_domain` (CC0, PDM, PDDC) · `non_commercial` (any NC, even with ND:
//! NC is the stricter limit for training use) · `no_derivatives` (ND without
//! NC) · `permissive` (BY, BY-SA, SA) · `unknown`.

use serde::{Deserialize, Serialize};

use crate::html::{self, Anchor, PageScan, Section};
use crate::swar::{CASE, HIGH, ONES, bytes_equal, word_at};

/// License class used for reporting and filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseClass {
    Permissive,
    NonCommercial,
    NoDerivatives,
    PublicDomain,
    Unknown,
}

impl LicenseClass {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseClass::Permissive => "permissive",
            LicenseClass::NonCommercial => "non_commercial",
            LicenseClass::NoDerivatives => "no_derivatives",
            LicenseClass::PublicDomain => "public_domain",
            LicenseClass::Unknown => "unknown",
        }
    }
}

/// Creative Commons license/tool type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CcKind {
    By,
    BySa,
    ByNd,
    ByNc,
    ByNcSa,
    ByNcNd,
    /// 1.0-only licenses without attribution.
    Sa,
    Nd,
    Nc,
    NcSa,
    NcNd,
    /// CC0 (`/publicdomain/zero/`).
    Zero,
    /// Public Domain Mark (`/publicdomain/mark/`).
    Mark,
    /// Public Domain Dedication and Certification (`/licenses/publicdomain/`).
    PublicDomain,
}

impl CcKind {
    fn from_slug(s: &str) -> Option<CcKind> {
        Some(match s {
            "by" => CcKind::By,
            "by-sa" => CcKind::BySa,
            "by-nd" => CcKind::ByNd,
            "by-nc" => CcKind::ByNc,
            "by-nc-sa" | "by-sa-nc" => CcKind::ByNcSa,
            "by-nc-nd" | "by-nd-nc" => CcKind::ByNcNd,
            "sa" => CcKind::Sa,
            "nd" => CcKind::Nd,
            "nc" => CcKind::Nc,
            "nc-sa" | "sa-nc" => CcKind::NcSa,
            "nd-nc" | "nc-nd" => CcKind::NcNd,
            _ => return None,
        })
    }

    fn from_flags(by: bool, nc: bool, sa: bool, nd: bool) -> Option<CcKind> {
        Some(match (by, nc, sa, nd) {
            (true, false, false, false) => CcKind::By,
            (true, false, true, false) => CcKind::BySa,
            (true, false, false, true) => CcKind::ByNd,
            (true, true, false, false) => CcKind::ByNc,
            (true, true, true, false) => CcKind::ByNcSa,
            (true, true, false, true) => CcKind::ByNcNd,
            _ => return None,
        })
    }

    /// URL slug (`by-nc-sa`); `None` for the public-domain tools.
    fn slug(self) -> Option<&'static str> {
        Some(match self {
            CcKind::By => "by",
            CcKind::BySa => "by-sa",
            CcKind::ByNd => "by-nd",
            CcKind::ByNc => "by-nc",
            CcKind::ByNcSa => "by-nc-sa",
            CcKind::ByNcNd => "by-nc-nd",
            CcKind::Sa => "sa",
            CcKind::Nd => "nd",
            CcKind::Nc => "nc",
            CcKind::NcSa => "nc-sa",
            CcKind::NcNd => "nd-nc",
            CcKind::Zero | CcKind::Mark | CcKind::PublicDomain => return None,
        })
    }

    pub fn class(self) -> LicenseClass {
        match self {
            CcKind::Zero | CcKind::Mark | CcKind::PublicDomain => LicenseClass::PublicDomain,
            CcKind::ByNc
            | CcKind::ByNcSa
            | CcKind::ByNcNd
            | CcKind::Nc
            | CcKind::NcSa
            | CcKind::NcNd => LicenseClass::NonCommercial,
            CcKind::ByNd | CcKind::Nd => LicenseClass::NoDerivatives,
            CcKind::By | CcKind::BySa | CcKind::Sa => LicenseClass::Permissive,
        }
    }
}

/// One Creative Commons license or public-domain tool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CcLicense {
    pub kind: CcKind,
    /// `1.0`, `2.0`, `2.1`, `2.5`, `3.0`, `4.0`; `None` when only named.
    pub version: Option<String>,
    /// Port jurisdiction, lowercase (`de`, `igo`), for versions before 4.0.
    pub jurisdiction: Option<String>,
}

/// SPDX License List ids for Creative Commons licenses.
const SPDX_CC: &[&str] = &[
    "CC-BY-1.0",
    "CC-BY-2.0",
    "CC-BY-2.5",
    "CC-BY-2.5-AU",
    "CC-BY-3.0",
    "CC-BY-3.0-AT",
    "CC-BY-3.0-AU",
    "CC-BY-3.0-DE",
    "CC-BY-3.0-IGO",
    "CC-BY-3.0-NL",
    "CC-BY-3.0-US",
    "CC-BY-4.0",
    "CC-BY-NC-1.0",
    "CC-BY-NC-2.0",
    "CC-BY-NC-2.5",
    "CC-BY-NC-3.0",
    "CC-BY-NC-3.0-DE",
    "CC-BY-NC-4.0",
    "CC-BY-NC-ND-1.0",
    "CC-BY-NC-ND-2.0",
    "CC-BY-NC-ND-2.5",
    "CC-BY-NC-ND-3.0",
    "CC-BY-NC-ND-3.0-DE",
    "CC-BY-NC-ND-3.0-IGO",
    "CC-BY-NC-ND-4.0",
    "CC-BY-NC-SA-1.0",
    "CC-BY-NC-SA-2.0",
    "CC-BY-NC-SA-2.0-DE",
    "CC-BY-NC-SA-2.0-FR",
    "CC-BY-NC-SA-2.0-UK",
    "CC-BY-NC-SA-2.5",
    "CC-BY-NC-SA-3.0",
    "CC-BY-NC-SA-3.0-DE",
    "CC-BY-NC-SA-3.0-IGO",
    "CC-BY-NC-SA-4.0",
    "CC-BY-ND-1.0",
    "CC-BY-ND-2.0",
    "CC-BY-ND-2.5",
    "CC-BY-ND-3.0",
    "CC-BY-ND-3.0-DE",
    "CC-BY-ND-4.0",
    "CC-BY-SA-1.0",
    "CC-BY-SA-2.0",
    "CC-BY-SA-2.0-UK",
    "CC-BY-SA-2.1-JP",
    "CC-BY-SA-2.5",
    "CC-BY-SA-3.0",
    "CC-BY-SA-3.0-AT",
    "CC-BY-SA-3.0-DE",
    "CC-BY-SA-3.0-IGO",
    "CC-BY-SA-4.0",
    "CC-PDDC",
    "CC-PDM-1.0",
    "CC-SA-1.0",
    "CC0-1.0",
];

const VERSIONS: &[&str] = &["1.0", "2.0", "2.1", "2.5", "3.0", "4.0"];

impl CcLicense {
    fn new(kind: CcKind, version: Option<&str>, jurisdiction: Option<&str>) -> CcLicense {
        CcLicense {
            kind,
            version: version.map(str::to_string),
            jurisdiction: jurisdiction.map(str::to_ascii_lowercase),
        }
    }

    /// Identifier in SPDX style, also for licenses SPDX does not list:
    /// `CC-BY-SA-3.0-DE`, `CC0-1.0`, `CC-PDM-1.0`, `CC-PDDC`, `CC-BY-SA`.
    pub fn id(&self) -> String {
        let mut id = match self.kind {
            CcKind::Zero => "CC0".to_string(),
            CcKind::Mark => "CC-PDM".to_string(),
            CcKind::PublicDomain => return "CC-PDDC".to_string(),
            CcKind::NcNd => "CC-NC-ND".to_string(),
            k => format!("CC-{}", k.slug().unwrap_or("").to_ascii_uppercase()),
        };
        if let Some(v) = &self.version {
            id.push('-');
            id.push_str(v);
        }
        if let Some(j) = &self.jurisdiction {
            id.push('-');
            id.push_str(&j.to_ascii_uppercase());
        }
        id
    }

    /// SPDX License List id, if the list has this license.
    pub fn spdx(&self) -> Option<&'static str> {
        let id = self.id();
        SPDX_CC.iter().find(|s| **s == id).copied()
    }

    pub fn class(&self) -> LicenseClass {
        self.kind.class()
    }

    /// Canonical deed URL (`https://creativecommons.org/licenses/by-sa/3.0/de/`).
    pub fn url(&self) -> String {
        let mut parts: Vec<&str> = match self.kind {
            CcKind::Zero => vec!["publicdomain", "zero"],
            CcKind::Mark => vec!["publicdomain", "mark"],
            CcKind::PublicDomain => vec!["licenses", "publicdomain"],
            k => vec!["licenses", k.slug().unwrap_or("")],
        };
        if self.kind != CcKind::PublicDomain {
            parts.extend(self.version.as_deref());
            parts.extend(self.jurisdiction.as_deref());
        }
        let mut u = String::from("https://creativecommons.org");
        for p in parts {
            u.push('/');
            u.push_str(p);
        }
        u.push('/');
        u
    }

    fn compatible(&self, other: &CcLicense) -> bool {
        self.kind == other.kind
            && (self.version.is_none() || other.version.is_none() || self.version == other.version)
            && (self.version.is_none()
                || other.version.is_none()
                || self.jurisdiction == other.jurisdiction)
    }
}

/// Where a license statement was found (higher [`LicenseLocation::rank`] wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseLocation {
    Meta,
    JsonLd,
    LinkRel,
    AnchorRel,
    Anchor,
}

impl LicenseLocation {
    pub fn rank(self) -> u8 {
        match self {
            LicenseLocation::Meta => 5,
            LicenseLocation::JsonLd => 4,
            LicenseLocation::LinkRel => 3,
            LicenseLocation::AnchorRel => 2,
            LicenseLocation::Anchor => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LicenseLocation::Meta => "meta",
            LicenseLocation::JsonLd => "json_ld",
            LicenseLocation::LinkRel => "link_rel",
            LicenseLocation::AnchorRel => "anchor_rel",
            LicenseLocation::Anchor => "anchor",
        }
    }
}

/// One license statement found on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseCandidate {
    pub license: CcLicense,
    pub location: LicenseLocation,
    pub section: Section,
    /// The tag (or JSON-LD member) as found, trimmed and capped.
    pub evidence: String,
    /// Whether it counts as a statement about the page.
    pub counted: bool,
    /// Why it does not count (`None` when counted).
    pub mention_reason: Option<String>,
}

/// Result of [`detect_license`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseFinding {
    pub class: LicenseClass,
    /// The page license (best-ranked counted candidate).
    pub license: Option<CcLicense>,
    /// `license.id()`.
    pub id: Option<String>,
    /// `license.spdx()`.
    pub spdx: Option<String>,
    pub location: Option<LicenseLocation>,
    pub section: Option<Section>,
    pub evidence: Option<String>,
    /// More than one distinct license is stated for the page.
    pub conflict: bool,
    /// The page text or rights metadata says "All rights reserved".
    pub all_rights_reserved: bool,
    /// Every statement found (counted or mention), in document order per kind.
    pub candidates: Vec<LicenseCandidate>,
}

impl LicenseFinding {
    pub fn unknown() -> LicenseFinding {
        LicenseFinding {
            class: LicenseClass::Unknown,
            license: None,
            id: None,
            spdx: None,
            location: None,
            section: None,
            evidence: None,
            conflict: false,
            all_rights_reserved: false,
            candidates: Vec::new(),
        }
    }
}

/// Parses a Creative Commons license URL (absolute, protocol-relative, or
/// relative to `base`). Query and fragment are ignored; `deed.xx` /
/// `legalcode[.xx]` suffixes are accepted.
pub fn parse_cc_url(href: &str, base: Option<&url::Url>) -> Option<CcLicense> {
    let href = href.trim();
    if !may_be_cc_url(href, base_may_be_cc(base)) {
        return None;
    }
    parse_cc_url_unfiltered(href, base)
}

/// A page's URL, parsed only when a link on the page that may be a license
/// is resolved against it (issue 17: most pages have none, and every
/// page's URL was parsed).
pub(crate) struct PageUrl<'a> {
    url: Option<&'a str>,
    /// [`base_may_be_cc`] of the parsed URL.
    may_be_cc: bool,
    parsed: std::cell::OnceCell<Option<url::Url>>,
}

impl<'a> PageUrl<'a> {
    pub(crate) fn new(url: Option<&'a str>) -> Self {
        let mut page = PageUrl {
            url,
            may_be_cc: false,
            parsed: std::cell::OnceCell::new(),
        };
        // A URL that cannot name a creativecommons.org host
        // ([`may_be_cc_url`]) has no such host once parsed: it is not
        // parsed to tell.
        page.may_be_cc =
            url.is_some_and(|u| may_be_cc_url(u, false)) && base_may_be_cc(page.parsed());
        page
    }

    /// The URL, parsed (`None` if there is none or it does not parse).
    pub(crate) fn parsed(&self) -> Option<&url::Url> {
        self.parsed
            .get_or_init(|| self.url.and_then(|u| url::Url::parse(u).ok()))
            .as_ref()
    }

    /// [`base_may_be_cc`] of [`parsed`](Self::parsed).
    pub(crate) fn may_be_cc(&self) -> bool {
        self.may_be_cc
    }
}

/// [`parse_cc_url`] relative to `page`, parsed only if `href` may be a
/// license.
fn parse_cc_url_on(href: &str, page: &PageUrl<'_>) -> Option<CcLicense> {
    let href = href.trim();
    if !may_be_cc_url(href, page.may_be_cc()) {
        return None;
    }
    parse_cc_url_unfiltered(href, page.parsed())
}

/// [`parse_cc_url`] without the [`may_be_cc_url`] shortcut.
fn parse_cc_url_unfiltered(href: &str, base: Option<&url::Url>) -> Option<CcLicense> {
    let href = href.trim();
    if href.is_empty() || href.len() > 2048 {
        return None;
    }
    let parsed = if let Some(rest) = href.strip_prefix("//") {
        url::Url::parse(&format!("http://{rest}")).ok()?
    } else if let Ok(u) = url::Url::parse(href) {
        u
    } else {
        base?.join(href).ok()?
    };
    let host = parsed.host_str()?.to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    if host != "creativecommons.org" && !host.ends_with(".creativecommons.org") {
        return None;
    }
    if host.starts_with("i.") {
        return None; // badge images
    }
    let segs: Vec<String> = parsed
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let seg = |i: usize| segs.get(i).map(String::as_str);
    match (seg(0), seg(1)) {
        (Some("publicdomain"), Some("zero")) => {
            let v = seg(2).filter(|v| VERSIONS.contains(v)).unwrap_or("1.0");
            Some(CcLicense::new(CcKind::Zero, Some(v), None))
        }
        (Some("publicdomain"), Some("mark")) => {
            let v = seg(2).filter(|v| VERSIONS.contains(v)).unwrap_or("1.0");
            Some(CcLicense::new(CcKind::Mark, Some(v), None))
        }
        (Some("licenses"), Some("publicdomain")) => {
            Some(CcLicense::new(CcKind::PublicDomain, None, None))
        }
        (Some("licenses" | "license"), Some(slug)) => {
            let kind = CcKind::from_slug(slug)?;
            let version = seg(2).filter(|v| VERSIONS.contains(v));
            let jurisdiction = match (version, seg(3)) {
                (Some(v), Some(j)) if v != "4.0" && is_jurisdiction(j) => Some(j),
                _ => None,
            };
            Some(CcLicense::new(kind, version, jurisdiction))
        }
        _ => None,
    }
}

fn is_jurisdiction(s: &str) -> bool {
    (2..=8).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && !s.starts_with("deed")
        && !s.starts_with("legalcode")
        && !matches!(s, "rdf" | "index" | "html")
}

/// Parses a license *name* (metadata values only): `CC BY-SA 4.0`,
/// `CC-BY-NC-ND-3.0-DE`, `Creative Commons Attribution-ShareAlike 4.0
/// International`, `CC0 1.0`, `Public Domain Mark 1.0`. A value containing a
/// creativecommons.org URL is parsed as that URL.
pub fn parse_cc_text(text: &str) -> Option<CcLicense> {
    let lower = text.to_lowercase();
    if let Some(pos) = lower.find("creativecommons.org/") {
        let start = lower[..pos]
            .rfind(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '(' | '['))
            .map_or(0, |i| i + 1);
        let end = lower[pos..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '>' | ')' | ']'))
            .map_or(lower.len(), |i| pos + i);
        let candidate = &lower[start..end];
        let candidate = if candidate.starts_with("http") || candidate.starts_with("//") {
            candidate.to_string()
        } else {
            format!("http://{candidate}")
        };
        if let Some(l) = parse_cc_url(&candidate, None) {
            return Some(l);
        }
    }
    let words: Vec<&str> = lower
        .split(|c: char| {
            c.is_whitespace() || matches!(c, '-' | '_' | '/' | ',' | '(' | ')' | ';' | ':' | '"')
        })
        .filter(|w| !w.is_empty())
        .collect();
    let version_at = |i: usize| -> Option<&str> {
        words.get(i).map(|w| w.trim_end_matches('.')).and_then(|w| {
            let w = w.strip_prefix('v').unwrap_or(w);
            VERSIONS.iter().find(|v| **v == w).copied()
        })
    };
    for i in 0..words.len() {
        let w = words[i];
        if w == "cc0" || (w == "cc" && words.get(i + 1) == Some(&"zero")) {
            return Some(CcLicense::new(CcKind::Zero, Some("1.0"), None));
        }
        if w == "public" && words.get(i + 1) == Some(&"domain") && words.get(i + 2) == Some(&"mark")
        {
            return Some(CcLicense::new(CcKind::Mark, Some("1.0"), None));
        }
        let after = if w == "cc" && words.get(i + 1) == Some(&"by") {
            Some(i + 2)
        } else if w == "ccby" {
            Some(i + 1)
        } else if w == "creative" && words.get(i + 1) == Some(&"commons") {
            match words.get(i + 2) {
                Some(&"attribution") => Some(i + 3),
                Some(&"by") => Some(i + 3),
                _ => None,
            }
        } else {
            None
        };
        let Some(mut j) = after else { continue };
        let (mut nc, mut sa, mut nd) = (false, false, false);
        loop {
            match words.get(j).copied() {
                Some("nc" | "noncommercial") => nc = true,
                Some("sa" | "sharealike") => sa = true,
                Some("nd" | "noderivs" | "noderivatives") => nd = true,
                Some("non") if words.get(j + 1) == Some(&"commercial") => {
                    nc = true;
                    j += 1;
                }
                Some("share") if words.get(j + 1) == Some(&"alike") => {
                    sa = true;
                    j += 1;
                }
                Some("no")
                    if matches!(
                        words.get(j + 1).copied(),
                        Some("derivatives" | "derivs" | "derivative")
                    ) =>
                {
                    nd = true;
                    j += 1;
                    if words.get(j + 1) == Some(&"works") {
                        j += 1;
                    }
                }
                _ => break,
            }
            j += 1;
        }
        if sa && nd {
            continue;
        }
        let Some(kind) = CcKind::from_flags(true, nc, sa, nd) else {
            continue;
        };
        let version = version_at(j);
        let jurisdiction = match version {
            Some(v) if v != "4.0" => {
                words
                    .get(j + 1)
                    .map(|w| w.trim_end_matches('.'))
                    .filter(|w| {
                        matches!(
                            *w,
                            "de" | "at" | "au" | "nl" | "us" | "uk" | "fr" | "jp" | "igo"
                        )
                    })
            }
            _ => None,
        };
        return Some(CcLicense::new(kind, version, jurisdiction));
    }
    None
}

const META_NAMES: &[&str] = &[
    "dc.rights",
    "dcterms.rights",
    "dc.license",
    "dcterms.license",
    "license",
    "licence",
    "rights",
    "cc:license",
    "dc:rights",
    "dc:license",
    "dcterms:license",
    "dcterms:rights",
    "dct:license",
    "og:license",
    "copyright",
];

/// Whether [`from_scan`] reads a `<meta>` (lowercased name, content).
pub(crate) fn meta_may_state_a_license(name: &str, content: &str) -> bool {
    META_NAMES.contains(&name) && !content.is_empty()
}

pub(crate) fn rel_is_license(rel: &str, itemprop: &str) -> bool {
    rel.split_ascii_whitespace().any(|t| {
        matches!(
            t,
            "license" | "licence" | "cc:license" | "dc:license" | "dcterms:license" | "dct:license"
        )
    }) || itemprop.split_ascii_whitespace().any(|t| t == "license")
}

const MEDIA_CUES: &[&str] = &[
    "photo",
    "image",
    "picture",
    "foto",
    "bild",
    "flickr",
    "credit",
    "illustration",
    "imagen",
    "immagine",
];

/// Wording that states a licence for the page (searched in the text before
/// a plain anchor).
const LICENSING_CUES: &[&str] = &[
    "licensed under",
    "licenced under",
    "available under",
    "released under",
    "published under",
    "distributed under",
    "is licensed",
    "are licensed",
    "lizenziert",
    "unter der lizenz",
    "unter einer",
    "sous licence",
    "sous la licence",
    "bajo licencia",
    "bajo la licencia",
    "disponible bajo",
    "sotto licenza",
    "sob a licença",
    "unless otherwise",
    "except where",
    "some rights reserved",
];

/// Labels that, right before the link, say "the licence is:" (`License:`,
/// `<dt>License</dt><dd><a>`).
const LICENSE_LABELS: &[&str] = &[
    "license",
    "licence",
    "license:",
    "licence:",
    "lizenz",
    "lizenz:",
    "licencia",
    "licencia:",
    "licenza:",
    "licença:",
];

/// Whether the text just before an anchor credits a picture: a media word in
/// the last 60 chars with no licensing wording after it.
fn media_credit(before: &str) -> bool {
    let near = tail(before, 60);
    let last_media = MEDIA_CUES.iter().filter_map(|c| near.rfind(c)).max();
    let last_licensing = LICENSING_CUES.iter().filter_map(|c| near.rfind(c)).max();
    match (last_media, last_licensing) {
        (Some(m), Some(l)) => m > l,
        (Some(_), None) => true,
        _ => false,
    }
}

fn has_licensing_wording(before: &str) -> bool {
    let last = before
        .trim_end()
        .trim_end_matches(['(', '[', '"', '\'', '“'])
        .trim_end();
    LICENSING_CUES.iter().any(|c| before.contains(c))
        || LICENSE_LABELS.iter().any(|l| {
            last.ends_with(l)
                && last[..last.len() - l.len()]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric())
        })
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn anchor_candidate(a: &Anchor, base: &PageUrl<'_>, page_arr: bool) -> Option<LicenseCandidate> {
    let license = parse_cc_url_on(&a.href, base)?;
    let is_rel = rel_is_license(&a.rel, &a.itemprop);
    let location = if is_rel {
        LicenseLocation::AnchorRel
    } else {
        LicenseLocation::Anchor
    };
    let reason = if a.in_figure {
        Some("inside figure/caption")
    } else if media_credit(&a.before) {
        Some("media credit")
    } else if !is_rel && page_arr {
        Some("page says all rights reserved")
    } else if !is_rel && a.section != Section::Footer && !has_licensing_wording(&a.before) {
        Some("no licensing wording")
    } else {
        None
    };
    let evidence = html::cap(format!("{}{}</a>", a.tag, a.text), 600);
    Some(LicenseCandidate {
        license,
        location,
        section: a.section,
        evidence,
        counted: reason.is_none(),
        mention_reason: reason.map(str::to_string),
    })
}

const MEDIA_TYPES: &[&str] = &[
    "imageobject",
    "videoobject",
    "audioobject",
    "mediaobject",
    "photograph",
    "3dmodel",
];

fn is_media(obj: &serde_json::Map<String, serde_json::Value>) -> bool {
    let t = match obj.get("@type") {
        Some(serde_json::Value::String(s)) => vec![s.to_ascii_lowercase()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_ascii_lowercase))
            .collect(),
        _ => Vec::new(),
    };
    t.iter()
        .any(|t| MEDIA_TYPES.contains(&t.trim_start_matches("schema:")))
}

fn license_values(v: &serde_json::Value, out: &mut Vec<String>, depth: usize) {
    if depth > 4 {
        return;
    }
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| license_values(x, out, depth + 1)),
        serde_json::Value::Object(o) => {
            for k in ["@id", "url", "name", "identifier"] {
                if let Some(x) = o.get(k) {
                    license_values(x, out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Collects `(license value, page_level)` from a JSON-LD document.
fn jsonld_licenses(
    v: &serde_json::Value,
    page_level: bool,
    depth: usize,
    out: &mut Vec<(String, bool)>,
) {
    if depth > 12 || out.len() > 64 {
        return;
    }
    match v {
        serde_json::Value::Array(a) => {
            for x in a {
                jsonld_licenses(x, page_level, depth + 1, out);
            }
        }
        serde_json::Value::Object(o) => {
            let own_level = page_level && !is_media(o);
            for (k, val) in o {
                let key = k
                    .trim_start_matches("schema:")
                    .trim_start_matches("http://schema.org/");
                let key = key.trim_start_matches("https://schema.org/");
                if key == "license" {
                    let mut vals = Vec::new();
                    license_values(val, &mut vals, 0);
                    out.extend(vals.into_iter().map(|s| (s, own_level)));
                } else if k == "@graph" {
                    jsonld_licenses(val, page_level, depth + 1, out);
                } else if k == "mainEntity" || k == "mainEntityOfPage" {
                    jsonld_licenses(val, own_level, depth + 1, out);
                } else if val.is_object() || val.is_array() {
                    jsonld_licenses(val, false, depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

/// Detects the page's Creative Commons license (see the module docs for the
/// rules). Relative license links (`/licenses/by/4.0/`) are only resolved by
/// [`detect_license_at`], which knows the page URL.
pub fn detect_license(html: &str) -> LicenseFinding {
    detect_license_at(html, None)
}

/// [`detect_license`] with the page URL, to resolve relative links.
pub fn detect_license_at(html: &str, page_url: Option<&str>) -> LicenseFinding {
    if !quick_check(html) {
        return LicenseFinding::unknown();
    }
    let base = PageUrl::new(page_url);
    let scan = html::scan(html, base.may_be_cc());
    from_scan(&scan, &base)
}

/// Whether a relative link on a page with this base URL may resolve to a
/// creativecommons.org host (the resolved host is then the base's host).
pub(crate) fn base_may_be_cc(base: Option<&url::Url>) -> bool {
    base.and_then(url::Url::host_str)
        .is_some_and(|h| h.to_ascii_lowercase().contains("creativecommons"))
}

/// [`may_be_cc_url`]'s classes of bytes.
const HREF_NON_ASCII: u8 = 1;
const HREF_PERCENT: u8 = 2;
const HREF_V_OR_X: u8 = 4;
/// Tab, newline, carriage return (which the URL parser removes).
const HREF_TAB_NL: u8 = 8;

/// The classes of an `href` byte.
#[inline(always)]
fn href_byte_class(b: u8) -> u8 {
    let folded = b | 0x20;
    (u8::from(b >= 0x80) * HREF_NON_ASCII)
        | (u8::from(b == b'%') * HREF_PERCENT)
        | (u8::from(folded == b'v' || folded == b'x') * HREF_V_OR_X)
        | (u8::from(matches!(b, b'\t' | b'\n' | b'\r')) * HREF_TAB_NL)
}

/// The classes of all of `bytes` ([`href_byte_class`] of each, or-ed):
/// eight bytes at a time (SWAR), the rest one by one.
fn href_classes(bytes: &[u8]) -> u8 {
    let (mut non_ascii, mut percent, mut v_or_x, mut tab_nl) = (0u64, 0u64, 0u64, 0u64);
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let w = word_at(bytes, i);
        let folded = w | CASE;
        non_ascii |= w;
        percent |= bytes_equal(w, b'%');
        v_or_x |= bytes_equal(folded, b'v') | bytes_equal(folded, b'x');
        tab_nl |= bytes_equal(w, b'\t') | bytes_equal(w, b'\n') | bytes_equal(w, b'\r');
        i += 8;
    }
    let mut seen = (u8::from(non_ascii & HIGH != 0) * HREF_NON_ASCII)
        | (u8::from(percent != 0) * HREF_PERCENT)
        | (u8::from(v_or_x != 0) * HREF_V_OR_X)
        | (u8::from(tab_nl != 0) * HREF_TAB_NL);
    for &b in &bytes[i..] {
        seen |= href_byte_class(b);
    }
    seen
}

/// Whether ASCII `h` contains `creativecommons` or `xn--`, ASCII case
/// ignored: checked from each `v` (rarer in URLs than `c`:
/// `creati[v]ecommons`) and `x`, found eight bytes at a time.
fn names_cc_host(h: &[u8]) -> bool {
    let check = |i: usize| names_cc_host_at(h, i);
    let mut i = 0;
    while i + 8 <= h.len() {
        let folded = word_at(h, i) | CASE;
        let mut found = bytes_equal(folded, b'v') | bytes_equal(folded, b'x');
        while found != 0 {
            if check(i + found.trailing_zeros() as usize / 8) {
                return true;
            }
            found &= found - 1;
        }
        i += 8;
    }
    (i..h.len()).any(check)
}

/// Whether `h[i]` is the `v` of `creativecommons` or the `x` of `xn--`
/// ([`names_cc_host`]).
#[inline(always)]
fn names_cc_host_at(h: &[u8], i: usize) -> bool {
    let at = html::at_ignore_ascii_case;
    match h[i] | 0x20 {
        b'v' => i >= 6 && at(h, i - 6, b"creativecommons"),
        b'x' => at(h, i, b"xn--"),
        _ => false,
    }
}

/// False only when `href` cannot resolve to a creativecommons.org host, so
/// [`parse_cc_url`] would say None: the host then comes from `href` itself
/// (or from a base that [`base_may_be_cc`] rules out), and an ASCII `href`
/// without `%` (percent-decoding), `xn--` (punycode) or `creativecommons` in
/// any case — tabs and newlines removed, as the URL parser removes them —
/// cannot name that host. Non-ASCII `href`s (UTS-46 mapping: fullwidth
/// letters, soft hyphens, ...) are always parsed.
pub(crate) fn may_be_cc_url(href: &str, base_may_be_cc: bool) -> bool {
    if base_may_be_cc {
        return true;
    }
    // Most `href`s are printable ASCII without `%`: one cheap pass tells,
    // and looks for the host names from each `v` and `x` as it goes (a
    // name found in the raw bytes is found in them with tabs and newlines
    // removed, too).
    let h = href.as_bytes();
    let mut unusual = 0u64;
    let mut i = 0;
    while i + 8 <= h.len() {
        let w = word_at(h, i);
        // High bit: non-ASCII, or ASCII below 0x20 (`+ 0x60` carries out of
        // no ASCII byte; a non-ASCII byte is unusual anyway), or `%`.
        unusual |= w | !w.wrapping_add(ONES * 0x60) | bytes_equal(w, b'%');
        let folded = w | CASE;
        let mut found = bytes_equal(folded, b'v') | bytes_equal(folded, b'x');
        while found != 0 {
            if names_cc_host_at(h, i + found.trailing_zeros() as usize / 8) {
                return true;
            }
            found &= found - 1;
        }
        i += 8;
    }
    if i < h.len() {
        // The last bytes in one more word: the word that ends at the end
        // (its bytes before `i` were seen), or a short `href` padded. (A
        // byte left out carries into no byte kept that was not unusual
        // already: only a non-ASCII byte carries.)
        let (at, w, kept) = match h.len().checked_sub(8) {
            Some(at) => (at, word_at(h, at), !0 << (8 * (i - at))),
            None => {
                let mut padded = [0u8; 8];
                padded[..h.len()].copy_from_slice(h);
                (0, u64::from_le_bytes(padded), !(!0 << (8 * h.len())))
            }
        };
        unusual |= (w | !w.wrapping_add(ONES * 0x60) | bytes_equal(w, b'%')) & kept;
        let folded = w | CASE;
        let mut found = (bytes_equal(folded, b'v') | bytes_equal(folded, b'x')) & kept;
        while found != 0 {
            if names_cc_host_at(h, at + found.trailing_zeros() as usize / 8) {
                return true;
            }
            found &= found - 1;
        }
    }
    if unusual & HIGH == 0 {
        return false;
    }
    // Else the classes of every byte.
    let seen = href_classes(h);
    if seen & (HREF_NON_ASCII | HREF_PERCENT) != 0 {
        return true;
    }
    // `creativecommons` has a `v`, `xn--` an `x` (tabs and newlines removed
    // or not).
    if seen & HREF_V_OR_X == 0 {
        return false;
    }
    if seen & HREF_TAB_NL != 0 {
        let squeezed: Vec<u8> = href
            .bytes()
            .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
            .collect();
        names_cc_host(&squeezed)
    } else {
        names_cc_host(href.as_bytes())
    }
}

/// Cheap prefilter: a page without any of these byte strings (nor a key
/// word of a Chinese all-rights-reserved statement) cannot carry a license
/// this module recognizes or say it reserves all rights.
fn quick_check(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    [
        "creativecommons",
        "licen",
        "rights",
        "cc0",
        "cc-by",
        "cc by",
    ]
    .iter()
    .any(|n| memchr::memmem::find(lower.as_bytes(), n.as_bytes()).is_some())
        || crate::rights_zh::may_say_all_rights_reserved_zh(html.as_bytes())
}

pub(crate) fn from_scan(scan: &PageScan, base: &PageUrl<'_>) -> LicenseFinding {
    let mut candidates: Vec<LicenseCandidate> = Vec::new();
    let mut all_rights_reserved = scan.all_rights_reserved;

    for m in &scan.metas {
        if !meta_may_state_a_license(&m.name, &m.content) {
            continue;
        }
        let lower = m.content.to_lowercase();
        if html::says_all_rights_reserved(&lower) {
            all_rights_reserved = true;
        }
        let license = parse_cc_url_on(&m.content, base).or_else(|| parse_cc_text(&m.content));
        if let Some(license) = license {
            candidates.push(LicenseCandidate {
                license,
                location: LicenseLocation::Meta,
                section: m.section.unwrap_or(Section::Head),
                evidence: m.tag.clone(),
                counted: true,
                mention_reason: None,
            });
        }
    }
    for block in &scan.jsonld {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(block.text.trim()) else {
            continue;
        };
        let mut found = Vec::new();
        jsonld_licenses(&v, true, 0, &mut found);
        for (value, page_level) in found {
            let license = parse_cc_url_on(&value, base).or_else(|| parse_cc_text(&value));
            if let Some(license) = license {
                candidates.push(LicenseCandidate {
                    license,
                    location: LicenseLocation::JsonLd,
                    section: block.section,
                    evidence: html::cap(
                        format!("\"license\": {}", serde_json::Value::String(value)),
                        600,
                    ),
                    counted: page_level,
                    mention_reason: (!page_level).then(|| "nested JSON-LD object".to_string()),
                });
            }
        }
    }
    for l in &scan.links {
        if !rel_is_license(&l.rel, &l.itemprop) {
            continue;
        }
        if let Some(license) = parse_cc_url_on(&l.href, base) {
            candidates.push(LicenseCandidate {
                license,
                location: LicenseLocation::LinkRel,
                section: l.section,
                evidence: l.tag.clone(),
                counted: true,
                mention_reason: None,
            });
        }
    }
    for a in &scan.anchors {
        if let Some(c) = anchor_candidate(a, base, all_rights_reserved) {
            candidates.push(c);
        }
    }

    let score = |c: &LicenseCandidate| {
        let s = match c.section {
            Section::Head => 2,
            Section::Footer => 1,
            Section::Body => 0,
        };
        u32::from(c.location.rank()) * 4 + s
    };
    let best = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.counted)
        .max_by(|(ia, a), (ib, b)| score(a).cmp(&score(b)).then(ib.cmp(ia)))
        .map(|(i, _)| i);
    let Some(best) = best else {
        return LicenseFinding {
            all_rights_reserved,
            candidates,
            ..LicenseFinding::unknown()
        };
    };
    let counted: Vec<&LicenseCandidate> = candidates.iter().filter(|c| c.counted).collect();
    let conflict = counted
        .iter()
        .any(|a| counted.iter().any(|b| !a.license.compatible(&b.license)));
    let chosen = candidates[best].clone();
    LicenseFinding {
        class: chosen.license.class(),
        id: Some(chosen.license.id()),
        spdx: chosen.license.spdx().map(str::to_string),
        location: Some(chosen.location),
        section: Some(chosen.section),
        evidence: Some(chosen.evidence.clone()),
        license: Some(chosen.license),
        conflict,
        all_rights_reserved,
        candidates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(u: &str) -> Option<String> {
        parse_cc_url(u, None).map(|l| l.id())
    }

    proptest::proptest! {
        /// The `may_be_cc_url` shortcut never hides a license the full
        /// parse finds (obfuscated hosts: case, tabs, percent-encoding,
        /// fullwidth letters, soft hyphens, punycode; relative links on
        /// creativecommons.org pages).
        #[test]
        fn may_be_cc_url_is_exact(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "https:", "http:", "//", "/", "\\", "creative", "commons", "CreativeCommons",
                    "creativecommons", ".org", ".ORG", "\t", "\n", "%63", "%2F", "ｃ", "\u{ad}",
                    "xn--", "www.", "i.", "licenses", "/licenses/by/4.0/", "by-sa", "4.0", "publicdomain",
                    "/zero/1.0/", "example.org", "?x=", "#", "@", ":80", " ", ".",
                ]),
                0..10,
            ),
            base in proptest::sample::select(vec![
                "", "https://example.org/a/b", "https://creativecommons.org/x/",
                "https://CreativeCommons.org./", "https://www.creativecommons.org/licenses/",
                "https://ｃreativecommons.org/", "http://xn--creativecommons-.org/",
            ]),
        ) {
            let href: String = parts.concat();
            let base = url::Url::parse(base).ok();
            let full = parse_cc_url_unfiltered(&href, base.as_ref());
            if full.is_some() {
                proptest::prop_assert!(may_be_cc_url(href.trim(), base_may_be_cc(base.as_ref())));
            }
            proptest::prop_assert_eq!(parse_cc_url(&href, base.as_ref()), full);
        }
    }

    proptest::proptest! {
        /// `PageUrl` (its URL parsed only when the string may name a
        /// creativecommons.org host, or a link needs it) says what the
        /// parsed URL says, and resolves as `parse_cc_url` does.
        #[test]
        fn page_url_equals_the_parsed_url(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "https://", "http://", "//", "ftp://", "x:", "creative", "commons", "CreativeCommons",
                    "creativecommons", ".org", ".", "\t", "\n", " ", "%63", "%2e", "ｃ", "\u{ad}", "xn--",
                    "www.", "i.", "/", "licenses/by/4.0/", "@", ":80", "?q", "#f", "example", "\\", "é",
                ]),
                0..10,
            ),
            href in proptest::sample::select(vec![
                "", "/licenses/by/4.0/", "licenses/by-sa/3.0/de/", "//creativecommons.org/publicdomain/zero/1.0/",
                "https://creativecommons.org/licenses/by-nc/4.0/", "../by/2.0/", "https://example.org/", "?x",
            ]),
        ) {
            let url: String = parts.concat();
            let parsed = url::Url::parse(&url).ok();
            let page = PageUrl::new(Some(&url));
            proptest::prop_assert_eq!(page.may_be_cc(), base_may_be_cc(parsed.as_ref()));
            proptest::prop_assert_eq!(parse_cc_url_on(href, &page), parse_cc_url(href, parsed.as_ref()));
            proptest::prop_assert_eq!(page.parsed(), parsed.as_ref());
        }
    }

    proptest::proptest! {
        /// `may_be_cc_url` is the test it replaced (a search from every
        /// `c`/`C`; it now searches from the `v`).
        #[test]
        fn may_be_cc_url_equals_the_search_from_c(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "creativecommons", "CreativeCommons", "CREATIVECOMMONS", "creati", "ve",
                    "commons", "v", "V", "c", "x", "xn--", "XN-", "-", "\t", "\n", "\r", "%",
                    "https://", ".org/", "é", "a", "\u{1}", " ", "\u{7f}", "/path/to/a/page.html",
                ]),
                0..8,
            ),
            base_may_be_cc: bool,
        ) {
            let href: String = parts.concat();
            let old = base_may_be_cc || !href.is_ascii() || href.contains('%') || {
                let h: Vec<u8> = href.bytes().filter(|b| !matches!(b, b'\t' | b'\n' | b'\r')).collect();
                let at = html::at_ignore_ascii_case;
                memchr::memchr2_iter(b'c', b'C', &h).any(|i| at(&h, i, b"creativecommons"))
                    || memchr::memchr2_iter(b'x', b'X', &h).any(|i| at(&h, i, b"xn--"))
            };
            proptest::prop_assert_eq!(may_be_cc_url(&href, base_may_be_cc), old);
        }
    }

    /// `may_be_cc_url`'s last word (overlapping the one before it, or a
    /// short `href` padded) sees each byte once: every length, every place
    /// of an unusual byte or a host name.
    #[test]
    fn may_be_cc_url_reads_the_last_bytes() {
        let reference = |href: &str| {
            !href.is_ascii() || href.contains('%') || {
                let h: Vec<u8> = href
                    .bytes()
                    .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
                    .collect();
                let at = html::at_ignore_ascii_case;
                memchr::memchr2_iter(b'c', b'C', &h).any(|i| at(&h, i, b"creativecommons"))
                    || memchr::memchr2_iter(b'x', b'X', &h).any(|i| at(&h, i, b"xn--"))
            }
        };
        for len in 0..26 {
            for at in 0..=len {
                for piece in [
                    "v",
                    "X",
                    "%",
                    "\u{1}",
                    "\u{7f}",
                    "\t",
                    "é",
                    "xN--",
                    "creaTive\ncommons",
                ] {
                    let href = format!("{}{piece}{}", "a".repeat(at), "/".repeat(len - at));
                    assert_eq!(may_be_cc_url(&href, false), reference(&href), "{href:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn href_classes_is_the_class_of_every_byte(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![
                    b'a', b'v', b'V', b'x', b'X', b'%', b'6', b'8', b' ', 0, 0x80, 0xD6, 0xF6, 0xFF,
                    b'\t', b'\n', b'\r', 0x29, 0x2D,
                ]),
                0..40,
            ),
        ) {
            let want = bytes.iter().fold(0, |seen, &b| seen | href_byte_class(b));
            proptest::prop_assert_eq!(href_classes(&bytes), want);
        }
    }

    #[test]
    fn href_byte_class_of_every_byte() {
        for b in 0u8..=255 {
            let mut want = 0;
            if !b.is_ascii() {
                want |= HREF_NON_ASCII;
            }
            if b == b'%' {
                want |= HREF_PERCENT;
            }
            if matches!(b, b'v' | b'V' | b'x' | b'X') {
                want |= HREF_V_OR_X;
            }
            if matches!(b, b'\t' | b'\n' | b'\r') {
                want |= HREF_TAB_NL;
            }
            assert_eq!(href_byte_class(b), want, "{b:#x}");
        }
    }

    #[test]
    fn url_forms() {
        assert_eq!(
            id("https://creativecommons.org/licenses/by-sa/4.0/").as_deref(),
            Some("CC-BY-SA-4.0")
        );
        assert_eq!(
            id("//creativecommons.org/licenses/by-sa/4.0/deed.an").as_deref(),
            Some("CC-BY-SA-4.0")
        );
        assert_eq!(
            id("http://creativecommons.org/licenses/by/3.0/de/").as_deref(),
            Some("CC-BY-3.0-DE")
        );
        assert_eq!(
            id("http://creativecommons.org/licenses/by/3.0/de/deed.de").as_deref(),
            Some("CC-BY-3.0-DE")
        );
        assert_eq!(
            id("http://creativecommons.org/licenses/by/3.0/legalcode").as_deref(),
            Some("CC-BY-3.0")
        );
        assert_eq!(
            id("http://creativecommons.org/licenses/by-nd-nc/1.0/").as_deref(),
            Some("CC-BY-NC-ND-1.0")
        );
        assert_eq!(
            id("http://creativecommons.org/licenses/by-nc-sa/2.5/es/").as_deref(),
            Some("CC-BY-NC-SA-2.5-ES")
        );
        assert_eq!(
            id("https://creativecommons.org/publicdomain/zero/1.0/").as_deref(),
            Some("CC0-1.0")
        );
        assert_eq!(
            id("https://creativecommons.org/publicdomain/mark/1.0/").as_deref(),
            Some("CC-PDM-1.0")
        );
        assert_eq!(
            id("http://creativecommons.org/licenses/publicdomain/").as_deref(),
            Some("CC-PDDC")
        );
        assert_eq!(
            id("HTTPS://WWW.CreativeCommons.org/Licenses/BY/4.0"),
            Some("CC-BY-4.0".into())
        );
        assert_eq!(
            id("http://creativecommons.org/licenses/by/4.0/?ref=chooser-v1"),
            Some("CC-BY-4.0".into())
        );
        assert_eq!(id("https://creativecommons.org/about/"), None);
        assert_eq!(id("https://i.creativecommons.org/l/by/4.0/88x31.png"), None);
        assert_eq!(
            id("https://creativecommons.org.evil.com/licenses/by/4.0/"),
            None
        );
        assert_eq!(id("/licenses/by/4.0/"), None);
        let base = url::Url::parse("https://creativecommons.org/mission/").unwrap();
        assert_eq!(
            parse_cc_url("/licenses/by/4.0/", Some(&base)).map(|l| l.id()),
            Some("CC-BY-4.0".into())
        );
        // every type x version is recognized
        for t in ["by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd"] {
            for v in VERSIONS {
                let l = parse_cc_url(
                    &format!("https://creativecommons.org/licenses/{t}/{v}/"),
                    None,
                )
                .unwrap();
                assert_eq!(l.version.as_deref(), Some(*v));
            }
        }
    }

    #[test]
    fn spdx_and_class() {
        let l = parse_cc_url("https://creativecommons.org/licenses/by-nc-nd/4.0/", None).unwrap();
        assert_eq!(l.spdx(), Some("CC-BY-NC-ND-4.0"));
        assert_eq!(l.class(), LicenseClass::NonCommercial);
        let l = parse_cc_url("https://creativecommons.org/licenses/by-nd/2.0/", None).unwrap();
        assert_eq!(l.class(), LicenseClass::NoDerivatives);
        let l = parse_cc_url("https://creativecommons.org/licenses/by-sa/3.0/es/", None).unwrap();
        assert_eq!(l.spdx(), None);
        assert_eq!(l.id(), "CC-BY-SA-3.0-ES");
        assert_eq!(l.class(), LicenseClass::Permissive);
        assert_eq!(
            l.url(),
            "https://creativecommons.org/licenses/by-sa/3.0/es/"
        );
        let l = parse_cc_url("https://creativecommons.org/publicdomain/mark/1.0/", None).unwrap();
        assert_eq!(l.spdx(), Some("CC-PDM-1.0"));
        assert_eq!(l.class(), LicenseClass::PublicDomain);
        assert_eq!(
            l.url(),
            "https://creativecommons.org/publicdomain/mark/1.0/"
        );
    }

    #[test]
    fn text_forms() {
        let t = |s: &str| parse_cc_text(s).map(|l| l.id());
        assert_eq!(t("CC BY-SA 4.0").as_deref(), Some("CC-BY-SA-4.0"));
        assert_eq!(
            t("CC-BY-NC-ND-3.0-DE").as_deref(),
            Some("CC-BY-NC-ND-3.0-DE")
        );
        assert_eq!(
            t("Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International").as_deref(),
            Some("CC-BY-NC-SA-4.0")
        );
        assert_eq!(
            t("Creative Commons Attribution-No Derivative Works 3.0").as_deref(),
            Some("CC-BY-ND-3.0")
        );
        assert_eq!(t("CC0").as_deref(), Some("CC0-1.0"));
        assert_eq!(t("cc by").as_deref(), Some("CC-BY"));
        assert_eq!(
            t("Licensed: https://creativecommons.org/licenses/by/2.0/").as_deref(),
            Some("CC-BY-2.0")
        );
        assert_eq!(t("Copyright 2020 ACME. All rights reserved."), None);
        assert_eq!(t("MIT"), None);
        assert_eq!(t("creative commons"), None);
    }
}
