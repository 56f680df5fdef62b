//! The distributed build with real processes on loopback: a coordinator,
//! workers and a real S3-compatible server (moto). A worker killed with
//! SIGKILL in the middle of a scan task, and a coordinator killed and
//! restarted mid-job: both jobs finish, with the digest of a one-process
//! build of the same objects.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{ChildProcess, corpus_dir, moto_venv, provindex_bin, start_coordinator, start_moto};
use provindex_proto::v1 as pb;
use provindex_proto::v1::coordinator_service_client::CoordinatorServiceClient;

/// Crawl files uploaded to the bucket: several objects so that scan tasks
/// run in parallel, with revisits across objects (gov.uk b → a).
const FILES: [&str; 6] = [
    "gov.uk-2014-crawl-a.warc.gz",
    "gov.uk-2014-crawl-b-revisits.warc.gz",
    "iana.org-2014.warc.gz",
    "wget-2024-sample-0000.warc.gz",
    "wget-2024-sample-0001.warc.gz",
    "cc-main-2020-34-excerpt.warc.gz",
];

/// Uploads the crawl files to s3://crawl/warc/ (on a plain thread: the store blocks).
fn upload(endpoint: &str) {
    let endpoint = endpoint.to_string();
    std::thread::spawn(move || {
        let store = common::moto_store(&endpoint);
        for file in FILES {
            let bytes = std::fs::read(corpus_dir().join("warc").join(file)).expect("read");
            store
                .put(&format!("s3://crawl/warc/{file}"), bytes.into())
                .expect("upload");
        }
    })
    .join()
    .expect("upload thread");
}

