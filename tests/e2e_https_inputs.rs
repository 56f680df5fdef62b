//! Inputs at crawl scale, end to end with real processes and real servers:
//! `http://` objects from a real HTTP server with Range support (axum +
//! tower-http's `ServeDir` on 127.0.0.1:0) serving the sample WARC files,
//! gzipped path lists of such objects, an HTTP 404 among the inputs, record
//! bytes fetched back by byte range, and S3 credentials taken only from AWS
//! shared files, checked by a moto server that enforces signatures.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{ServerProcess, provindex_bin, scan_warc};
use provindex_proto::v1::{
    GetCaptureRequest, LookupUrlRequest, UrlMatch,
    provenance_service_client::ProvenanceServiceClient,
};

const A: &str = "gov.uk-2014-crawl-a.warc.gz";
const B: &str = "cc-main-2020-34-excerpt.warc.gz";

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/sample")
        .join(name)
}

/// Serves `dir` on 127.0.0.1:0 until the test process ends.
fn serve(dir: &Path) -> SocketAddr {
    let dir = dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app =
                axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dir));
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A served folder holding the two sample files under `crawl-data/s/warc/`
/// and `crawl-data/s/warc.paths.gz` naming them (and `extra` lines).
fn served_crawl(root: &Path, extra: &[&str]) -> SocketAddr {
    let warc = root.join("crawl-data/s/warc");
    std::fs::create_dir_all(&warc).unwrap();
    for name in [A, B] {
        std::fs::copy(sample(name), warc.join(name)).unwrap();
    }
    let mut text = format!("# sample crawl\ncrawl-data/s/warc/{A}\n\ncrawl-data/s/warc/{B}\n");
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    std::fs::write(
        root.join("crawl-data/s/warc.paths.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    serve(root)
}

fn index(args: &[&str], out: &Path) -> Output {
    Command::new(provindex_bin())
        .arg("index")
        .args(args)
        .arg("--out")
        .arg(out)
        .args(["--crawl", "s", "--workers", "2", "--built-at", "0"])
        .output()
        .expect("run provindex index")
}

fn index_ok(args: &[&str], out: &Path) -> Output {
    let output = index(args, out);
    assert!(
        output.status.success(),
        "index {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn info(index: &Path) -> serde_json::Value {
    let output = Command::new(provindex_bin())
        .arg("info")
        .arg(index)
        .arg("--json")
        .output()
        .expect("run provindex info");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("info json")
}

fn counts(info: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    [
        "captures",
        "contents",
        "urls",
        "read_errors",
        "clusters",
        "clustered_contents",
    ]
    .iter()
    .map(|k| (k.to_string(), info[*k].clone()))
    .collect()
}

#[test]
fn an_http_object_indexes_like_the_local_file_and_serves_its_records_by_range() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(sample("").as_path());
    let url = format!("http://{addr}/{A}");
    let remote = dir.path().join("remote");
    let local = dir.path().join("local");
    index_ok(&[&url], &remote);
    index_ok(&[&sample(A).display().to_string()], &local);
    let (remote_info, local_info) = (info(&remote), info(&local));
    assert_eq!(counts(&remote_info), counts(&local_info));
    assert!(remote_info["captures"].as_u64().unwrap() > 10);
    assert_eq!(remote_info["read_errors"], 0);
    let inputs = remote_info["inputs"].to_string();
    assert!(inputs.contains(&url), "{inputs}");

    // Records come back by byte range from the server, identical to the
    // bytes the local index reads from the file.
    let records: Vec<_> = scan_warc(&sample(A))
        .into_iter()
        .filter(|r| r.warc_type == "response" && r.target_uri.starts_with("http"))
        .take(3)
        .collect();
    assert!(!records.is_empty());
    let remote_server = ServerProcess::start(&remote);
    let local_server = ServerProcess::start(&local);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut checked = 0;
    for record in &records {
        let fetch = |server: &ServerProcess| {
            rt.block_on(async {
                let mut client = ProvenanceServiceClient::new(server.channel().await);
                let page = client
                    .lookup_url(LookupUrlRequest {
                        url: record.target_uri.clone(),
                        r#match: UrlMatch::Exact as i32,
                        page_size: 1000,
                        ..Default::default()
                    })
                    .await
                    .expect("lookup")
                    .into_inner();
                let capture = page
                    .captures
                    .into_iter()
                    .find(|c| c.record_id == record.record_id)
                    .expect("capture by URL");
                let full = client
                    .get_capture(GetCaptureRequest {
                        capture_id: capture.capture_id.clone(),
                        include_record: true,
                    })
                    .await
                    .expect("GetCapture with record")
                    .into_inner();
                (capture.capture_id, full.record)
            })
        };
        let (remote_id, remote_record) = fetch(&remote_server);
        let (_, local_record) = fetch(&local_server);
        assert!(!remote_record.is_empty());
        assert_eq!(remote_record, local_record, "{}", record.target_uri);
        // The CLI too: `capture --record` writes the same bytes.
        let output = Command::new(provindex_bin())
            .args([
                "capture",
                &remote_id,
                "--record",
                "--server",
                &remote_server.addr,
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("capture --record");
        assert!(output.status.success());
        assert_eq!(output.stdout, remote_record);
        checked += 1;
    }
    assert_eq!(checked, records.len());
}

#[test]
fn a_gzipped_path_list_of_http_objects_indexes_both_like_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    let addr = served_crawl(&root, &[]);
    let listed = dir.path().join("listed");
    let named = dir.path().join("named");
    index_ok(
        &[&format!("http://{addr}/crawl-data/s/warc.paths.gz")],
        &listed,
    );
    index_ok(
        &[
            &format!("http://{addr}/crawl-data/s/warc/{A}"),
            &format!("http://{addr}/crawl-data/s/warc/{B}"),
        ],
        &named,
    );
    let (listed_info, named_info) = (info(&listed), info(&named));
    // Same objects, same URIs: the same index, digest included.
    assert_eq!(listed_info["digest"], named_info["digest"]);
    assert_eq!(counts(&listed_info), counts(&named_info));
    // Both files are in it: more captures than either alone.
    let one = dir.path().join("one");
    index_ok(&[&format!("http://{addr}/crawl-data/s/warc/{A}")], &one);
    assert!(listed_info["captures"].as_u64().unwrap() > info(&one)["captures"].as_u64().unwrap());
    // The list kept locally, with the server as its explicit base.
    let local_list = dir.path().join("warc.paths.gz");
    std::fs::copy(root.join("crawl-data/s/warc.paths.gz"), &local_list).unwrap();
    let based = dir.path().join("based");
    index_ok(
        &[&format!("http://{addr}/::{}", local_list.display())],
        &based,
    );
    assert_eq!(info(&based)["digest"], listed_info["digest"]);
}

#[test]
fn an_http_404_names_the_url_and_status_and_can_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    let addr = served_crawl(&root, &["crawl-data/s/warc/gone.warc.gz"]);
    let gone = format!("http://{addr}/crawl-data/s/warc/gone.warc.gz");
    let list = format!("http://{addr}/crawl-data/s/warc.paths.gz");

    // Named directly: the listing's HEAD fails, before any work.
    let output = index(&[&gone], &dir.path().join("direct"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains(&gone) && stderr.contains("404"), "{stderr}");

    // From a path list, without --skip-failed-inputs: the build fails,
    // naming the object and the status.
    let output = index(&[&list], &dir.path().join("strict"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains(&gone) && stderr.contains("404"), "{stderr}");

    // With it: the other inputs are indexed and the missing one reported.
    let skipped = dir.path().join("skipped");
    let output = index_ok(&[&list, "--skip-failed-inputs"], &skipped);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("skipped input:"))
        .unwrap_or_else(|| panic!("no skipped input reported: {stderr}"));
    assert!(line.contains(&gone) && line.contains("404"), "{line}");
    let full = dir.path().join("full");
    index_ok(
        &[
            &format!("http://{addr}/crawl-data/s/warc/{A}"),
            &format!("http://{addr}/crawl-data/s/warc/{B}"),
        ],
        &full,
    );
    assert_eq!(counts(&info(&skipped)), counts(&info(&full)));
}

/// moto with signature checks on after `free` unauthenticated set-up calls.
struct AuthMoto {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for AuthMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_auth_moto(venv: &Path, free: u32) -> AuthMoto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(venv.join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", free.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting moto_server");
    let moto = AuthMoto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "moto_server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    moto
}

/// `provindex index` with no AWS variables but those naming the files.
fn index_with_aws_files(home: &Path, profile: &str, input: &str, out: &Path) -> Output {
    Command::new(provindex_bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_PROFILE", profile)
        .arg("index")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(["--crawl", "s", "--workers", "1", "--built-at", "0"])
        .output()
        .expect("run provindex index")
}

#[test]
fn s3_credentials_come_from_the_aws_shared_files_alone() {
    let venv = common::moto_venv();
    // Set-up: create_user, put_user_policy, create_access_key, create_bucket,
    // put_object; every later request must be signed by the user's key.
    let moto = start_auth_moto(&venv, 5);
    let script = format!(
        "import boto3\n\
         kw = dict(endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='setup', aws_secret_access_key='setup')\n\
         iam = boto3.client('iam', **kw)\n\
         iam.create_user(UserName='indexer')\n\
         iam.put_user_policy(UserName='indexer', PolicyName='s3', PolicyDocument='{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}]}}')\n\
         key = iam.create_access_key(UserName='indexer')['AccessKey']\n\
         s3 = boto3.client('s3', **kw)\n\
         s3.create_bucket(Bucket='crawl')\n\
         s3.put_object(Bucket='crawl', Key='s/{A}', Body=open('{file}', 'rb').read())\n\
         print(key['AccessKeyId'], key['SecretAccessKey'])\n",
        endpoint = moto.endpoint,
        file = sample(A).display(),
    );
    let output = Command::new(venv.join("bin/python"))
        .args(["-c", &script])
        .output()
        .expect("python");
    assert!(
        output.status.success(),
        "moto set-up: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let keys = String::from_utf8(output.stdout).unwrap();
    let (id, secret) = keys.trim().split_once(' ').expect("key id and secret");

    let home = tempfile::tempdir().unwrap();
    // Credentials in the credentials file (with a wrong default profile
    // first), region and endpoint in the config file's `[profile crawl]`.
    std::fs::write(
        home.path().join("credentials"),
        format!(
            "# test\n[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong\n\n\
             [crawl]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n\
             [bad]\naws_access_key_id = {id}\naws_secret_access_key = not-{secret}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        home.path().join("config"),
        format!(
            "[default]\nregion = us-east-1\nendpoint_url = {e}\n\
             [profile crawl]\nregion = us-east-1\nendpoint_url = {e}\n\
             [profile bad]\nregion = us-east-1\nendpoint_url = {e}\n",
            e = moto.endpoint
        ),
    )
    .unwrap();
    let input = format!("s3://crawl/s/{A}");

    let good = home.path().join("good");
    let output = index_with_aws_files(home.path(), "crawl", &input, &good);
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let local = home.path().join("local");
    index_ok(&[&sample(A).display().to_string()], &local);
    assert_eq!(counts(&info(&good)), counts(&info(&local)));

    // The server checks signatures: the wrong secret is refused, and
    // nothing secret is printed.
    let output = index_with_aws_files(home.path(), "bad", &input, &home.path().join("bad-out"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("403") || stderr.contains("Forbidden"),
        "{stderr}"
    );
    assert!(!stderr.contains(secret), "{stderr}");

    // A named profile that is in neither file.
    let output = index_with_aws_files(home.path(), "absent", &input, &home.path().join("x"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("\"absent\"") && stderr.contains("credentials"),
        "{stderr}"
    );
}
