//! Chinese all-rights-reserved statements (issue 16), Simplified and
//! Traditional: what counts like the English "All rights reserved".
//!
//! | statement | counts | why |
//! |---|---|---|
//! | `版权所有` / `版權所有` (also `版权 所有`, `版权所有©`, `© 版权所有 2024`, `Copyright © 2024 XX 版权所有`, `版权所有，翻版必究`) | yes | "copyright owned", the standard page-footer reservation |
//! | `版权所有者` / `版权所有人` / `版权所有方` / `版权所有权` (and Traditional) | no | "the copyright owner / ownership": a noun, e.g. in a news text |
//! | `保留所有权利` / `保留一切权利` / `保留全部权利` / `保留所有版权` (and Traditional) | yes | "all rights reserved" word for word |
//! | `未经` + (within 12 characters) `授权`/`许可`/`同意`/`允许` + (within 12) `不得`/`禁止`/`严禁`/`请勿`/`不可`/`不准`/`不能`/`谢绝` + (within 16) `转载`/`复制`/`使用`/`摘编`/`转贴`/`镜像`/`翻印`/`刊登`/`传播`/`抄袭`/`改编`/`发布`/`复印`/`摘录`/`下载`/`引用`/`转发`, all in one sentence (and Traditional): `未经书面授权不得转载`, `未经许可，不得转载`, `未经本网授权，任何单位和个人不得转载、摘编` | yes | "may not be reproduced without permission" |
//! | `未经授权的转载` / `未经许可转载了…` (no prohibition word) | no | describes an act, reserves nothing |
//! | `严禁转载` / `禁止转载` / `谢绝转载` (and Traditional), not after `不` | yes | "reproduction prohibited" |
//! | `不得转载` alone | no | too often a rule being reported (`媒体不得转载…`) rather than the page's own notice; it counts after `未经…` |
//! | `转载请注明出处`, `欢迎转载`, `允许转载`, `可以转载`, `版权声明：… 遵循 CC 4.0 BY-SA 版权协议，转载请附上原文出处链接` | no | permissions (with attribution), not reservations |
//!
//! Whitespace between the characters of a statement is ignored (the text is
//! read as the tokenizer gave it); punctuation only where the table says
//! "within". A law quoted in an article (`未经著作权人许可，不得复制`) counts
//! too: the words do not say whose rights are meant (the English phrase has
//! the same limit).

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// Where a statement can be found: the key words every statement contains.
#[derive(Clone, Copy)]
enum Key {
    /// `版权`: `所有` follows.
    Copyright,
    /// `保留`: `所有权利` or the like follows.
    Reserve,
    /// `未经`: permission, prohibition and act follow.
    Without,
    /// `转载`: a prohibition precedes.
    Repost,
}

const KEYS: &[(&str, Key)] = &[
    ("版权", Key::Copyright),
    ("版權", Key::Copyright),
    ("保留", Key::Reserve),
    ("未经", Key::Without),
    ("未經", Key::Without),
    ("转载", Key::Repost),
    ("轉載", Key::Repost),
];

const ALL: &[&str] = &["所有", "一切", "全部"];
const RIGHTS: &[&str] = &["权利", "權利", "版权", "版權"];
const NOT_AFTER_OWNED: &[char] = &['者', '人', '方', '权', '權'];
const PERMISSION: &[&str] = &["授权", "授權", "许可", "許可", "同意", "允许", "允許"];
const PROHIBITION: &[&str] = &[
    "不得", "禁止", "严禁", "嚴禁", "请勿", "請勿", "不可", "不准", "不準", "不能", "谢绝", "謝絕",
];
const ACT: &[&str] = &[
    "转载", "轉載", "复制", "複製", "使用", "摘编", "摘編", "转贴", "轉貼", "镜像", "鏡像", "翻印",
    "刊登", "传播", "傳播", "抄袭", "抄襲", "改编", "改編", "发布", "發布", "發佈", "复印", "複印",
    "摘录", "摘錄", "下载", "下載", "引用", "转发", "轉發",
];
const REPOST_PROHIBITION: &[&str] = &["严禁", "嚴禁", "禁止", "谢绝", "謝絕"];
/// Characters that end a sentence: a `未经…` statement does not run past one.
const SENTENCE_END: &[char] = &['。', '！', '？', '；', '!', '?', ';'];

/// Bytes a statement can span (not counting whitespace runs): the text a
/// search resumed after a trim must read again before what it has not read.
pub(crate) const MAX_STATEMENT_BYTES: usize = 3 * (2 + 12 + 2 + 12 + 2 + 16 + 2) + 64;

/// Whether `text` (raw or lowercased, whitespace collapsed or not) makes a
/// Chinese all-rights-reserved statement (see the module table).
pub(crate) fn says_all_rights_reserved_zh(text: &str) -> bool {
    if text.is_ascii() {
        return false;
    }
    says_all_rights_reserved_zh_non_ascii(text)
}

/// Searchers for [`KEYS`], built once.
static FINDERS: LazyLock<Vec<(Finder<'static>, Key)>> = LazyLock::new(|| {
    KEYS.iter()
        .map(|&(k, key)| (Finder::new(k.as_bytes()), key))
        .collect()
});

/// Whether `bytes` hold a lead byte of a key's first character (`保` E4,
/// `未` E6, `版` E7, `转`/`轉` E8): two `memchr` passes that find nothing on
/// text in any script but CJK (E4–E9 lead only U+4000–U+9FFF).
fn may_hold_a_key(bytes: &[u8]) -> bool {
    memchr::memchr3(0xE4, 0xE6, 0xE7, bytes).is_some() || memchr::memchr(0xE8, bytes).is_some()
}

