//! What every client command shares: the connection options (`--server`,
//! `--token`, TLS, `--json`), the connection itself, exit statuses, and the
//! complete JSON form of every answer.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use provindex_proto::v1::{
    Capture, CheckOptOutResponse, Cluster, Content, License, OptOutFinding, OptOutRegistration,
    OptOutSignal, OptOutStatus, RecordLocation, WorkMatch,
    audit_service_client::AuditServiceClient, opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient,
};
use serde_json::{Value, json};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Request, Status};

/// Exit status when the server answered NOT_FOUND.
pub const EXIT_NOT_FOUND: u8 = 1;
/// Exit status when the request was rejected as invalid.
pub const EXIT_INVALID: u8 = 2;
/// Exit status for every other failure (server unreachable, internal error,
/// UNAUTHENTICATED, PERMISSION_DENIED, ...).
pub const EXIT_ERROR: u8 = 3;

/// The environment variable `--token` defaults to (keeps tokens out of `ps`).
pub const TOKEN_ENV: &str = "PROVINDEX_TOKEN";

/// Largest answer the client accepts (GetCapture with the original record).
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// Options of every client command.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Client options")]
pub struct ClientOpts {
    /// Server address, host:port (or http://host:port, https://host:port).
    #[arg(long, global = true, default_value = crate::DEFAULT_SERVER)]
    pub server: String,
    /// Bearer token sent as `authorization: Bearer TOKEN`. Default: the
    /// PROVINDEX_TOKEN environment variable (which keeps it out of `ps`).
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// Talk TLS, trusting this CA certificate (PEM). Implies --tls.
    #[arg(long, global = true)]
    pub ca: Option<PathBuf>,
    /// Talk TLS (also implied by --ca or an https:// server address).
    #[arg(long, global = true)]
    pub tls: bool,
    /// The server name to verify the certificate against (default: the host
    /// of --server).
    #[arg(long, global = true)]
    pub tls_domain: Option<String>,
    /// Print the complete answer as JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A connected channel and the token to send with every call.
pub struct Conn {
    channel: Channel,
    authorization: Option<MetadataValue<Ascii>>,
}

impl Conn {
    pub async fn open(opts: &ClientOpts) -> Result<Self, Status> {
        let token = opts
            .token
            .clone()
            .or_else(|| std::env::var(TOKEN_ENV).ok())
            .filter(|t| !t.is_empty());
        let authorization = match token {
            Some(token) => Some(format!("Bearer {token}").parse().map_err(|_| {
                Status::invalid_argument("the token must be printable ASCII".to_owned())
            })?),
            None => None,
        };
        let server = opts.server.as_str();
        let tls = opts.tls
            || opts.ca.is_some()
            || opts.tls_domain.is_some()
            || server.starts_with("https://");
        let uri = if server.contains("://") {
            if tls && server.starts_with("http://") {
                return Err(Status::invalid_argument(format!(
                    "--server {server} is plaintext http:// but TLS was asked for (--tls/--ca)"
                )));
            }
            server.to_owned()
        } else if tls {
            format!("https://{server}")
        } else {
            format!("http://{server}")
        };
        let mut endpoint = Channel::from_shared(uri.clone())
            .map_err(|e| Status::invalid_argument(format!("server address {server:?}: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120));
        if tls {
            let Some(ca) = &opts.ca else {
                return Err(Status::invalid_argument(
                    "TLS needs --ca CA.pem: this build trusts no system root certificates",
                ));
            };
            let pem = std::fs::read(ca).map_err(|e| {
                Status::invalid_argument(format!("reading --ca {}: {e}", ca.display()))
            })?;
            let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem));
            if let Some(domain) = &opts.tls_domain {
                config = config.domain_name(domain.clone());
            }
            endpoint = endpoint
                .tls_config(config)
                .map_err(|e| Status::invalid_argument(format!("TLS configuration: {e}")))?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| Status::unavailable(format!("cannot connect to {uri}: {}", chain(&e))))?;
        Ok(Self {
            channel,
            authorization,
        })
    }

    /// A request carrying the token, if there is one.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        request
    }

