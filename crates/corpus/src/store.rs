//! Input addressing through `object_store`: local paths and `file://`,
//! `s3://bucket/prefix`, `memory://name/prefix`, read-only `https://host/key`
//! (and `http://`) objects, and path lists; globs and prefixes expand to
//! sorted object lists; objects stream into the sync readers with bounded
//! memory; `read_range` fetches one record's bytes again as evidence.
//!
//! # HTTP(S) objects
//!
//! `https://host/key` names one object on a plain web server (Common Crawl's
//! `https://data.commoncrawl.org/` mirror). Listing it is a HEAD request (for
//! its size); reading it streams a GET; evidence lookups send `Range`
//! requests, so the server must answer them with `206 Partial Content`.
//! Plain HTTP has no listing, so globs and folder URIs (`https://host/dir/`)
//! are refused: name the objects, or give a path list. Queries and fragments
//! (`?`, `#`) are refused too. Such objects are read-only.
//!
//! # Path lists
//!
//! An input whose name ends in `.paths` or `.paths.gz` (gzip) is a list of
//! objects, one a line, such as Common Crawl's `warc.paths.gz`; it expands to
//! those objects, without probing each (100,000 HEAD requests would cost more
//! than they tell: an object that cannot be read fails its own scan task,
//! which `--skip-failed-inputs` leaves out). Empty lines and lines starting
//! with `#` are skipped. Each line is resolved:
//!
//! - a line with a scheme (`s3://…`, `https://…`, `file://…`) is used as is;
//! - any other line is a key under the list's *base*: by default the root of
//!   the store the list is on (`https://host/`, `s3://bucket/`: Common Crawl's
//!   lists name keys from the bucket root, `crawl-data/CC-MAIN-…/…warc.gz`),
//!   and for a list on the local file system, the list's own folder; a line
//!   starting with `/` is a key from the root of the base's store (for a
//!   local base, an absolute path);
//! - `BASE::LIST` gives the base explicitly, e.g.
//!   `https://data.commoncrawl.org/::/data/warc.paths.gz` for a downloaded
//!   Common Crawl list.
//!
//! A list with a bad line (not UTF-8, control characters or spaces, an
//! unsupported scheme, a key with empty or `..` segments, a nested path
//! list) fails whole, naming the list, the line number and the reason (and
//! how many other lines are bad): a list is the definition of what a build
//! covers, and a list that is damaged (or an HTML error page saved under its
//! name) should not yield an index that silently covers part of a crawl.
//! Nothing has been scanned when it fails, so the fix is cheap.
//!
//! # S3 credentials
//!
//! In order: explicit [`S3Settings`]; the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); the shared files
//! `~/.aws/credentials` and `~/.aws/config` for profile `AWS_PROFILE`
//! ([`crate::aws_profile`]); then object_store's chain (web identity token,
//! ECS / EKS container credentials, EC2 instance metadata). Region and
//! endpoint likewise: settings, `AWS_REGION` / `AWS_DEFAULT_REGION` and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT`, then the profile's `region` and
//! `endpoint_url`, then `us-east-1`.
//!
//! The blocking methods run on the store's own tokio runtime (or on a handle
//! given to it) and must not be called from inside an async task; use the
//! `*_async` methods there.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjPath;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};

use crate::{Docs, ReaderOptions, open_docs};

/// Errors addressing or fetching objects.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid input URI {uri:?}: {reason}")]
    InvalidUri { uri: String, reason: String },
    #[error("{uri}: {source}")]
    Store {
        uri: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{uri}: {source}")]
    Io {
        uri: String,
        #[source]
        source: io::Error,
    },
    #[error("no objects match {0:?}")]
    NoMatch(String),
    /// A create-only put ([`CorpusStore::put_new`]) found an object there.
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("runtime: {0}")]
    Runtime(String),
    /// Unusable S3 settings (an AWS profile that is missing or incomplete).
    #[error("AWS configuration: {0}")]
    Config(String),
    /// A destination that cannot take a new object (missing or read-only
    /// folder, a special file system such as /proc).
    #[error("{uri}: cannot be written: {reason}")]
    Unwritable { uri: String, reason: String },
    /// A path list that cannot be expanded: its first bad line (0: the
    /// list as a whole) and how many more lines are bad.
    #[error("path list {list}{}: {reason}{}", if *line > 0 { format!(", line {line}") } else { String::new() }, if *more > 0 { format!(" (and {more} more bad line(s))") } else { String::new() })]
    PathList {
        list: String,
        line: usize,
        reason: String,
        more: usize,
    },
}

impl StoreError {
    /// Whether the store refused the request for good (no such bucket or
    /// object, no permission, bad credentials, an invalid URI) rather than
    /// failing in a way worth retrying.
    pub fn is_refusal(&self) -> bool {
        match self {
            StoreError::InvalidUri { .. }
            | StoreError::PathList { .. }
            | StoreError::Config(_)
            | StoreError::NoMatch(_)
            | StoreError::AlreadyExists(_)
            | StoreError::Unwritable { .. } => true,
            StoreError::Store { source, .. } => matches!(
                source,
                object_store::Error::NotFound { .. }
                    | object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
                    | object_store::Error::InvalidPath { .. }
            ),
            StoreError::Io { .. } | StoreError::Runtime(_) => false,
        }
    }
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectInfo {
    /// Full URI in the same style as the pattern it was listed from (a bare
    /// local path stays a bare path).
    pub uri: String,
    pub size: u64,
}

/// Explicit S3 settings; anything left `None` comes from the environment
/// (`AWS_ENDPOINT_URL` / `AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` / `AWS_DEFAULT_REGION`, ...).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scheme {
    /// Bare local path (kept bare in listings).
    Local,
    File,
    S3,
    Memory,
    /// `http://` / `https://`: read-only, no listing.
    Http,
    Https,
}

/// A parsed input URI.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    scheme: Scheme,
    /// Bucket / memory store name; empty for local.
    authority: String,
    /// Key within the store (no leading slash); for local, the absolute path
    /// without its leading slash.
    key: String,
}

impl Parsed {
    fn store_key(&self) -> String {
        match self.scheme {
            Scheme::Local | Scheme::File => "file://".into(),
            Scheme::S3 => format!("s3://{}", self.authority),
            Scheme::Memory => format!("memory://{}", self.authority),
            Scheme::Http => format!("http://{}", self.authority),
            Scheme::Https => format!("https://{}", self.authority),
        }
    }

    fn uri_for(&self, key: &str) -> String {
        match self.scheme {
            Scheme::Local => format!("/{key}"),
            Scheme::File => format!("file:///{key}"),
            Scheme::S3 => format!("s3://{}/{key}", self.authority),
            Scheme::Memory => format!("memory://{}/{key}", self.authority),
            Scheme::Http => format!("http://{}/{key}", self.authority),
            Scheme::Https => format!("https://{}/{key}", self.authority),
        }
    }

    fn is_http(&self) -> bool {
        matches!(self.scheme, Scheme::Http | Scheme::Https)
    }
}

