//! Helpers shared by the end-to-end tests: locating the binary and the bundled
//! corpus, running a server process, and an independent WARC header scan.

#![allow(dead_code)]

pub mod venv;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn provindex_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_provindex"))
}

/// The real crawl files bundled in `tests/data/corpus`.
pub fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus");
    assert!(
        dir.is_dir(),
        "bundled corpus not found at {}",
        dir.display()
    );
    dir
}

/// A `provindex serve` child process, killed on drop.
pub struct ServerProcess {
    child: Child,
    pub addr: String,
    /// Announced when started with `--metrics-listen`.
    pub metrics_addr: Option<String>,
    /// Announced when started with `--http-listen`.
    pub http_addr: Option<String>,
}

impl ServerProcess {
    pub fn start(index: &Path) -> Self {
        Self::start_with(index, &[] as &[&OsStr])
    }

    /// `provindex serve --index INDEX --listen 127.0.0.1:0 EXTRA...`.
    pub fn start_with(index: &Path, extra: &[impl AsRef<OsStr>]) -> Self {
        Self::start_with_env(index, extra, &[] as &[(&str, &str)])
    }

    /// [`Self::start_with`] with extra environment variables for the server.
    pub fn start_with_env(
        index: &Path,
        extra: &[impl AsRef<OsStr>],
        env: &[(impl AsRef<OsStr>, impl AsRef<OsStr>)],
    ) -> Self {
        let mut child = Command::new(provindex_bin())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("serve")
            .arg("--index")
            .arg(index)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start provindex serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        // The server prints each address once bound, in this order; EOF
        // means it died first.
        let mut read = |prefix: &str| {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read");
            line.trim()
                .strip_prefix(prefix)
                .map(str::to_owned)
                .ok_or(line)
        };
        let wants = |flag: &str| extra.iter().any(|a| a.as_ref() == flag);
        let announced = (|| {
            let addr = read("listening on ")?;
            let metrics_addr = match wants("--metrics-listen") {
                true => Some(read("metrics on ")?),
                false => None,
            };
            let http_addr = match wants("--http-listen") {
                true => Some(read("http listening on ")?),
                false => None,
            };
            Ok::<_, String>((addr, metrics_addr, http_addr))
        })();
        let (addr, metrics_addr, http_addr) = announced.unwrap_or_else(|line| {
            let _ = child.kill();
            panic!("server did not start: {line:?}")
        });
        // Keep reading: a server writing to a closed pipe would fail.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Self {
            child,
            addr,
            metrics_addr,
            http_addr,
        }
    }

    /// `provindex serve` with an auth file and a registry directory, which
    /// it creates if missing.
    pub fn start_with_registry(index: &Path, auth: &Path, registry: &Path) -> Self {
        Self::start_with(
            index,
            &[
                OsStr::new("--auth"),
                auth.as_os_str(),
                OsStr::new("--registry"),
                registry.as_os_str(),
                OsStr::new("--create-registry"),
            ],
        )
    }

    /// Runs `provindex serve --index INDEX --listen 127.0.0.1:0 EXTRA...`
    /// with `env` expecting it to refuse to start: its stderr.
    pub fn refusal(index: &str, extra: &[impl AsRef<OsStr>], env: &[(&str, String)]) -> String {
        let output = Command::new(provindex_bin())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(["serve", "--index", index, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .output()
            .expect("run provindex serve");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "serve started: {stdout}");
        assert!(!stdout.contains("listening on"), "{stdout}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A connected plaintext channel to the server.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(self.url())
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    }

    /// The `/metrics` page (started with `--metrics-listen`), read within 30 s.
    pub fn metrics_page(&self) -> String {
        use std::io::Write;
        let addr = self
            .metrics_addr
            .as_ref()
            .expect("started with --metrics-listen");
        let mut stream = std::net::TcpStream::connect(addr).expect("metrics");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response
    }

    /// SIGKILL: no shutdown hook, no flush.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed (and reaped) on drop.
pub struct ChildProcess(pub Child);

impl ChildProcess {
    /// SIGKILL: no shutdown hook, no flush.
    pub fn kill9(&mut self) {
        self.0.kill().expect("kill -9");
        self.0.wait().expect("wait");
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `provindex coordinator --listen LISTEN --state STATE` with `env`: the
/// process and the address it announced.
pub fn start_coordinator(
    env: &[(&str, String)],
    state: &Path,
    listen: &str,
) -> (ChildProcess, String) {
    let mut child = Command::new(provindex_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["coordinator", "--listen", listen, "--state"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start coordinator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let coordinator = ChildProcess(child);
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("coordinator did not start: {line:?}"))
        .to_string();
    (coordinator, addr)
}

/// `provindex worker --coordinator URL --name NAME EXTRA...` with `env`,
/// its stdout discarded.
pub fn start_worker(env: &[(&str, String)], url: &str, name: &str, extra: &[&str]) -> ChildProcess {
    ChildProcess(
        Command::new(provindex_bin())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(["worker", "--coordinator", url, "--name", name])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start worker"),
    )
}

/// Header facts of one WARC record.
#[derive(Debug, Clone)]
pub struct ScannedRecord {
    pub warc_type: String,
    pub target_uri: String,
    pub record_id: String,
    pub payload_digest: String,
    /// `WARC-Date`, as written.
    pub warc_date: String,
}

/// Reads a well-formed WARC file (plain or gzip) by its headers alone: a
/// deliberately simple, separate reader to check the index against.
pub fn scan_warc(path: &Path) -> Vec<ScannedRecord> {
    let raw = std::fs::read(path).expect("read warc");
    let data = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        raw
    };
    let mut records = Vec::new();
    let mut pos = 0;
    while let Some(start) = find(&data[pos..], b"WARC/").map(|i| pos + i) {
        let Some(header_end) = find(&data[start..], b"\r\n\r\n").map(|i| start + i) else {
            break;
        };
        let header = String::from_utf8_lossy(&data[start..header_end]);
        let mut record = ScannedRecord {
            warc_type: String::new(),
            target_uri: String::new(),
            record_id: String::new(),
            payload_digest: String::new(),
            warc_date: String::new(),
        };
        let mut length = 0usize;
        for line in header.lines().skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().to_owned();
            match name.trim().to_ascii_lowercase().as_str() {
                "warc-type" => record.warc_type = value,
                "warc-target-uri" => {
                    record.target_uri = value
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                }
                "warc-record-id" => record.record_id = value,
                "warc-payload-digest" => record.payload_digest = value,
                "warc-date" => record.warc_date = value,
                "content-length" => length = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        records.push(record);
        pos = (header_end + 4 + length).min(data.len());
    }
    records
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The rows of the zh-CN debian-handbook sample shared with the sketch
/// crate's tests: one JSON object a paragraph (`zh_cn`, `s2tw`, ...).
pub fn zh_handbook_rows() -> Vec<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/sketch/tests/data/zh/handbook_zh.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect()
}

/// Replaces every 100th Han character (the 50th, 150th, ...) by another
/// one, about 1 %: a near-duplicate. Returns the paragraphs and the count.
pub fn edit_one_percent_of_han(paragraphs: &[String]) -> (Vec<String>, usize) {
    let mut seen = 0usize;
    let mut edits = 0usize;
    let edited = paragraphs
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    if ('\u{4e00}'..='\u{9fff}').contains(&c) {
                        seen += 1;
                        if seen % 100 == 50 {
                            edits += 1;
                            return if c == '改' { '动' } else { '改' };
                        }
                    }
                    c
                })
                .collect()
        })
        .collect();
    (edited, edits)
}

/// A UTF-8 HTML page in language `lang`, one `<p>` a paragraph.
pub fn html_page(lang: &str, title: &str, paragraphs: &[String]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body>\n{body}</body></html>\n"
    )
}

