//! `provindex report --aiact-json FILE --aiact-html FILE`: the AI Act
//! training-content summary (`provindex_disclosure::aiact`) written next to
//! the transparency report. Argument parsing and files only.

use std::path::PathBuf;

use clap::Args;
use provindex_disclosure::{self as disclosure, AiActOptions, Sources};
use provindex_index::IndexParts;

#[derive(Args, Debug, Default)]
pub struct AiActArgs {
    /// Write the AI Act summary (Commission template, July 2025) as JSON here.
    #[arg(long)]
    aiact_json: Option<PathBuf>,
    /// Write the AI Act summary as a self-contained HTML page (inline SVG
    /// charts, no script) here.
    #[arg(long)]
    aiact_html: Option<PathBuf>,
    /// Registry whose opt-outs, removals, complaints and audit labels the
    /// AI Act summary counts (default: none; crawl signals only).
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Registry entries in force at this time count (unix seconds; default now).
    #[arg(long)]
    at: Option<i64>,
    /// The provider's name, as the summary states it.
    #[arg(long, default_value = "")]
    provider: String,
    /// The model's name, as the summary states it.
    #[arg(long, default_value = "")]
    model: String,
}

impl AiActArgs {
    pub fn wanted(&self) -> bool {
        self.aiact_json.is_some() || self.aiact_html.is_some()
    }
}

/// Computes the summary and writes the files asked for.
pub fn write_aiact(reader: IndexParts<'_>, args: &AiActArgs) -> anyhow::Result<()> {
    if !args.wanted() {
        if args.registry.is_some() || args.at.is_some() {
            anyhow::bail!(
                "--registry and --at apply to the AI Act summary: add --aiact-json or --aiact-html"
            );
        }
        return Ok(());
    }
    let registry = crate::export::open_registry(args.registry.as_ref())?;
    let summary = disclosure::build_aiact_summary(
        Sources {
            reader,
            registry: registry.as_ref(),
            at: args.at.unwrap_or_else(disclosure::now),
        },
        &AiActOptions {
            provider: args.provider.clone(),
            model: args.model.clone(),
        },
    )?;
    if let Some(path) = &args.aiact_json {
        crate::export::write_atomically(
            path,
            &crate::export::pretty(serde_json::to_value(&summary)?),
        )?;
        println!("aiact json: {}", path.display());
    }
    if let Some(path) = &args.aiact_html {
        crate::export::write_atomically(path, disclosure::render_aiact_html(&summary).as_bytes())?;
        println!("aiact html: {}", path.display());
    }
    Ok(())
}
