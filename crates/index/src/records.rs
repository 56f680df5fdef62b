//! Values stored in the index. They are protobuf-encoded (prost) so that fields
//! can be added without rewriting existing indexes; the index crate owns these
//! types, independent of the public API messages.

use prost::Message;

/// An enumeration stored as a protobuf enum: its numeric codes are part of the
/// index format, its names are what the APIs and reports print.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
        #[repr(i32)]
        pub enum $name {
            $($variant = $code),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The variant printed as `text`; `None` for any other text.
            pub fn from_name(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

stored_enum!(
    /// A capture's opt-out verdict from its crawl signals.
    Verdict {
        Unknown = 0 => "unknown",
        NotReserved = 1 => "not_reserved",
        Reserved = 2 => "reserved",
    }
);

stored_enum!(
    /// What a signal says about AI training / TDM use.
    Stance {
        Unspecified = 0 => "",
        Reserved = 1 => "reserved",
        NotReserved = 2 => "not_reserved",
        Info = 3 => "info",
        Malformed = 4 => "malformed",
    }
);

stored_enum!(
    /// Which opt-out signal (`provindex_signals::SignalKind`).
    SignalKind {
        Unspecified = 0 => "",
        TdmReservation = 1 => "tdm_reservation",
        TdmPolicy = 2 => "tdm_policy",
        NoAi = 3 => "noai",
        NoImageAi = 4 => "noimageai",
        ContentUsage = 5 => "content_usage",
        ContentSignal = 6 => "content_signal",
        RobotsDisallow = 7 => "robots_disallow",
        AiTxtDisallow = 8 => "ai_txt_disallow",
    }
);

stored_enum!(
    /// Where a signal was found (`provindex_signals::SignalSource`).
    SignalSource {
        Unspecified = 0 => "",
        HttpHeader = 1 => "http_header",
        HtmlMeta = 2 => "html_meta",
        RobotsTxt = 3 => "robots_txt",
        TdmrepJson = 4 => "tdmrep_json",
        AiTxt = 5 => "ai_txt",
    }
);

stored_enum!(
    /// How a record's offset and length address its object.
    Framing {
        Plain = 0 => "plain",
        GzipMember = 1 => "gzip_member",
        Decompressed = 2 => "decompressed",
    }
);

stored_enum!(
    /// The kind of crawl record a capture came from.
    RecordKind {
        Response = 0 => "response",
        Resource = 1 => "resource",
        Revisit = 2 => "revisit",
        Conversion = 3 => "conversion",
        JsonDoc = 4 => "jsondoc",
    }
);

stored_enum!(
    /// The class of a page's stated license.
    LicenseClass {
        Unknown = 0 => "unknown",
        Permissive = 1 => "permissive",
        NonCommercial = 2 => "non_commercial",
        NoDerivatives = 3 => "no_derivatives",
        PublicDomain = 4 => "public_domain",
    }
);

stored_enum!(
    /// Where in the page the license was stated.
    LicenseLocation {
        Unspecified = 0 => "",
        Meta = 1 => "meta",
        JsonLd = 2 => "json_ld",
        LinkRel = 3 => "link_rel",
        AnchorRel = 4 => "anchor_rel",
        Anchor = 5 => "anchor",
    }
);

impl From<Verdict> for provindex_policy::Verdict {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Unknown => provindex_policy::Verdict::Unknown,
            Verdict::NotReserved => provindex_policy::Verdict::NotReserved,
            Verdict::Reserved => provindex_policy::Verdict::Reserved,
        }
    }
}

impl From<provindex_policy::Verdict> for Verdict {
    fn from(verdict: provindex_policy::Verdict) -> Self {
        match verdict {
            provindex_policy::Verdict::Unknown => Verdict::Unknown,
            provindex_policy::Verdict::NotReserved => Verdict::NotReserved,
            provindex_policy::Verdict::Reserved => Verdict::Reserved,
        }
    }
}