/// Cheap prefilter for a page (see `license::quick_check`): whether `html`
/// holds a key word a statement starts from.
pub(crate) fn may_say_all_rights_reserved_zh(html: &[u8]) -> bool {
    may_hold_a_key(html) && FINDERS.iter().any(|(f, _)| f.find(html).is_some())
}

/// [`says_all_rights_reserved_zh`] without its ASCII fast path.
pub(crate) fn says_all_rights_reserved_zh_non_ascii(text: &str) -> bool {
    if !may_hold_a_key(text.as_bytes()) {
        return false;
    }
    FINDERS.iter().any(|(f, key)| {
        f.find_iter(text.as_bytes()).any(|p| {
            let end = p + f.needle().len();
            match key {
                Key::Copyright => copyright_owned(&text[end..]),
                Key::Reserve => all_rights(&text[end..]),
                Key::Without => without_permission(&text[end..]),
                Key::Repost => prohibited(&text[..p]),
            }
        })
    })
}

/// The characters of `text` that are not whitespace.
fn solid(text: &str) -> impl Iterator<Item = char> + Clone + '_ {
    text.chars().filter(|c| !c.is_whitespace())
}

/// Whether `chars` starts with one of `words`; the rest if so.
fn starts_with<I: Iterator<Item = char> + Clone>(chars: &I, words: &[&str]) -> Option<I> {
    words.iter().find_map(|w| {
        let mut it = chars.clone();
        w.chars().all(|c| it.next() == Some(c)).then_some(it)
    })
}

/// After `版权`: `所有`, not followed by a character that makes it a noun.
fn copyright_owned(after: &str) -> bool {
    let chars = solid(after);
    starts_with(&chars, &["所有"])
        .is_some_and(|mut rest| rest.next().is_none_or(|c| !NOT_AFTER_OWNED.contains(&c)))
}

/// After `保留`: `所有权利` or the like.
fn all_rights(after: &str) -> bool {
    starts_with(&solid(after), ALL).is_some_and(|rest| starts_with(&rest, RIGHTS).is_some())
}

/// Within the next `window` characters of `chars` (none ending a
/// sentence), one of `words`; the characters after it.
fn within<I: Iterator<Item = char> + Clone>(
    mut chars: I,
    window: usize,
    words: &[&str],
) -> Option<I> {
    for _ in 0..=window {
        if let Some(rest) = starts_with(&chars, words) {
            return Some(rest);
        }
        match chars.next() {
            Some(c) if !SENTENCE_END.contains(&c) => {}
            _ => return None,
        }
    }
    None
}

/// After `未经`: permission, prohibition and act.
fn without_permission(after: &str) -> bool {
    within(solid(after), 12, PERMISSION)
        .and_then(|rest| within(rest, 12, PROHIBITION))
        .and_then(|rest| within(rest, 16, ACT))
        .is_some()
}

/// Before `转载`: a prohibition, itself not after `不`.
fn prohibited(before: &str) -> bool {
    let mut back = before.chars().rev().filter(|c| !c.is_whitespace());
    let (Some(b), Some(a)) = (back.next(), back.next()) else {
        return false;
    };
    let mut word = [0u8; 8];
    let len = a.encode_utf8(&mut word).len();
    let len = len + b.encode_utf8(&mut word[len..]).len();
    let word = std::str::from_utf8(&word[..len]).unwrap_or_default();
    REPOST_PROHIBITION.contains(&word) && back.next() != Some('不')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements() {
        for text in [
            "版权所有",
            "Copyright © 2024 北京某某科技有限公司 版权所有",
            "版权所有©2008-2024 某某网",
            "© 版权所有 2024",
            "版权 所有，翻版必究",
            "本站版权所有，保留所有权利。",
            "保留一切权利",
            "保留 所有 权利",
            "未经书面授权不得转载",
            "未经许可，不得转载、摘编或以其他方式使用",
            "未经本网授权，任何单位和个人不得转载、摘编或利用其它方式使用上述作品。",
            "本文为博主原创文章，未经博主允许不得转载。",
            "未经授权禁止转载",
            "未经作者同意，请勿复制",
            "原创文章，严禁转载",
            "禁止转载",
            "谢绝转载",
            // Traditional.
            "版權所有",
            "Copyright © 2024 臺灣某某股份有限公司 版權所有",
            "保留所有權利",
            "未經書面授權不得轉載",
            "未經許可，禁止複製或使用本站內容",
            "嚴禁轉載",
        ] {
            assert!(says_all_rights_reserved_zh(text), "{text}");
        }
    }

    #[test]
    fn not_statements() {
        for text in [
            "转载请注明出处",
            "欢迎转载，转载请注明出处。",
            "允许转载",
            "版权声明：本文为博主原创文章，遵循 CC 4.0 BY-SA 版权协议，转载请附上原文出处链接和本声明。",
            "法院认定该公司侵犯了原告的版权，版权所有者可要求赔偿。",
            "版权所有人",
            "版權所有權歸屬",
            "该网站未经授权转载了多篇文章。",
            "未经授权的转载",
            "未经许可。不得转载的文章另行标注",
            "媒体不得转载未经核实的消息",
            "平台不禁止转载",
            "保留意见",
            "所有权利",
            "All rights reserved",
            "",
            "版",
            "未经",
            "转载",
        ] {
            assert!(!says_all_rights_reserved_zh(text), "{text}");
        }
    }

    #[test]
    fn windows_are_bounded() {
        let far = format!("未经{}授权不得转载", "很".repeat(13));
        assert!(!says_all_rights_reserved_zh(&far));
        let near = format!("未经{}授权不得转载", "很".repeat(12));
        assert!(says_all_rights_reserved_zh(&near));
        assert!(near.len() <= MAX_STATEMENT_BYTES);
    }
}
