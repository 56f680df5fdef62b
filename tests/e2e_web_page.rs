//! The rightholder web page end to end (issue 20), with real processes:
//! `provindex index` builds an index from real corpus pages (Common Crawl
//! JSONL texts, an IANA WARC) and Chinese pages (debian-handbook paragraphs
//! from crates/sketch/tests/data/zh, with a 1%-edited mirror), `provindex
//! serve --http-listen --auth --registry` serves the page, and
//! - headless Debian Chromium, driven by selenium (tests/web_page_selenium.py),
//!   finds the pages, signs in with a rightholder token, registers, lists and
//!   revokes a domain opt-out and sees the verdict change, is refused a domain
//!   outside its grant (403), keeps `<script>` as text, claims a match and
//!   sees the claim listed (and a match another rightholder claimed refused,
//!   409), files a copyright complaint about a match and sees it
//!   "received", and — once a reviewer upheld it through the real gRPC
//!   AuditService (ReviewComplaint with an admin token, run by this test
//!   when the script asks) — sees it "upheld" and the match's verdict turn
//!   reserved; it saves a screenshot of the page, in the test's temporary
//!   directory, or as docs/images/rightholder-page.png (the README's) when
//!   PROVINDEX_UPDATE_SCREENSHOTS=1;
//! - plain HTTP requests check what a browser does not show: 413 for an
//!   oversized form, 401 without a session, 403 without the CSRF token,
//!   Accept-Language, escaping in the raw HTML, 404 for a complaint about
//!   nothing indexed, 409 for a claim overlapping another rightholder's.
//!
//! Chromium, chromedriver and Python are installed when missing (apt-get,
//! as deploy/env.sh does); the test fails, never skips, without them.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::venv::venv_python;
use common::{
    ServerProcess, corpus_dir, edit_one_percent_of_han, html_page, html_response_record,
    provindex_bin, with_token, zh_handbook_rows,
};
use provindex_proto::v1::{
    ReviewAction, ReviewComplaintRequest, audit_service_client::AuditServiceClient,
};
use serde_json::{Value, json};

const TOKEN: &str = "web-rightholder-token-0123456789";
const NAME: &str = "Web Rightholder";
/// Another rightholder, whose claim the first one's overlaps.
const OTHER_TOKEN: &str = "other-rightholder-token-0123456789";
const OTHER_NAME: &str = "Other Rightholder";
/// The operator's reviewer, who upholds complaints over gRPC.
const REVIEWER_TOKEN: &str = "web-reviewer-token-0123456789";
const ZH_URL: &str = "https://zh.example.org/handbook/raid.html";
const ZH_MIRROR: &str = "https://mirror.example.net/raid-copy.html";
/// A source URL with markup in it, as a crawl may hold.
const SCRIPT_URL: &str = "https://zh.example.org/search?q=<script>alert(1)</script>";
const SCRIPT_TEXT: &str = "<script>alert('work')</script> This page is about escaping markup in \
    submitted works: a rightholder pastes text that looks like HTML, and the page must show it \
    as text and never run it. Twenty words or more make it a real sketchable document here.";

/// An executable on PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

/// Debian's chromium and chromium-driver, installed with apt-get when
/// missing (like deploy/env.sh); panics when they still are not there.
fn chromium() -> (PathBuf, PathBuf) {
    let found = || Some((which("chromium")?, which("chromedriver")?));
    if let Some(found) = found() {
        return found;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let apt = |args: &[&str]| {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = apt(&["update", "-qq"])
        && apt(&[
            "install",
            "-y",
            "-qq",
            "chromium",
            "chromium-driver",
            "fonts-noto-cjk",
        ]);
    found().unwrap_or_else(|| {
        panic!("chromium and chromedriver are required (apt-get install chromium chromium-driver; install attempted: {installed})")
    })
}

/// The longest-text row of a corpus JSONL file whose host is a plain
/// `name.com` / `www.name.com` (so its registered domain is known).
fn english_page() -> (String, String, String, String) {
    let path = corpus_dir().join("jsonl/cc_en_head-0091.jsonl.gz");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).expect("jsonl"))
        .read_to_string(&mut text)
        .expect("gunzip");
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON line"))
        .filter_map(|row| {
            let url = row["metadata"]["url"].as_str()?.to_owned();
            let host = url.split('/').nth(2)?.trim_start_matches("www.").to_owned();
            let plain = host.matches('.').count() == 1 && host.ends_with(".com");
            plain.then(|| {
                (
                    row["text"].as_str().unwrap_or("").to_owned(),
                    url,
                    host,
                    row["metadata"]["date_download"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                )
            })
        })
        .max_by_key(|(text, ..)| text.len())
        .expect("a corpus page on a plain .com host")
}

/// `2020-03-29T09:04:10Z` as the page shows it.
fn shown_date(iso: &str) -> String {
    format!("{} {} UTC", &iso[..10], &iso[11..19])
}

/// A minimal HTTP/1.1 request over loopback: status, headers, body.
fn http(addr: &str, request: &str, body: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send head");
    // A server refusing a large body may close before reading it all.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("end of headers");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn post(addr: &str, path: &str, cookie: Option<&str>, body: &str) -> (u16, String, String) {
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{cookie}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    http(addr, &head, body.as_bytes())
}

fn get(addr: &str, path: &str, extra: &str) -> (u16, String, String) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
    http(addr, &head, b"")
}