/// One WARC/1.0 response record (uncompressed), number `n` of its file, of
/// the HTTP message `http` for `url` captured at `date` (ISO 8601).
pub fn warc_response_record(n: usize, date: &str, url: &str, http: &[u8]) -> Vec<u8> {
    let mut record = format!(
        "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-{n:012}>\r\n\
         WARC-Date: {date}\r\nWARC-Target-URI: {url}\r\n\
         Content-Type: application/http; msgtype=response\r\nContent-Length: {}\r\n\r\n",
        http.len()
    )
    .into_bytes();
    record.extend_from_slice(http);
    record.extend_from_slice(b"\r\n\r\n");
    record
}

/// [`warc_response_record`] of a 200 response with `body` as UTF-8 HTML.
pub fn html_response_record(n: usize, date: &str, url: &str, body: &str) -> Vec<u8> {
    let http = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    warc_response_record(n, date, url, http.as_bytes())
}

/// A venv with moto[server] (shared with crates/corpus/tests/s3_moto.rs).
pub fn moto_venv() -> PathBuf {
    let dir = std::env::temp_dir().join("provindex-moto-venv");
    let bin = dir.join("bin");
    if bin.join("moto_server").exists() && bin.join("python").exists() {
        return dir;
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status();
    assert!(ok.is_ok_and(|s| s.success()), "python3 -m venv failed");
    let out = Command::new(bin.join("pip"))
        .args(["install", "--quiet", "moto[server]", "boto3"])
        .output()
        .expect("running pip");
    assert!(
        out.status.success(),
        "pip install moto[server] failed (is PyPI reachable?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// A moto S3 server, killed on drop.
pub struct Moto {
    child: std::process::Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_moto(venv: &Path, bucket: &str) -> Moto {
    start_moto_logging(venv, bucket, Stdio::null())
}

/// [`start_moto`] with its request log (stderr) going to `log`.
pub fn start_moto_logging(venv: &Path, bucket: &str, log: impl Into<Stdio>) -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new(venv.join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting moto_server");
    let endpoint = format!("http://127.0.0.1:{port}");
    let moto = Moto { child, endpoint };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "moto_server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let script = format!(
        "import boto3\nboto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test').create_bucket(Bucket='{bucket}')\n",
        moto.endpoint
    );
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", &script])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "create bucket: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    moto
}

/// The environment of a `provindex` process using the moto server at
/// `endpoint` (test credentials; warnings only in its log).
pub fn moto_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("RUST_LOG", "warn".into()),
    ]
}

/// A store client for the moto server at `endpoint` (test credentials).
/// Its calls block: use it from a plain thread, not an async task.
pub fn moto_store(endpoint: &str) -> provindex_corpus::store::CorpusStore {
    provindex_corpus::store::CorpusStore::new()
        .expect("store")
        .with_s3_settings(provindex_corpus::store::S3Settings {
            endpoint: Some(endpoint.to_string()),
            region: Some("us-east-1".into()),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
        })
}

/// Runs `f` with a store client for the moto server at `endpoint`, on a
/// plain thread: the store's calls block.
pub fn with_moto_store<T: Send + 'static>(
    endpoint: &str,
    f: impl FnOnce(&provindex_corpus::store::CorpusStore) -> T + Send + 'static,
) -> T {
    let endpoint = endpoint.to_string();
    std::thread::spawn(move || f(&moto_store(&endpoint)))
        .join()
        .expect("store thread")
}

