//! Index build stages (DESIGN.md "Batch pipeline"): scan → cluster →
//! components → revisits → build (one task per index partition) → publish
//! (partitioned indexes), run as leased tasks pulled by workers from a
//! coordinator ([`job::Coordinator`]). [`build_local`] runs the same tasks in
//! one process (an in-memory coordinator and worker threads).

mod cluster_lookup;
mod components;
pub mod job;
mod job_log;
pub mod ledger;
mod local;
pub mod pii_key;
mod prepare;
pub mod publish;
pub mod rescan;
pub mod revisits;
mod scan_record;
pub mod site_signals;
mod status;
pub mod tasks;
pub mod worker;
mod writer;

pub use local::{
    LocalBuild, PipelineError, build_local, build_local_with_progress, check_output,
    default_staging, expand_inputs, input_objects, list_inputs, remove_staging,
};
pub use prepare::{
    PreparedCapture, PreparedSketch, ScanOptions, capture_id_for, default_hasher, extract_html,
    prepare, prepare_keyed, prepare_with, reader_options,
};
pub use writer::{BuildReport, IndexWriter, merge_reports};
