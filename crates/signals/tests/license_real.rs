//! License detection on real pages extracted from the shared WARC corpus
//! (see tests/data/README.md for provenance).

use provindex_signals::{
    LicenseClass, LicenseLocation, Section, detect_license, detect_license_at,
};

fn page(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    String::from_utf8_lossy(&std::fs::read(&path).expect("test page")).into_owned()
}

#[test]
fn wikipedia_link_rel_in_head() {
    let f = detect_license(&page("an_wikipedia_org_wiki_Escopete.html"));
    assert_eq!(f.spdx.as_deref(), Some("CC-BY-SA-4.0"));
    assert_eq!(f.class, LicenseClass::Permissive);
    assert_eq!(f.location, Some(LicenseLocation::LinkRel));
    assert_eq!(f.section, Some(Section::Head));
    assert!(!f.conflict);
    assert!(
        f.evidence
            .as_deref()
            .unwrap_or("")
            .contains("rel=\"license\"")
    );
    // the footer repeats the same license as a plain anchor
    assert!(
        f.candidates
            .iter()
            .any(|c| c.location == LicenseLocation::Anchor
                && c.section == Section::Footer
                && c.counted)
    );
}

#[test]
fn archive_org_anchor_rel() {
    let f = detect_license(&page("www_archive_org_details_JTRNET15.html"));
    assert_eq!(f.spdx.as_deref(), Some("CC-BY-NC-ND-3.0"));
    assert_eq!(f.class, LicenseClass::NonCommercial);
    assert_eq!(f.location, Some(LicenseLocation::AnchorRel));

    let f = detect_license(&page(
        "www_archive_org_details_no_thoroughfare_librivox.html",
    ));
    assert_eq!(f.spdx.as_deref(), Some("CC-PDDC"));
    assert_eq!(f.class, LicenseClass::PublicDomain);
}

#[test]
fn personal_site_license_div() {
    let f = detect_license(&page("soldaini_net_.html"));
    assert_eq!(f.spdx.as_deref(), Some("CC-BY-4.0"));
    assert_eq!(f.location, Some(LicenseLocation::AnchorRel));
    assert_eq!(f.section, Some(Section::Footer));
}

#[test]
fn image_credits_are_not_the_page_license() {
    let html = page("creativecommons_org_mission_.html");
    let f = detect_license(&html);
    // without the page URL the footer's relative link cannot be resolved; the
    // two absolute CC links are image credits
    assert_eq!(f.class, LicenseClass::Unknown, "{f:#?}");
    assert!(f.license.is_none());
    assert_eq!(f.candidates.len(), 2);
    assert!(f.candidates.iter().all(|c| !c.counted));

    let f = detect_license_at(&html, Some("https://creativecommons.org/mission/"));
    assert_eq!(f.spdx.as_deref(), Some("CC-BY-4.0"));
    assert_eq!(f.section, Some(Section::Footer));
    assert!(!f.conflict, "image credits must not create a conflict");
}

#[test]
fn unlicensed_pages_are_unknown() {
    for name in [
        "data_gov_uk_terms_and_conditions.html",
        "www_archive_org_details_texts.html",
    ] {
        let f = detect_license(&page(name));
        assert_eq!(f.class, LicenseClass::Unknown, "{name}: {f:#?}");
        assert!(f.license.is_none(), "{name}");
    }
}