/// The stored form of the signals crate's enumerations, and back.
macro_rules! mirror_enum {
    ($stored:ident, $pure:path { $($variant:ident),+ $(,)? }) => {
        impl From<$pure> for $stored {
            fn from(value: $pure) -> Self {
                use $pure as P;
                match value {
                    $(P::$variant => $stored::$variant),+
                }
            }
        }

        impl $stored {
            /// The signals crate's value; `None` for `Unspecified`.
            pub fn to_signals(self) -> Option<$pure> {
                use $pure as P;
                match self {
                    $($stored::$variant => Some(P::$variant),)+
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }
    };
}

mirror_enum!(
    SignalKind,
    provindex_signals::SignalKind {
        TdmReservation,
        TdmPolicy,
        NoAi,
        NoImageAi,
        ContentUsage,
        ContentSignal,
        RobotsDisallow,
        AiTxtDisallow,
    }
);
mirror_enum!(
    SignalSource,
    provindex_signals::SignalSource {
        HttpHeader,
        HtmlMeta,
        RobotsTxt,
        TdmrepJson,
        AiTxt,
    }
);
mirror_enum!(
    Stance,
    provindex_signals::Stance {
        Reserved,
        NotReserved,
        Info,
        Malformed
    }
);
mirror_enum!(
    LicenseClass,
    provindex_signals::LicenseClass {
        Unknown,
        Permissive,
        NonCommercial,
        NoDerivatives,
        PublicDomain,
    }
);
mirror_enum!(
    LicenseLocation,
    provindex_signals::LicenseLocation {
        Meta,
        JsonLd,
        LinkRel,
        AnchorRel,
        Anchor,
    }
);

/// A stored enumeration code must name a variant: an unknown code is a
/// corrupt record, not a silent default.
fn check_code<E: TryFrom<i32>>(code: i32, field: &str) -> Result<(), String> {
    E::try_from(code)
        .map(|_| ())
        .map_err(|_| format!("{field}: unknown code {code}"))
}

/// One fetched record of the crawl (value of `captures`).
#[derive(Clone, PartialEq, Message)]
pub struct CaptureRecord {
    #[prost(string, tag = "1")]
    pub url: String,
    #[prost(string, tag = "2")]
    pub surt: String,
    #[prost(int64, tag = "3")]
    pub capture_time: i64,
    #[prost(string, tag = "4")]
    pub capture_time_raw: String,
    #[prost(uint32, tag = "5")]
    pub http_status: u32,
    #[prost(string, tag = "6")]
    pub content_type: String,
    #[prost(string, tag = "7")]
    pub language: String,
    #[prost(string, tag = "8")]
    pub location_uri: String,
    #[prost(uint64, tag = "9")]
    pub location_offset: u64,
    #[prost(uint64, tag = "10")]
    pub location_length: u64,
    #[prost(string, tag = "11")]
    pub payload_digest: String,
    /// 16 bytes, or empty when the record had no text.
    #[prost(bytes = "vec", tag = "12")]
    pub content_id: Vec<u8>,
    #[prost(string, tag = "13")]
    pub record_id: String,
    #[prost(enumeration = "RecordKind", tag = "14")]
    pub record_kind: i32,
    #[prost(string, tag = "15")]
    pub crawl: String,
    #[prost(string, tag = "16")]
    pub host: String,
    #[prost(string, tag = "17")]
    pub registered_domain: String,
    #[prost(string, tag = "18")]
    pub refers_to: String,
    /// How `location_offset`/`location_length` address the object.
    #[prost(enumeration = "Framing", tag = "19")]
    pub location_framing: i32,
    /// License found in the captured page; absent when none was stated.
    #[prost(message, optional, tag = "20")]
    pub license: Option<LicenseRecord>,
    /// Every opt-out / reservation signal seen at capture time.
    #[prost(message, repeated, tag = "21")]
    pub signals: Vec<SignalRecord>,
    /// Combined over `signals`.
    #[prost(enumeration = "Verdict", tag = "22")]
    pub optout_verdict: i32,
    /// Index into `signals` of the signal that decided the verdict.
    #[prost(uint32, optional, tag = "23")]
    pub optout_decider: Option<u32>,
    /// The near-duplicate cluster of the capture's content (16 bytes), copied
    /// from the content at the end of the build so a URL lookup needs no
    /// second read; empty when the cluster id is the content's own id (alone
    /// in its cluster, or its smallest member) or the capture has no content.
    #[prost(bytes = "vec", tag = "24")]
    pub cluster_id: Vec<u8>,
    /// Language of the capture's text: the content's detected language
    /// (ISO 639-3, `provindex_sketch::detect_language`), else the language
    /// the page declares (`language`, as written); empty when neither is
    /// known or the index was built before issue 16.
    #[prost(string, tag = "25")]
    pub content_language: String,
    /// Stored form only: `surt`, `host` and `registered_domain` were left out
    /// because `provindex_signals::surt(url)` gives them back exactly.
    #[prost(bool, tag = "26")]
    pub url_keys_derived: bool,
    /// Stored form only: `capture_time_raw` was left out because it is
    /// `provindex_signals::utc(capture_time)`.
    #[prost(bool, tag = "27")]
    pub time_raw_derived: bool,
    /// A site file's body (robots.txt, tdmrep.json, ai.txt answered 2xx), as
    /// the build's site-signal pass read it: the evidence of the site's
    /// policy, and what an incremental build (`--base`) applies again.
    #[prost(string, optional, tag = "28")]
    pub site_file_body: Option<String>,
    /// `site_file_body` was cut at the pipeline's size limit.
    #[prost(bool, tag = "29")]
    pub site_file_truncated: bool,
    /// A revisit's target SURT when it is not its own (`WARC-Refers-To-Target-URI`);
    /// `Some("")`: a target URI without a SURT key.
    #[prost(string, optional, tag = "30")]
    pub revisit_target_surt: Option<String>,
    /// A revisit's `WARC-Refers-To-Date` (unix seconds), when parseable.
    #[prost(int64, optional, tag = "31")]
    pub revisit_target_time: Option<i64>,
}

/// The page license a capture states.
#[derive(Clone, PartialEq, Message)]
pub struct LicenseRecord {
    #[prost(enumeration = "LicenseClass", tag = "1")]
    pub class: i32,
    /// e.g. `cc-by-sa-4.0`.
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(string, tag = "3")]
    pub spdx: String,
    #[prost(enumeration = "LicenseLocation", tag = "4")]
    pub location: i32,
    #[prost(string, tag = "5")]
    pub evidence: String,
    /// The page states more than one distinct license.
    #[prost(bool, tag = "6")]
    pub conflict: bool,
}

/// One opt-out / reservation signal with its evidence.
#[derive(Clone, PartialEq, Message)]
pub struct SignalRecord {
    #[prost(enumeration = "SignalKind", tag = "1")]
    pub kind: i32,
    #[prost(enumeration = "SignalSource", tag = "2")]
    pub source: i32,
    #[prost(enumeration = "Stance", tag = "3")]
    pub stance: i32,
    #[prost(string, tag = "4")]
    pub value: String,
    /// User agent the signal is scoped to; empty for every agent.
    #[prost(string, tag = "5")]
    pub agent: String,
    #[prost(string, tag = "6")]
    pub evidence: String,
    #[prost(int64, tag = "7")]
    pub captured_at: i64,
}

/// One distinct normalized text (value of `contents`).
#[derive(Clone, PartialEq, Message)]
pub struct ContentRecord {
    #[prost(bytes = "vec", tag = "1")]
    pub sha256: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub length_bytes: u64,
    #[prost(uint64, tag = "3")]
    pub token_count: u64,
    /// Filled in when the build finishes: distinct captures of this content.
    #[prost(uint64, tag = "4")]
    pub capture_count: u64,
    /// Earliest capture time among its captures; set when the build finishes.
    #[prost(int64, optional, tag = "5")]
    pub first_seen: Option<i64>,
    /// The first characters of the normalized text.
    #[prost(string, tag = "6")]
    pub preview: String,
    /// Near-duplicate cluster (16 bytes); empty when the content is alone in
    /// its cluster (then the cluster id is its own content id).
    #[prost(bytes = "vec", tag = "7")]
    pub cluster_id: Vec<u8>,
    /// The cluster's keeper (16 bytes); empty when alone (it keeps itself).
    #[prost(bytes = "vec", tag = "8")]
    pub cluster_keeper: Vec<u8>,
    /// Contents in the cluster; 0 when alone (a cluster of one).
    #[prost(uint64, tag = "9")]
    pub cluster_size: u64,
    /// Detected language of the text (ISO 639-3, e.g. `cmn`, `eng`; from
    /// `provindex_sketch::detect_language`, so the same for every capture of
    /// the content); empty when detection was not reliable or the index was
    /// built before issue 16 (a field added with a default: old indexes read).
    #[prost(string, tag = "10")]
    pub language: String,
    /// Personal identifiers in the text (issue 19): distinct e-mail
    /// addresses, phone numbers, Chinese resident identity numbers and
    /// payment card numbers ([`provindex_policy::pii::detect`]). Counts only,
    /// never values; 0 in indexes built before issue 19.
    #[prost(uint32, tag = "11")]
    pub pii_emails: u32,
    #[prost(uint32, tag = "12")]
    pub pii_phones: u32,
    #[prost(uint32, tag = "13")]
    pub pii_cn_resident_ids: u32,
    #[prost(uint32, tag = "14")]
    pub pii_payment_cards: u32,
}

impl ContentRecord {
    /// The PII count of `kind`.
    pub fn pii_count(&self, kind: provindex_policy::pii::PiiKind) -> u32 {
        use provindex_policy::pii::PiiKind;
        match kind {
            PiiKind::Email => self.pii_emails,
            PiiKind::Phone => self.pii_phones,
            PiiKind::ChineseResidentId => self.pii_cn_resident_ids,
            PiiKind::PaymentCard => self.pii_payment_cards,
        }
    }

    /// Sets the PII counts from a detection.
    pub fn set_pii(&mut self, counts: &PiiCounts) {
        [
            self.pii_emails,
            self.pii_phones,
            self.pii_cn_resident_ids,
            self.pii_payment_cards,
        ] = counts.0;
    }
}

/// Per [`provindex_policy::pii::PiiKind::ALL`] kind, how many distinct
/// identifiers a content holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PiiCounts(pub [u32; 4]);

impl From<&provindex_policy::pii::PiiFindings> for PiiCounts {
    fn from(findings: &provindex_policy::pii::PiiFindings) -> Self {
        PiiCounts(provindex_policy::pii::PiiKind::ALL.map(|k| findings.count(k)))
    }
}

/// A content's near-duplicate cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterInfo {
    pub cluster_id: u128,
    pub keeper: u128,
    pub size: u64,
}