fn parse_uri(uri: &str) -> Result<Parsed, StoreError> {
    let bad = |reason: &str| StoreError::InvalidUri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    if let Some((scheme, rest)) = uri.split_once("://") {
        let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
        let key = key.trim_start_matches('/').to_string();
        return match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                if !authority.is_empty() && authority != "localhost" {
                    return Err(bad("file:// URIs must be absolute (file:///path)"));
                }
                Ok(Parsed {
                    scheme: Scheme::File,
                    authority: String::new(),
                    key,
                })
            }
            "s3" | "s3a" => {
                if authority.is_empty() {
                    return Err(bad("missing bucket"));
                }
                Ok(Parsed {
                    scheme: Scheme::S3,
                    authority: authority.to_string(),
                    key,
                })
            }
            "memory" => Ok(Parsed {
                scheme: Scheme::Memory,
                authority: authority.to_string(),
                key,
            }),
            "http" | "https" => {
                if authority.is_empty() {
                    return Err(bad("missing host"));
                }
                if rest.contains(['?', '#']) {
                    return Err(bad(
                        "queries and fragments are not supported in HTTP(S) inputs",
                    ));
                }
                Ok(Parsed {
                    scheme: if scheme.eq_ignore_ascii_case("https") {
                        Scheme::Https
                    } else {
                        Scheme::Http
                    },
                    authority: authority.to_ascii_lowercase(),
                    key,
                })
            }
            _ => Err(bad(
                "unsupported scheme (use a path, file://, s3://, https://, http:// or memory://)",
            )),
        };
    }
    let p = std::path::Path::new(uri);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| bad(&format!("no current directory: {e}")))?
            .join(p)
    };
    // Lexical normalization (`.` and `..`), as object_store paths reject them.
    let mut norm = std::path::PathBuf::from("/");
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                norm.pop();
            }
            std::path::Component::Normal(x) => norm.push(x),
            _ => {}
        }
    }
    let s = norm.to_str().ok_or_else(|| bad("path is not UTF-8"))?;
    Ok(Parsed {
        scheme: Scheme::Local,
        authority: String::new(),
        key: s.trim_start_matches('/').to_string(),
    })
}

/// Creates a fresh scratch file beside `target` (its folder created if
/// missing). Written here rather than through object_store's local store,
/// whose staged upload retries forever when a folder refuses new files
/// (`/proc/self/x`: NotFound after its parent "exists").
fn create_scratch(
    target: &std::path::Path,
    uri: &str,
) -> Result<(std::fs::File, std::path::PathBuf), StoreError> {
    let unwritable = |reason: String| StoreError::Unwritable {
        uri: uri.to_string(),
        reason,
    };
    let (Some(folder), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(unwritable("names no file".into()));
    };
    if target.is_dir() {
        return Err(unwritable("is a folder".into()));
    }
    std::fs::create_dir_all(folder)
        .map_err(|e| unwritable(format!("creating folder {}: {e}", folder.display())))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // A handful of names: a collision means another writer picked the same
    // pid and nanosecond, so a few tries settle it; never an open-ended loop.
    let mut last = None;
    for attempt in 0..4u32 {
        let mut scratch_name = std::ffi::OsString::from(".");
        scratch_name.push(name);
        scratch_name.push(format!(".{}.{nanos}.{attempt}.tmp", std::process::id()));
        let scratch = folder.join(scratch_name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&scratch)
        {
            Ok(file) => return Ok((file, scratch)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(unwritable(format!(
                    "creating a file in {}: {e}",
                    folder.display()
                )));
            }
        }
    }
    Err(unwritable(format!(
        "creating a file in {}: {}",
        folder.display(),
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// Writes `data` to `target` whole or not at all: a synced scratch file in
/// the same folder, then linked (create-only: fails if `target` exists) or
/// renamed over it.
fn write_local(
    target: &std::path::Path,
    data: &[u8],
    create_only: bool,
    uri: &str,
) -> Result<(), StoreError> {
    use std::io::Write;
    let (mut file, scratch) = create_scratch(target, uri)?;
    let io_error = |source: io::Error| StoreError::Io {
        uri: uri.to_string(),
        source,
    };
    let written = file
        .write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(io_error);
    drop(file);
    let placed = written.and_then(|()| {
        if create_only {
            std::fs::hard_link(&scratch, target).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    StoreError::AlreadyExists(uri.to_string())
                } else {
                    io_error(e)
                }
            })
        } else {
            std::fs::rename(&scratch, target).map_err(io_error)
        }
    });
    if create_only || placed.is_err() {
        let _ = std::fs::remove_file(&scratch);
    }
    placed
}

/// Why a local input path cannot be read as a file, found without opening
/// it: `Ok(None)` for a regular file, `Err` when nothing is there at all.
pub(crate) fn local_input_problem(path: &std::path::Path) -> io::Result<Option<String>> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return match std::fs::read_link(path) {
                Ok(target) => Ok(Some(format!(
                    "dangling symbolic link to {}: {e}",
                    target.display()
                ))),
                Err(_) => Err(e),
            };
        }
        // ELOOP (a symbolic link chain that loops), EACCES, ...
        Err(e) => return Ok(Some(format!("cannot be read: {e}"))),
    };
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(None);
    } else if t.is_dir() {
        return Ok(Some(directory_problem(path)));
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "a special file"
    };
    Ok(Some(format!(
        "{what}, not a regular file; skipped without opening it"
    )))
}

fn directory_problem(path: &std::path::Path) -> String {
    if let Err(e) = std::fs::read_dir(path) {
        return format!("a directory that cannot be listed: {e}");
    }
    let target = std::fs::canonicalize(path);
    let parent = path.parent().map(std::fs::canonicalize);
    if let (Ok(target), Some(Ok(parent))) = (target, parent)
        && parent.starts_with(&target)
    {
        return format!(
            "a symbolic link loop: leads back to {}, which contains it",
            target.display()
        );
    }
    "a directory, not a file".into()
}

/// Lists a local path, directory or glob without stopping at bad entries: a
/// symbolic link loop, a dangling link, a directory that cannot be listed or
/// a special file (FIFO, socket, device) is listed as an object of size 0,
/// and reading it gives one error that says what it is
/// ([`local_input_problem`]), so one bad entry costs only itself.
fn list_local(p: &Parsed, pattern: &str) -> Result<Vec<ObjectInfo>, StoreError> {
    let mut out = Vec::new();
    if is_glob(&p.key) {
        let (prefix, glob) = glob_of(p, pattern)?;
        let root = std::path::PathBuf::from(format!("/{prefix}"));
        if std::fs::metadata(&root).is_ok_and(|m| m.is_dir()) {
            LocalWalk::new(p, &mut out).dir(&root);
        }
        out.retain(|o| {
            let key = match p.scheme {
                Scheme::File => o.uri.trim_start_matches("file:///"),
                _ => o.uri.trim_start_matches('/'),
            };
            glob.is_match(key)
        });
    } else {
        let key = p.key.trim_end_matches('/');
        let root = std::path::PathBuf::from(format!("/{key}"));
        match std::fs::metadata(&root) {
            Ok(m) if m.is_dir() => LocalWalk::new(p, &mut out).dir(&root),
            // Absolute, like every listed URI: captures keep it as their
            // evidence location, read again by a server elsewhere.
            Ok(m) => out.push(ObjectInfo {
                uri: p.uri_for(key),
                size: if m.is_file() { m.len() } else { 0 },
            }),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) && std::fs::symlink_metadata(&root).is_err() => {}
            // A dangling or looping link, or a path that cannot be read:
            // listed, so that reading it reports why.
            Err(_) => out.push(ObjectInfo {
                uri: p.uri_for(key),
                size: 0,
            }),
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(StoreError::NoMatch(pattern.to_string()));
    }
    Ok(out)
}