    pub fn provenance(&self) -> ProvenanceServiceClient<Channel> {
        ProvenanceServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn optout(&self) -> OptOutServiceClient<Channel> {
        OptOutServiceClient::new(self.channel.clone())
    }

    pub fn audit(&self) -> AuditServiceClient<Channel> {
        // A sample with texts can be large.
        AuditServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
}

/// An error with its causes, `outer: inner: root`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Runs a client command: exit 0 on success, 1 NOT_FOUND, 2
/// INVALID_ARGUMENT, 3 otherwise, with the status code and message on stderr.
pub fn run(command: impl Future<Output = Result<(), Status>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => {
            eprintln!("error: {}: {}", code_name(status.code()), status.message());
            ExitCode::from(match status.code() {
                Code::NotFound => EXIT_NOT_FOUND,
                Code::InvalidArgument => EXIT_INVALID,
                _ => EXIT_ERROR,
            })
        }
    }
}

/// The canonical gRPC name of a status code, e.g. `UNAUTHENTICATED`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Reads a text argument: a file, or standard input for `-`.
pub fn read_text(path: &std::path::Path) -> Result<String, Status> {
    let result = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    result.map_err(|e| Status::invalid_argument(format!("reading {}: {e}", path.display())))
}

// The JSON forms below name every field of their proto message, with the
// proto field names (as protobuf's JSON mapping would, but with
// preserved_proto_field_names and unset sub-messages as null).

pub fn location_json(location: &RecordLocation) -> Value {
    json!({
        "uri": location.uri,
        "offset": location.offset,
        "length": location.length,
        "framing": location.framing,
    })
}

pub fn license_json(license: &License) -> Value {
    json!({
        "class": license.class,
        "id": license.id,
        "spdx": license.spdx,
        "location": license.location,
        "evidence": license.evidence,
        "conflict": license.conflict,
    })
}

pub fn signal_json(signal: &OptOutSignal) -> Value {
    json!({
        "kind": signal.kind,
        "source": signal.source,
        "stance": signal.stance,
        "value": signal.value,
        "agent": signal.agent,
        "evidence": signal.evidence,
        "seen_at": signal.seen_at,
    })
}

pub fn optout_status_json(status: &OptOutStatus) -> Value {
    json!({
        "verdict": status.verdict,
        "deciding_signal": status.deciding_signal.as_ref().map(signal_json),
        "signals": status.signals.iter().map(signal_json).collect::<Vec<_>>(),
    })
}

pub fn capture_json(capture: &Capture) -> Value {
    json!({
        "capture_id": capture.capture_id,
        "url": capture.url,
        "surt": capture.surt,
        "capture_time": capture.capture_time,
        "capture_time_raw": capture.capture_time_raw,
        "http_status": capture.http_status,
        "content_type": capture.content_type,
        "language": capture.language,
        "location": capture.location.as_ref().map(location_json),
        // Kept from earlier versions, which printed the framing beside the location.
        "location_framing": capture.location.as_ref().map(|l| l.framing.clone()).unwrap_or_default(),
        "payload_digest": capture.payload_digest,
        "content_id": capture.content_id,
        "record_id": capture.record_id,
        "record_kind": capture.record_kind,
        "crawl": capture.crawl,
        "host": capture.host,
        "registered_domain": capture.registered_domain,
        "refers_to": capture.refers_to,
        "license": capture.license.as_ref().map(license_json),
        "optout": capture.optout.as_ref().map(optout_status_json),
        "cluster_id": capture.cluster_id,
        "content_language": capture.content_language,
    })
}

pub fn cluster_json(cluster: &Cluster) -> Value {
    json!({
        "cluster_id": cluster.cluster_id,
        "size": cluster.size,
        "keeper": cluster.keeper,
    })
}

pub fn content_json(content: &Content) -> Value {
    json!({
        "content_id": content.content_id,
        "sha256": content.sha256,
        "length_bytes": content.length_bytes,
        "token_count": content.token_count,
        "capture_count": content.capture_count,
        "first_seen": content.first_seen,
        "preview": content.preview,
        "cluster": content.cluster.as_ref().map(cluster_json),
        "is_keeper": content.is_keeper,
        "language": content.language,
    })
}

pub fn work_match_json(work: &WorkMatch) -> Value {
    json!({
        "content": work.content.as_ref().map(content_json),
        "similarity": work.similarity,
        "exact": work.exact,
        "captures": work.captures.iter().map(capture_json).collect::<Vec<_>>(),
        "capture_count": work.capture_count,
        "captures_page_token": work.captures_page_token,
    })
}

pub fn finding_json(finding: &OptOutFinding) -> Value {
    json!({
        "origin": finding.origin,
        "capture_id": finding.capture_id,
        "url": finding.url,
        "verdict": finding.verdict,
        "signal": finding.signal.as_ref().map(signal_json),
        "since": finding.since,
        "registry_entry_id": finding.registry_entry_id,
        "scope": finding.scope,
    })
}

pub fn check_optout_json(response: &CheckOptOutResponse) -> Value {
    json!({
        "verdict": response.verdict,
        "deciding": response.deciding.as_ref().map(finding_json),
        "reserving": response.reserving.iter().map(finding_json).collect::<Vec<_>>(),
        "content_id": response.content_id,
        "captures_checked": response.captures_checked,
        "registry_checked": response.registry_checked,
    })
}

pub fn registration_json(entry: &OptOutRegistration) -> Value {
    json!({
        "id": entry.id,
        "rightholder": entry.rightholder,
        "scope_kind": entry.scope_kind,
        "scope_key": entry.scope_key,
        "submitted": entry.submitted,
        "effective_from": entry.effective_from,
        "evidence": entry.evidence,
        "created_at": entry.created_at,
        "created_by": entry.created_by,
        "revoked_at": entry.revoked_at,
        "revoked_by": entry.revoked_by,
        "revocation_reason": entry.revocation_reason,
        "sketch_spec": entry.sketch_spec,
        "work_token_count": entry.work_token_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(value: &Value) -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        keys
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn capture_json_names_every_field() {
        let capture = Capture {
            cluster_id: "c".repeat(32),
            content_language: "eng".into(),
            location: Some(RecordLocation {
                framing: "gzip_member".into(),
                offset: 7,
                ..Default::default()
            }),
            ..Default::default()
        };
        let value = capture_json(&capture);
        // Every proto field (1..=21), plus the old location_framing.
        assert_eq!(
            keys(&value),
            sorted(&[
                "capture_id",
                "url",
                "surt",
                "capture_time",
                "capture_time_raw",
                "http_status",
                "content_type",
                "language",
                "location",
                "payload_digest",
                "content_id",
                "record_id",
                "record_kind",
                "crawl",
                "host",
                "registered_domain",
                "refers_to",
                "license",
                "optout",
                "cluster_id",
                "content_language",
                "location_framing",
            ])
        );
        assert_eq!(value["cluster_id"], "c".repeat(32));
        assert_eq!(value["content_language"], "eng");
        assert_eq!(value["location"]["framing"], "gzip_member");
        assert_eq!(value["location"]["offset"], 7);
        assert_eq!(value["location_framing"], "gzip_member");
    }

    #[test]
    fn content_and_registration_json_name_every_field() {
        let content = content_json(&Content {
            language: "cmn".into(),
            ..Default::default()
        });
        assert_eq!(content.as_object().unwrap().len(), 10);
        assert_eq!(content["language"], "cmn");
        let entry = registration_json(&OptOutRegistration {
            revoked_at: Some(5),
            ..Default::default()
        });
        assert_eq!(entry.as_object().unwrap().len(), 14);
        assert_eq!(entry["revoked_at"], 5);
        assert!(registration_json(&OptOutRegistration::default())["revoked_at"].is_null());
        assert_eq!(
            check_optout_json(&CheckOptOutResponse::default())
                .as_object()
                .unwrap()
                .len(),
            6
        );
        assert_eq!(
            finding_json(&OptOutFinding::default())
                .as_object()
                .unwrap()
                .len(),
            8
        );
        assert_eq!(
            work_match_json(&WorkMatch::default())
                .as_object()
                .unwrap()
                .len(),
            6
        );
    }
}
