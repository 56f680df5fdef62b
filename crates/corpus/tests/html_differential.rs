//! Our HTML tokenizer against html5ever's (issue 17): the same `Extracted`
//! and the same tags and text shown to an observer (the signals scanner), on
//! every HTML page of tests/data, on hand-made corner cases of the
//! tokenization rules, and on random markup.

use std::path::{Path, PathBuf};

use provindex_corpus::ReaderOptions;
use provindex_corpus::html::differs_from_html5ever;

fn warc_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            warc_files(&p, out);
        } else if p.to_string_lossy().contains(".warc") {
            out.push(p);
        }
    }
}

#[test]
fn every_html_page_of_the_test_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    let mut files = Vec::new();
    warc_files(&root, &mut files);
    files.sort();
    let options = ReaderOptions {
        html_text: false,
        ..ReaderOptions::default()
    };
    let mut pages = 0;
    // (tests/data/sample repeats files of tests/data/corpus/warc, which has
    // one WARC both compressed and not: each page is checked once.)
    let mut seen = std::collections::HashSet::new();
    for file in &files {
        for doc in provindex_corpus::read_path_with(file, options.clone()).flatten() {
            let Some(html) = doc.html.as_deref() else {
                continue;
            };
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(html, &mut h);
            if !seen.insert(std::hash::Hasher::finish(&h)) {
                continue;
            }
            pages += 1;
            if let Some(d) = differs_from_html5ever(html) {
                panic!("{} {:?}: {d}", file.display(), doc.url);
            }
        }
    }
    // (The sample WARCs hold hundreds of pages: a reader change that lost
    // them must not pass this test vacuously.)
    assert!(pages > 200, "only {pages} HTML pages found under {root:?}");
}

#[test]
fn corner_cases_of_the_tokenization_rules() {
    let cases = [
        "",
        "plain text",
        "<p>a</p>",
        "<P CLASS=x Id='y' data-X=\"z\">A</P>",
        "<a href=x href=y HREF=z>dup</a>",
        "<a href = \"x\" / >t</a><br/><img src=a/><p/ >",
        "<a b=c/>d",
        "<a b='c'd>e",
        "<a =x>y<a ==x>",
        "<a\u{0}b c\u{0}=\u{0}d>x\u{0}y</a\u{0}b>",
        "<ä ö=ü>ä</ä>",
        "a < b > c <3 <- <. <",
        "</>x</ y>z</3>w</",
        "<!-- c -->a<!---->b<!--->c<!-->d<!-- -- --!>e<!-- --!-->f<!-- <!-- -->g",
        "<!-- a --!->b-->c<!---!>d-->e<!-- ---->f<!-- --- x -->g<!--",
        "<!doctype html>a<!DOCTYPE html PUBLIC \"a>b\">c<!DOCTYPE",
        "<![CDATA[x]]>y<?php z ?>w<!x>v<!>u<!-",
        "&amp; &AMP; &amp &ampx &notit; &notin; &not &#33; &#x21; &#X21 &#; &#x; &#xZ &#0; &#x110000; \
         &#128; &#x9F; &#xD800; &#99999999999; &#65 &; &zz; &a &",
        "<a href='?a=1&amp;b=2&copy=3&copyx&copy;&notin=&notit&#38;&#x26&lt;x'>q</a>",
        "<a title=&amp;&lt>x</a><a title=&>y</a><a title=a&b>z</a>",
        "&aacute&Aacute;&thinsp;&ThinSpace;&nbsp&nbspx&NotEqualTilde;&nGt;",
        "a\r\nb\rc\n\rd<p\r\nclass=\"a\rb\">e\r</p>&amp\r\n",
        "<title>A &amp; <b>B</b> </title x> </title>t<textarea>&lt;p&gt; <p></TEXTAREA>u",
        "<title>x</titlex></title/>y<title>a</title\tclass=b>c",
        "<style>p { x: '</p>' } </style >a<style>x</styl</style/>b",
        "<script>if (a<b) x = '</scr' + 'ipt>';</script>c",
        "<script><!-- x --></script>a<script><!--<script>x</script>y--></script>b",
        "<script><!--<script>a</script>b</script>c<!-- -->d</script>e",
        "<script><!--<SCRIPT >a</Script\t>b--!>c</script>d",
        "<script><!-- -<x -- <x --->y</script>z",
        "<script><!--a--><!--<script/>-></script>q</script>r",
        "<script><!--<scriptx></script>a",
        "<script><!--<script></script",
        "<script><!--</script",
        "<script><!",
        "<script>\u{0}</script>\u{0}<textarea>\u{0}</textarea>",
        "<xmp><p>x</p></xmp><iframe><b>y</b></iframe><noembed><i></noembed><noframes>&amp;</noframes>",
        "<noscript><p>no</p></noscript>yes",
        "<svg><script>x<y</script><style>a</style></svg><math><title>t</title></math>",
        "<plaintext><p>plain &amp; text</plaintext>\u{0}",
        "<html lang=' de '><head><title> T </title><meta name=x content=y></head><body>b</body></html>",
        "<a href=\"x",
        "<a href='x'",
        "<a href=x",
        "<a href=",
        "<a href",
        "<a ",
        "<a/",
        "<a",
        "<",
        "&",
        "&#",
        "&#x",
        "&#12",
        "&am",
        "&amp",
        "<title>&amp",
        "<title>a</title",
        "<textarea>a</",
        "<a b='&amp",
        "<a b=&#x41",
        "<p>😀 &#x1F600; &#128512; naïve</p>",
        "\u{feff}<p>bom</p>\u{feff}",
        "\u{feff}\u{feff}x",
    ];
    for html in cases {
        if let Some(d) = differs_from_html5ever(html) {
            panic!("{html:?}: {d}");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

    /// Random sequences of markup pieces, in any order.
    #[test]
    fn random_markup(pieces in proptest::collection::vec(
        proptest::sample::select(vec![
            "<", ">", "</", "/>", "<!", "<!--", "-->", "--!>", "-", "--", "!", "<?", "<!doctype",
            "<![CDATA[", "]]>", "&", "&amp;", "&amp", "&lt", "&#", "&#x", "&#65;", "&#x41", ";",
            "=", "\"", "'", " ", "\t", "\n", "\r", "\r\n", "\u{0}", "\u{c}", "a", "B", "é", "中",
            "<p", "<a", "<A", "<br", "<script", "</script", "<SCRIPT", "</scRipt", "<style",
            "</style", "<title", "</title", "<textarea", "</textarea", "<plaintext", "<svg",
            "</svg", "<noscript", "</noscript", "<xmp", "</xmp", "<iframe", "</iframe",
            "<head", "</head", "<html", " lang=", " href=", " class=", "x", "/", "notin", "copy",
        ]),
        0..40,
    )) {
        let html: String = pieces.concat();
        if let Some(d) = differs_from_html5ever(&html) {
            panic!("{html:?}: {d}");
        }
    }
}
