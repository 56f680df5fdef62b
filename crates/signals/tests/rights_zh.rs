//! Issue 16: Chinese all-rights-reserved statements (Simplified and
//! Traditional) set `all_rights_reserved` like "All rights reserved", from
//! the page text or rights metadata; permissions such as 转载请注明出处 do
//! not. (The snippets imitate real Chinese page footers and notices.)

use provindex_signals::{LicenseClass, LicenseLocation, detect_license, detect_license_at};

fn page(head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>新闻</title>{head}</head><body>{body}</body></html>"
    )
}

const NEWS: &str = "<article><h1>国务院常务会议部署推进数字经济发展</h1>\
    <p>国务院总理主持召开国务院常务会议，听取关于数字经济发展情况的汇报，\
    部署进一步推进相关工作。会议指出，要加强知识产权保护，完善版权保护制度，\
    依法打击侵权盗版行为，保护版权所有者的合法权益。</p></article>";

fn reserved(html: &str) -> bool {
    detect_license(html).all_rights_reserved
}

#[test]
fn simplified_footers_reserve() {
    for footer in [
        "<footer><p>Copyright &copy; 2024 北京某某信息技术有限公司 版权所有</p><p>京ICP备12345678号</p></footer>",
        "<div class=\"footer\">版权所有©2003-2024 某某网 | 关于我们 | 联系我们</div>",
        "<div id=\"copyright\">© 版权所有 2024 某某日报社</div>",
        "<div class=\"foot\"><p>本网站所有内容均受版权保护。</p><p>未经书面授权，不得转载、摘编或以其他方式使用。</p></div>",
        "<p class=\"notice\">本文为某某网原创，未经授权禁止转载。</p>",
        "<div class=\"copy\">某某科技 保留所有权利。</div>",
        "<div class=\"article-footer\"><span>原创文章，严禁转载</span></div>",
        // Split across inline elements and lines.
        "<footer><span>版权</span>\n   <span>所有</span> &nbsp; 某某网</footer>",
        "<p>本文为博主原创文章，未经博主<b>允许</b>不得转载。</p>",
    ] {
        let html = page("", &format!("{NEWS}{footer}"));
        assert!(reserved(&html), "{footer}");
    }
}

#[test]
fn traditional_footers_reserve() {
    for footer in [
        "<footer>Copyright &copy; 2024 臺灣某某股份有限公司 版權所有</footer>",
        "<div class=\"footer\">版權所有，翻印必究</div>",
        "<p>未經書面授權，不得轉載、複製或使用本網站內容。</p>",
        "<p>某某新聞網 保留所有權利</p>",
        "<p>嚴禁轉載</p>",
    ] {
        let html = page(
            "",
            &format!(
                "<article><p>行政院今日召開院會，討論數位發展相關法案。</p></article>{footer}"
            ),
        );
        assert!(reserved(&html), "{footer}");
    }
}

#[test]
fn rights_metadata_reserves() {
    let html = page(
        "<meta name=\"copyright\" content=\"版权所有 © 2024 某某网\">",
        NEWS,
    );
    assert!(reserved(&html));
}

#[test]
fn permissions_and_mentions_do_not_reserve() {
    for footer in [
        "<p>转载请注明出处：某某博客</p>",
        "<p>欢迎转载，转载请保留原文链接。</p>",
        "<div class=\"article-copyright\">版权声明：本文为博主原创文章，遵循 CC 4.0 BY-SA 版权协议，转载请附上原文出处链接和本声明。</div>",
        "<p>本站内容允许转载，请注明来源。</p>",
        "",
    ] {
        let html = page("", &format!("{NEWS}{footer}"));
        assert!(!reserved(&html), "{footer}");
    }
    // A news text about a site that reposted without permission.
    let html = page(
        "",
        "<p>法院查明，该网站未经授权转载了原告享有版权的多篇文章，构成侵权。</p>",
    );
    assert!(!reserved(&html));
}

#[test]
fn a_bare_cc_link_on_a_reserving_chinese_page_is_a_mention() {
    // As with "All rights reserved": the plain CC link is someone else's.
    let body = format!(
        "{NEWS}<footer><p>图片 <a href=\"https://creativecommons.org/licenses/by/4.0/\">CC BY 4.0</a></p><p>版权所有 © 2024 某某网</p></footer>"
    );
    let f = detect_license_at(&page("", &body), Some("https://www.example.cn/news/1.html"));
    assert!(f.all_rights_reserved);
    assert_eq!(f.class, LicenseClass::Unknown);
    assert!(f.candidates.iter().all(|c| !c.counted));
    // Without the statement, a footer CC link counts.
    let body = format!(
        "{NEWS}<footer><p>本站内容采用 <a href=\"https://creativecommons.org/licenses/by/4.0/\">CC BY 4.0</a> 许可协议。</p></footer>"
    );
    let f = detect_license_at(&page("", &body), Some("https://www.example.cn/news/1.html"));
    assert!(!f.all_rights_reserved);
    assert_eq!(f.location, Some(LicenseLocation::Anchor));
}

#[test]
fn english_and_chinese_together() {
    // English detection is unchanged on a page with Chinese text.
    let html = page(
        "",
        &format!("{NEWS}<footer>© 2024 Example Ltd. All rights reserved.</footer>"),
    );
    assert!(reserved(&html));
    let html = page(
        "",
        "<footer>© 2024 Example Ltd. Some rights reserved. 转载请注明出处</footer>",
    );
    assert!(!reserved(&html));
}
