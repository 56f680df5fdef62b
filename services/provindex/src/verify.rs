//! `provindex verify`: checks a signed ledger manifest and proof files
//! offline, from the trusted public key alone (no server, no index). The
//! manifest's signature is checked first; each proof is then checked against
//! the manifest's roots and content count. Prints `ok PATH: ...` or
//! `FAIL PATH: reason` per file (the same lines as the Python verifier,
//! `python -m provindex_client.ledger`) and exits 1 when any check failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use provindex_ledger::wire::PartitionedClaim;
use provindex_ledger::{
    LeafFacts, LedgerManifest, OptOutAtBuild, PublicationManifest, ShaLeaf, TreeKind, VerifyingKey,
    wire,
};

/// Exit status when a signature or proof does not verify.
pub const EXIT_FAILED: u8 = 1;

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The signed manifest (`ledger.json` of the index or of a partitioned
    /// publication, or LedgerService.GetSignedManifest's JSON).
    #[arg(long)]
    manifest: PathBuf,
    /// The trusted Ed25519 public key: 64 hex digits, or @FILE holding them
    /// (or the 32 raw bytes).
    #[arg(long)]
    public_key: String,
    /// The signed manifest of the version `--manifest` says it was built on
    /// (an incremental build's base): it must verify under the same key and
    /// its digest must be the manifest's `base_version_digest`.
    #[arg(long)]
    base_manifest: Option<PathBuf>,
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

fn format_of(text: &str) -> Result<Option<String>, String> {
    Ok(serde_json::from_str::<serde_json::Value>(text)
        .map_err(|e| format!("not JSON: {e}"))?
        .get("format")
        .and_then(|f| f.as_str().map(str::to_owned)))
}

/// A verified manifest: a whole index's, or a partitioned publication's
/// (whose proofs carry their partition's manifest).
enum Trusted {
    Index(LedgerManifest),
    Publication(PublicationManifest, VerifyingKey),
}

/// One partitioned proof file against a verified publication manifest.
fn verify_partitioned_proof(
    path: &Path,
    publication: &PublicationManifest,
    key: &VerifyingKey,
) -> Result<String, String> {
    let text = read(path)?;
    match format_of(&text)?.as_deref() {
        Some(wire::PARTITIONED_PROOF_FORMAT) => {}
        other => {
            return Err(format!(
                "document format {other:?}: a partitioned publication's proofs are {:?}",
                wire::PARTITIONED_PROOF_FORMAT
            ));
        }
    }
    match wire::verify_partitioned_json(&text, publication, key).map_err(|e| e.to_string())? {
        PartitionedClaim::Included {
            tree,
            partition,
            leaf,
        } => Ok(format!(
            "included in the {tree} tree of partition {partition}: {}",
            describe_leaf(tree, &leaf)
        )),
        PartitionedClaim::Absent {
            tree,
            key,
            partitions,
        } => Ok(format!(
            "{} absent from the {tree} tree (partitions {partitions:?} of {})",
            hex::encode(key),
            publication.partition_count()
        )),
    }
}

/// One proof file against a verified manifest: a one-line summary or why
/// it failed.
fn verify_proof(path: &Path, manifest: &LedgerManifest) -> Result<String, String> {
    let text = read(path)?;
    let format = format_of(&text)?;
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
    let trusted = match read_manifest(&args.manifest, &args.public_key) {
        Ok(trusted) => trusted,
        Err(reason) => {
            println!("FAIL {}: {reason}", args.manifest.display());
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match &trusted {
        Trusted::Index(manifest) => println!(
            "ok {}: manifest of {} contents, digest {}, content root {}, sha256 root {}",
            args.manifest.display(),
            manifest.content_count,
            hex::encode(manifest.digest()),
            hex::encode(manifest.content_root),
            hex::encode(manifest.sha256_root)
        ),
        Trusted::Publication(publication, _) => println!(
            "ok {}: publication manifest of {} contents in {} partitions, digest {}, index digest {}",
            args.manifest.display(),
            publication.content_count,
            publication.partition_count(),
            hex::encode(publication.digest()),
            hex::encode(publication.index_digest)
        ),
    }
    let mut failed = false;
    if let Some(base) = &args.base_manifest {
        let named = match &trusted {
            Trusted::Index(manifest) => manifest.base_version_digest,
            Trusted::Publication(publication, _) => publication.base_version_digest,
        };
        match verify_base(base, &args.public_key, named) {
            Ok(summary) => println!("ok {}: {summary}", base.display()),
            Err(reason) => {
                println!("FAIL {}: {reason}", base.display());
                failed = true;
            }
        }
    }
    for path in &args.proofs {
        let verdict = match &trusted {
            Trusted::Index(manifest) => verify_proof(path, manifest),
            Trusted::Publication(publication, key) => {
                verify_partitioned_proof(path, publication, key)
            }
        };
        match verdict {
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

/// The base version's manifest against the digest the verified manifest
/// names for it.
fn verify_base(
    path: &Path,
    public_key: &str,
    named: Option<provindex_ledger::Hash>,
) -> Result<String, String> {
    let named = named.ok_or("the manifest names no base version (base_version_digest is null)")?;
    let digest = match read_manifest(path, public_key)? {
        Trusted::Index(manifest) => manifest.digest(),
        Trusted::Publication(publication, _) => publication.digest(),
    };
    if digest != named {
        return Err(format!(
            "digest {} is not the manifest's base_version_digest {}",
            hex::encode(digest),
            hex::encode(named)
        ));
    }
    Ok(format!(
        "base version of the manifest, digest {}",
        hex::encode(digest)
    ))
}

/// A signed manifest of either kind, its signature checked against the
/// trusted key.
fn read_manifest(path: &Path, public_key: &str) -> Result<Trusted, String> {
    let key = trusted_key(public_key)?;
    let text = read(path)?;
    if format_of(&text)?.as_deref() == Some(wire::SIGNED_PUBLICATION_FORMAT) {
        let signed = wire::signed_publication_from_json(&text).map_err(|e| e.to_string())?;
        let publication = signed.verify(&key).cloned().map_err(|e| e.to_string())?;
        return Ok(Trusted::Publication(publication, key));
    }
    let signed = wire::signed_manifest_from_json(&text).map_err(|e| e.to_string())?;
    signed
        .verify(&key)
        .cloned()
        .map(Trusted::Index)
        .map_err(|e| e.to_string())
}
