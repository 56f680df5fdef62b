//! `provindex verify`: checks a signed ledger manifest and proof files
//! offline, from the trusted public key alone (no server, no index). The
//! manifest's signature is checked first; each proof is then checked against
//! the manifest's roots and content count. Prints `ok PATH: ...` or
//! `FAIL PATH: reason` per file (the same lines as the Python verifier,
//! `python -m provindex_client.ledger`) and exits 1 when any check failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use provindex_ledger::{LeafFacts, LedgerManifest, OptOutAtBuild, ShaLeaf, TreeKind, wire};

/// Exit status when a signature or proof does not verify.
pub const EXIT_FAILED: u8 = 1;

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The signed manifest (`ledger.json` of the index, or
    /// LedgerService.GetSignedManifest's JSON).
    #[arg(long)]
    manifest: PathBuf,
    /// The trusted Ed25519 public key: 64 hex digits, or @FILE holding them
    /// (or the 32 raw bytes).
    #[arg(long)]
    public_key: String,
    /// Inclusion / non-inclusion proof files (`provindex-ledger-*-v1` JSON).
    proofs: Vec<PathBuf>,
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn trusted_key(text: &str) -> Result<provindex_ledger::VerifyingKey, String> {
    let bytes = match text.strip_prefix('@') {
        Some(file) => std::fs::read(file).map_err(|e| format!("public key file {file}: {e}"))?,
        None => text.as_bytes().to_vec(),
    };
    provindex_ledger::verifying_key_from_bytes(&bytes).map_err(|e| format!("public key: {e}"))
}

fn opt_out_name(opt_out: OptOutAtBuild) -> &'static str {
    match opt_out {
        OptOutAtBuild::Unknown => "unknown",
        OptOutAtBuild::NotReserved => "not_reserved",
        OptOutAtBuild::Reserved => "reserved",
    }
}

fn describe_leaf(tree: TreeKind, leaf: &[u8]) -> String {
    match tree {
        TreeKind::Content => match LeafFacts::decode(leaf) {
            Ok(f) => format!(
                "content {:032x} sha256 {} captures {} cluster {:032x} keeper {} opt-out {} language {:?}",
                f.content_id,
                hex::encode(f.sha256),
                f.capture_count,
                f.cluster_id,
                f.keeper,
                opt_out_name(f.opt_out),
                f.language
            ),
            Err(e) => format!("undecodable leaf: {e}"),
        },
        TreeKind::Sha256 => match ShaLeaf::decode(leaf) {
            Ok(l) => format!(
                "sha256 {} is content {:032x}",
                hex::encode(l.sha256),
                l.content_id
            ),
            Err(e) => format!("undecodable leaf: {e}"),
        },
    }
}

/// One proof file against a verified manifest: a one-line summary or why
/// it failed.
fn verify_proof(path: &Path, manifest: &LedgerManifest) -> Result<String, String> {
    let text = read(path)?;
    let format: Option<String> = serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| format!("not JSON: {e}"))?
        .get("format")
        .and_then(|f| f.as_str().map(str::to_owned));
    match format.as_deref() {
        Some(wire::INCLUSION_FORMAT) => {
            let (tree, leaf) =
                wire::verify_inclusion_json(&text, manifest).map_err(|e| e.to_string())?;
            Ok(format!(
                "included in the {tree} tree: {}",
                describe_leaf(tree, &leaf)
            ))
        }
        Some(wire::NON_INCLUSION_FORMAT) => {
            let (tree, key) =
                wire::verify_non_inclusion_json(&text, manifest).map_err(|e| e.to_string())?;
            Ok(format!("{} absent from the {tree} tree", hex::encode(key)))
        }
        other => Err(format!("unknown document format {other:?}")),
    }
}

pub fn run_verify(args: VerifyArgs) -> ExitCode {
    let manifest = match verify_manifest(&args) {
        Ok(manifest) => manifest,
        Err(reason) => {
            println!("FAIL {}: {reason}", args.manifest.display());
            return ExitCode::from(EXIT_FAILED);
        }
    };
    println!(
        "ok {}: manifest of {} contents, digest {}, content root {}, sha256 root {}",
        args.manifest.display(),
        manifest.content_count,
        hex::encode(manifest.digest()),
        hex::encode(manifest.content_root),
        hex::encode(manifest.sha256_root)
    );
    let mut failed = false;
    for path in &args.proofs {
        match verify_proof(path, &manifest) {
            Ok(summary) => println!("ok {}: {summary}", path.display()),
            Err(reason) => {
                println!("FAIL {}: {reason}", path.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

fn verify_manifest(args: &VerifyArgs) -> Result<LedgerManifest, String> {
    let key = trusted_key(&args.public_key)?;
    let signed =
        wire::signed_manifest_from_json(&read(&args.manifest)?).map_err(|e| e.to_string())?;
    signed.verify(&key).cloned().map_err(|e| e.to_string())
}