/// A recursive directory listing that follows symbolic links, enters each
/// directory once (so it ends whatever the links), and lists what it cannot
/// walk instead of failing.
struct LocalWalk<'a> {
    parsed: &'a Parsed,
    out: &'a mut Vec<ObjectInfo>,
    /// (device, inode) of every directory entered.
    seen: std::collections::HashSet<(u64, u64)>,
    /// Those of the directories being walked (a loop leads back to one).
    ancestors: Vec<(u64, u64)>,
}

impl<'a> LocalWalk<'a> {
    fn new(parsed: &'a Parsed, out: &'a mut Vec<ObjectInfo>) -> Self {
        LocalWalk {
            parsed,
            out,
            seen: Default::default(),
            ancestors: Vec::new(),
        }
    }

    fn push(&mut self, path: &std::path::Path, size: u64) {
        // Object URIs are UTF-8; such a name could not be opened again by URI.
        let Some(s) = path.to_str() else { return };
        self.out.push(ObjectInfo {
            uri: self.parsed.uri_for(s.trim_start_matches('/')),
            size,
        });
    }

    fn dir(&mut self, dir: &std::path::Path) {
        use std::os::unix::fs::MetadataExt;
        let id = match std::fs::metadata(dir) {
            Ok(m) => (m.dev(), m.ino()),
            Err(_) => return self.push(dir, 0),
        };
        if self.ancestors.contains(&id) {
            // A link back to a directory being walked: a loop.
            return self.push(dir, 0);
        }
        if !self.seen.insert(id) {
            // Reached before by another link: its files are listed already.
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(rd) => rd.collect::<Result<Vec<_>, _>>(),
            Err(e) => Err(e),
        };
        let Ok(mut entries) = entries else {
            return self.push(dir, 0);
        };
        entries.sort_by_key(|e| e.file_name());
        self.ancestors.push(id);
        for entry in entries {
            let path = entry.path();
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => self.dir(&path),
                Ok(m) if m.is_file() => self.push(&path, m.len()),
                // Special files, dangling and looping links.
                _ => self.push(&path, 0),
            }
        }
        self.ancestors.pop();
    }
}

/// A glob key's literal folder (the part before its first wildcard, up to
/// a `/`) and its matcher.
fn glob_of<'a>(
    p: &'a Parsed,
    pattern: &str,
) -> Result<(&'a str, globset::GlobMatcher), StoreError> {
    let first = p.key.find(['*', '?', '[', '{']).unwrap_or(p.key.len());
    let prefix = p.key[..first]
        .rsplit_once('/')
        .map(|(d, _)| d)
        .unwrap_or("");
    let glob = globset::GlobBuilder::new(&p.key)
        .literal_separator(true)
        .build()
        .map_err(|e| StoreError::InvalidUri {
            uri: pattern.to_string(),
            reason: e.to_string(),
        })?
        .compile_matcher();
    Ok((prefix, glob))
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Bounded retries: an unreachable store fails a task in seconds (the
/// job's attempts policy retries it), not after object_store's default three
/// minutes per request.
fn retry_config() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 4,
        retry_timeout: std::time::Duration::from_secs(20),
        ..Default::default()
    }
}

/// A read-only store for one web server (`scheme://host[:port]/`).
fn http_store(p: &Parsed, uri: &str) -> Result<object_store::http::HttpStore, StoreError> {
    // No whole-request timeout (object_store's default of 30 s would cut a
    // 1 GB WARC's GET short); a read that stalls for a minute fails instead.
    let options = object_store::ClientOptions::new()
        .with_allow_http(p.scheme == Scheme::Http)
        .with_timeout_disabled()
        .with_connect_timeout(std::time::Duration::from_secs(10))
        .with_read_timeout(std::time::Duration::from_secs(60));
    object_store::http::HttpBuilder::new()
        .with_url(format!("{}/", p.store_key()))
        .with_client_options(options)
        .with_retry(retry_config())
        .build()
        .map_err(|e| StoreError::Store {
            uri: uri.to_string(),
            source: e,
        })
}

/// `(explicit base, list)` when `input` is a path list (`….paths`,
/// `….paths.gz`, optionally `BASE::LIST`).
fn split_path_list(input: &str) -> Option<(Option<&str>, &str)> {
    let is_list = |s: &str| {
        let name = s.rsplit('/').next().unwrap_or(s);
        name.ends_with(".paths") || name.ends_with(".paths.gz")
    };
    if let Some((base, list)) = input.split_once("::")
        && is_list(list)
    {
        return Some((Some(base), list));
    }
    is_list(input).then_some((None, input))
}

/// Decompressed path lists larger than this are refused (Common Crawl's
/// `warc.paths.gz` of a monthly crawl is about 15 MB).
const MAX_PATH_LIST: u64 = 256 << 20;

/// One path-list line as an object URI (see the module doc for the rules).
fn resolve_path_line(line: &str, base: &str, base_parsed: &Parsed) -> Result<String, String> {
    if line.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("contains spaces or control characters".into());
    }
    let uri = if line.contains("://") {
        line.to_string()
    } else if line.starts_with('/') {
        match base_parsed.scheme {
            Scheme::Local => line.to_string(),
            _ => format!("{}{line}", base_parsed.store_key()),
        }
    } else {
        format!("{}/{line}", base.trim_end_matches('/'))
    };
    if split_path_list(&uri).is_some() {
        return Err("names another path list (path lists do not nest)".into());
    }
    let p = parse_uri(&uri).map_err(|e| match e {
        StoreError::InvalidUri { reason, .. } => format!("{uri}: {reason}"),
        other => other.to_string(),
    })?;
    if p.key.is_empty() || p.key.ends_with('/') {
        return Err(format!("{uri} names a folder, not an object"));
    }
    if !matches!(p.scheme, Scheme::Local | Scheme::File) {
        ObjPath::parse(&p.key).map_err(|e| format!("{uri}: {e}"))?;
    }
    Ok(p.uri_for(&p.key))
}

