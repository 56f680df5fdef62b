//! An incremental build between object-store publications, with real
//! processes and a real S3-compatible server (moto), issue 18: the gov.uk
//! crawl and the IANA crawl published as a 2-partition index, the gov.uk
//! revisit crawl added with `provindex index --base s3://… --out s3://…`;
//! the new publication has the digest of the three crawls indexed locally
//! from scratch, a server started from it answers URL lookups (the revisits'
//! originals found in the base included) exactly as a server over the local
//! index; the same build as a cluster job (coordinator, two workers, each
//! rescan task fetching its own base partition) publishes the same digest;
//! and a base that is not a publication is refused, naming it.

mod common;

use std::process::{Command, Output};

use common::{
    ChildProcess, ServerProcess, corpus_dir, moto_venv, provindex_bin, start_coordinator,
    start_moto, start_worker,
};
use provindex_pipeline::publish::Publication;
use provindex_proto::v1::{
    LookupUrlRequest, LookupUrlResponse, UrlMatch,
    provenance_service_client::ProvenanceServiceClient,
};

fn index(files: &[&str], extra: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(provindex_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("index")
        .args(files.iter().map(|f| corpus_dir().join("warc").join(f)))
        .args(["--crawl", "incr", "--built-at", "0", "--workers", "2"])
        .args(extra)
        .output()
        .expect("run provindex index")
}

/// The store blocks: read on a plain thread.
fn publication_of(endpoint: &str, uri: &str) -> Publication {
    let (endpoint, uri) = (endpoint.to_string(), uri.to_string());
    std::thread::spawn(move || {
        let store = common::moto_store(&endpoint);
        serde_json::from_slice(
            &store
                .get_bytes(&format!("{uri}/publication.json"))
                .expect("publication.json"),
        )
        .expect("publication")
    })
    .join()
    .expect("store thread")
}

async fn lookups(server: &ServerProcess, urls: &[&str]) -> Vec<LookupUrlResponse> {
    let mut client = ProvenanceServiceClient::new(server.channel().await);
    let mut answers = Vec::new();
    for url in urls {
        for mode in [UrlMatch::Exact, UrlMatch::Host] {
            let mut request = LookupUrlRequest {
                url: url.to_string(),
                r#match: mode as i32,
                page_size: 9,
                ..Default::default()
            };
            loop {
                let page = client
                    .lookup_url(request.clone())
                    .await
                    .expect("LookupUrl")
                    .into_inner();
                let next = page.next_page_token.clone();
                answers.push(page);
                if next.is_empty() {
                    break;
                }
                request.page_token = next;
            }
        }
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_added_to_a_published_index_equals_the_index_of_all_three() {
    let venv = moto_venv();
    let moto = start_moto(&venv, "incr");
    let env = common::moto_env(&moto.endpoint);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (first, revisits, iana) = (
        "gov.uk-2014-crawl-a.warc.gz",
        "gov.uk-2014-crawl-b-revisits.warc.gz",
        "iana.org-2014.warc.gz",
    );

    let base = "s3://incr/indexes/v1";
    let output = index(
        &[first, iana],
        &["--out", base, "--index-partitions", "2"],
        &env,
    );
    common::succeeded(&output, "index v1");
    let next = "s3://incr/indexes/v2";
    let output = index(
        &[revisits],
        &["--base", base, "--out", next, "--index-partitions", "2"],
        &env,
    );
    common::succeeded(&output, "index v2 --base v1");

    let local = tmp.path().join("scratch");
    let output = index(
        &[first, revisits, iana],
        &["--out", local.to_str().expect("utf-8")],
        &env,
    );
    common::succeeded(&output, "index of all three");
    let info: serde_json::Value = serde_json::from_slice(
        &common::run_ok(&["info".as_ref(), local.as_os_str(), "--json".as_ref()]).stdout,
    )
    .expect("info JSON");

    let publication = publication_of(&moto.endpoint, next);
    assert_eq!(
        serde_json::Value::from(publication.index.digest.clone()),
        info["digest"],
        "digest of v2 and of the three crawls indexed from scratch"
    );
    assert_eq!(
        serde_json::Value::from(publication.index.captures),
        info["captures"]
    );
    assert_eq!(publication.partitions.len(), 2);

    let cache = tmp.path().join("cache");
    let served = ServerProcess::start_with_env(
        next.as_ref(),
        &["--cache-dir".as_ref(), cache.as_os_str()],
        &env,
    );
    let scratch = ServerProcess::start(&local);
    let urls = ["http://data.gov.uk/", "http://www.iana.org/"];
    let from_v2 = lookups(&served, &urls).await;
    assert_eq!(from_v2, lookups(&scratch, &urls).await);
    let captures: Vec<_> = from_v2.iter().flat_map(|page| &page.captures).collect();
    assert!(captures.len() > 20, "{} captures", captures.len());
    assert!(
        captures
            .iter()
            .any(|c| c.record_kind == "revisit" && !c.content_id.is_empty()),
        "a revisit of the new crawl answered with its original's content from the base"
    );

    // The same incremental build as a cluster job: a coordinator and two
    // workers, each rescan task fetching its own base partition.
    let state = tmp.path().join("state");
    let (coordinator, addr) = start_coordinator(&env, &state, "127.0.0.1:0");
    let address = format!("http://{addr}");
    let workers: Vec<ChildProcess> = (0..2)
        .map(|n| start_worker(&env, &address, &format!("w{n}"), &[]))
        .collect();
    let clustered = "s3://incr/indexes/v2-cluster";
    let output = index(
        &[revisits],
        &[
            "--coordinator",
            &address,
            "--base",
            base,
            "--out",
            clustered,
            "--index-partitions",
            "2",
            "--staging",
            "s3://incr/staging",
            "--job-id",
            "incremental",
            "--timeout",
            "600",
        ],
        &env,
    );
    common::succeeded(&output, "index --coordinator --base v1");
    drop(workers);
    drop(coordinator);
    assert_eq!(
        publication_of(&moto.endpoint, clustered).index.digest,
        publication.index.digest,
        "the cluster's incremental build"
    );

    // A base that is not a publication.
    let missing = "s3://incr/indexes/none";
    let output = index(
        &[revisits],
        &["--base", missing, "--out", "s3://incr/indexes/v3"],
        &env,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(missing) && stderr.contains("publication.json"),
        "{stderr}"
    );
}