impl ContentRecord {
    /// The cluster of content `content_id` (this record): a cluster of one
    /// when the build found no near-duplicate.
    pub fn cluster(&self, content_id: u128) -> ClusterInfo {
        match (
            crate::keys::decode_id(&self.cluster_id),
            crate::keys::decode_id(&self.cluster_keeper),
        ) {
            (Some(cluster_id), Some(keeper)) if self.cluster_size > 1 => ClusterInfo {
                cluster_id,
                keeper,
                size: self.cluster_size,
            },
            _ => ClusterInfo {
                cluster_id: content_id,
                keeper: content_id,
                size: 1,
            },
        }
    }

    /// Whether this content is its cluster's keeper (the one a deduplicated
    /// training manifest keeps).
    pub fn is_keeper(&self, content_id: u128) -> bool {
        provindex_policy::keeper::is_keeper(content_id, self.cluster(content_id).keeper)
    }
}

impl CaptureRecord {
    /// The capture's stored crawl-signal finding, as a fact for
    /// [`provindex_policy::reservation`].
    pub fn crawl_signal(&self, capture_id: u128) -> provindex_policy::CaptureSignal {
        provindex_policy::CaptureSignal {
            capture_id,
            capture_time: self.capture_time,
            verdict: self.optout_verdict().into(),
            signal_kind: self
                .optout_decider
                .and_then(|i| self.signals.get(i as usize))
                .map(|s| s.kind().as_str().to_owned()),
        }
    }