/// The objects a path list's text names (`text` already decompressed).
fn parse_path_list(list: &str, text: &[u8], base: &str) -> Result<Vec<ObjectInfo>, StoreError> {
    let failed = |line: usize, reason: String, more: usize| StoreError::PathList {
        list: list.to_string(),
        line,
        reason,
        more,
    };
    let base_parsed = parse_uri(base).map_err(|e| failed(0, format!("base: {e}"), 0))?;
    let mut out = Vec::new();
    let mut bad: Option<(usize, String)> = None;
    let mut more = 0;
    for (n, raw) in text.split(|&b| b == b'\n').enumerate() {
        let resolved = std::str::from_utf8(raw)
            .map_err(|_| "not UTF-8 text".to_string())
            .and_then(|line| {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    return Ok(None);
                }
                resolve_path_line(line, base, &base_parsed).map(Some)
            });
        match resolved {
            Ok(Some(uri)) => out.push(ObjectInfo { uri, size: 0 }),
            Ok(None) => {}
            Err(reason) if bad.is_none() => bad = Some((n + 1, reason)),
            Err(_) => more += 1,
        }
    }
    if let Some((line, reason)) = bad {
        return Err(failed(line, reason, more));
    }
    if out.is_empty() {
        return Err(failed(0, "lists no objects".into(), 0));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn read_only(uri: &str) -> StoreError {
    StoreError::Unwritable {
        uri: uri.to_string(),
        reason: "HTTP(S) objects are read-only inputs".into(),
    }
}

enum Rt {
    Owned(tokio::runtime::Runtime),
    Handle(tokio::runtime::Handle),
}

/// Object-store access for crawl inputs.
pub struct CorpusStore {
    rt: Rt,
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    s3: S3Settings,
}

impl CorpusStore {
    /// A store client with its own small tokio runtime (2 worker threads).
    pub fn new() -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("corpus-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Runtime(e.to_string()))?;
        Ok(Self::with_rt(Rt::Owned(rt)))
    }

    /// A store client using an existing runtime; its blocking methods must
    /// then be called from outside async tasks (e.g. `spawn_blocking`).
    pub fn with_handle(handle: tokio::runtime::Handle) -> Self {
        Self::with_rt(Rt::Handle(handle))
    }

    fn with_rt(rt: Rt) -> Self {
        CorpusStore {
            rt,
            stores: Mutex::new(HashMap::new()),
            s3: S3Settings::default(),
        }
    }

    /// Explicit S3 settings (otherwise from the environment).
    pub fn with_s3_settings(mut self, s3: S3Settings) -> Self {
        self.s3 = s3;
        self
    }

    /// Registers a store for a prefix like `s3://bucket` or `memory://name`.
    pub fn register(&self, prefix: &str, store: Arc<dyn ObjectStore>) {
        let key = prefix.trim_end_matches('/').to_string();
        self.lock().insert(key, store);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn ObjectStore>>> {
        self.stores.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn handle(&self) -> tokio::runtime::Handle {
        match &self.rt {
            Rt::Owned(rt) => rt.handle().clone(),
            Rt::Handle(h) => h.clone(),
        }
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output, StoreError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(StoreError::Runtime(
                "blocking CorpusStore call from inside an async task; use the *_async methods"
                    .into(),
            ));
        }
        Ok(self.handle().block_on(f))
    }

    fn store_for(&self, p: &Parsed, uri: &str) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let key = p.store_key();
        if let Some(s) = self.lock().get(&key) {
            return Ok(Arc::clone(s));
        }
        let store: Arc<dyn ObjectStore> = match p.scheme {
            Scheme::Local | Scheme::File => Arc::new(LocalFileSystem::new()),
            Scheme::Memory => Arc::new(InMemory::new()),
            Scheme::S3 => Arc::new(self.s3_store(&p.authority, uri)?),
            Scheme::Http | Scheme::Https => Arc::new(http_store(p, uri)?),
        };
        self.lock().entry(key).or_insert_with(|| Arc::clone(&store));
        Ok(store)
    }

    /// An S3 store for `bucket`; credentials, region and endpoint in the
    /// order of the module doc.
    fn s3_store(&self, bucket: &str, uri: &str) -> Result<object_store::aws::AmazonS3, StoreError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let keys_given = (self.s3.access_key_id.is_some() && self.s3.secret_access_key.is_some())
            || (env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some());
        // With keys from settings or the environment the profile only adds a
        // region or endpoint, so a profile that cannot be used is no error.
        let profile = match crate::aws_profile::ProfileSource::from_process_env().load() {
            Ok(profile) => profile,
            Err(_) if keys_given => None,
            Err(reason) => return Err(StoreError::Config(reason)),
        }
        .unwrap_or_default();
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry_config());
        let endpoint = self
            .s3
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .or_else(|| env("AWS_ENDPOINT"))
            .or_else(|| profile.endpoint_url.clone());
        if let Some(e) = endpoint {
            b = b
                .with_allow_http(e.starts_with("http://"))
                .with_virtual_hosted_style_request(false)
                .with_endpoint(e);
        }
        let region = self
            .s3
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| profile.region.clone())
            .unwrap_or_else(|| "us-east-1".into());
        b = b.with_region(region);
        if !keys_given
            && let (Some(id), Some(secret)) = (&profile.access_key_id, &profile.secret_access_key)
        {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
            if let Some(token) = &profile.session_token {
                b = b.with_token(token);
            }
        }
        if let Some(k) = &self.s3.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &self.s3.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        b.build().map_err(|e| StoreError::Store {
            uri: uri.to_string(),
            source: e,
        })
    }

    /// Expands a path list (see the module doc).
    async fn list_path_list(
        &self,
        base: Option<&str>,
        list: &str,
    ) -> Result<Vec<ObjectInfo>, StoreError> {
        use std::io::Read as _;
        let failed = |reason: String| StoreError::PathList {
            list: list.to_string(),
            line: 0,
            reason,
            more: 0,
        };
        let (store, path, parsed) = self.locate(list)?;
        if is_glob(&parsed.key) {
            return Err(failed(
                "a path list must name one object, not a pattern".into(),
            ));
        }
        let err = |e: object_store::Error| StoreError::Store {
            uri: list.to_string(),
            source: e,
        };
        let data = store
            .get(&path)
            .await
            .map_err(err)?
            .bytes()
            .await
            .map_err(err)?;
        let mut text = Vec::new();
        if data.starts_with(&[0x1f, 0x8b]) {
            flate2::read::MultiGzDecoder::new(&data[..])
                .take(MAX_PATH_LIST + 1)
                .read_to_end(&mut text)
                .map_err(|e| failed(format!("gzip: {e}")))?;
        } else if list.ends_with(".gz") {
            return Err(failed(
                "named .gz but not gzip data (an error page saved under its name?)".into(),
            ));
        } else {
            text = data.to_vec();
        }
        if text.len() as u64 > MAX_PATH_LIST {
            return Err(failed(format!(
                "longer than {} MiB decompressed",
                MAX_PATH_LIST >> 20
            )));
        }
        let default_base = match parsed.scheme {
            Scheme::Local | Scheme::File => {
                parsed.uri_for(parsed.key.rsplit_once('/').map(|(d, _)| d).unwrap_or(""))
            }
            _ => format!("{}/", parsed.store_key()),
        };
        parse_path_list(list, &text, base.unwrap_or(&default_base))
    }

    /// One HTTP(S) object: a HEAD for its size (no listing on plain HTTP).
    async fn list_http(&self, p: &Parsed, pattern: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let refuse = |reason: &str| StoreError::InvalidUri {
            uri: pattern.to_string(),
            reason: reason.to_string(),
        };
        if is_glob(&p.key) {
            return Err(refuse(
                "globs need a listing, which HTTP(S) servers do not offer: \
                 name each object, or give a path list (.paths, .paths.gz)",
            ));
        }
        if p.key.is_empty() || p.key.ends_with('/') {
            return Err(refuse(
                "names a folder, and HTTP(S) servers offer no listing: \
                 name each object, or give a path list (.paths, .paths.gz)",
            ));
        }
        let (store, path, _) = self.locate(pattern)?;
        let meta = store.head(&path).await.map_err(|e| StoreError::Store {
            uri: pattern.to_string(),
            source: e,
        })?;
        Ok(vec![ObjectInfo {
            uri: p.uri_for(&p.key),
            size: meta.size,
        }])
    }

    fn locate(&self, uri: &str) -> Result<(Arc<dyn ObjectStore>, ObjPath, Parsed), StoreError> {
        let p = parse_uri(uri)?;
        let store = self.store_for(&p, uri)?;
        let path = ObjPath::parse(&p.key).map_err(|e| StoreError::InvalidUri {
            uri: uri.to_string(),
            reason: e.to_string(),
        })?;
        Ok((store, path, p))
    }

    /// Expands a URI, a prefix ("directory") or a glob (`*`, `?`, `**`,
    /// `[..]`, `{a,b}` in the key) to a sorted object list.
    pub async fn list_async(&self, pattern: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        if let Some((base, list)) = split_path_list(pattern) {
            return self.list_path_list(base, list).await;
        }
        let p = parse_uri(pattern)?;
        if p.is_http() {
            return self.list_http(&p, pattern).await;
        }
        if matches!(p.scheme, Scheme::Local | Scheme::File) {
            let pattern = pattern.to_string();
            return tokio::task::spawn_blocking(move || list_local(&p, &pattern))
                .await
                .map_err(|e| StoreError::Runtime(format!("local listing task: {e}")))?;
        }
        let store = self.store_for(&p, pattern)?;
        let err = |e: object_store::Error| StoreError::Store {
            uri: pattern.to_string(),
            source: e,
        };
        let mut out = Vec::new();
        if is_glob(&p.key) {
            let (prefix, glob) = glob_of(&p, pattern)?;
            let prefix_path = ObjPath::parse(prefix).map_err(|e| StoreError::InvalidUri {
                uri: pattern.to_string(),
                reason: e.to_string(),
            })?;
            let mut s = store.list(Some(&prefix_path));
            while let Some(m) = s.next().await {
                let m = m.map_err(err)?;
                if glob.is_match(m.location.as_ref()) {
                    out.push(ObjectInfo {
                        uri: p.uri_for(m.location.as_ref()),
                        size: m.size,
                    });
                }
            }
        } else {
            let path = ObjPath::parse(&p.key).map_err(|e| StoreError::InvalidUri {
                uri: pattern.to_string(),
                reason: e.to_string(),
            })?;
            let single = if p.key.is_empty() || p.key.ends_with('/') {
                None
            } else {
                match store.head(&path).await {
                    Ok(m) => Some(m),
                    Err(object_store::Error::NotFound { .. }) => None,
                    // Local directories and some servers answer a HEAD on a
                    // prefix with another error: fall back to listing.
                    Err(_) => None,
                }
            };
            if let Some(m) = single {
                // Local paths come back absolute: captures keep this URI as
                // their evidence location, read again by a server elsewhere.
                out.push(ObjectInfo {
                    uri: p.uri_for(m.location.as_ref()),
                    size: m.size,
                });
            } else {
                let prefix = (!p.key.is_empty()).then_some(&path);
                let mut s = store.list(prefix);
                while let Some(m) = s.next().await {
                    let m = m.map_err(err)?;
                    out.push(ObjectInfo {
                        uri: p.uri_for(m.location.as_ref()),
                        size: m.size,
                    });
                }
            }
        }
        out.sort();
        if out.is_empty() {
            return Err(StoreError::NoMatch(pattern.to_string()));
        }
        Ok(out)
    }

    /// Blocking [`Self::list_async`].
    pub fn list(&self, pattern: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        self.block_on(self.list_async(pattern))?
    }

    /// Expands several patterns; the union, sorted and deduplicated.
    pub fn list_all<S: AsRef<str>>(&self, patterns: &[S]) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut out = Vec::new();
        for p in patterns {
            out.extend(self.list(p.as_ref())?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Fetches `length` bytes at `offset` (a byte-range GET).
    pub async fn read_range_async(
        &self,
        uri: &str,
        offset: u64,
        length: u64,
    ) -> Result<Bytes, StoreError> {
        let (store, path, _) = self.locate(uri)?;
        let end = offset
            .checked_add(length)
            .ok_or_else(|| StoreError::InvalidUri {
                uri: uri.to_string(),
                reason: "range overflows".into(),
            })?;
        if length == 0 {
            return Ok(Bytes::new());
        }
        store
            .get_range(&path, offset..end)
            .await
            .map_err(|e| StoreError::Store {
                uri: uri.to_string(),
                source: e,
            })
    }

    /// Blocking [`Self::read_range_async`]: the original bytes of one record,
    /// for a [`crate::RecordLocation`] with `Plain` or `GzipMember` framing
    /// (decode them with [`crate::decode_record`]).
    pub fn read_range(&self, uri: &str, offset: u64, length: u64) -> Result<Bytes, StoreError> {
        self.block_on(self.read_range_async(uri, offset, length))?
    }

    /// Whole object (small objects, tests).
    pub fn get_bytes(&self, uri: &str) -> Result<Bytes, StoreError> {
        let (store, path, _) = self.locate(uri)?;
        self.block_on(async {
            let r = store.get(&path).await?;
            r.bytes().await
        })?
        .map_err(|e| StoreError::Store {
            uri: uri.to_string(),
            source: e,
        })
    }

    /// Writes an object with `Content-Type: application/octet-stream`.
    pub fn put(&self, uri: &str, data: Bytes) -> Result<(), StoreError> {
        self.block_on(self.put_async(uri, data, false))?
    }

    /// Writes an object only if none exists at `uri` (one atomic put: S3
    /// `If-None-Match: *`, a no-clobber link locally);
    /// [`StoreError::AlreadyExists`] otherwise.
    pub fn put_new(&self, uri: &str, data: Bytes) -> Result<(), StoreError> {
        self.block_on(self.put_async(uri, data, true))?
    }

    /// Async [`Self::put`] (`create_only: false`) and [`Self::put_new`]
    /// (`create_only: true`). Either way the object appears whole or not at all.
    pub async fn put_async(
        &self,
        uri: &str,
        data: Bytes,
        create_only: bool,
    ) -> Result<(), StoreError> {
        let (store, path, parsed) = self.locate(uri)?;
        if parsed.is_http() {
            return Err(read_only(uri));
        }
        if matches!(parsed.scheme, Scheme::Local | Scheme::File) {
            let target = std::path::PathBuf::from(format!("/{}", parsed.key));
            let uri = uri.to_string();
            return tokio::task::spawn_blocking(move || {
                write_local(&target, &data, create_only, &uri)
            })
            .await
            .map_err(|e| StoreError::Runtime(format!("local write task: {e}")))?;
        }
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, "application/octet-stream".into());
        let opts = PutOptions {
            mode: if create_only {
                PutMode::Create
            } else {
                PutMode::Overwrite
            },
            attributes,
            ..PutOptions::default()
        };
        match store
            .put_opts(&path, PutPayload::from_bytes(data), opts)
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => {
                Err(StoreError::AlreadyExists(uri.to_string()))
            }
            Err(e) => Err(StoreError::Store {
                uri: uri.to_string(),
                source: e,
            }),
        }
    }

    /// Refuses a destination that cannot take a new object, before any work
    /// is spent producing it. Local paths are probed with a scratch file in
    /// the target folder; other stores answer on the write itself, within
    /// their bounded retries.
    pub async fn check_writable_async(&self, uri: &str) -> Result<(), StoreError> {
        let parsed = parse_uri(uri)?;
        if parsed.is_http() {
            return Err(read_only(uri));
        }
        if !matches!(parsed.scheme, Scheme::Local | Scheme::File) {
            return Ok(());
        }
        let target = std::path::PathBuf::from(format!("/{}", parsed.key));
        let uri = uri.to_string();
        tokio::task::spawn_blocking(move || {
            let (file, scratch) = create_scratch(&target, &uri)?;
            drop(file);
            let _ = std::fs::remove_file(scratch);
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Runtime(format!("local probe task: {e}")))?
    }

    /// Deletes an object (absent objects are not an error).
    pub async fn delete_async(&self, uri: &str) -> Result<(), StoreError> {
        let (store, path, parsed) = self.locate(uri)?;
        if parsed.is_http() {
            return Err(read_only(uri));
        }
        match store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StoreError::Store {
                uri: uri.to_string(),
                source: e,
            }),
        }
    }

    /// Blocking [`Self::delete_async`].
    pub fn delete(&self, uri: &str) -> Result<(), StoreError> {
        self.block_on(self.delete_async(uri))?
    }

    /// [`Self::put_new`] as a race outcome: `Ok(false)` when another writer
    /// created the object first.
    pub fn put_if_absent(&self, uri: &str, data: Bytes) -> Result<bool, StoreError> {
        match self.put_new(uri, data) {
            Ok(()) => Ok(true),
            Err(StoreError::AlreadyExists(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Whether an object exists at `uri`.
    pub fn exists(&self, uri: &str) -> Result<bool, StoreError> {
        let (store, path, _) = self.locate(uri)?;
        match self.block_on(store.head(&path))? {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(StoreError::Store {
                uri: uri.to_string(),
                source: e,
            }),
        }
    }

    /// Deletes every object under the prefix `uri` (best effort clean-up of
    /// staging files); a missing prefix is not an error.
    pub fn delete_prefix(&self, uri: &str) -> Result<(), StoreError> {
        let (store, path, parsed) = self.locate(uri)?;
        if parsed.is_http() {
            return Err(read_only(uri));
        }
        let err = |e: object_store::Error| StoreError::Store {
            uri: uri.to_string(),
            source: e,
        };
        self.block_on(async {
            let mut listing = store.list(Some(&path));
            let mut locations = Vec::new();
            while let Some(meta) = listing.next().await {
                locations.push(meta.map_err(err)?.location);
            }
            for location in locations {
                match store.delete(&location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(err(e)),
                }
            }
            Ok(())
        })?
    }

    /// A sync reader streaming the object. Local files are read directly;
    /// other stores stream through a bounded channel (at most `4` chunks in
    /// flight), so memory stays bounded whatever the object size.
    pub fn open(&self, uri: &str) -> Result<ObjectReader, StoreError> {
        let (store, path, p) = self.locate(uri)?;
        if matches!(p.scheme, Scheme::Local | Scheme::File) {
            let local = std::path::PathBuf::from(format!("/{}", p.key));
            let io_error = |source| StoreError::Io {
                uri: uri.to_string(),
                source,
            };
            // What is not a regular file is never opened (opening a FIFO
            // waits for a writer): it reads as one error, so the file is
            // reported and the rest of the job goes on.
            if let Some(reason) = local_input_problem(&local).map_err(io_error)? {
                return Ok(ObjectReader {
                    inner: Inner::Failed(Some(io::Error::new(io::ErrorKind::InvalidInput, reason))),
                });
            }
            let f = std::fs::File::open(&local).map_err(io_error)?;
            return Ok(ObjectReader {
                inner: Inner::File(f),
            });
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(StoreError::Runtime(
                "CorpusStore::open from inside an async task; call it from a blocking thread"
                    .into(),
            ));
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
        // The response's status is awaited here, so a missing object or a
        // refusal (HTTP 404, 403) is an open error naming it, which fails the
        // scan task, rather than a read error counted inside a build.
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        self.handle().spawn(async move {
            let res = match store.get(&path).await {
                Ok(r) => {
                    let _ = ready_tx.send(Ok(()));
                    r
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut s = res.into_stream();
            while let Some(chunk) = s.next().await {
                let failed = chunk.is_err();
                if tx.send(chunk.map_err(io::Error::other)).await.is_err() || failed {
                    return;
                }
            }
        });
        match ready_rx.blocking_recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(StoreError::Store {
                    uri: uri.to_string(),
                    source: e,
                });
            }
            Err(_) => return Err(StoreError::Runtime("object reader task ended".into())),
        }
        Ok(ObjectReader {
            inner: Inner::Channel {
                rx,
                cur: Bytes::new(),
                done: false,
            },
        })
    }

    /// Docs of one object (format detected from its content). Failure to
    /// open becomes the iterator's single error.
    pub fn docs(&self, uri: &str, opts: ReaderOptions) -> Docs<ObjectReader> {
        match self.open(uri) {
            Ok(r) => open_docs(r, uri, opts),
            Err(e) => {
                let stats = crate::ReadStats {
                    errors: 1,
                    ..crate::ReadStats::default()
                };
                Docs::Failed(
                    Some(crate::ReadError {
                        uri: uri.to_string(),
                        offset: 0,
                        reason: e.to_string(),
                    }),
                    stats,
                )
            }
        }
    }
}

enum Inner {
    File(std::fs::File),
    /// An input that cannot be read: its error, once.
    Failed(Option<io::Error>),
    Channel {
        rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
        cur: Bytes,
        done: bool,
    },
}

/// Sync `Read` over an object (see [`CorpusStore::open`]).
pub struct ObjectReader {
    inner: Inner,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::File(f) => f.read(buf),
            Inner::Failed(e) => match e.take() {
                Some(e) => Err(e),
                None => Ok(0),
            },
            Inner::Channel { rx, cur, done } => {
                while cur.is_empty() {
                    if *done {
                        return Ok(0);
                    }
                    match rx.blocking_recv() {
                        Some(Ok(b)) => *cur = b,
                        Some(Err(e)) => {
                            *done = true;
                            return Err(e);
                        }
                        None => {
                            *done = true;
                            return Ok(0);
                        }
                    }
                }
                let n = cur.len().min(buf.len());
                buf[..n].copy_from_slice(&cur[..n]);
                *cur = cur.slice(n..);
                Ok(n)
            }
        }
    }
}

impl provindex_errors::ErrorExt for StoreError {
    /// A refusal ([`StoreError::is_refusal`]) is the request's or the
    /// deployment's to fix (FAILED_PRECONDITION unless a more precise code
    /// applies); anything else is worth retrying (UNAVAILABLE).
    fn status_code(&self) -> provindex_errors::StatusCode {
        use provindex_errors::StatusCode;
        match self {
            StoreError::InvalidUri { .. } | StoreError::PathList { .. } => {
                StatusCode::InvalidArgument
            }
            StoreError::Config(_) => StatusCode::FailedPrecondition,
            StoreError::NoMatch(_) => StatusCode::NotFound,
            StoreError::AlreadyExists(_) => StatusCode::AlreadyExists,
            StoreError::Unwritable { .. } => StatusCode::FailedPrecondition,
            StoreError::Store { .. } if self.is_refusal() => StatusCode::FailedPrecondition,
            StoreError::Store { .. } | StoreError::Io { .. } => StatusCode::Unavailable,
            StoreError::Runtime(_) => StatusCode::Internal,
        }
    }
}

// Streaming writes of exports ([`crate::upload::ObjectWriter`]): where a URI
// is written, and the scratch files of local ones.
/// Where [`crate::upload::ObjectWriter`] writes a URI.
pub(crate) enum UploadTarget {
    /// A local file, written through a scratch file beside it.
    Local(std::path::PathBuf),
    /// An object, with the runtime its requests run on.
    Object {
        store: Arc<dyn ObjectStore>,
        path: ObjPath,
        handle: tokio::runtime::Handle,
    },
}

impl CorpusStore {
    /// Resolves `uri` for a streaming write (HTTP(S) objects are refused).
    pub(crate) fn upload_target(&self, uri: &str) -> Result<UploadTarget, StoreError> {
        let (store, path, parsed) = self.locate(uri)?;
        if matches!(parsed.scheme, Scheme::Local | Scheme::File) {
            Ok(UploadTarget::Local(std::path::PathBuf::from(format!(
                "/{}",
                parsed.key
            ))))
        } else if matches!(parsed.scheme, Scheme::S3 | Scheme::Memory) {
            Ok(UploadTarget::Object {
                store,
                path,
                handle: self.handle(),
            })
        } else {
            Err(StoreError::Unwritable {
                uri: uri.to_string(),
                reason: "not a writable store (use a path, file://, s3:// or memory://)".into(),
            })
        }
    }
}

/// A fresh scratch file beside `target` (see `create_scratch`).
pub(crate) fn upload_scratch(
    target: &std::path::Path,
    uri: &str,
) -> Result<(std::fs::File, std::path::PathBuf), StoreError> {
    create_scratch(target, uri)
}

// Whole-file uploads for index publication (issue 17): an SST can be larger
// than what a worker should hold in memory, so it streams in parts.
impl CorpusStore {
    /// Part size of [`Self::put_file`]'s multipart uploads (S3 wants ≥ 5 MiB).
    pub const UPLOAD_PART: usize = 8 << 20;

    /// Writes the local file `source` as the object `uri` (overwriting),
    /// streaming it: a file up to [`Self::UPLOAD_PART`] is one put, a larger
    /// one a multipart upload of that part size (at most 4 parts in flight,
    /// aborted on error). Local destinations are a copy renamed into place.
    pub fn put_file(&self, uri: &str, source: &std::path::Path) -> Result<(), StoreError> {
        use std::io::Read as _;
        let io_error = |e: io::Error| StoreError::Io {
            uri: format!("{uri} (from {})", source.display()),
            source: e,
        };
        let (store, path, parsed) = self.locate(uri)?;
        let mut file = std::fs::File::open(source).map_err(io_error)?;
        if matches!(parsed.scheme, Scheme::Local | Scheme::File) {
            let target = std::path::PathBuf::from(format!("/{}", parsed.key));
            let (mut out, scratch) = create_scratch(&target, uri)?;
            let copied = io::copy(&mut file, &mut out)
                .and_then(|_| out.sync_all())
                .and_then(|()| std::fs::rename(&scratch, &target));
            if copied.is_err() {
                let _ = std::fs::remove_file(&scratch);
            }
            return copied.map_err(io_error);
        }
        let size = file.metadata().map_err(io_error)?.len();
        if size <= Self::UPLOAD_PART as u64 {
            let mut data = Vec::with_capacity(size as usize);
            file.read_to_end(&mut data).map_err(io_error)?;
            return self.put(uri, Bytes::from(data));
        }
        let store_error = |e: object_store::Error| StoreError::Store {
            uri: uri.to_string(),
            source: e,
        };
        self.block_on(async {
            let upload = store.put_multipart(&path).await.map_err(store_error)?;
            let mut writer =
                object_store::WriteMultipart::new_with_chunk_size(upload, Self::UPLOAD_PART);
            let mut buffer = vec![0u8; Self::UPLOAD_PART];
            loop {
                // File reads are short and local; blocking here is bounded.
                let n = match file.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(io_error(e));
                    }
                };
                if let Err(e) = writer.wait_for_capacity(4).await {
                    return Err(store_error(e));
                }
                writer.write(&buffer[..n]);
            }
            writer.finish().await.map(|_| ()).map_err(store_error)
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let p = parse_uri("s3://bucket/a/b.warc.gz").unwrap();
        assert_eq!(
            (&p.scheme, p.authority.as_str(), p.key.as_str()),
            (&Scheme::S3, "bucket", "a/b.warc.gz")
        );
        assert_eq!(p.uri_for(&p.key), "s3://bucket/a/b.warc.gz");
        let p = parse_uri("file:///tmp/x").unwrap();
        assert_eq!(p.key, "tmp/x");
        assert_eq!(p.uri_for(&p.key), "file:///tmp/x");
        let p = parse_uri("/tmp/x").unwrap();
        assert_eq!(p.uri_for(&p.key), "/tmp/x");
        assert_eq!(parse_uri("/a/b/../c/./d").unwrap().key, "a/c/d");
        assert!(parse_uri("s3:///x").is_err());
        assert!(parse_uri("ftp://h/x").is_err());
        assert!(parse_uri("file://host/x").is_err());
    }

    fn gz(text: &str) -> Bytes {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    #[test]
    fn path_lists_resolve_against_the_store_root_or_an_explicit_base() {
        let s = CorpusStore::new().unwrap();
        let list = "# Common Crawl style\n\ncrawl-data/CC/segments/1/warc/a.warc.gz\r\n\
                    /crawl-data/CC/segments/2/warc/b.warc.gz\n\
                    s3://other/c.warc.gz\nhttps://data.commoncrawl.org/d.warc.gz\n";
        s.put("memory://cc/crawl-data/CC/warc.paths.gz", gz(list))
            .unwrap();
        let names = |v: Vec<ObjectInfo>| v.into_iter().map(|o| o.uri).collect::<Vec<_>>();
        assert_eq!(
            names(s.list("memory://cc/crawl-data/CC/warc.paths.gz").unwrap()),
            [
                "https://data.commoncrawl.org/d.warc.gz",
                "memory://cc/crawl-data/CC/segments/1/warc/a.warc.gz",
                "memory://cc/crawl-data/CC/segments/2/warc/b.warc.gz",
                "s3://other/c.warc.gz",
            ]
        );
        // An explicit base: relative lines under it, `/` lines from its root.
        let listed = s
            .list("https://data.commoncrawl.org/x/::memory://cc/crawl-data/CC/warc.paths.gz")
            .unwrap();
        assert_eq!(
            names(listed)[..3],
            [
                "https://data.commoncrawl.org/crawl-data/CC/segments/2/warc/b.warc.gz",
                "https://data.commoncrawl.org/d.warc.gz",
                "https://data.commoncrawl.org/x/crawl-data/CC/segments/1/warc/a.warc.gz",
            ]
        );
        // A local list: relative to its folder; `/` lines are absolute paths.
        let dir = std::env::temp_dir().join(format!("provindex-paths-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let local = dir.join("local.paths");
        std::fs::write(&local, "sub/a.warc.gz\n../up.warc.gz\n/abs/b.warc.gz\n").unwrap();
        let d = dir.display().to_string();
        let mut want = vec![
            "/abs/b.warc.gz".to_string(),
            format!("{}/up.warc.gz", dir.parent().unwrap().display()),
            format!("{d}/sub/a.warc.gz"),
        ];
        want.sort();
        assert_eq!(names(s.list(&local.display().to_string()).unwrap()), want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_path_list_fails_whole_naming_list_line_and_reason() {
        let s = CorpusStore::new().unwrap();
        let cases: [(&str, Bytes, usize, &str, usize); 7] = [
            (
                "a.paths",
                Bytes::from_static(b"ok/1\nbad line\nok/2\nftp://h/x\n"),
                2,
                "spaces",
                1,
            ),
            (
                "b.paths",
                Bytes::from_static(b"ok/1\nx//y\n"),
                2,
                "empty",
                0,
            ),
            (
                "c.paths",
                Bytes::from_static(b"ok/1\n\xff\xfe\n"),
                2,
                "not UTF-8",
                0,
            ),
            (
                "d.paths",
                Bytes::from_static(b"more.paths.gz\n"),
                1,
                "do not nest",
                0,
            ),
            (
                "e.paths",
                Bytes::from_static(b"# only a comment\n\n"),
                0,
                "lists no objects",
                0,
            ),
            (
                "f.paths.gz",
                Bytes::from_static(b"<html>404</html>"),
                0,
                "not gzip",
                0,
            ),
            ("g.paths", Bytes::from_static(b"dir/\n"), 1, "folder", 0),
        ];
        for (name, data, want_line, want_reason, want_more) in cases {
            let uri = format!("memory://bad/{name}");
            s.put(&uri, data).unwrap();
            match s.list(&uri) {
                Err(e @ StoreError::PathList { .. }) => {
                    let StoreError::PathList {
                        list,
                        line,
                        reason,
                        more,
                    } = &e
                    else {
                        unreachable!()
                    };
                    assert_eq!(
                        (list.as_str(), *line, *more),
                        (uri.as_str(), want_line, want_more),
                        "{e}"
                    );
                    assert!(reason.contains(want_reason), "{e}");
                    let shown = e.to_string();
                    assert!(shown.contains(&uri), "{shown}");
                    if want_line > 0 {
                        assert!(shown.contains(&format!("line {want_line}")), "{shown}");
                    }
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        // A missing list names itself.
        let e = s.list("memory://bad/none.paths.gz").unwrap_err();
        assert!(e.to_string().contains("memory://bad/none.paths.gz"), "{e}");
    }

    #[test]
    fn http_uris_refuse_globs_folders_queries_and_writes() {
        let s = CorpusStore::new().unwrap();
        let p = parse_uri("https://Data.CommonCrawl.org/crawl-data/x.warc.gz").unwrap();
        assert_eq!(
            (&p.scheme, p.authority.as_str(), p.key.as_str()),
            (
                &Scheme::Https,
                "data.commoncrawl.org",
                "crawl-data/x.warc.gz"
            )
        );
        assert_eq!(
            p.uri_for(&p.key),
            "https://data.commoncrawl.org/crawl-data/x.warc.gz"
        );
        for (uri, want) in [
            ("https://h.example/a/*.warc.gz", "globs need a listing"),
            ("https://h.example/a/", "names a folder"),
            ("https://h.example", "names a folder"),
            ("https://h.example/a?x=1", "queries"),
            ("https:///a", "missing host"),
        ] {
            let e = s.list(uri).unwrap_err();
            assert!(
                matches!(e, StoreError::InvalidUri { .. }) && e.to_string().contains(want),
                "{uri}: {e}"
            );
        }
        for e in [
            s.put("https://h.example/a", Bytes::new()).unwrap_err(),
            s.delete("https://h.example/a").unwrap_err(),
        ] {
            assert!(e.to_string().contains("read-only"), "{e}");
        }
    }

    #[test]
    fn memory_store_list_glob_range_and_stream() {
        let s = CorpusStore::new().unwrap();
        for k in [
            "a/1.warc.gz",
            "a/2.warc.gz",
            "a/sub/3.warc.gz",
            "a/x.txt",
            "b/4.warc.gz",
        ] {
            s.put(
                &format!("memory://t/{k}"),
                Bytes::from(k.as_bytes().to_vec()),
            )
            .unwrap();
        }
        let names = |v: Vec<ObjectInfo>| v.into_iter().map(|o| o.uri).collect::<Vec<_>>();
        assert_eq!(
            names(s.list("memory://t/a/*.warc.gz").unwrap()),
            ["memory://t/a/1.warc.gz", "memory://t/a/2.warc.gz"]
        );
        assert_eq!(names(s.list("memory://t/a/**/*.warc.gz").unwrap()).len(), 3);
        assert_eq!(names(s.list("memory://t/a").unwrap()).len(), 4);
        assert_eq!(
            names(s.list("memory://t/b/4.warc.gz").unwrap()),
            ["memory://t/b/4.warc.gz"]
        );
        assert!(matches!(
            s.list("memory://t/zzz"),
            Err(StoreError::NoMatch(_))
        ));
        assert_eq!(
            &s.read_range("memory://t/a/x.txt", 2, 3).unwrap()[..],
            b"x.t"
        );
        let mut buf = Vec::new();
        s.open("memory://t/a/sub/3.warc.gz")
            .unwrap()
            .read_to_end(&mut buf)
            .unwrap();
        assert_eq!(buf, b"a/sub/3.warc.gz");
        // Create-only puts never replace an object.
        assert!(matches!(
            s.put_new("memory://t/a/x.txt", Bytes::from_static(b"new")),
            Err(StoreError::AlreadyExists(_))
        ));
        assert_eq!(&s.get_bytes("memory://t/a/x.txt").unwrap()[..], b"a/x.txt");
        s.put_new("memory://t/c/new.txt", Bytes::from_static(b"new"))
            .unwrap();
        s.delete("memory://t/c/new.txt").unwrap();
        s.delete("memory://t/c/new.txt").unwrap();
        assert!(s.get_bytes("memory://t/c/new.txt").is_err());
        assert!(matches!(
            s.open("memory://t/none"),
            Err(StoreError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            })
        ));
    }
}
