//! The AI Act summary ([`crate::aiact`]) as one self-contained HTML page:
//! no script, no external asset, charts as inline SVG. Escaping is not left
//! to each call: markup is only ever `&'static str` ([`Page::raw`]); every
//! runtime string (names, user agents, URLs, numbers) goes through
//! [`Page::text`], which escapes it.

use crate::aiact::{AiActSummary, NotInIndex, TopDomainList};

/// Escapes text for element content and double- or single-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// An HTML document under construction.
#[derive(Default)]
struct Page {
    out: String,
}

impl Page {
    /// Markup: static text only, so nothing read from the index lands here.
    fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// Any text, escaped.
    fn text(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.out.push_str(&escape(text.as_ref()));
        self
    }

    /// `<tag>text</tag>`, for a static tag pair.
    fn element(
        &mut self,
        open: &'static str,
        text: impl AsRef<str>,
        close: &'static str,
    ) -> &mut Self {
        self.raw(open).text(text).raw(close)
    }

    /// A table row: a header cell and a value cell.
    fn row(&mut self, header: impl AsRef<str>, value: impl AsRef<str>) -> &mut Self {
        self.element("<tr><th>", header, "</th>")
            .element("<td>", value, "</td></tr>")
    }

    /// A horizontal bar chart as inline SVG: one bar per (label, value shown,
    /// share in 0..=1).
    fn bars(&mut self, title: &str, rows: &[(String, String, f64)]) -> &mut Self {
        if rows.is_empty() {
            return self.element("<p class=\"note\">", format!("{title}: none."), "</p>");
        }
        let height = 24 * rows.len() + 10;
        self.raw("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"")
            .text(height.to_string())
            .raw("\" role=\"img\" aria-label=\"")
            .text(title)
            .raw("\"><title>")
            .text(title)
            .raw("</title>");
        for (i, (label, shown, value)) in rows.iter().enumerate() {
            let y = 5 + 24 * i;
            let width = (value.clamp(0.0, 1.0) * 330.0).round();
            self.raw("<text x=\"0\" y=\"")
                .text((y + 14).to_string())
                .raw("\" font-size=\"12\">")
                .text(shorten(label, 34))
                .raw("</text><rect x=\"250\" y=\"")
                .text(y.to_string())
                .raw("\" width=\"")
                .text(width.to_string())
                .raw("\" height=\"18\" fill=\"#3b6ea5\"/><text x=\"")
                .text((255.0 + width).to_string())
                .raw("\" y=\"")
                .text((y + 14).to_string())
                .raw("\" font-size=\"12\">")
                .text(shown)
                .raw("</text>");
        }
        self.raw("</svg>")
    }

    fn not_in_index(&mut self, heading: &'static str, section: &NotInIndex) -> &mut Self {
        self.raw(heading).element("<p>", &section.note, "</p>")
    }

    fn top_domains(&mut self, heading: &'static str, list: &TopDomainList) -> &mut Self {
        self.raw(heading)
            .element("<p class=\"note\">", &list.rule, "</p>");
        let rows: Vec<(String, String, f64)> = list
            .domains
            .iter()
            .map(|d| {
                (
                    d.domain.clone(),
                    format!("{} tokens ({})", d.tokens, pct(d.share_of_tokens)),
                    d.share_of_tokens,
                )
            })
            .collect();
        self.bars("Top domains by share of tokens", &rows);
        self.raw("<table><tr><th>Domain</th><th>Tokens</th><th>Bytes</th><th>Contents</th><th>Share of tokens</th></tr>");
        for d in &list.domains {
            self.element("<tr><td>", &d.domain, "</td>")
                .element("<td>", d.tokens.to_string(), "</td>")
                .element("<td>", d.bytes.to_string(), "</td>")
                .element("<td>", d.contents.to_string(), "</td>")
                .element("<td>", pct(d.share_of_tokens), "</td></tr>");
        }
        self.raw("</table>").element(
            "<p>",
            format!(
                "{} domain(s), {} of the crawled tokens.",
                list.count,
                pct(list.share_of_tokens)
            ),
            "</p>",
        )
    }
}

/// A label cut to `max` characters for a chart (the tables carry it whole).
fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// The summary as a self-contained HTML page.
pub fn render_aiact_html(summary: &AiActSummary) -> String {
    let mut page = Page::default();
    let general = &summary.general_information;
    let sources = &summary.data_sources;
    let crawled = &sources.crawled;
    let processing = &summary.data_processing;
    page.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<title>Public Summary of Training Content</title>")
        .raw(
            "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}\
             table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
             .note{color:#555;font-size:90%}code{word-break:break-all}</style></head><body>",
        )
        .raw("<h1>Public Summary of Training Content</h1>")
        .element("<p class=\"note\">", &summary.template, "</p>")
        .raw("<table>")
        .row("Index", &summary.index)
        .row("Index digest", &summary.index_digest)
        .row("Built at (unix seconds)", summary.built_at.to_string())
        .row("Generated at (unix seconds)", summary.generated_at.to_string())
        .row(
            "Registry honoured",
            summary.registry.as_deref().unwrap_or("none"),
        )
        .row("Registry entries judged at (unix seconds)", summary.at.to_string())
        .raw("</table>");

    // 1.
    page.raw("<h2>1. General information</h2><table>")
        .row("Provider", or_blank(&general.provider))
        .row("Model", or_blank(&general.model))
        .raw("</table><h3>1.2 Modality and size of the training data</h3>")
        .raw("<table><tr><th>Modality</th><th>Included</th><th>Tokens</th><th>Contents</th><th>Size band</th></tr>");
    for m in &general.modalities {
        page.element("<tr><td>", &m.modality, "</td>")
            .element("<td>", if m.included { "yes" } else { "no" }, "</td>")
            .element("<td>", m.tokens.to_string(), "</td>")
            .element("<td>", m.contents.to_string(), "</td>")
            .element("<td>", &m.size_band, "</td></tr>");
    }
    page.raw("</table>")
        .element("<p class=\"note\">", &general.rule, "</p>")
        .raw("<h3>1.3 Languages</h3>");
    let languages: Vec<(String, String, f64)> = general
        .languages
        .iter()
        .map(|l| {
            (
                l.language.clone(),
                format!("{} contents ({})", l.contents, pct(l.share_of_contents)),
                l.share_of_contents,
            )
        })
        .collect();
    page.bars("Contents by language", &languages);

    // 2.
    page.raw("<h2>2. List of data sources</h2><h3>2.1 Publicly available datasets</h3>");
    if sources.public_datasets.datasets.is_empty() {
        page.raw("<p>None in the index.</p>");
    } else {
        page.raw("<table><tr><th>Dataset (input)</th><th>Records</th><th>Contents</th><th>Tokens</th></tr>");
        for d in &sources.public_datasets.datasets {
            page.element("<tr><td><code>", &d.input, "</code></td>")
                .element("<td>", d.captures.to_string(), "</td>")
                .element("<td>", d.contents.to_string(), "</td>")
                .element("<td>", d.tokens.to_string(), "</td></tr>");
        }
        page.raw("</table>");
    }
    page.element("<p class=\"note\">", &sources.public_datasets.rule, "</p>")
        .not_in_index(
            "<h3>2.2 Private non-publicly available datasets obtained from third parties (licensed)</h3>",
            &sources.licensed_private_data,
        )
        .raw("<h3>2.3 Data crawled and scraped from online sources</h3>");
    if !crawled.used {
        page.raw("<p>No crawled data in the index.</p>");
    }
    page.raw("<h4>2.3.1 Crawlers used</h4>");
    for c in &crawled.crawlers {
        page.raw("<table>")
            .row("Crawler (software)", or_blank(&c.name))
            .row("User agent", or_blank(&c.user_agent))
            .row("robots.txt behaviour", or_blank(&c.robots_policy))
            .row("Operator", or_blank(&c.operator))
            .row("Purpose", or_blank(&c.purpose))
            .row("Inputs written by it", c.inputs.len().to_string())
            .raw("</table><details><summary>warcinfo fields and inputs</summary><table>");
        for (name, value) in &c.warcinfo {
            page.row(name, value);
        }
        page.raw("</table><ul>");
        for input in &c.inputs {
            page.element("<li><code>", input, "</code></li>");
        }
        page.raw("</ul></details>");
    }
    if !crawled.inputs_without_warcinfo.is_empty() {
        page.raw("<p>Crawled inputs without a warcinfo record (crawler not stated):</p><ul>");
        for input in &crawled.inputs_without_warcinfo {
            page.element("<li><code>", input, "</code></li>");
        }
        page.raw("</ul>");
    }
    page.raw("<h4>2.3.2 Collection period</h4><table>")
        .row("From", &crawled.collection_period.from_utc)
        .row("To", &crawled.collection_period.to_utc)
        .row("Captures", crawled.captures.to_string())
        .row("Distinct contents", crawled.contents.to_string())
        .row("Tokens after deduplication", crawled.tokens.to_string())
        .row("Registered domains", crawled.registered_domains.to_string())
        .raw("</table><h4>2.3.3 Types of content</h4>");
    let types: Vec<(String, String, f64)> = crawled
        .content_types
        .iter()
        .map(|t| {
            let share = if crawled.captures == 0 {
                0.0
            } else {
                t.captures as f64 / crawled.captures as f64
            };
            (
                t.media_type.clone(),
                format!("{} captures", t.captures),
                share,
            )
        })
        .collect();
    page.bars("Captures by media type", &types)
        .top_domains(
            "<h4>2.3.4 Top 10% of domain names by content size</h4>",
            &crawled.top_domains,
        )
        .top_domains(
            "<h4>2.3.4 (SMEs) Top 5% or 1,000 domain names, whichever is lower</h4>",
            &crawled.top_domains_sme,
        )
        .not_in_index("<h3>2.4 User data</h3>", &sources.user_data)
        .not_in_index("<h3>2.5 Synthetic data</h3>", &sources.synthetic_data)
        .not_in_index("<h3>2.6 Other sources of data</h3>", &sources.other_sources);

    // 3.
    let reservations = &processing.reservations_of_rights;
    page.raw("<h2>3. Data processing aspects</h2><h3>3.1 Respect of reservation of rights</h3>")
        .element("<p class=\"note\">", &reservations.rule, "</p>");
    let most = reservations
        .measures
        .iter()
        .map(|m| m.contents_matched)
        .max()
        .unwrap_or(0)
        .max(1);
    let bars: Vec<(String, String, f64)> = reservations
        .measures
        .iter()
        .map(|m| {
            (
                m.reason.clone(),
                format!("{} excluded", m.contents_excluded),
                m.contents_excluded as f64 / most as f64,
            )
        })
        .collect();
    page.bars("Contents excluded per opt-out measure", &bars)
        .raw("<table><tr><th>Measure</th><th>Protocol</th><th>How honoured</th><th>Contents excluded</th><th>Contents matched</th></tr>");
    for m in &reservations.measures {
        page.element("<tr><td><code>", &m.reason, "</code></td>")
            .element("<td>", &m.protocol, "</td>")
            .element("<td>", &m.how_honoured, "</td>")
            .element("<td>", m.contents_excluded.to_string(), "</td>")
            .element("<td>", m.contents_matched.to_string(), "</td></tr>");
    }
    page.raw("</table>").element(
        "<p>",
        format!(
            "{} contents excluded for a reservation of rights.",
            reservations.contents_excluded
        ),
        "</p>",
    );
    if !reservations.registry_entries_in_force.is_empty() {
        page.raw("<table><tr><th>Registry opt-outs in force, by scope</th><th>Entries</th></tr>");
        for (kind, n) in &reservations.registry_entries_in_force {
            page.row(kind, n.to_string());
        }
        page.raw("</table>");
    }
    let illegal = &processing.illegal_content;
    page.raw("<h3>3.2 Removal of illegal content</h3>")
        .element("<p>", &illegal.measures, "</p>")
        .raw("<table>")
        .row(
            "Source blocks in force",
            illegal.source_blocks_in_force.to_string(),
        )
        .row(
            "Contents excluded as source_blocked",
            illegal.contents_source_blocked.to_string(),
        )
        .row("Erasures in force", illegal.erasures_in_force.to_string())
        .row(
            "Contents excluded as erased",
            illegal.contents_erased.to_string(),
        )
        .row("Complaints received", illegal.complaints.total.to_string());
    for (kind, n) in &illegal.complaints.by_kind {
        page.row(format!("Complaints: {kind}"), n.to_string());
    }
    for (state, n) in &illegal.complaints.by_state {
        page.row(format!("Complaints {state}"), n.to_string());
    }
    page.row("Audit labels", illegal.audit.labelled.to_string())
        .row(
            "Audit labels failed",
            format!(
                "{} ({})",
                illegal.audit.failed,
                pct(illegal.audit.failure_rate)
            ),
        );
    for (category, n) in &illegal.audit.failed_by_category {
        page.row(format!("Failed: {category}"), n.to_string());
    }
    let personal = &illegal.personal_data;
    page.raw("</table><h4>Personal data</h4>").element(
        "<p>",
        format!(
            "{} contents ({}) hold at least one personal identifier.",
            personal.contents_with_any,
            pct(personal.share_of_contents)
        ),
        "</p>",
    );
    let kinds: Vec<(String, String, f64)> = personal
        .contents_by_kind
        .iter()
        .map(|(kind, n)| {
            let share = personal.share_by_kind.get(kind).copied().unwrap_or(0.0);
            (
                kind.clone(),
                format!("{n} contents ({})", pct(share)),
                share,
            )
        })
        .collect();
    page.bars("Contents with personal identifiers, by kind", &kinds)
        .element("<p class=\"note\">", &personal.rule, "</p>")
        .raw("</body></html>\n");
    page.out
}

fn or_blank(text: &str) -> &str {
    if text.is_empty() {
        "(not stated)"
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_markup_is_static() {
        let mut page = Page::default();
        page.element("<p>", "<script>alert('x')</script> & \"q\"", "</p>");
        assert_eq!(
            page.out,
            "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</p>"
        );
        let mut chart = Page::default();
        chart.bars("t<", &[("a\"b".into(), "1 <x>".into(), 0.5)]);
        assert!(chart.out.contains("a&quot;b") && chart.out.contains("1 &lt;x&gt;"));
        assert!(!chart.out.contains("a\"b") && !chart.out.contains("<x>"));
        assert!(chart.out.contains("width=\"165\""), "{}", chart.out);
    }
}