fn digest_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("digest: "))
        .unwrap_or_else(|| {
            panic!(
                "no digest in the output:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .to_string()
}

fn provindex(env: &[(&str, String)]) -> Command {
    let mut command = Command::new(provindex_bin());
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// A worker sleeping `delay_ms` after each scanned record (0: none).
fn start_worker(
    env: &[(&str, String)],
    coordinator: &str,
    name: &str,
    delay_ms: u64,
) -> ChildProcess {
    common::start_worker(
        env,
        coordinator,
        name,
        &["--record-delay-ms", &delay_ms.to_string()],
    )
}

/// `provindex index --coordinator ...` following the job (runs until the job ends).
fn submit(env: &[(&str, String)], coordinator: &str, out: &Path, job: &str, lease: u32) -> Child {
    provindex(env)
        .args([
            "index",
            "s3://crawl/warc/",
            "--coordinator",
            coordinator,
            "--out",
        ])
        .arg(out)
        .args(["--staging", &format!("s3://crawl/staging-{job}")])
        .args(["--job-id", job, "--built-at", "0", "--crawl", "dist"])
        .args(["--lease-seconds", &lease.to_string(), "--timeout", "600"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("submit")
}

async fn job_status(coordinator: &str, job: &str) -> Option<pb::JobStatus> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{coordinator}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    let mut client = CoordinatorServiceClient::new(channel);
    client
        .get_job(pb::GetJobRequest {
            job_id: job.to_string(),
        })
        .await
        .ok()
        .map(|r| r.into_inner())
}

fn stage<'a>(status: &'a pb::JobStatus, name: &str) -> &'a pb::StageProgress {
    status
        .stages
        .iter()
        .find(|s| s.stage == name)
        .expect("stage listed")
}

/// Polls the job until `ready` holds (bounded).
async fn wait_for(
    coordinator: &str,
    job: &str,
    what: &str,
    ready: impl Fn(&pb::JobStatus) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = job_status(coordinator, job).await
            && ready(&status)
        {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn wait_output(child: Child) -> Output {
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "provindex index --coordinator failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_killed_mid_scan_and_coordinator_restart_give_the_single_process_digest() {
    let venv = moto_venv();
    let moto = start_moto(&venv, "crawl");
    upload(&moto.endpoint);
    let env = common::moto_env(&moto.endpoint);
    let dir = tempfile::tempdir().expect("tempdir");

    // The reference: the whole build in one process, from the same objects.
    let reference = provindex(&env)
        .args([
            "index",
            "s3://crawl/warc/",
            "--built-at",
            "0",
            "--crawl",
            "dist",
        ])
        .args([
            "--workers",
            "1",
            "--staging",
            "s3://crawl/staging-reference",
            "--out",
        ])
        .arg(dir.path().join("reference"))
        .output()
        .expect("reference build");
    assert!(
        reference.status.success(),
        "{}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let expected = digest_of(&reference);
    let stdout = String::from_utf8_lossy(&reference.stdout);
    assert!(stdout.contains("indexed 6 files"), "{stdout}");
    assert!(stdout.contains(" resolved, 0 unresolved"), "{stdout}");

    // 1. A worker killed with SIGKILL in the middle of a scan task.
    {
        let (_coordinator, addr) =
            start_coordinator(&env, &dir.path().join("state-kill"), "127.0.0.1:0");
        let url = format!("http://{addr}");
        // The only worker at first, slowed down so that it is surely inside a task.
        let mut slow = start_worker(&env, &url, "slow", 100);
        let follower = submit(&env, &url, &dir.path().join("killed-worker"), "kill", 2);
        wait_for(&addr, "kill", "the slow worker to hold a scan task", |s| {
            stage(s, "scan").tasks_running == 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let status = job_status(&addr, "kill").await.expect("status");
        assert_eq!(
            stage(&status, "scan").tasks_done,
            0,
            "the slow task finished already"
        );
        slow.kill9();
        let _workers: Vec<ChildProcess> = (0..3)
            .map(|n| start_worker(&env, &url, &format!("w{n}"), 0))
            .collect();
        let output = wait_output(follower);
        assert_eq!(
            digest_of(&output),
            expected,
            "digest after a worker was killed"
        );
        let status = job_status(&addr, "kill").await.expect("status");
        assert_eq!(status.state, "succeeded");
        assert!(
            status.retries >= 1,
            "the killed worker's lease was re-issued: {status:?}"
        );
    }

    // 2. The coordinator killed with SIGKILL mid-job and restarted on its state.
    {
        let state = dir.path().join("state-restart");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let listen = format!("127.0.0.1:{port}");
        let (mut coordinator, addr) = start_coordinator(&env, &state, &listen);
        let url = format!("http://{addr}");
        let _workers: Vec<ChildProcess> = (0..3)
            .map(|n| start_worker(&env, &url, &format!("r{n}"), 20))
            .collect();
        let follower = submit(&env, &url, &dir.path().join("restarted"), "restart", 3);
        wait_for(&addr, "restart", "a committed scan task", |s| {
            stage(s, "scan").tasks_done >= 1 && s.state == "running"
        })
        .await;
        coordinator.kill9();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_coordinator, _) = start_coordinator(&env, &state, &listen);
        let output = wait_output(follower);
        assert_eq!(
            digest_of(&output),
            expected,
            "digest after a coordinator restart"
        );
        let status = job_status(&addr, "restart").await.expect("status");
        assert_eq!(status.state, "succeeded");
        assert_eq!(stage(&status, "scan").tasks_done, FILES.len() as u32);
    }

    // 3. A worker that cannot reach the object store: its scan attempts fail
    //    with the store's error, the attempts run out, and the job fails with
    //    that reason (it does not hang).
    {
        let (_coordinator, addr) =
            start_coordinator(&env, &dir.path().join("state-unreachable"), "127.0.0.1:0");
        let url = format!("http://{addr}");
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let mut bad_env = env.clone();
        bad_env[0].1 = format!("http://127.0.0.1:{closed}");
        let follower = submit(
            &env,
            &url,
            &dir.path().join("unreachable"),
            "unreachable",
            5,
        );
        let _worker = start_worker(&bad_env, &url, "cut-off", 0);
        let output = follower.wait_with_output().expect("wait");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("failed after 3 attempt(s)")
                && stderr
                    .contains("staging store unreachable: reading s3://crawl/staging-unreachable/"),
            "{stderr}"
        );
        let status = job_status(&addr, "unreachable").await.expect("status");
        assert_eq!(status.state, "failed");
        assert!(!status.failed_tasks.is_empty());
    }

    // The published index opens and reports the same digest.
    let info = provindex(&env)
        .arg("info")
        .arg(dir.path().join("restarted"))
        .output()
        .expect("info");
    assert_eq!(digest_of(&info), expected);
}

/// `provindex index --coordinator ... --index-partitions N --out URI`.
fn submit_partitioned(
    env: &[(&str, String)],
    coordinator: &str,
    out: &str,
    job: &str,
    partitions: u32,
) -> Child {
    provindex(env)
        .args(["index", "s3://crawl/warc/", "--coordinator", coordinator])
        .args(["--out", out, "--index-partitions", &partitions.to_string()])
        .args(["--staging", &format!("s3://crawl/staging-{job}")])
        .args(["--job-id", job, "--built-at", "0", "--crawl", "dist"])
        .args(["--lease-seconds", "2", "--timeout", "600"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("submit")
}

/// The publication at `uri` (read from moto on a plain thread).
fn publication(endpoint: &str, uri: &str) -> serde_json::Value {
    let (endpoint, uri) = (endpoint.to_string(), format!("{uri}/publication.json"));
    std::thread::spawn(move || {
        let bytes = common::moto_store(&endpoint)
            .get_bytes(&uri)
            .expect("publication.json");
        serde_json::from_slice(&bytes).expect("publication JSON")
    })
    .join()
    .expect("read thread")
}

#[tokio::test(flavor = "multi_thread")]
async fn partitioned_build_with_a_killed_builder_and_a_coordinator_restart_gives_the_one_process_digest()
 {
    let venv = moto_venv();
    let moto = start_moto(&venv, "crawl");
    upload(&moto.endpoint);
    let env = common::moto_env(&moto.endpoint);
    let dir = tempfile::tempdir().expect("tempdir");

    // The reference: one process, one partition.
    let reference = provindex(&env)
        .args([
            "index",
            "s3://crawl/warc/",
            "--built-at",
            "0",
            "--crawl",
            "dist",
        ])
        .args([
            "--workers",
            "1",
            "--staging",
            "s3://crawl/staging-reference",
        ])
        .arg("--out")
        .arg(dir.path().join("reference"))
        .output()
        .expect("reference build");
    assert!(
        reference.status.success(),
        "{}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let expected = digest_of(&reference);

    // One process, 8 partitions, to object storage: the same digest.
    let local = provindex(&env)
        .args([
            "index",
            "s3://crawl/warc/",
            "--built-at",
            "0",
            "--crawl",
            "dist",
        ])
        .args(["--workers", "2", "--index-partitions", "8"])
        .args(["--out", "s3://crawl/index-local-8"])
        .output()
        .expect("partitioned build");
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    assert_eq!(digest_of(&local), expected, "8 partitions, one process");
    let published = publication(&moto.endpoint, "s3://crawl/index-local-8");
    assert_eq!(published["index"]["digest"], expected.as_str());
    assert_eq!(published["partitions"].as_array().map(Vec::len), Some(8));

    // A cluster: 4 partitions; the only worker at first is slowed down and
    // killed with SIGKILL inside a build task; three workers take over; the
    // coordinator is killed and restarted on its state during the build.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let state = dir.path().join("state-partitioned");
    let (mut coordinator, addr) = start_coordinator(&env, &state, &listen);
    let url = format!("http://{addr}");
    let mut slow = start_worker(&env, &url, "slow", 15);
    let out = "s3://crawl/index-cluster-4";
    let follower = submit_partitioned(&env, &url, out, "partitioned", 4);
    wait_for(
        &addr,
        "partitioned",
        "the slow worker inside a build task",
        |s| {
            s.stages
                .iter()
                .any(|st| st.stage == "build" && st.tasks_running == 1)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = job_status(&addr, "partitioned").await.expect("status");
    assert_eq!(
        stage(&status, "build").tasks_done,
        0,
        "the slow build task finished already"
    );
    slow.kill9();
    let _workers: Vec<ChildProcess> = (0..3)
        .map(|n| start_worker(&env, &url, &format!("p{n}"), 5))
        .collect();
    wait_for(&addr, "partitioned", "a committed build task", |s| {
        s.stages
            .iter()
            .any(|st| st.stage == "build" && st.tasks_done >= 1)
            && s.state == "running"
    })
    .await;
    coordinator.kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_coordinator, _) = start_coordinator(&env, &state, &listen);
    let output = wait_output(follower);
    assert_eq!(digest_of(&output), expected, "4 partitions on a cluster");
    let status = job_status(&addr, "partitioned").await.expect("status");
    assert_eq!(status.state, "succeeded");
    assert!(
        status.retries >= 1,
        "the killed builder's lease was re-issued"
    );
    assert_eq!(stage(&status, "build").tasks_done, 4);
    assert_eq!(stage(&status, "publish").tasks_done, 1);
    let published = publication(&moto.endpoint, out);
    assert_eq!(published["index"]["digest"], expected.as_str());
    let partitions = published["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 4);
    let chunks: u64 = partitions
        .iter()
        .map(|p| p["chunks"]["end"].as_u64().unwrap() - p["chunks"]["start"].as_u64().unwrap())
        .sum();
    assert_eq!(chunks, 256, "the partitions' chunks tile the key space");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_and_unreadable_inputs_are_reported_by_the_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env: Vec<(&str, String)> = vec![("RUST_LOG", "warn".into())];
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).expect("mkdir");
    for file in ["gov.uk-2014-crawl-a.warc.gz", "iana.org-2014.warc.gz"] {
        std::fs::copy(corpus_dir().join("warc").join(file), inputs.join(file)).expect("copy");
    }
    let (_coordinator, addr) = start_coordinator(&env, &dir.path().join("state"), "127.0.0.1:0");
    let url = format!("http://{addr}");

    // A missing input: refused at submission, naming it.
    let missing = provindex(&env)
        .args(["index", "--coordinator", &url, "--out"])
        .arg(dir.path().join("never"))
        .arg(dir.path().join("no-such-dir"))
        .output()
        .expect("submit");
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("no-such-dir") && stderr.contains("does not exist"),
        "{stderr}"
    );

    // An input that disappears after planning: the scan task fails for good
    // (not found is permanent) and the job fails naming the input...
    let submit_with = |out: &str, job: &str, extra: &[&str]| {
        provindex(&env)
            .args(["index", "--coordinator", &url, "--job-id", job, "--out"])
            .arg(dir.path().join(out))
            .arg(&inputs)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("submit")
    };
    let failing = submit_with("failing", "failing", &[]);
    wait_for(&addr, "failing", "the job to be planned", |_| true).await;
    let vanished = inputs.join("iana.org-2014.warc.gz");
    let kept = std::fs::read(&vanished).expect("read");
    std::fs::remove_file(&vanished).expect("remove");
    let worker = start_worker(&env, &url, "w", 0);
    let output = failing.wait_with_output().expect("wait");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("iana.org-2014.warc.gz") && stderr.contains("cannot open input"),
        "{stderr}"
    );
    drop(worker);

    // ...or, when the job allows it, finishes without it and lists it.
    std::fs::write(&vanished, &kept).expect("restore");
    let skipping = submit_with("skipping", "skipping", &["--skip-failed-inputs"]);
    wait_for(&addr, "skipping", "the job to be planned", |_| true).await;
    std::fs::remove_file(&vanished).expect("remove");
    let _worker = start_worker(&env, &url, "w2", 0);
    let output = skipping.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("skipped input") && stderr.contains("iana.org-2014.warc.gz"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("indexed 1 files"), "{stdout}");
}

/// Near-duplicate clusters of the real corpus: one keeper per cluster by the
/// documented rule (earliest first capture, ties by the smallest content id),
/// cluster id = smallest member id, members really near-duplicates, and the
/// cluster served by LookupContent and on every capture.
#[tokio::test(flavor = "multi_thread")]
async fn clusters_have_one_keeper_by_the_documented_rule_and_are_served() {
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().expect("tempdir");
    let index = dir.path().join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc"))
        .args(["--built-at", "0", "--out"])
        .arg(&index)
        .output()
        .expect("index");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut clusters: BTreeMap<u128, Vec<(u128, provindex_index::records::ContentRecord)>> =
        BTreeMap::new();
    let mut total = 0u64;
    let mut cluster_of = std::collections::HashMap::new();
    {
        let reader = provindex_index::IndexReader::open(&index).expect("open");
        reader
            .for_each_content::<provindex_index::IndexError>(|id, record| {
                total += 1;
                let cluster = record.cluster(id);
                cluster_of.insert(id, cluster.cluster_id);
                if cluster.size > 1 {
                    clusters
                        .entry(cluster.cluster_id)
                        .or_default()
                        .push((id, record));
                }
                Ok(())
            })
            .expect("walk");
        assert_eq!(reader.manifest().clusters, clusters.len() as u64);
        // Every capture carries its content's cluster id (copied at the end
        // of the build for URL lookups).
        let mut clustered_captures = 0;
        reader
            .for_each_capture::<provindex_index::IndexError>(|capture_id, record| {
                if let Some(content_id) = record.content_id() {
                    let expected = cluster_of[&content_id];
                    assert_eq!(
                        record.cluster_id(),
                        Some(expected),
                        "capture {capture_id:032x}"
                    );
                    if expected != content_id {
                        clustered_captures += 1;
                    }
                }
                Ok(())
            })
            .expect("walk captures");
        assert!(
            clustered_captures > 0,
            "some captures are in a cluster led by another content"
        );
    }
    assert!(
        !clusters.is_empty(),
        "the real corpus has near-duplicate pages"
    );
    for (cluster_id, members) in &clusters {
        assert_eq!(
            members.len() as u64,
            members[0].1.cluster(members[0].0).size
        );
        assert_eq!(
            *cluster_id,
            members.iter().map(|(id, _)| *id).min().unwrap()
        );
        let keeper = members
            .iter()
            .min_by_key(|(id, record)| (record.first_seen, *id))
            .unwrap()
            .0;
        for (id, record) in members {
            assert_eq!(
                record.cluster(*id).keeper,
                keeper,
                "cluster {cluster_id:032x}"
            );
        }
        assert_eq!(members.iter().filter(|(id, r)| r.is_keeper(*id)).count(), 1);
    }

    // Served: LookupContent carries the cluster; every capture its id.
    let server = common::ServerProcess::start(&index);
    let mut client = provindex_proto::v1::provenance_service_client::ProvenanceServiceClient::new(
        server.channel().await,
    );
    let (cluster_id, members) = clusters.iter().next().unwrap();
    for (id, _) in members {
        let response = client
            .lookup_content(pb::LookupContentRequest {
                key: Some(pb::lookup_content_request::Key::ContentId(format!(
                    "{id:032x}"
                ))),
                page_size: 0,
                page_token: String::new(),
            })
            .await
            .expect("lookup")
            .into_inner();
        let content = response.content.expect("content");
        let cluster = content.cluster.expect("cluster");
        assert_eq!(cluster.cluster_id, format!("{cluster_id:032x}"));
        assert_eq!(cluster.size, members.len() as u64);
        assert_eq!(content.is_keeper, cluster.keeper == content.content_id);
        assert!(!response.captures.is_empty());
        for capture in &response.captures {
            assert_eq!(capture.cluster_id, cluster.cluster_id);
            let by_url = client
                .lookup_url(pb::LookupUrlRequest {
                    url: capture.url.clone(),
                    ..Default::default()
                })
                .await
                .expect("lookup url")
                .into_inner();
            let same = by_url
                .captures
                .iter()
                .find(|c| c.capture_id == capture.capture_id)
                .expect("the capture is among its URL's captures");
            assert_eq!(same.cluster_id, cluster.cluster_id);
        }
    }
}