    pub fn content_id(&self) -> Option<u128> {
        crate::keys::decode_id(&self.content_id)
    }

    /// The near-duplicate cluster of the capture's content: the stored one,
    /// else the content's own id (a cluster of one, or the cluster's smallest
    /// member); `None` without content.
    pub fn cluster_id(&self) -> Option<u128> {
        crate::keys::decode_id(&self.cluster_id).or_else(|| self.content_id())
    }
}

impl CaptureRecord {
    /// The record as stored: fields that a pure function of other fields
    /// gives back exactly are left out (and flagged), so the largest table
    /// does not repeat the URL three times. [`Self::expand`] restores them.
    pub(crate) fn compacted(&self) -> CaptureRecord {
        let mut stored = self.clone();
        if let Ok(surt) = provindex_signals::surt(&self.url)
            && surt.key == self.surt
            && surt.host == self.host
            && surt.registered_domain.unwrap_or_default() == self.registered_domain
        {
            stored.surt.clear();
            stored.host.clear();
            stored.registered_domain.clear();
            stored.url_keys_derived = true;
        }
        if !self.capture_time_raw.is_empty()
            && provindex_signals::utc(self.capture_time) == self.capture_time_raw
        {
            stored.capture_time_raw.clear();
            stored.time_raw_derived = true;
        }
        stored
    }

