//! Issue 19's claims end to end, with real processes: `provindex index`
//! builds tests/data/pii, `provindex serve --auth --create-registry` takes a
//! CMO's mandate, claims by the CMO (for its member) and by rightholders
//! through a real gRPC client — refusing a claim without mandate and one
//! overlapping another rightholder's — and `provindex compensation
//! --registry` pays the claimed contents to their claimants in integer minor
//! units that sum to the pool exactly, listing the rest as unclaimed. The
//! expected tokens come from the index's own rows (captures' hosts,
//! contents' token counts), not from the statement.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::Path;

use common::{ServerProcess as Server, provindex_bin, run_ok, with_token};
use provindex_index::IndexReader;
use provindex_proto::v1::{
    CheckOptOutRequest, ClaimContentRequest, GetCompensationStatementRequest, OptOutScope,
    RegisterMandateRequest, RevokeClaimRequest, RightholderShare,
    audit_service_client::AuditServiceClient, check_opt_out_request::Target, opt_out_scope,
    provenance_service_client::ProvenanceServiceClient, report_service_client::ReportServiceClient,
};
use serde_json::Value;
use tonic::Code;
use tonic::transport::Channel;

const OPS: &str = "ops-token-0123456789";
const CMO: &str = "cmo-token-0123456789";
const PRESS: &str = "press-token-0123456789";
const FORUM: &str = "forum-token-0123456789";

fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn claim(
    channel: &Channel,
    member: &str,
    scope: opt_out_scope::Scope,
    token: &str,
) -> Result<provindex_proto::v1::Claim, tonic::Status> {
    AuditServiceClient::new(channel.clone())
        .claim_content(with_token(
            ClaimContentRequest {
                member: member.into(),
                scope: Some(OptOutScope { scope: Some(scope) }),
                evidence: "licence 2024-7".into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().claim.expect("claim"))
}

#[tokio::test(flavor = "multi_thread")]
async fn claims_pay_their_claimants_in_minor_units_summing_to_the_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = dir.path().join("index");
    let output = std::process::Command::new(provindex_bin())
        .arg("index")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/pii"))
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "pii-test", "--built-at", "1714550400"])
        .output()
        .expect("index");
    assert!(output.status.success(), "{output:?}");
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{OPS}": {{"role": "admin", "name": "ops"}},
                "{CMO}": {{"role": "rightholder", "name": "CMO", "scopes": ["example.com"]}},
                "{PRESS}": {{"role": "rightholder", "name": "Press", "scopes": ["example.com"]}},
                "{FORUM}": {{"role": "rightholder", "name": "Forum", "scopes": ["bbs.example.net"]}}
            }}}}"#
        ),
    )
    .expect("auth");

    // Facts from the index: per host, the contents and their tokens.
    let (tokens_of, hosts_of) = {
        let reader = IndexReader::open(&index).expect("open");
        let mut hosts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        reader
            .for_each_capture(|_, capture| -> Result<(), provindex_index::IndexError> {
                if !capture.content_id.is_empty() {
                    hosts
                        .entry(hex_id(&capture.content_id))
                        .or_default()
                        .insert(capture.host.clone());
                }
                Ok(())
            })
            .expect("captures");
        let mut tokens = BTreeMap::new();
        reader
            .for_each_content(|id, record| -> Result<(), provindex_index::IndexError> {
                if record.is_keeper(id) {
                    tokens.insert(format!("{id:032x}"), record.token_count);
                }
                Ok(())
            })
            .expect("contents");
        (tokens, hosts)
    };
    let on = |host: &str| -> BTreeSet<String> {
        hosts_of
            .iter()
            .filter(|(id, hosts)| hosts.contains(host) && tokens_of.contains_key(*id))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let news = on("news.example.com");
    let bbs = on("bbs.example.net");
    assert!(!news.is_empty() && !bbs.is_empty());

    let server = Server::start_with(
        &index,
        &[
            "--auth".as_ref(),
            auth.as_os_str(),
            "--create-registry".as_ref(),
        ] as &[&OsStr],
    );
    let channel = server.channel().await;
    let order = ProvenanceServiceClient::new(channel.clone())
        .lookup_url(provindex_proto::v1::LookupUrlRequest {
            url: "https://shop.example.com/order/1001".into(),
            r#match: provindex_proto::v1::UrlMatch::Exact.into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("lookup")
        .into_inner()
        .captures[0]
        .content_id
        .clone();

    // Mandates are the admin's to record.
    let status = AuditServiceClient::new(channel.clone())
        .register_mandate(with_token(
            RegisterMandateRequest {
                cmo: "CMO".into(),
                member: "Ann".into(),
                evidence: "mandate".into(),
            },
            CMO,
        ))
        .await
        .expect_err("CMO records its own mandate");
    assert_eq!(status.code(), Code::PermissionDenied);
    AuditServiceClient::new(channel.clone())
        .register_mandate(with_token(
            RegisterMandateRequest {
                cmo: "CMO".into(),
                member: "Ann".into(),
                evidence: "signed 2024-03-01".into(),
            },
            OPS,
        ))
        .await
        .expect("mandate");

    use opt_out_scope::Scope;
    let ann = claim(
        &channel,
        "Ann",
        Scope::UrlPrefix("https://news.example.com/".into()),
        CMO,
    )
    .await
    .expect("CMO claims for its member");
    assert_eq!(
        (ann.rightholder.as_str(), ann.claimant.as_str()),
        ("Ann", "CMO")
    );
    let status = claim(
        &channel,
        "Cy",
        Scope::UrlPrefix("https://shop.example.com/".into()),
        CMO,
    )
    .await
    .expect_err("no mandate");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("no mandate from \"Cy\""),
        "{status:?}"
    );
    let status = claim(&channel, "", Scope::Domain("example.com".into()), PRESS)
        .await
        .expect_err("overlap");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(
        status
            .message()
            .contains(&format!("claim {} of Ann", ann.id)),
        "{status:?}"
    );
    let press = claim(&channel, "", Scope::ContentId(order.clone()), PRESS)
        .await
        .expect("press claims one order page");
    let status = claim(&channel, "", Scope::ContentId(order.clone()), PRESS)
        .await
        .expect_err("the same claim again");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(
        status
            .message()
            .contains(&format!("repeats claim {} of Press", press.id)),
        "{status:?}"
    );
    let status = claim(&channel, "", Scope::ContentId(order.clone()), FORUM)
        .await
        .expect_err("outside grants");
    assert_eq!(status.code(), Code::PermissionDenied);
    let forum = claim(
        &channel,
        "",
        Scope::UrlPrefix("https://bbs.example.net/".into()),
        FORUM,
    )
    .await
    .expect("forum claims its threads");

    // A claim leaves the content in: no reservation.
    let answer = ProvenanceServiceClient::new(channel.clone())
        .check_opt_out(CheckOptOutRequest {
            target: Some(Target::ContentId(order.clone())),
        })
        .await
        .expect("check")
        .into_inner();
    assert_ne!(answer.verdict, "reserved");
    drop(server);

    let json = dir.path().join("comp.json");
    run_ok(&[
        "compensation".as_ref(),
        index.as_os_str(),
        "--pool".as_ref(),
        "1000.01".as_ref(),
        "--registry".as_ref(),
        dir.path().join("index.registry").as_os_str(),
        "--csv".as_ref(),
        dir.path().join("comp.csv").as_os_str(),
        "--json".as_ref(),
        json.as_os_str(),
    ]);
    let statement: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("JSON");
    assert_eq!(statement["pool_minor_units"], 100_001);
    let total: u64 = tokens_of.values().sum();
    assert_eq!(statement["tokens"], total);
    let sum = |ids: &BTreeSet<String>| ids.iter().map(|id| tokens_of[id]).sum::<u64>();
    let expected: BTreeMap<&str, (u64, usize, &str)> = [
        ("Ann", (sum(&news), news.len(), ann.id.as_str())),
        ("Press", (tokens_of[&order], 1, press.id.as_str())),
        ("Forum", (sum(&bbs), bbs.len(), forum.id.as_str())),
    ]
    .into();
    let rows = statement["rightholder_shares"].as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{statement}");
    let mut minor_total = 0u64;
    for row in rows {
        let name = row["rightholder"].as_str().expect("name");
        let (tokens, contents, claim_id) = expected[name];
        assert_eq!(row["tokens"].as_f64(), Some(tokens as f64), "{name}");
        assert_eq!(row["contents"], contents, "{name}");
        assert_eq!(row["claim_ids"][0].to_string(), claim_id, "{name}");
        let minor = row["amount_minor_units"].as_u64().expect("minor");
        let exact = 100_001.0 * tokens as f64 / total as f64;
        assert!(
            (minor as f64 - exact).abs() < 1.0,
            "{name}: {minor} vs {exact}"
        );
        minor_total += minor;
    }
    let claimed = sum(&news) + tokens_of[&order] + sum(&bbs);
    assert_eq!(statement["unclaimed"]["tokens"], total - claimed);
    minor_total += statement["unclaimed"]["amount_minor_units"]
        .as_u64()
        .expect("unclaimed");
    assert_eq!(minor_total, 100_001, "rows sum to the pool exactly");
    let domains: u64 = statement["shares"]
        .as_array()
        .expect("domains")
        .iter()
        .map(|d| d["amount_minor_units"].as_u64().expect("minor"))
        .sum();
    assert_eq!(domains, 100_001);

    // The same statement over gRPC carries the minor units.
    let server = Server::start_with(&index, &["--auth".as_ref(), auth.as_os_str()] as &[&OsStr]);
    let channel = server.channel().await;
    let grpc_statement = || {
        let channel = channel.clone();
        async move {
            ReportServiceClient::new(channel)
                .get_compensation_statement(with_token(
                    GetCompensationStatementRequest {
                        pool: 1000.01,
                        ..Default::default()
                    },
                    OPS,
                ))
                .await
                .expect("statement")
                .into_inner()
        }
    };
    let before = grpc_statement().await;
    assert_eq!(before.pool_minor_units, 100_001);
    let minor_of = |rows: &[RightholderShare], name: &str| {
        rows.iter()
            .find(|r| r.rightholder == name)
            .map(|r| r.amount_minor_units)
    };
    for row in rows {
        let name = row["rightholder"].as_str().expect("name");
        assert_eq!(
            minor_of(&before.rightholder_shares, name),
            row["amount_minor_units"].as_u64(),
            "{name}"
        );
    }
    let unclaimed = before.unclaimed.expect("unclaimed");
    assert_eq!(
        Some(unclaimed.amount_minor_units),
        statement["unclaimed"]["amount_minor_units"].as_u64()
    );
    let domain_minor: u64 = before.shares.iter().map(|d| d.amount_minor_units).sum();
    assert_eq!(domain_minor, 100_001);

    // RevokeClaim: only its claimant, the rightholder it pays or an admin;
    // a revoked claim stops paying, its contents become unclaimed.
    let revoke = |id: &str, token: &str| {
        let channel = channel.clone();
        let request = RevokeClaimRequest {
            id: id.into(),
            reason: "licence ended".into(),
        };
        let token = token.to_owned();
        async move {
            AuditServiceClient::new(channel)
                .revoke_claim(with_token(request, &token))
                .await
                .map(|r| r.into_inner().claim.expect("claim"))
        }
    };
    assert_eq!(
        revoke(&forum.id, PRESS)
            .await
            .expect_err("not Press's")
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        revoke("999", OPS).await.expect_err("no such claim").code(),
        Code::NotFound
    );
    assert_eq!(
        revoke("x", OPS).await.expect_err("bad id").code(),
        Code::InvalidArgument
    );
    let revoked = revoke(&forum.id, FORUM)
        .await
        .expect("the claimant revokes");
    assert!(revoked.revoked_at > 0);
    assert_eq!(revoked.revocation_reason, "licence ended");
    assert_eq!(
        revoke(&forum.id, OPS)
            .await
            .expect_err("revoked already")
            .code(),
        Code::FailedPrecondition
    );
    let after = grpc_statement().await;
    assert_eq!(
        minor_of(&after.rightholder_shares, "Forum"),
        None,
        "{after:?}"
    );
    assert_eq!(after.rightholder_shares.len(), 2);
    let unclaimed_after = after.unclaimed.expect("unclaimed");
    assert_eq!(
        unclaimed_after.tokens,
        total - sum(&news) - tokens_of[&order]
    );
    assert_eq!(
        after
            .rightholder_shares
            .iter()
            .map(|r| r.amount_minor_units)
            .sum::<u64>()
            + unclaimed_after.amount_minor_units,
        100_001
    );
    assert!(unclaimed_after.amount_minor_units > unclaimed.amount_minor_units);
    // Ann's and Press's rows are unchanged: same tokens, same pool.
    for name in ["Ann", "Press"] {
        assert_eq!(
            minor_of(&after.rightholder_shares, name),
            minor_of(&before.rightholder_shares, name),
            "{name}"
        );
    }
    // Audited: the revocation and the three refusals of a known caller.
    let registry = provindex_index::Registry::open_read_only(&dir.path().join("index.registry"))
        .expect("registry");
    let log = registry.audit_log(0, 1000).expect("audit");
    let revocations: Vec<_> = log.iter().filter(|r| r.action == "claim_revoke").collect();
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0].actor.name, "Forum");
    assert_eq!(revocations[0].request["claim_id"].to_string(), forum.id);
    assert_eq!(
        log.iter()
            .filter(|r| r.action == "claim_revoke_rejected")
            .count(),
        4
    );
}
