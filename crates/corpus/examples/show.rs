//! Prints the docs of one input: `cargo run -p provindex-corpus --example show -- FILE [N]`.
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: show FILE [N]");
        return;
    };
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut docs = provindex_corpus::read_path(std::path::Path::new(&path));
    for d in docs.by_ref().take(n) {
        match d {
            Ok(d) => println!(
                "== {:?} {:?} {:?} status={:?} type={:?} charset={:?} lang={:?} title={:?}\n{}\n",
                d.kind,
                d.url,
                d.location,
                d.http_status,
                d.content_type,
                d.charset,
                d.language,
                d.title,
                d.text.as_deref().unwrap_or("<no text>")
            ),
            Err(e) => println!("!! {e}"),
        }
    }
    println!("{}", docs.stats());
}