    /// The inverse of [`Self::compacted`].
    pub(crate) fn expand(&mut self) -> Result<(), String> {
        if std::mem::take(&mut self.url_keys_derived) {
            let surt = provindex_signals::surt(&self.url)
                .map_err(|e| format!("url keys flagged derivable, but the url has none: {e}"))?;
            self.surt = surt.key;
            self.host = surt.host;
            self.registered_domain = surt.registered_domain.unwrap_or_default();
        }
        if std::mem::take(&mut self.time_raw_derived) {
            self.capture_time_raw = provindex_signals::utc(self.capture_time);
        }
        Ok(())
    }

    /// Every enumeration code names a variant, and the decider is a signal.
    pub(crate) fn validate(&self) -> Result<(), String> {
        check_code::<RecordKind>(self.record_kind, "record_kind")?;
        check_code::<Framing>(self.location_framing, "location_framing")?;
        check_code::<Verdict>(self.optout_verdict, "optout_verdict")?;
        if let Some(license) = &self.license {
            check_code::<LicenseClass>(license.class, "license.class")?;
            check_code::<LicenseLocation>(license.location, "license.location")?;
        }
        for (i, signal) in self.signals.iter().enumerate() {
            let field = |name: &str| format!("signals[{i}].{name}");
            check_code::<SignalKind>(signal.kind, &field("kind"))?;
            check_code::<SignalSource>(signal.source, &field("source"))?;
            check_code::<Stance>(signal.stance, &field("stance"))?;
        }
        match self.optout_decider {
            Some(i) if i as usize >= self.signals.len() => Err(format!(
                "optout_decider {i} names no signal (the capture has {})",
                self.signals.len()
            )),
            _ => Ok(()),
        }
    }
}
