//! Index build stages. [`build_local`] runs the whole build in one process:
//! reader threads turn crawl records into prepared captures (text extraction,
//! normalization, hashing, SURT keys) and one writer thread puts them into the
//! index; revisit records are resolved to their original's content at the end.

mod local;
mod prepare;
pub mod site_signals;

pub use local::{BuildReport, LocalBuild, PipelineError, build_local, expand_inputs};
pub use prepare::{
    PreparedCapture, PreparedSketch, capture_id_for, default_hasher, extract_html, prepare,
    prepare_with, reader_options,
};