/// The value of the first `name="csrf"` field of a page.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token in the page")
        .to_owned()
}

/// A reviewer's start_review then uphold of complaint `id`, over gRPC.
fn uphold(server: &ServerProcess, id: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut client = AuditServiceClient::new(server.channel().await);
        for (action, note) in [
            (ReviewAction::StartReview, ""),
            (
                ReviewAction::Uphold,
                "the page copies the rightholder's text",
            ),
        ] {
            let complaint = client
                .review_complaint(with_token(
                    ReviewComplaintRequest {
                        id: id.into(),
                        action: action.into(),
                        note: note.into(),
                        remedy: String::new(),
                    },
                    REVIEWER_TOKEN,
                ))
                .await
                .unwrap_or_else(|status| panic!("ReviewComplaint {action:?} {id}: {status:?}"))
                .into_inner()
                .complaint
                .expect("complaint");
            assert_eq!(complaint.id, id);
        }
    });
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn rightholder_web_page_in_headless_chromium() {
    let (chromium, chromedriver) = chromium();
    let python = venv_python("selenium", &["selenium"], "selenium");

    let dir = tempfile::tempdir().expect("tempdir");
    // Chinese pages, the <script>-URL page.
    let rows = zh_handbook_rows();
    let paragraphs = |range: std::ops::Range<usize>| -> Vec<String> {
        rows[range]
            .iter()
            .map(|r| r["zh_cn"].as_str().expect("zh_cn").to_owned())
            .collect()
    };
    let original = paragraphs(0..6);
    let pages = [
        (ZH_URL, html_page("zh-CN", "RAID", &original)),
        (
            ZH_MIRROR,
            html_page("zh-CN", "RAID", &edit_one_percent_of_han(&original).0),
        ),
        (
            "https://zh.example.org/handbook/other.html",
            html_page("zh-CN", "其他", &paragraphs(40..46)),
        ),
        (
            SCRIPT_URL,
            html_page("en", "Escaping", &[SCRIPT_TEXT.replace('<', "&lt;")]),
        ),
    ];
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).expect("mkdir");
    let mut warc = Vec::new();
    for (i, (url, body)) in pages.iter().enumerate() {
        let n = i + 1;
        warc.extend(html_response_record(
            n,
            &format!("2024-03-0{n}T12:00:00Z"),
            url,
            body,
        ));
    }
    std::fs::write(inputs.join("zh.warc"), warc).expect("write WARC");
    let index = dir.path().join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("jsonl/cc_en_head-0091.jsonl.gz"))
        .arg(corpus_dir().join("warc/iana.org-2014.warc.gz"))
        .arg(inputs.join("zh.warc"))
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "web-test"])
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "index failed: {output:?}");

    let (en_text, en_url, en_domain, en_date) = english_page();
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        json!({"tokens": {
            TOKEN: {"role": "rightholder", "name": NAME,
                    "scopes": [en_domain.clone(), "zh.example.org"]},
            OTHER_TOKEN: {"role": "rightholder", "name": OTHER_NAME,
                          "scopes": ["zh.example.org"]},
            REVIEWER_TOKEN: {"role": "admin", "name": "reviewer"},
        }})
        .to_string(),
    )
    .expect("auth file");
    let server = ServerProcess::start_with(
        &index,
        &[
            "--http-listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--auth".as_ref(),
            auth.as_os_str(),
            "--registry".as_ref(),
            dir.path().join("registry").as_os_str(),
            "--create-registry".as_ref(),
            // Not the default 15: the page's complaints follow serve's setting.
            "--complaint-due-days".as_ref(),
            "30".as_ref(),
        ],
    );
    let addr = server.http_addr.clone().expect("http address");

    // What a browser does not show.
    let (status, _, body) = get(&addr, "/", "Accept-Language: zh-CN,zh;q=0.9,en;q=0.5\r\n");
    assert_eq!(status, 200);
    assert!(body.contains("<html lang=\"zh-CN\">"), "{body}");
    assert!(body.contains("查找作品出现的位置"), "{body}");
    let (status, head, body) = get(&addr, "/?lang=en", "Accept-Language: zh-CN\r\n");
    assert_eq!(status, 200);
    assert!(body.contains("Find where a work appears"));
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    let huge = format!(
        "text={}",
        "a".repeat(provindex_http::page::MAX_FORM_BYTES + 1)
    );
    let (status, _, body) = post(&addr, "/find?lang=en", None, &huge);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("too large"), "{body}");
    let (status, _, body) = post(
        &addr,
        "/find?lang=en",
        None,
        &format!("text={}", urlencode(SCRIPT_TEXT)),
    );
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("<script>"), "raw <script> in {body}");
    assert!(body.contains("&#60;script&#62;alert") || body.contains("&lt;script&gt;alert"));
    let (status, _, body) = post(
        &addr,
        "/optouts/register?lang=en",
        None,
        "kind=domain&value=a.com",
    );
    assert_eq!(status, 401, "{body}");
    let session = format!("provindex_session={}", hex::encode(TOKEN));
    let (status, _, body) = post(
        &addr,
        "/optouts/register?lang=en",
        Some(&session),
        &format!("kind=domain&value={en_domain}&csrf=forged"),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("CSRF"), "{body}");
    // Signed in: a bad scope is 400, an unknown entry 404, both as pages.
    let (status, _, page) = get(&addr, "/optouts?lang=en", &format!("Cookie: {session}\r\n"));
    assert_eq!(status, 200, "{page}");
    let csrf = csrf_of(&page);
    let (status, _, body) = post(
        &addr,
        "/optouts/register?lang=en",
        Some(&session),
        &format!(
            "kind=domain&value={}&csrf={csrf}",
            urlencode("not a domain/<b>")
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("scope.domain: "), "{body}");
    assert!(!body.contains("<b>"), "{body}");
    let (status, _, body) = post(
        &addr,
        "/optouts/revoke?lang=en",
        Some(&session),
        &format!("id=999999&reason=x&csrf={csrf}"),
    );
    assert_eq!(status, 404, "{body}");

    // Complaints and claims: 401 without a session, 404 about nothing
    // indexed (naming the target), 409 overlapping another's claim.
    let (status, _, body) = post(
        &addr,
        "/complaints?lang=en",
        None,
        "kind=copyright&target=url&url=https%3A%2F%2Fzh.example.org%2F&description=x",
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Sign in with a rightholder token"), "{body}");
    let (status, _, body) = get(&addr, "/complaints/status?lang=en&id=1", "");
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = post(&addr, "/claims?lang=en", None, "content_id=00&evidence=x");
    assert_eq!(status, 401, "{body}");
    let nowhere = "https://nowhere.example.net/never-crawled";
    let (status, _, body) = post(
        &addr,
        "/complaints?lang=en",
        Some(&session),
        &format!(
            "kind=copyright&target=url&url={}&description=copied&csrf={csrf}",
            urlencode(nowhere)
        ),
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("url: no capture of") && body.contains(nowhere),
        "{body}"
    );
    let (status, _, body) = post(
        &addr,
        "/complaints?lang=en",
        Some(&session),
        &format!(
            "kind=copyright&target=content_id&content_id={}&description=copied&csrf={csrf}",
            "0".repeat(32)
        ),
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("content_id: no content"), "{body}");
    // The other rightholder claims the Chinese article (page, as itself).
    let other = format!("provindex_session={}", hex::encode(OTHER_TOKEN));
    let (_, _, other_page) = get(&addr, "/optouts?lang=en", &format!("Cookie: {other}\r\n"));
    let other_csrf = csrf_of(&other_page);
    let (status, _, found) = post(
        &addr,
        "/find?lang=en",
        Some(&other),
        &format!("text={}", urlencode(&original.join("\n"))),
    );
    assert_eq!(status, 200, "{found}");
    let zh_content = found
        .split("data-content-id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a match")
        .to_owned();
    let (status, head, body) = post(
        &addr,
        "/claims?lang=en",
        Some(&other),
        &format!("content_id={zh_content}&evidence=our+licence&csrf={other_csrf}"),
    );
    assert_eq!(status, 303, "{body}");
    let other_claim = head
        .split("&claimed=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the claim id in the redirect")
        .to_owned();
    let (status, _, body) = post(
        &addr,
        "/claims?lang=en",
        Some(&session),
        &format!("content_id={zh_content}&evidence=mine&csrf={csrf}"),
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains(&format!("of {OTHER_NAME}")), "{body}");
    // Nor may it revoke the other's claim.
    let (status, _, body) = post(
        &addr,
        "/claims/revoke?lang=en",
        Some(&session),
        &format!("id={other_claim}&reason=mine&content_id={zh_content}&csrf={csrf}"),
    );
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = post(
        &addr,
        "/signin?lang=en",
        None,
        "token=not-a-known-token-000",
    );
    assert_eq!(status, 401);
    // A sign-in posted from another site is refused (login CSRF).
    let (status, _, body) = http(
        &addr,
        &format!(
            "POST /signin?lang=en HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nOrigin: http://evil.example\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            TOKEN.len() + 6
        ),
        format!("token={TOKEN}").as_bytes(),
    );
    assert_eq!(status, 403, "{body}");
    let (status, head, _) = post(&addr, "/signin?lang=en", None, &format!("token={TOKEN}"));
    assert_eq!(status, 303);
    assert!(
        head.contains("set-cookie: provindex_session=")
            && head.contains("httponly")
            && head.contains("samesite=strict"),
        "{head}"
    );

    // The browser. Its screenshot replaces the README's only when asked
    // for: a run otherwise leaves the checkout as it was.
    let update_docs = std::env::var_os("PROVINDEX_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1");
    let screenshot = if update_docs {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/images/rightholder-page.png")
    } else {
        dir.path().join("rightholder-page.png")
    };
    std::fs::create_dir_all(screenshot.parent().expect("docs/images")).expect("mkdir docs/images");
    // The Chinese page as a file to upload, and a file type the page refuses.
    let upload = dir.path().join("raid.html");
    std::fs::write(&upload, &pages[0].1).expect("upload file");
    let refused = dir.path().join("raid.pdf");
    std::fs::write(&refused, "%PDF-1.4").expect("pdf file");
    let config = json!({
        "base": format!("http://{addr}"),
        "chromium": chromium,
        "chromedriver": chromedriver,
        "token": TOKEN,
        "name": NAME,
        "en": {"text": en_text, "url": en_url, "date": shown_date(&en_date), "domain": en_domain},
        "zh": {
            "text": original.join("\n"),
            "url": ZH_URL,
            "date": "2024-03-01 12:00:00 UTC",
            "near_urls": [ZH_MIRROR],
            // The preview is normalized text: lower case, one token per Han character.
            "preview_start": original[0].to_lowercase().chars().filter(|c| !c.is_whitespace()).take(12).collect::<String>(),
        },
        "script": {"text": SCRIPT_TEXT, "url": SCRIPT_URL},
        "upload": {"html": upload, "refused": refused, "url": ZH_URL},
        "outside_domain": "example.com",
        "other_name": OTHER_NAME,
        "due_days": 30,
        "unindexed_url": "https://nowhere.example.net/never-crawled",
        "script_url_prefix": "https://outside.example.com/<script>alert(1)</script>",
        "screenshot": screenshot,
        // Not kept in docs/: to look at the Chinese rendering after a run.
        "screenshot_zh": std::env::temp_dir().join("provindex-web-page-zh.png"),
    });
    let config_path = dir.path().join("selenium.json");
    std::fs::write(&config_path, config.to_string()).expect("config");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/web_page_selenium.py");
    // The script asks for a review on stdout ("review: ID") and goes on
    // when told on stdin that the complaint was upheld.
    let stderr_path = dir.path().join("selenium.stderr");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(&config_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("run selenium");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = String::new();
    let mut reviewed = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("selenium output");
        stdout.push_str(&line);
        stdout.push('\n');
        if let Some(id) = line.strip_prefix("review: ") {
            uphold(&server, id.trim());
            reviewed.push(id.trim().to_owned());
            stdin.write_all(b"upheld\n").expect("tell selenium");
            stdin.flush().expect("tell selenium");
        }
    }
    let status = child.wait().expect("selenium exit");
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(status.success(), "selenium: {stdout}\n{stderr}");
    assert!(stdout.contains("all steps passed"), "{stdout}\n{stderr}");
    assert_eq!(reviewed.len(), 1, "{stdout}");
    let png = std::fs::read(&screenshot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}
