//! Writes the extracted text of every document of the inputs as JSONL
//! (`{"text": ...}` per line), e.g. for `sketch`'s `lang_sample` example:
//! `cargo run --release -p provindex-corpus --example dump_text -- OUT.jsonl FILE...`.
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, inputs)) = args.split_first() else {
        eprintln!("usage: dump_text OUT.jsonl FILE...");
        std::process::exit(2);
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut n = 0u64;
    for path in inputs {
        for doc in provindex_corpus::read_path(std::path::Path::new(path)) {
            let Ok(doc) = doc else { continue };
            if let Some(text) = doc.text {
                serde_json::to_writer(&mut w, &serde_json::json!({ "text": text }))?;
                w.write_all(b"\n")?;
                n += 1;
            }
        }
    }
    w.flush()?;
    eprintln!("{n} texts written to {out}");
    Ok(())
}