/// The SHA-256 of `bytes` in hex, computed by the `sha256sum` tool (a
/// separate implementation to check the index's hashes against).
pub fn sha256sum(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let output = child.wait_with_output().expect("sha256sum");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .expect("hash")
        .to_string()
}

/// A `provindex registry-server` child process, killed on drop.
pub struct RegistryServer {
    child: Child,
    pub addr: String,
}

impl RegistryServer {
    /// `registry-server --index INDEX --registry REGISTRY --create --auth AUTH`
    /// on 127.0.0.1:0 (a partitioned index is assembled in `REGISTRY.cache`).
    pub fn start(index: &Path, registry: &Path, auth: &Path) -> Self {
        Self::start_with(index, registry, auth, &[] as &[&str])
    }

    /// [`Self::start`] with `extra` arguments.
    pub fn start_with(
        index: &Path,
        registry: &Path,
        auth: &Path,
        extra: &[impl AsRef<OsStr>],
    ) -> Self {
        Self::start_with_env(index, registry, auth, extra, &[] as &[(&str, &str)])
    }

    /// [`Self::start_with`] with extra environment variables.
    pub fn start_with_env(
        index: &Path,
        registry: &Path,
        auth: &Path,
        extra: &[impl AsRef<OsStr>],
        env: &[(impl AsRef<OsStr>, impl AsRef<OsStr>)],
    ) -> Self {
        let mut child = Command::new(provindex_bin())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("registry-server")
            .arg("--index")
            .arg(index)
            .arg("--registry")
            .arg(registry)
            .arg("--create")
            .arg("--auth")
            .arg(auth)
            .arg("--cache-dir")
            .arg(registry.with_extension("cache"))
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start provindex registry-server");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        let Some(addr) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
            let _ = child.kill();
            panic!("registry server did not start: {line:?}");
        };
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Self { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request carrying `Authorization: Bearer TOKEN`.
/// A `provindex router` child process over `backends` on 127.0.0.1:0,
/// killed on drop.
pub struct RouterProcess {
    child: Child,
    pub addr: String,
}

impl RouterProcess {
    /// `provindex router --backend URL… EXTRA…`, waiting up to 10 s for the
    /// backends to describe themselves.
    pub fn start(backends: &[&ServerProcess], extra: &[&str]) -> Self {
        let mut command = Command::new(provindex_bin());
        command
            .args(["router", "--listen", "127.0.0.1:0"])
            .args(extra);
        for backend in backends {
            command.arg("--backend").arg(backend.url());
        }
        let mut child = command
            .args(["--describe-timeout-secs", "10"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start provindex router");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        let Some(addr) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
            let _ = child.kill();
            panic!("router did not start: {line:?}");
        };
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Self { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request
}

/// Runs `provindex ARGS`, failing the test (with its output) unless it succeeds.
pub fn run_ok(args: &[&OsStr]) -> std::process::Output {
    run_ok_env(args, &[])
}

/// [`run_ok`] with extra environment variables.
pub fn run_ok_env(args: &[&OsStr], env: &[(&str, &str)]) -> std::process::Output {
    let output = Command::new(provindex_bin())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run provindex");
    assert!(
        output.status.success(),
        "provindex {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A throwaway CA and a server certificate for localhost / 127.0.0.1,
/// made with the `openssl` command-line tool: (CA, certificate, key).
pub fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command-line tool is needed to make test certificates");
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=provindex test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// The two gov.uk crawls of the bundled corpus (the second has revisits of
/// the first) and the IANA crawl, in that order.
pub fn gov_uk_and_iana_warcs() -> Vec<PathBuf> {
    let warc = corpus_dir().join("warc");
    [
        "gov.uk-2014-crawl-a.warc.gz",
        "gov.uk-2014-crawl-b-revisits.warc.gz",
        "iana.org-2014.warc.gz",
    ]
    .iter()
    .map(|file| warc.join(file))
    .collect()
}

/// Indexes [`gov_uk_and_iana_warcs`] into `dir/index` as crawl `crawl`.
pub fn index_gov_uk_and_iana(dir: &Path, crawl: &str) -> PathBuf {
    let index = dir.join("index");
    let mut args: Vec<std::ffi::OsString> = vec!["index".into()];
    args.extend(gov_uk_and_iana_warcs().into_iter().map(Into::into));
    args.extend(["--out".into(), index.clone().into()]);
    args.extend(["--crawl".into(), crawl.into()]);
    run_ok(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    index
}

/// Indexes `warc` into `index` (`--built-at 0`) and returns `info --json`.
pub fn index_and_info(warc: &Path, index: &Path) -> serde_json::Value {
    run_ok(&[
        "index".as_ref(),
        warc.as_os_str(),
        "--out".as_ref(),
        index.as_os_str(),
        "--built-at".as_ref(),
        "0".as_ref(),
    ]);
    serde_json::from_slice(&run_ok(&["info".as_ref(), index.as_os_str(), "--json".as_ref()]).stdout)
        .expect("info JSON")
}

/// A minimal HTTP/1.1 GET over loopback: status, lower-cased headers, body.
pub fn http_get(addr: &str, target: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .expect("timeout");
    std::io::Write::write_all(
        &mut stream,
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// Every answer (each page, or the error) of exact, prefix and host
/// lookups of `urls`, pages of 7: two servers of one index give equal lists.
pub async fn lookup_answers(server: &ServerProcess, urls: &[&str]) -> Vec<String> {
    use provindex_proto::v1::{
        LookupUrlRequest, UrlMatch, provenance_service_client::ProvenanceServiceClient,
    };
    let mut client = ProvenanceServiceClient::new(server.channel().await);
    let mut answers = Vec::new();
    for url in urls {
        for mode in [UrlMatch::Exact, UrlMatch::Prefix, UrlMatch::Host] {
            let mut request = LookupUrlRequest {
                url: url.to_string(),
                r#match: mode as i32,
                page_size: 7,
                ..Default::default()
            };
            loop {
                let page = match client.lookup_url(request.clone()).await {
                    Ok(page) => page.into_inner(),
                    Err(status) => {
                        // Both servers must refuse alike.
                        answers.push(format!("{:?}: {}", status.code(), status.message()));
                        break;
                    }
                };
                answers.push(format!("{page:?}"));
                if page.next_page_token.is_empty() {
                    break;
                }
                request.page_token = page.next_page_token;
            }
        }
    }
    answers
}

/// Asserts a finished process succeeded, showing its output otherwise.
pub fn succeeded(output: &std::process::Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Contents of an index: id → SHA-256.
pub fn contents_by_id(index: &Path) -> std::collections::BTreeMap<u128, [u8; 32]> {
    let reader = provindex_index::IndexReader::open(index).expect("open index");
    let mut contents = std::collections::BTreeMap::new();
    reader
        .for_each_content(|id, record| {
            contents.insert(id, record.sha256.as_slice().try_into().expect("32 bytes"));
            Ok::<_, provindex_index::IndexError>(())
        })
        .expect("walk contents");
    contents
}
