//! The AI Act training-content summary (issue 19): the transparency report
//! laid out as the European Commission's "Template for the Public Summary of
//! Training Content for general-purpose AI models" (July 2025, Art. 53(1)(d)
//! AI Act). Section numbers and names follow the template:
//!
//! 1. General information — size per modality in the template's bands,
//!    languages.
//! 2. List of data sources — 2.1 publicly available datasets (JSONL inputs),
//!    2.2 private datasets licensed from rightholders, 2.3 data crawled and
//!    scraped from online sources (WARC inputs: the crawlers from the inputs'
//!    `warcinfo` records as the scan stored them in the index manifest, the
//!    collection period, content types, the top 10% of domains and the SME
//!    variant), 2.4 user data, 2.5 synthetic data, 2.6 other sources.
//! 3. Data processing aspects — 3.1 respect of reservations of rights (each
//!    opt-out protocol honoured and how many contents it excluded, by the
//!    export's own rule), 3.2 removal of illegal content (source blocks,
//!    erasures, complaints, audit labels) and personal data.
//!
//! The index only knows what it indexed: 2.2 and 2.4–2.6 say so, and the
//! provider fills in the model's name and what lies outside the index.
//! Every figure comes from the same walks and rules as the export
//! (`policy::export::export_reasons`) and the report ([`crate::build_report`]).

use std::collections::BTreeMap;

use provindex_index::records::RecordKind;
use provindex_index::registry::ListFilter;
use provindex_policy::arithmetic::{share, sme_top_domain_count, text_size_band, top_domain_count};
use provindex_policy::export::export_reasons;
use serde::Serialize;

use crate::{
    CollectionPeriod, DisclosureError, PersonalData, Removals, Result, Sources, build_report,
    domain_of, now, reservation_of, utc, walk_contents,
};

/// The template the summary follows, as stated in it.
pub const TEMPLATE: &str = "Template for the Public Summary of Training Content for general-purpose AI models (European Commission, July 2025; Article 53(1)(d) of Regulation (EU) 2024/1689)";

/// What the provider states about itself and the model (not in the index).
#[derive(Debug, Clone, Default)]
pub struct AiActOptions {
    pub provider: String,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AiActSummary {
    pub template: String,
    pub generated_at: i64,
    pub index: String,
    pub index_digest: String,
    pub built_at: i64,
    /// The registry honoured (path) and the time its entries are judged at.
    pub registry: Option<String>,
    pub at: i64,
    pub general_information: GeneralInformation,
    pub data_sources: DataSources,
    pub data_processing: DataProcessing,
}

/// Section 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneralInformation {
    pub provider: String,
    pub model: String,
    /// 1.2: one row per modality of the template (text, image, audio, video, other).
    pub modalities: Vec<Modality>,
    /// 1.3: contents per detected language (ISO 639-3; `und` when not detected).
    pub languages: Vec<LanguageShare>,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Modality {
    pub modality: String,
    pub included: bool,
    /// Tokens after deduplication (keepers) for text; 0 otherwise.
    pub tokens: u64,
    pub contents: u64,
    /// The template's size band ("less than 1 billion tokens", ...); empty
    /// for a modality not included.
    pub size_band: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LanguageShare {
    pub language: String,
    pub contents: u64,
    pub share_of_contents: f64,
}

/// Section 2.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataSources {
    pub public_datasets: PublicDatasets,
    pub licensed_private_data: NotInIndex,
    pub crawled: Crawled,
    pub user_data: NotInIndex,
    pub synthetic_data: NotInIndex,
    pub other_sources: NotInIndex,
}

/// 2.1: inputs that are datasets (JSONL records), each with its contents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicDatasets {
    pub used: bool,
    pub datasets: Vec<Dataset>,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    /// The input object as indexed.
    pub input: String,
    pub captures: u64,
    /// Distinct contents whose earliest capture is in this input.
    pub contents: u64,
    /// Tokens of those that are keepers.
    pub tokens: u64,
}

/// A source kind the index cannot see.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotInIndex {
    pub used_in_index: bool,
    pub note: String,
}

