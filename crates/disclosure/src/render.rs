//! Rendering, apart from computing: the transparency report as a
//! self-contained HTML page with SVG bar charts, the compensation statement
//! as CSV. Input is the computed, typed result; nothing here decides a number.

use crate::{CompensationStatement, TransparencyReport};

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// A horizontal bar chart: one bar per (label, share in 0..=1).
fn svg_bars(title: &str, rows: &[(String, f64)]) -> String {
    let height = 24 * rows.len() + 10;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 5 + 24 * i;
        let width = (value.clamp(0.0, 1.0) * 380.0).round();
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>\
             <rect x=\"200\" y=\"{y}\" width=\"{width}\" height=\"18\" fill=\"#3b6ea5\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 14,
            esc(label),
            205.0 + width,
            y + 14,
            pct(*value)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// The report as a self-contained HTML page with SVG charts.
pub fn render_html(report: &TransparencyReport) -> String {
    let domains: Vec<(String, f64)> = report
        .top_domains
        .domains
        .iter()
        .map(|d| (d.domain.clone(), d.share_of_tokens))
        .collect();
    let licenses: Vec<(String, f64)> = report
        .license_mix
        .classes
        .iter()
        .map(|c| (c.class.clone(), c.share))
        .collect();
    let totals = &report.totals;
    let reservation = &report.reservation_signals;
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    html.push_str(&format!("<title>{}</title>", esc(&report.title)));
    html.push_str(
        "<style>body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
         .note{color:#555;font-size:90%}</style></head><body>",
    );
    html.push_str(&format!("<h1>{}</h1>", esc(&report.title)));
    html.push_str(&format!(
        "<p class=\"note\">Index {} (digest {}), in the spirit of the EU AI Act training-content summary template.</p>",
        esc(&report.index),
        esc(&report.index_digest)
    ));
    html.push_str("<h2>1. Sources and collection period</h2><table>");
    html.push_str(&format!(
        "<tr><th>Crawls</th><td>{}</td></tr>",
        esc(&report.crawls.join(", "))
    ));
    html.push_str(&format!(
        "<tr><th>Collection period</th><td>{} – {}</td></tr>",
        esc(&report.collection_period.from_utc),
        esc(&report.collection_period.to_utc)
    ));
    for (label, value) in [
        ("Captures", totals.captures),
        ("Captures with text", totals.captures_with_text),
        ("Distinct contents", totals.contents),
        ("Near-duplicate cluster keepers", totals.keepers),
        (
            "Tokens after deduplication",
            totals.tokens_after_exact_dedup,
        ),
        ("Registered domains", totals.registered_domains),
    ] {
        html.push_str(&format!("<tr><th>{label}</th><td>{value}</td></tr>"));
    }
    html.push_str("</table>");
    html.push_str(&format!(
        "<h2>2. Top domains by share of tokens</h2><p class=\"note\">{}</p>",
        esc(&report.top_domains.rule)
    ));
    html.push_str(&svg_bars("Top domains by share of tokens", &domains));
    html.push_str(&format!(
        "<p>The top {} domain(s) hold {} of all tokens.</p>",
        report.top_domains.count,
        pct(report.top_domains.share_of_tokens)
    ));
    html.push_str(&format!(
        "<h2>3. License mix</h2><p class=\"note\">{}</p>",
        esc(&report.license_mix.rule)
    ));
    html.push_str(&svg_bars("License mix", &licenses));
    html.push_str("<h2>4. Reservation of rights (opt-outs)</h2><table>");
    html.push_str(&format!(
        "<tr><th>Contents with a reservation signal</th><td>{} ({})</td></tr>",
        reservation.contents_with_reservation,
        pct(reservation.share_of_contents)
    ));
    html.push_str(&format!(
        "<tr><th>Captures with a reserved verdict</th><td>{}</td></tr>",
        reservation.captures_reserved
    ));
    html.push_str(&format!(
        "<tr><th>How honoured</th><td>{}</td></tr></table>",
        esc(&reservation.honoured)
    ));
    html.push_str("<h2>5. Duplicates</h2>");
    let rate = report.duplicates.duplicate_rate;
    html.push_str(&svg_bars(
        "Duplicate rate",
        &[
            ("duplicate captures".into(), rate),
            ("distinct contents".into(), 1.0 - rate),
        ],
    ));
    html.push_str(&format!(
        "<p class=\"note\">{}.</p>",
        esc(&report.duplicates.rule)
    ));
    let near = report.duplicates.near_duplicate_rate;
    html.push_str(&svg_bars(
        "Near-duplicate rate",
        &[
            ("near-duplicate contents".into(), near),
            ("cluster keepers".into(), 1.0 - near),
        ],
    ));
    html.push_str(&format!(
        "<p>{} of {} distinct contents are near-duplicates (not their cluster's keeper).</p>",
        report.duplicates.near_duplicate_contents, report.duplicates.contents
    ));
    html.push_str(&format!(
        "<p class=\"note\">{}. {}</p>",
        esc(&report.duplicates.near_duplicates),
        esc(&report.dedup)
    ));
    html.push_str("</body></html>\n");
    html
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The statement as CSV: `kind,name,contents,tokens,share,amount`, one row
/// per registered domain (`kind` = `registered_domain`), then one per
/// rightholder (`rightholder`), then the `unclaimed` row. Domain rows sum to
/// the pool; so do rightholder rows plus the unclaimed row.
pub fn compensation_csv(statement: &CompensationStatement) -> String {
    let mut out = String::from("kind,name,contents,tokens,share,amount\n");
    for row in &statement.shares {
        out.push_str(&format!(
            "registered_domain,{},{},{},{:.9},{:.2}\n",
            csv_field(&row.registered_domain),
            row.contents,
            row.tokens,
            row.share,
            row.amount
        ));
    }
    for row in &statement.rightholder_shares {
        out.push_str(&format!(
            "rightholder,{},{},{:.3},{:.9},{:.2}\n",
            csv_field(&row.rightholder),
            row.contents,
            row.tokens,
            row.share,
            row.amount
        ));
    }
    let u = &statement.unclaimed;
    out.push_str(&format!(
        "unclaimed,,{},{},{:.9},{:.2}\n",
        u.contents, u.tokens, u.share, u.amount
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DomainShare, RightholderShare, Unclaimed};

    #[test]
    fn csv_quotes_names() {
        let statement = CompensationStatement {
            index: String::new(),
            registry: None,
            pool: 10.0,
            from: None,
            to: None,
            at: 0,
            contents: 1,
            tokens: 3,
            rule: String::new(),
            rightholder_rule: String::new(),
            pool_minor_units: 1000,
            minor_units_rule: String::new(),
            shares: vec![DomainShare {
                registered_domain: "a.org".into(),
                contents: 1,
                tokens: 3,
                share: 1.0,
                amount: 10.0,
                amount_minor_units: 1000,
            }],
            rightholder_shares: vec![RightholderShare {
                rightholder: "Smith, \"J\"".into(),
                contents: 1,
                tokens: 1.5,
                share: 0.5,
                amount: 5.0,
                entry_ids: vec![1],
                claim_ids: Vec::new(),
                amount_minor_units: 500,
            }],
            unclaimed: Unclaimed {
                contents: 0,
                tokens: 0,
                share: 0.5,
                amount: 5.0,
                amount_minor_units: 500,
            },
        };
        let csv = compensation_csv(&statement);
        assert!(
            csv.contains("rightholder,\"Smith, \"\"J\"\"\",1,1.500,"),
            "{csv}"
        );
        assert_eq!(csv.lines().count(), 4);
    }
}
