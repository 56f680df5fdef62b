//! Issue 19's complaints end to end, with real processes: `provindex index`
//! builds tests/data/pii, `provindex serve --auth --create-registry` serves
//! it, and a real tonic client files complaints (as a member of the public),
//! reads them back, and reviews them (as the operator's reviewer): an upheld
//! copyright complaint flips CheckOptOut for its content; bad transitions are
//! FAILED_PRECONDITION, complaints about nothing indexed NOT_FOUND naming
//! the target; every step is in the registry's audit log and survives a
//! restart.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{ServerProcess as Server, provindex_bin, with_token};
use provindex_index::Registry;
use provindex_proto::v1::{
    CheckOptOutRequest, Complaint, FileComplaintRequest, GetComplaintRequest, ListOptOutsRequest,
    LookupUrlRequest, ReviewAction, ReviewComplaintRequest, UrlMatch,
    audit_service_client::AuditServiceClient, check_opt_out_request::Target,
    file_complaint_request, opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient,
};
use tonic::Code;
use tonic::transport::Channel;

const OPS: &str = "reviewer-token-0123456789";
const ANN: &str = "ann-token-0123456789";
const BOB: &str = "bob-token-0123456789";

fn build(dir: &Path) -> std::path::PathBuf {
    let index = dir.join("index");
    let output = std::process::Command::new(provindex_bin())
        .arg("index")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/pii"))
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "pii-test", "--built-at", "1714550400"])
        .output()
        .expect("run provindex index");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let auth = dir.join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{OPS}": {{"role": "admin", "name": "ops"}},
                "{ANN}": {{"role": "reader", "name": "ann"}},
                "{BOB}": {{"role": "reader", "name": "bob"}}
            }}}}"#
        ),
    )
    .expect("write auth");
    index
}

fn serve(index: &Path, dir: &Path) -> Server {
    Server::start_with(
        index,
        &[
            "--auth".as_ref(),
            dir.join("auth.json").as_os_str(),
            "--create-registry".as_ref(),
        ] as &[&OsStr],
    )
}

async fn content_of(channel: &Channel, url: &str) -> String {
    let response = ProvenanceServiceClient::new(channel.clone())
        .lookup_url(LookupUrlRequest {
            url: url.into(),
            r#match: UrlMatch::Exact.into(),
            page_size: 10,
            ..Default::default()
        })
        .await
        .expect("lookup")
        .into_inner();
    response
        .captures
        .first()
        .expect("a capture")
        .content_id
        .clone()
}

