//! HTTP(S) objects and path lists as inputs, against a real HTTP server on
//! loopback (axum + tower-http's `ServeDir`, which answers HEAD and `Range`)
//! serving the sample WARC files.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use provindex_corpus::store::{CorpusStore, StoreError};
use provindex_corpus::{ReaderOptions, SourceDoc};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/sample")
}

/// Serves `dir` on 127.0.0.1:0 from its own runtime until the process ends.
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

fn docs(store: &CorpusStore, uri: &str) -> Vec<SourceDoc> {
    store
        .docs(uri, ReaderOptions::default())
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn an_http_object_lists_streams_and_serves_ranges_like_the_local_file() {
    let addr = serve(&sample_dir());
    let store = CorpusStore::new().unwrap();
    let name = "gov.uk-2014-crawl-a.warc.gz";
    let local = sample_dir().join(name);
    let url = format!("http://{addr}/{name}");

    // One object, sized by HEAD (no listing).
    let listed = store.list(&url).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].uri, url);
    assert_eq!(listed[0].size, std::fs::metadata(&local).unwrap().len());

    let remote = docs(&store, &url);
    let here = docs(&store, &local.display().to_string());
    assert!(remote.len() > 10, "{} docs", remote.len());
    assert_eq!(remote.len(), here.len());
    let bytes = std::fs::read(&local).unwrap();
    for (r, l) in remote.iter().zip(&here) {
        assert_eq!((&r.url, &r.payload_digest), (&l.url, &l.payload_digest));
        assert_eq!(r.location.uri, url);
        assert_eq!(
            (r.location.offset, r.location.length),
            (l.location.offset, l.location.length)
        );
    }
    // Evidence: byte ranges (206) equal the file's bytes and decode.
    for doc in remote.iter().step_by(7) {
        let got = store
            .read_range(&url, doc.location.offset, doc.location.length)
            .unwrap();
        let (start, end) = (
            doc.location.offset as usize,
            (doc.location.offset + doc.location.length) as usize,
        );
        assert_eq!(&got[..], &bytes[start..end]);
        let record = provindex_corpus::decode_record(&got, &url).unwrap();
        assert!(record.record_id.is_some());
    }
}

#[test]
fn a_missing_http_object_is_an_error_naming_the_url_and_the_status() {
    let addr = serve(&sample_dir());
    let store = CorpusStore::new().unwrap();
    let url = format!("http://{addr}/missing.warc.gz");
    let e = store.list(&url).unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains(&url) && shown.contains("404"), "{shown}");
    assert!(e.is_refusal(), "{shown}");
    // Opening it fails at once (not a read error later in the stream).
    let e = store.open(&url).err().expect("open must fail");
    let shown = e.to_string();
    assert!(shown.contains(&url) && shown.contains("404"), "{shown}");
    assert!(matches!(
        e,
        StoreError::Store {
            source: object_store::Error::NotFound { .. },
            ..
        }
    ));
}

#[test]
fn a_gzipped_path_list_on_the_server_expands_against_its_root() {
    let dir = tempdir("served");
    std::fs::create_dir_all(dir.join("crawl-data/x/warc")).unwrap();
    for name in [
        "gov.uk-2014-crawl-a.warc.gz",
        "cc-main-2020-34-excerpt.warc.gz",
    ] {
        std::fs::copy(
            sample_dir().join(name),
            dir.join("crawl-data/x/warc").join(name),
        )
        .unwrap();
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(
        b"crawl-data/x/warc/gov.uk-2014-crawl-a.warc.gz\n\
          crawl-data/x/warc/cc-main-2020-34-excerpt.warc.gz\n",
    )
    .unwrap();
    std::fs::write(dir.join("crawl-data/x/warc.paths.gz"), e.finish().unwrap()).unwrap();
    let addr = serve(&dir);
    let store = CorpusStore::new().unwrap();
    let listed = store
        .list(&format!("http://{addr}/crawl-data/x/warc.paths.gz"))
        .unwrap();
    let uris: Vec<_> = listed.iter().map(|o| o.uri.clone()).collect();
    assert_eq!(
        uris,
        [
            format!("http://{addr}/crawl-data/x/warc/cc-main-2020-34-excerpt.warc.gz"),
            format!("http://{addr}/crawl-data/x/warc/gov.uk-2014-crawl-a.warc.gz"),
        ]
    );
    for uri in &uris {
        assert!(!docs(&store, uri).is_empty(), "{uri}");
    }
    // The same list kept locally, with the server given as its base.
    let local_list = dir.join("warc.paths.gz");
    std::fs::copy(dir.join("crawl-data/x/warc.paths.gz"), &local_list).unwrap();
    let based = store
        .list(&format!("http://{addr}/::{}", local_list.display()))
        .unwrap();
    assert_eq!(based, listed);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provindex-https-inputs-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