/// 2.3.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Crawled {
    pub used: bool,
    /// 2.3.1: the crawlers, one per distinct `warcinfo` record.
    pub crawlers: Vec<Crawler>,
    /// Crawled inputs without any `warcinfo` record (crawler unknown).
    pub inputs_without_warcinfo: Vec<String>,
    /// 2.3.2: the earliest and latest capture time of crawled captures.
    pub collection_period: CollectionPeriod,
    /// 2.3.3: captures by media type (`unknown` when none).
    pub content_types: Vec<ContentType>,
    pub captures: u64,
    pub contents: u64,
    pub tokens: u64,
    pub registered_domains: u64,
    /// 2.3.4: the top 10% of domain names by content size.
    pub top_domains: TopDomainList,
    /// 2.3.4, for SMEs: the top 5% or 1,000 domain names, whichever is lower.
    pub top_domains_sme: TopDomainList,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Crawler {
    /// `software` of the warcinfo record.
    pub name: String,
    /// `http-header-user-agent`.
    pub user_agent: String,
    /// `robots` (e.g. `classic`, `obey`, `ignore`, or a description).
    pub robots_policy: String,
    pub operator: String,
    /// `description`, else `isPartOf`.
    pub purpose: String,
    pub is_part_of: String,
    /// Every field of the record, as written.
    pub warcinfo: Vec<(String, String)>,
    /// The input objects written by it.
    pub inputs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentType {
    pub media_type: String,
    pub captures: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopDomainList {
    pub rule: String,
    pub count: u64,
    pub share_of_tokens: f64,
    pub domains: Vec<DomainSize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainSize {
    pub domain: String,
    pub tokens: u64,
    pub bytes: u64,
    pub contents: u64,
    pub share_of_tokens: f64,
}

/// Section 3.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataProcessing {
    pub reservations_of_rights: Reservations,
    pub illegal_content: IllegalContent,
}

/// 3.1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reservations {
    /// Each opt-out protocol the export honours, with the contents it
    /// excluded (the first reason of a content decides) and matched (any).
    pub measures: Vec<OptOutMeasure>,
    /// Contents excluded for any reservation (crawl signal or registry).
    pub contents_excluded: u64,
    /// Registry opt-outs in force at `at`, by scope kind (none without a registry).
    pub registry_entries_in_force: BTreeMap<String, u64>,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptOutMeasure {
    /// The export reason (`crawl_signal:robots_disallow`, `registry:domain`, ...).
    pub reason: String,
    pub protocol: String,
    pub how_honoured: String,
    pub contents_excluded: u64,
    pub contents_matched: u64,
}

/// 3.2.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IllegalContent {
    pub measures: String,
    pub source_blocks_in_force: u64,
    pub contents_source_blocked: u64,
    pub erasures_in_force: u64,
    pub contents_erased: u64,
    pub complaints: Complaints,
    pub audit: AuditOutcomes,
    pub personal_data: PersonalData,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Complaints {
    pub total: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub by_state: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditOutcomes {
    /// Review labels recorded (each content's latest label per source counts once).
    pub labelled: u64,
    pub failed: u64,
    pub failure_rate: f64,
    pub failed_by_category: BTreeMap<String, u64>,
}

/// What a crawl-signal kind is, and how the build reads it.
fn protocol_of(reason: &str) -> (&'static str, &'static str) {
    match reason {
        "crawl_signal:tdm_reservation" => (
            "W3C TDMRep (tdm-reservation: HTTP header, HTML meta, /.well-known/tdmrep.json)",
            "a page whose applicable TDMRep says tdm-reservation: 1 at capture time is left out of the training manifest",
        ),
        "crawl_signal:noai" | "crawl_signal:noimageai" => (
            "noai / noimageai robots directives (X-Robots-Tag header, meta robots)",
            "a page carrying the directive at capture time is left out",
        ),
        "crawl_signal:content_usage" => (
            "IETF AI preferences Content-Usage (HTTP header, robots.txt)",
            "train-ai=n applying to the page at capture time leaves it out",
        ),
        "crawl_signal:content_signal" => (
            "Content-Signal (robots.txt)",
            "ai-train=no applying to the page at capture time leaves it out",
        ),
        "crawl_signal:robots_disallow" => (
            "robots.txt (RFC 9309) rules for AI crawler user agents",
            "a page disallowed to an AI training crawler token by the robots.txt in force at capture time is left out",
        ),
        "crawl_signal:ai_txt_disallow" => (
            "ai.txt",
            "a page an ai.txt disallows at capture time is left out",
        ),
        "registry:domain" | "registry:url_prefix" | "registry:content" | "registry:work" => (
            "the provider's opt-out registry (rightholder registrations by domain, URL prefix, content or work incl. near-duplicates)",
            "a content an entry in force at `at` covers is left out; entries apply to the existing index without a rebuild",
        ),
        _ => ("other", "left out of the training manifest"),
    }
}

/// Builds the summary. The registry (when given) adds registry opt-outs,
/// removals, complaints and audit labels; without it those count none.
pub fn build_aiact_summary(sources: Sources<'_>, options: &AiActOptions) -> Result<AiActSummary> {
    let reader = sources.reader;
    let report = build_report(reader)?;
    let manifest = reader.manifest();

    // Captures: crawled or dataset, per input; media types; the period.
    let mut crawled_captures = 0u64;
    let mut crawled_inputs: BTreeMap<String, u64> = BTreeMap::new();
    let mut dataset_inputs: BTreeMap<String, u64> = BTreeMap::new();
    let mut content_types: BTreeMap<String, u64> = BTreeMap::new();
    let mut period: Option<(i64, i64)> = None;
    // Aggregates only: the walk's order across partitions does not matter.
    reader.for_each_owned_capture(|_, capture| -> Result<()> {
        if capture.record_kind() == RecordKind::JsonDoc {
            *dataset_inputs
                .entry(capture.location_uri.clone())
                .or_default() += 1;
            return Ok(());
        }
        crawled_captures += 1;
        *crawled_inputs
            .entry(capture.location_uri.clone())
            .or_default() += 1;
        let media = if capture.content_type.is_empty() {
            "unknown".to_owned()
        } else {
            capture.content_type.clone()
        };
        *content_types.entry(media).or_default() += 1;
        if capture.capture_time > 0 {
            let t = capture.capture_time;
            period = Some(period.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
        }
        Ok(())
    })?;

    // Contents: where each comes from (earliest capture), and the export's
    // reasons, as the export decides them.
    let removals = Removals::gather(&sources)?;
    let mut crawled_contents = 0u64;
    let mut crawled_tokens = 0u64;
    let mut domains: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut datasets: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut excluded_by: BTreeMap<String, u64> = BTreeMap::new();
    let mut matched: BTreeMap<String, u64> = BTreeMap::new();
    let mut text_tokens = 0u64;
    let mut text_contents = 0u64;
    walk_contents(reader, |view| {
        let earliest = view.earliest()?;
        let keeper = view.keeper();
        text_contents += 1;
        if keeper {
            text_tokens += view.record.token_count;
        }
        if earliest.record_kind() == RecordKind::JsonDoc {
            let slot = datasets.entry(earliest.location_uri.clone()).or_default();
            slot.0 += 1;
            if keeper {
                slot.1 += view.record.token_count;
            }
        } else {
            crawled_contents += 1;
            if keeper {
                crawled_tokens += view.record.token_count;
                let slot = domains.entry(domain_of(earliest)).or_default();
                slot.0 += view.record.token_count;
                slot.1 += view.record.length_bytes;
                slot.2 += 1;
            }
        }
        let removal = removals.of(&view, sources.at)?;
        let reservation = reservation_of(&sources, &view)?;
        let reasons = export_reasons(&removal, &reservation, keeper);
        for reason in &reasons.matched {
            *matched.entry(reason.clone()).or_default() += 1;
        }
        if let Some(reason) = reasons.excluded_by {
            *excluded_by.entry(reason).or_default() += 1;
        }
        Ok(())
    })?;

    // 2.3.4: domains ranked by tokens (then name), as the report ranks them.
    let mut ranked: Vec<(String, (u64, u64, u64))> = domains.into_iter().collect();
    ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
    let domain_count = ranked.len();
    let top_list = |n: usize, rule: &str| {
        let domains: Vec<DomainSize> = ranked
            .iter()
            .take(n)
            .map(|(domain, (tokens, bytes, contents))| DomainSize {
                domain: domain.clone(),
                tokens: *tokens,
                bytes: *bytes,
                contents: *contents,
                share_of_tokens: share(*tokens, crawled_tokens),
            })
            .collect();
        let tokens: u64 = domains.iter().map(|d| d.tokens).sum();
        TopDomainList {
            rule: rule.to_owned(),
            count: domains.len() as u64,
            share_of_tokens: share(tokens, crawled_tokens),
            domains,
        }
    };
    let (top_n, sme_n) = if domain_count == 0 {
        (0, 0)
    } else {
        (
            top_domain_count(domain_count),
            sme_top_domain_count(domain_count),
        )
    };
    let top_domains = top_list(
        top_n,
        "top 10% of the registered domains of crawled contents (rounded up, at least 1), by content size: tokens after deduplication (keepers only), a content counted for the registered domain of its earliest capture; ties by name",
    );
    let top_domains_sme = top_list(
        sme_n,
        "SME variant: the top 5% of those domains (rounded up, at least 1) or 1,000, whichever is lower, ranked the same way",
    );

    // 2.3.1: crawlers from the inputs' warcinfo records.
    let crawlers: Vec<Crawler> = manifest
        .warcinfo
        .iter()
        .filter(|w| w.inputs.iter().any(|i| crawled_inputs.contains_key(i)))
        .map(|w| {
            let field = |name: &str| w.get(name).unwrap_or_default().to_owned();
            Crawler {
                name: field("software"),
                user_agent: field("http-header-user-agent"),
                robots_policy: field("robots"),
                operator: field("operator"),
                purpose: w
                    .get("description")
                    .or_else(|| w.get("isPartOf"))
                    .unwrap_or_default()
                    .to_owned(),
                is_part_of: field("isPartOf"),
                warcinfo: w.fields.clone(),
                inputs: w.inputs.clone(),
            }
        })
        .collect();
    let described: std::collections::BTreeSet<&str> = manifest
        .warcinfo
        .iter()
        .flat_map(|w| w.inputs.iter().map(String::as_str))
        .collect();
    let inputs_without_warcinfo: Vec<String> = crawled_inputs
        .keys()
        .filter(|i| !described.contains(i.as_str()))
        .cloned()
        .collect();

    // 3.1: one row per reservation reason that matched anything, in reason order.
    let mut reservation_excluded = 0u64;
    let measures: Vec<OptOutMeasure> = matched
        .iter()
        .filter(|(reason, _)| {
            reason.starts_with("crawl_signal:") || reason.starts_with("registry:")
        })
        .map(|(reason, n)| {
            let (protocol, how) = protocol_of(reason);
            let excluded = excluded_by.get(reason).copied().unwrap_or(0);
            reservation_excluded += excluded;
            OptOutMeasure {
                reason: reason.clone(),
                protocol: protocol.to_owned(),
                how_honoured: how.to_owned(),
                contents_excluded: excluded,
                contents_matched: *n,
            }
        })
        .collect();

    // Registry facts: entries in force, complaints, labels.
    let mut in_force: BTreeMap<String, u64> = BTreeMap::new();
    let mut complaints = Complaints {
        total: 0,
        by_kind: BTreeMap::new(),
        by_state: BTreeMap::new(),
    };
    let mut labels: BTreeMap<(String, String, String), (bool, String)> = BTreeMap::new();
    if let Some(registry) = sources.registry {
        let filter = ListFilter {
            include_revoked: true,
            ..ListFilter::default()
        };
        let mut after = None;
        loop {
            let (entries, next) = registry.list(&filter, after, 1000)?;
            for entry in &entries {
                if entry.in_effect_at(sources.at) {
                    *in_force
                        .entry(entry.scope.kind().as_str().to_owned())
                        .or_default() += 1;
                }
            }
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        for complaint in registry.complaints()? {
            complaints.total += 1;
            *complaints
                .by_kind
                .entry(complaint.kind.clone())
                .or_default() += 1;
            *complaints
                .by_state
                .entry(complaint.state.clone())
                .or_default() += 1;
        }
        let mut seq = 0u64;
        loop {
            let records = registry.audit_log(seq, 1000)?;
            let Some(last) = records.last() else { break };
            seq = last.seq;
            for record in records {
                if record.action != "label" || record.result != "ok" {
                    continue;
                }
                let text = |field: &str| {
                    record
                        .request
                        .get(field)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                // The latest label of a content in a source counts.
                labels.insert(
                    (text("source_kind"), text("source"), text("content_id")),
                    (text("verdict") == "fail", text("category")),
                );
            }
        }
    }
    let removal_entries = |kind: &str| -> u64 {
        in_force
            .iter()
            .filter(|(k, _)| k.starts_with(kind))
            .map(|(_, n)| *n)
            .sum()
    };
    let source_blocks_in_force = removal_entries("source_block");
    let erasures_in_force = removal_entries("erasure");
    let reservation_entries: BTreeMap<String, u64> = in_force
        .iter()
        .filter(|(k, _)| !k.starts_with("source_block") && !k.starts_with("erasure"))
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    let failed = labels.values().filter(|(fail, _)| *fail).count() as u64;
    let mut failed_by_category: BTreeMap<String, u64> = BTreeMap::new();
    for (fail, category) in labels.values() {
        if *fail {
            *failed_by_category.entry(category.clone()).or_default() += 1;
        }
    }

    if text_contents == 0 {
        return Err(DisclosureError::Empty(format!(
            "index {} holds no contents: nothing to summarize",
            reader.path().display()
        )));
    }
    let (from, to) = period.unwrap_or((0, 0));
    let not_in_index = |what: &str| NotInIndex {
        used_in_index: false,
        note: format!(
            "the index holds no {what}; the provider states here any such data used outside it"
        ),
    };
    let other = |modality: &str| Modality {
        modality: modality.to_owned(),
        included: false,
        tokens: 0,
        contents: 0,
        size_band: String::new(),
    };
    Ok(AiActSummary {
        template: TEMPLATE.to_owned(),
        generated_at: now(),
        index: report.index.clone(),
        index_digest: report.index_digest.clone(),
        built_at: report.built_at,
        registry: sources
            .registry
            .map(|r| r.path().display().to_string()),
        at: sources.at,
        general_information: GeneralInformation {
            provider: options.provider.clone(),
            model: options.model.clone(),
            modalities: vec![
                Modality {
                    modality: "text".into(),
                    included: true,
                    tokens: text_tokens,
                    contents: text_contents,
                    size_band: text_size_band(text_tokens).to_owned(),
                },
                other("image"),
                other("audio"),
                other("video"),
                other("other"),
            ],
            languages: report
                .languages
                .iter()
                .map(|(language, n)| LanguageShare {
                    language: language.clone(),
                    contents: *n,
                    share_of_contents: share(*n, text_contents),
                })
                .collect(),
            rule: "text size = tokens after deduplication (each near-duplicate cluster's keeper once), banded as in the template; languages = contents per detected language".into(),
        },
        data_sources: DataSources {
            public_datasets: PublicDatasets {
                used: !datasets.is_empty(),
                datasets: datasets
                    .iter()
                    .map(|(input, (contents, tokens))| Dataset {
                        input: input.clone(),
                        captures: dataset_inputs.get(input).copied().unwrap_or(0),
                        contents: *contents,
                        tokens: *tokens,
                    })
                    .collect(),
                rule: "inputs of dataset records (JSONL lines) are datasets; a content belongs to the input of its earliest capture".into(),
            },
            licensed_private_data: not_in_index("data licensed from rightholders"),
            crawled: Crawled {
                used: crawled_captures > 0,
                crawlers,
                inputs_without_warcinfo,
                collection_period: CollectionPeriod {
                    from,
                    to,
                    from_utc: utc(from),
                    to_utc: utc(to),
                },
                content_types: content_types
                    .into_iter()
                    .map(|(media_type, captures)| ContentType {
                        media_type,
                        captures,
                    })
                    .collect(),
                captures: crawled_captures,
                contents: crawled_contents,
                tokens: crawled_tokens,
                registered_domains: domain_count as u64,
                top_domains,
                top_domains_sme,
            },
            user_data: not_in_index("user data"),
            synthetic_data: not_in_index("synthetic data"),
            other_sources: not_in_index("data of other sources"),
        },
        data_processing: DataProcessing {
            reservations_of_rights: Reservations {
                measures,
                contents_excluded: reservation_excluded,
                registry_entries_in_force: reservation_entries,
                rule: "as `provindex export` decides: each content's first reason excludes it (removals, then the crawl signal of its earliest reserving capture, then registry entries in force at `at`, then near-duplicates); contents_matched counts every content a measure applies to".into(),
            },
            illegal_content: IllegalContent {
                measures: "registry removals honoured by the export: source_block (a domain, host or input object) and erasure (a content, or every content holding a personal identifier by its keyed hash); complaints (copyright, unlawful content, personal information) reviewed and, when upheld, turned into registry entries; random audit samples per source labelled by reviewers".into(),
                source_blocks_in_force,
                contents_source_blocked: excluded_by.get("source_blocked").copied().unwrap_or(0),
                erasures_in_force,
                contents_erased: excluded_by.get("erased").copied().unwrap_or(0),
                complaints,
                audit: AuditOutcomes {
                    labelled: labels.len() as u64,
                    failed,
                    failure_rate: share(failed, labels.len() as u64),
                    failed_by_category,
                },
                personal_data: report.personal_data.clone(),
            },
        },
    })
}