/// CheckOptOut of a content: its verdict, the registry entries among its
/// reserving findings, and the entry deciding it (empty: a capture decides).
async fn verdict(channel: &Channel, content: &str) -> (String, Vec<String>, String) {
    let answer = ProvenanceServiceClient::new(channel.clone())
        .check_opt_out(CheckOptOutRequest {
            target: Some(Target::ContentId(content.into())),
        })
        .await
        .expect("check")
        .into_inner();
    let entries = answer
        .reserving
        .iter()
        .map(|f| f.registry_entry_id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    let deciding = answer.deciding.unwrap_or_default().registry_entry_id;
    (answer.verdict, entries, deciding)
}

async fn file(
    channel: &Channel,
    kind: &str,
    target: file_complaint_request::Target,
    token: &str,
) -> Result<Complaint, tonic::Status> {
    AuditServiceClient::new(channel.clone())
        .file_complaint(with_token(
            FileComplaintRequest {
                kind: kind.into(),
                target: Some(target),
                description: "this page copies my article".into(),
                rightholder: String::new(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().complaint.expect("complaint"))
}

async fn get(channel: &Channel, id: &str, token: &str) -> Result<Complaint, tonic::Status> {
    AuditServiceClient::new(channel.clone())
        .get_complaint(with_token(GetComplaintRequest { id: id.into() }, token))
        .await
        .map(|r| r.into_inner().complaint.expect("complaint"))
}

async fn review(
    channel: &Channel,
    id: &str,
    action: ReviewAction,
    note: &str,
    remedy: &str,
    token: &str,
) -> Result<Complaint, tonic::Status> {
    AuditServiceClient::new(channel.clone())
        .review_complaint(with_token(
            ReviewComplaintRequest {
                id: id.into(),
                action: action.into(),
                note: note.into(),
                remedy: remedy.into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().complaint.expect("complaint"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upheld_complaint_flips_check_opt_out_and_every_step_is_audited() {
    use file_complaint_request::Target as T;
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build(dir.path());
    let server = serve(&index, dir.path());
    let channel = server.channel().await;
    let contact_url = "https://news.example.com/contact";
    let contact = content_of(&channel, contact_url).await;
    let (before, _, _) = verdict(&channel, &contact).await;
    assert_ne!(before, "reserved");

    // Filed by a member of the public, received with a due date 15 days on.
    let filed = file(&channel, "copyright", T::Url(contact_url.into()), ANN)
        .await
        .expect("file");
    assert_eq!(filed.state, "received");
    assert_eq!(filed.content_ids, std::slice::from_ref(&contact));
    assert_eq!(filed.complainant, "ann");
    assert_eq!(filed.due_at, filed.filed_at + 15 * 86_400);
    assert!(!filed.overdue);
    let id = filed.id.clone();

    // Complaints about nothing indexed name the target.
    let missing = "https://news.example.com/no-such-page";
    let status = file(&channel, "copyright", T::Url(missing.into()), ANN)
        .await
        .expect_err("unindexed URL");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(
        status.message().starts_with("url: no capture of") && status.message().contains(missing),
        "{status:?}"
    );
    let zero = "0".repeat(32);
    let status = file(
        &channel,
        "unlawful_content",
        T::ContentId(zero.clone()),
        ANN,
    )
    .await
    .expect_err("unindexed content");
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains(&zero), "{status:?}");
    let status = file(
        &channel,
        "copyright",
        T::WorkText("quantum marmalade recipes for lighthouse keepers on distant moons".into()),
        ANN,
    )
    .await
    .expect_err("unindexed work");
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().starts_with("work_text: "), "{status:?}");
    let status = file(&channel, "spam", T::Url(contact_url.into()), ANN)
        .await
        .expect_err("bad kind");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("kind: "), "{status:?}");

    // The complainant reads its complaint; nobody else but reviewers may.
    assert_eq!(
        get(&channel, &id, ANN).await.expect("own").state,
        "received"
    );
    let status = get(&channel, &id, BOB).await.expect_err("other's");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(
        get(&channel, "999", OPS).await.expect_err("unknown").code(),
        Code::NotFound
    );
    let status = review(&channel, &id, ReviewAction::StartReview, "", "", ANN)
        .await
        .expect_err("complainant reviews");
    assert_eq!(status.code(), Code::PermissionDenied);

    // Bad transitions are FAILED_PRECONDITION and change nothing.
    let status = review(&channel, &id, ReviewAction::Uphold, "early", "", OPS)
        .await
        .expect_err("uphold unreviewed");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("start_review"), "{status:?}");
    let started = review(&channel, &id, ReviewAction::StartReview, "", "", OPS)
        .await
        .expect("start");
    assert_eq!(started.state, "under_review");
    assert_eq!(started.due_at, filed.due_at);
    let status = review(&channel, &id, ReviewAction::StartReview, "", "", OPS)
        .await
        .expect_err("twice");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(verdict(&channel, &contact).await.0, before);

    // Upheld: the content is opted out for the complainant at once.
    let upheld = review(
        &channel,
        &id,
        ReviewAction::Uphold,
        "licence not shown",
        "",
        OPS,
    )
    .await
    .expect("uphold");
    assert_eq!(upheld.state, "upheld");
    assert_eq!(upheld.remedy, "content_opt_out");
    assert!(upheld.decided_at.is_some());
    assert_eq!(
        upheld
            .history
            .iter()
            .map(|s| s.state.as_str())
            .collect::<Vec<_>>(),
        ["received", "under_review", "upheld"]
    );
    let entry = upheld.registry_entry_id.clone();
    assert!(!entry.is_empty());
    let (after, entries, deciding) = verdict(&channel, &contact).await;
    assert_eq!(after, "reserved");
    assert_eq!(entries, std::slice::from_ref(&entry));
    assert_eq!(deciding, entry, "the upheld complaint's entry decides");
    let status = review(
        &channel,
        &id,
        ReviewAction::Reject,
        "changed my mind",
        "",
        OPS,
    )
    .await
    .expect_err("decided");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("already upheld"), "{status:?}");
    let listed = OptOutServiceClient::new(channel.clone())
        .list_opt_outs(with_token(
            ListOptOutsRequest {
                rightholder: "ann".into(),
                ..Default::default()
            },
            OPS,
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.registrations.len(), 1);
    assert_eq!(listed.registrations[0].scope_kind, "content");
    assert_eq!(listed.registrations[0].scope_key, contact);

    // Unlawful content upheld with a source block of its host.
    let thread = content_of(&channel, "https://bbs.example.net/thread/7").await;
    let unlawful = file(
        &channel,
        "unlawful_content",
        T::ContentId(thread.clone()),
        BOB,
    )
    .await
    .expect("file unlawful");
    review(
        &channel,
        &unlawful.id,
        ReviewAction::StartReview,
        "",
        "",
        OPS,
    )
    .await
    .expect("start");
    let status = review(
        &channel,
        &unlawful.id,
        ReviewAction::Uphold,
        "x",
        "burn",
        OPS,
    )
    .await
    .expect_err("bad remedy");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("remedy: "), "{status:?}");
    let blocked = review(
        &channel,
        &unlawful.id,
        ReviewAction::Uphold,
        "forum hosts unlawful threads",
        "source_block_host",
        OPS,
    )
    .await
    .expect("uphold unlawful");
    assert_eq!(blocked.remedy, "source_block_host");
    // A source block is no opt-out.
    assert_ne!(verdict(&channel, &thread).await.0, "reserved");

    // A rejected complaint needs its reasons.
    let rossi = file(
        &channel,
        "personal_information",
        T::Url("https://www.example.org/people/rossi".into()),
        BOB,
    )
    .await
    .expect("file pi");
    review(&channel, &rossi.id, ReviewAction::StartReview, "", "", OPS)
        .await
        .expect("start");
    let status = review(&channel, &rossi.id, ReviewAction::Reject, " ", "", OPS)
        .await
        .expect_err("no note");
    assert!(status.message().starts_with("note: "), "{status:?}");
    let rejected = review(
        &channel,
        &rossi.id,
        ReviewAction::Reject,
        "public professional contact",
        "",
        OPS,
    )
    .await
    .expect("reject");
    assert_eq!(rejected.state, "rejected");
    assert!(rejected.registry_entry_id.is_empty());
    drop(server);

    // Every step is in the audit log, refusals included.
    {
        let registry =
            Registry::open_read_only(&dir.path().join("index.registry")).expect("registry");
        let log = registry.audit_log(0, 1000).expect("audit log");
        let steps: Vec<(String, String)> = log
            .iter()
            .filter(|r| r.request.get("complaint_id").is_some() || r.action == "register")
            .map(|r| (r.action.clone(), r.result.clone()))
            .collect();
        let count = |action: &str| steps.iter().filter(|(a, _)| a == action).count();
        assert_eq!(count("complaint_file"), 3, "{steps:?}");
        assert_eq!(count("complaint_start_review"), 3, "{steps:?}");
        assert_eq!(count("complaint_uphold"), 2, "{steps:?}");
        assert_eq!(count("complaint_reject"), 1, "{steps:?}");
        assert_eq!(count("register"), 2, "{steps:?}");
        let uphold = log
            .iter()
            .find(|r| r.action == "complaint_uphold")
            .expect("uphold record");
        assert_eq!(uphold.entry_id.map(|e| e.to_string()), Some(entry.clone()));
        let refused: Vec<&str> = log
            .iter()
            .filter(|r| r.action.ends_with("_rejected"))
            .map(|r| r.result.as_str())
            .collect();
        // 4 refused filings, the complainant's review, 2 bad transitions,
        // the decided one, the bad remedy, the missing note.
        assert_eq!(refused.len(), 10, "{refused:?}");
        assert!(refused.contains(&"NotFound") && refused.contains(&"FailedPrecondition"));
    }

    // Durable: after a restart the complaint and its remedy are still there.
    let server = serve(&index, dir.path());
    let channel = server.channel().await;
    assert_eq!(get(&channel, &id, ANN).await.expect("own").state, "upheld");
    assert_eq!(verdict(&channel, &contact).await.0, "reserved");
    drop(server);

    // --complaint-due-days sets the due date of complaints filed from then on.
    let server = Server::start_with(
        &index,
        &[
            "--auth".as_ref(),
            dir.path().join("auth.json").as_os_str(),
            "--complaint-due-days".as_ref(),
            "3".as_ref(),
        ] as &[&OsStr],
    );
    let channel = server.channel().await;
    let later = file(
        &channel,
        "unlawful_content",
        T::Url(contact_url.into()),
        BOB,
    )
    .await
    .expect("file with a 3-day due date");
    assert_eq!(later.due_at, later.filed_at + 3 * 86_400);
    assert_eq!(
        get(&channel, &id, ANN).await.expect("own").due_at,
        filed.due_at
    );
    drop(server);
    let refused = std::process::Command::new(provindex_bin())
        .arg("serve")
        .arg("--index")
        .arg(&index)
        .args(["--listen", "127.0.0.1:0", "--complaint-due-days", "0"])
        .output()
        .expect("run serve");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--complaint-due-days"),
        "{refused:?}"
    );
}
