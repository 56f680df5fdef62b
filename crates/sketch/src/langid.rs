//! langid.py's naive Bayes language identifier (Lui & Baldwin 2012), in Rust.
//!
//! The model is langid.py 1.1.6's published one (BSD; see `langid.model.LICENSE`):
//! 97 languages, 7,480 byte n-gram features of 1–4 bytes, a log-probability
//! per feature and language and a prior term per language. It is stored in
//! `langid.model` (written by `tools/langid_model.py`, compiled in, parsed
//! once per process). Scoring is langid.py's: count every (overlapping)
//! occurrence of every feature in the text's UTF-8 bytes, score a language as
//! Σ count × log-probability + prior (in `f64`, as numpy's `dot` of langid.py's
//! `uint32` counts with its `float32` weights), take the best; its probability
//! is the softmax of the scores, as langid.py's `norm_probs`.
//!
//! The features are found by an Aho-Corasick automaton built from the feature
//! strings (a full transition table, one lookup per byte): the number of times
//! each state is entered is counted during the walk, then each visited state
//! credits the features it ends (langid.py's `instance2fv`).

use std::sync::LazyLock;

/// The model file (format in `tools/langid_model.py`).
const MODEL: &[u8] = include_bytes!("langid.model");
const MAGIC: &[u8] = b"PXLANGID1\n";

/// What [`classify`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LangidAnswer {
    /// langid.py's class label (ISO 639-1, e.g. `"en"`, `"zh"`).
    pub class: &'static str,
    /// The same language as an ISO 639-3 code (`"eng"`, `"cmn"`, …).
    pub code: &'static str,
    /// Softmax probability of the best class in `[0, 1]`.
    pub probability: f64,
    /// Feature occurrences counted in the text (0: only the priors spoke).
    pub features: u32,
}

/// The parsed model and its automaton.
struct Model {
    /// Classes in model order: (langid label, ISO 639-3 code).
    classes: Vec<(&'static str, &'static str)>,
    /// Prior term per class.
    prior: Vec<f64>,
    /// Number of features (rows `0..features` of the weights; padding after).
    features: usize,
    /// log P(feature | class).
    weights: Weights,
    /// The automaton over the feature strings.
    automaton: Automaton,
}

/// The class whose weights are kept apart from the others': the one
/// [`crate::LANG_EXCLUDED_CLASSES`] leaves out, so the rows read per
/// document are 96 classes, 6 cache lines, instead of 97 over 7.
const ASIDE: &str = "la";

/// Weights on a cache line.
const LINE: usize = 16;

/// The weight table: one row per feature (then per padding slot, zero).
struct Weights {
    /// Row `f` is `table[first + f * row_lines * LINE..][..row_lines * LINE]`:
    /// the weights of the classes in `columns`, zero after them. `first`
    /// puts the rows at the start of a cache line.
    table: Vec<f32>,
    first: usize,
    row_lines: usize,
    /// The class of each column of a row: every class but [`ASIDE`], in order.
    columns: Vec<usize>,
    /// [`ASIDE`]'s class and its weight per row, if the model has it.
    aside: Option<(usize, Vec<f32>)>,
}

impl Weights {
    /// From `flat[f * n_classes + c]`.
    fn new(flat: &[f32], classes: &[(&str, &str)]) -> Weights {
        let n_classes = classes.len();
        let aside = classes.iter().position(|&(label, _)| label == ASIDE);
        let columns: Vec<usize> = (0..n_classes).filter(|&c| Some(c) != aside).collect();
        let row_lines = columns.len().div_ceil(LINE);
        let mut table = vec![0f32; LINE + flat.len() / n_classes * row_lines * LINE];
        // The address only places the rows (the table is never moved).
        let first = (table.as_ptr() as usize / 4).wrapping_neg() % LINE;
        let rows = table[first..].chunks_exact_mut(row_lines * LINE);
        for (to, from) in rows.zip(flat.chunks_exact(n_classes)) {
            for (t, &c) in to.iter_mut().zip(&columns) {
                *t = from[c];
            }
        }
        let aside = aside.map(|a| (a, flat.chunks_exact(n_classes).map(|r| r[a]).collect()));
        Weights {
            table,
            first,
            row_lines,
            columns,
            aside,
        }
    }
}

static MODEL_PARSED: LazyLock<Model> = LazyLock::new(|| match parse(MODEL) {
    Ok(m) => m,
    // The file is compiled in and checked by the tests: a failure is a
    // build defect, not an input error.
    Err(e) => panic!("src/langid.model: {e}"),
});

/// langid.py's labels and the ISO 639-3 codes provindex stores for them (as
/// `whatlang` spells them where it knows the language: `"cmn"` for Chinese,
/// `"pes"` for Persian). Its `no` class is Bokmål (`"nob"`, as its `nb`): it
/// was trained on Norwegian Wikipedia, which is written in Bokmål, and on
/// debian-handbook's nb-NO pages it answers `no` 41 times of 50, `nb` 8.
const CODES: &[(&str, &str)] = &[
    ("af", "afr"),
    ("am", "amh"),
    ("an", "arg"),
    ("ar", "ara"),
    ("as", "asm"),
    ("az", "aze"),
    ("be", "bel"),
    ("bg", "bul"),
    ("bn", "ben"),
    ("br", "bre"),
    ("bs", "bos"),
    ("ca", "cat"),
    ("cs", "ces"),
    ("cy", "cym"),
    ("da", "dan"),
    ("de", "deu"),
    ("dz", "dzo"),
    ("el", "ell"),
    ("en", "eng"),
    ("eo", "epo"),
    ("es", "spa"),
    ("et", "est"),
    ("eu", "eus"),
    ("fa", "pes"),
    ("fi", "fin"),
    ("fo", "fao"),
    ("fr", "fra"),
    ("ga", "gle"),
    ("gl", "glg"),
    ("gu", "guj"),
    ("he", "heb"),
    ("hi", "hin"),
    ("hr", "hrv"),
    ("ht", "hat"),
    ("hu", "hun"),
    ("hy", "hye"),
    ("id", "ind"),
    ("is", "isl"),
    ("it", "ita"),
    ("ja", "jpn"),
    ("jv", "jav"),
    ("ka", "kat"),
    ("kk", "kaz"),
    ("km", "khm"),
    ("kn", "kan"),
    ("ko", "kor"),
    ("ku", "kur"),
    ("ky", "kir"),
    ("la", "lat"),
    ("lb", "ltz"),
    ("lo", "lao"),
    ("lt", "lit"),
    ("lv", "lav"),
    ("mg", "mlg"),
    ("mk", "mkd"),
    ("ml", "mal"),
    ("mn", "mon"),
    ("mr", "mar"),
    ("ms", "msa"),
    ("mt", "mlt"),
    ("nb", "nob"),
    ("ne", "nep"),
    ("nl", "nld"),
    ("nn", "nno"),
    ("no", "nob"),
    ("oc", "oci"),
    ("or", "ori"),
    ("pa", "pan"),
    ("pl", "pol"),
    ("ps", "pus"),
    ("pt", "por"),
    ("qu", "que"),
    ("ro", "ron"),
    ("ru", "rus"),
    ("rw", "kin"),
    ("se", "sme"),
    ("si", "sin"),
    ("sk", "slk"),
    ("sl", "slv"),
    ("sq", "sqi"),
    ("sr", "srp"),
    ("sv", "swe"),
    ("sw", "swa"),
    ("ta", "tam"),
    ("te", "tel"),
    ("th", "tha"),
    ("tl", "tgl"),
    ("tr", "tur"),
    ("ug", "uig"),
    ("uk", "ukr"),
    ("ur", "urd"),
    ("vi", "vie"),
    ("vo", "vol"),
    ("wa", "wln"),
    ("xh", "xho"),
    ("zh", "cmn"),
    ("zu", "zul"),
];

/// Reads the model file's fields in order, naming the one that is short.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(format!(
                "{what} at offset {}: file ends at {}",
                self.at,
                self.data.len()
            ));
        };
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>, String> {
        let b = self.take(n * 4, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

fn parse(data: &[u8]) -> Result<Model, String> {
    let mut r = Reader { data, at: 0 };
    if r.take(MAGIC.len(), "magic")? != MAGIC {
        return Err("not a PXLANGID1 model (magic)".into());
    }
    let n_classes = usize::from(r.u16("class count")?);
    let n_feats = usize::from(r.u16("feature count")?);
    let n_palette = r.u32("palette size")? as usize;
    let mut classes = Vec::with_capacity(n_classes);
    for i in 0..n_classes {
        let label = r.take(2, "class label")?;
        let label =
            std::str::from_utf8(label).map_err(|_| format!("class {i}: label not UTF-8"))?;
        let pair = CODES.iter().find(|(l, _)| *l == label);
        let &(label, code) = pair.ok_or_else(|| format!("class {i}: unknown label {label:?}"))?;
        classes.push((label, code));
    }
    let prior = r
        .f32s(n_classes, "priors")?
        .into_iter()
        .map(f64::from)
        .collect();
    let palette = r.f32s(n_palette, "palette")?;
    let mut feats = Vec::with_capacity(n_feats);
    for f in 0..n_feats {
        let len = usize::from(r.take(1, "feature length")?[0]);
        if len == 0 {
            return Err(format!("feature {f}: empty"));
        }
        feats.push(r.take(len, "feature bytes")?);
    }
    let index = r.take(n_feats * n_classes * 2, "weights")?;
    let mut weights = Vec::with_capacity(n_feats * n_classes);
    for (i, c) in index.chunks_exact(2).enumerate() {
        let p = usize::from(u16::from_le_bytes([c[0], c[1]]));
        let w = palette
            .get(p)
            .ok_or_else(|| format!("weight {i}: palette index {p} of {n_palette}"))?;
        weights.push(*w);
    }
    if r.at != data.len() {
        return Err(format!("{} bytes after the weights", data.len() - r.at));
    }
    let automaton = automaton(&feats)?;
    // A zero row for each padding slot: crediting one adds nothing.
    weights.resize((n_feats + MAX_FEATURE) * n_classes, 0.0);
    Ok(Model {
        weights: Weights::new(&weights, &classes),
        classes,
        prior,
        features: n_feats,
        automaton,
    })
}

/// Aho-Corasick over the feature strings. States are numbered so that those
/// which end at least one feature come first (`0..ending`): the walk keeps
/// only those, without a branch.
struct Automaton {
    /// `next[byte * rows + row]`: the state entered. Only states with
    /// children in the trie have a row of their own; any other has its
    /// failure state's (the same transitions): 2,494 rows for langid.py's
    /// 9,118 states, 1.3 MB of `u16` instead of 4.7 MB. Stored column by
    /// column, rows breadth first: the transitions that the bytes of a
    /// text take most often (from states near the start, on letters and
    /// spaces) share few cache lines, which stay in the caches between
    /// pages.
    next: Vec<u16>,
    /// Rows of `next`.
    rows: usize,
    /// `row_of[state]`: the state's row of `next` (18 KB, mostly in L1).
    row_of: Vec<u16>,
    /// The state before any byte.
    start: u16,
    /// States `0..ending` end a feature, the others none.
    ending: u16,
    /// `ends[state]`: the features state `state < ending` ends (its own and
    /// its suffixes', at most one per length), padded with the padding
    /// slots `features..features + MAX_FEATURE` (one per position, so
    /// consecutive credits to padding do not wait on one counter).
    ends: Vec<[u16; MAX_FEATURE]>,
}

/// Builds the automaton: a trie of the feature strings, failure links
/// breadth first, a full transition table, the renumbering, then the rows
/// of the states with children.
fn automaton(feats: &[&[u8]]) -> Result<Automaton, String> {
    let n_feats = u16::try_from(feats.len() + MAX_FEATURE)
        .map_err(|_| format!("{} features do not fit u16", feats.len()))?
        - MAX_FEATURE as u16;
    // The trie, in the transition table itself: 0 is "no edge" (the start
    // state 0 is no state's child), one table the whole build long.
    let mut next: Vec<[u16; 256]> = vec![[0; 256]];
    let mut own: Vec<Option<u16>> = vec![None];
    let mut has_child = vec![false];
    for (f, bytes) in feats.iter().enumerate() {
        if bytes.len() > MAX_FEATURE {
            return Err(format!(
                "feature {f}: {} bytes, more than {MAX_FEATURE}",
                bytes.len()
            ));
        }
        let mut s = 0usize;
        for &b in *bytes {
            let t = next[s][usize::from(b)];
            s = if t != 0 {
                usize::from(t)
            } else {
                let n = u16::try_from(next.len())
                    .map_err(|_| "more than 65536 automaton states".to_string())?;
                next.push([0; 256]);
                own.push(None);
                has_child.push(false);
                has_child[s] = true;
                next[s][usize::from(b)] = n;
                usize::from(n)
            };
        }
        if own[s].is_some() {
            return Err(format!("feature {f}: duplicate string {bytes:?}"));
        }
        own[s] = Some(f as u16);
    }
    let states = next.len();
    // Breadth first: a state's fail link (and its fail state's row) is final
    // before its children's; a missing edge takes the fail state's.
    let mut fail = vec![0usize; states];
    let mut order = Vec::with_capacity(states);
    let mut queue: std::collections::VecDeque<usize> = next[0]
        .iter()
        .filter(|&&t| t != 0)
        .map(|&t| usize::from(t))
        .collect();
    while let Some(s) = queue.pop_front() {
        order.push(s);
        let fail_row = next[fail[s]];
        for (t, &via_fail) in next[s].iter_mut().zip(&fail_row) {
            if *t != 0 {
                fail[usize::from(*t)] = usize::from(via_fail);
                queue.push_back(usize::from(*t));
            } else {
                *t = via_fail;
            }
        }
    }
    // Outputs: the state's own feature, then its fail state's outputs.
    let mut outputs: Vec<Vec<u16>> = vec![Vec::new(); states];
    for &s in &order {
        let mut o: Vec<u16> = own[s].into_iter().collect();
        o.extend_from_slice(&outputs[fail[s]]);
        outputs[s] = o;
    }
    // Renumber: ending states first, each group in trie order.
    let (mut ids, mut ending) = (vec![0u16; states], 0u16);
    for (s, o) in outputs.iter().enumerate().filter(|(_, o)| !o.is_empty()) {
        if o.len() > MAX_FEATURE {
            return Err(format!("state {s} ends {} features", o.len()));
        }
        ids[s] = ending;
        ending += 1;
    }
    let others = outputs.iter().enumerate().filter(|(_, o)| o.is_empty());
    for (id, (s, _)) in (ending..).zip(others) {
        ids[s] = id;
    }
    // Rows: a state without children (`rep[s] != s`) transitions as its
    // failure state does, so it takes that state's row.
    let mut rep: Vec<usize> = (0..states).collect();
    for &s in &order {
        if !has_child[s] {
            rep[s] = rep[fail[s]];
        }
    }
    // Rows breadth first (the start state's first): the states near the
    // start, which most bytes of a text lead to, get neighbouring rows.
    let with_row: Vec<usize> = std::iter::once(0)
        .chain(order.iter().copied())
        .filter(|&s| rep[s] == s)
        .collect();
    let rows = with_row.len();
    let mut row = vec![0u16; states];
    for (r, &s) in (0u16..).zip(&with_row) {
        row[s] = r;
    }
    let mut row_of = vec![0u16; states];
    for s in 0..states {
        row_of[usize::from(ids[s])] = row[rep[s]];
    }
    // Column by column: one cache line holds a byte's transitions from 32
    // neighbouring rows.
    let mut table = vec![0u16; rows * 256];
    for (r, &s) in with_row.iter().enumerate() {
        for (b, &t) in next[s].iter().enumerate() {
            table[b * rows + r] = ids[usize::from(t)];
        }
    }
    let mut ends = vec![[0u16; MAX_FEATURE]; usize::from(ending)];
    for s in 0..states {
        if let Some(e) = ends.get_mut(usize::from(ids[s])) {
            for (slot, e) in e.iter_mut().enumerate() {
                *e = outputs[s]
                    .get(slot)
                    .copied()
                    .unwrap_or(n_feats + slot as u16);
            }
        }
    }
    Ok(Automaton {
        next: table,
        rows,
        row_of,
        start: ids[0],
        ending,
        ends,
    })
}

/// Per-thread buffers reused across calls.
struct Scratch {
    /// The state after each byte, then (front) the ending states only.
    trail: Vec<u16>,
    /// Occurrences of each feature and padding slot (zero between calls).
    count: Vec<u32>,
    /// Bit `f` set when feature (or padding slot) `f` was credited (zero
    /// between calls): ascending order without a sort.
    seen: Vec<u64>,
    /// Features (and padding slots) with a nonzero count, ascending.
    touched: Vec<u16>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = const {
        std::cell::RefCell::new(Scratch {
            trail: Vec::new(),
            count: Vec::new(),
            seen: Vec::new(),
            touched: Vec::new(),
        })
    };
}

/// Longest feature (bytes): the automaton's state is a function of this many
/// last bytes.
const MAX_FEATURE: usize = 4;

/// Independent walks over parts of the text: the automaton's state depends
/// only on the last [`MAX_FEATURE`] bytes, so each part starts from a walk
/// over the bytes before it, and the walks' loads overlap instead of waiting
/// on each other.
const LANES: usize = 16;

/// Writes into `trail` the state after each byte of `bytes` (the same states
/// as one walk from the start).
fn walk(a: &Automaton, bytes: &[u8], trail: &mut Vec<u16>) {
    let (next, row_of, rows) = (&a.next[..], &a.row_of[..], a.rows);
    let step = |s: u16, b: u8| next[usize::from(b) * rows + usize::from(row_of[usize::from(s)])];
    trail.clear();
    let part = bytes.len() / LANES;
    let mut s = a.start;
    let mut rest = bytes;
    if part >= 2 * MAX_FEATURE {
        // Lane k walks bytes[k * part..(k + 1) * part].
        let mut lane = [a.start; LANES];
        for (k, st) in lane.iter_mut().enumerate().skip(1) {
            let start = k * part;
            *st = bytes[start - MAX_FEATURE..start]
                .iter()
                .fold(a.start, |s, &b| step(s, b));
        }
        trail.resize(LANES * part, 0);
        let lanes = &bytes[..LANES * part];
        let out = &mut trail[..LANES * part];
        for i in 0..part {
            for (k, st) in lane.iter_mut().enumerate() {
                let at = k * part + i;
                *st = step(*st, lanes[at]);
                out[at] = *st;
            }
        }
        s = lane[LANES - 1];
        rest = &bytes[LANES * part..];
    }
    for &b in rest {
        s = step(s, b);
        trail.push(s);
    }
}

/// Counts every feature occurrence in `trail` (states after each byte):
/// keeps the ending states at its front (branch-free), then credits each
/// one's features and padding slots, marking each in `seen`.
fn credit(a: &Automaton, trail: &mut [u16], count: &mut [u32], seen: &mut [u64]) {
    // In place, but read ahead of the write position in blocks, so a load
    // never waits on the store just before it.
    let mut kept = 0;
    let mut block = [0u16; 64];
    for start in (0..trail.len()).step_by(block.len()) {
        let n = block.len().min(trail.len() - start);
        block[..n].copy_from_slice(&trail[start..start + n]);
        for &s in &block[..n] {
            trail[kept] = s;
            kept += usize::from(s < a.ending);
        }
    }
    for &s in &trail[..kept] {
        for &f in &a.ends[usize::from(s)] {
            let f = usize::from(f);
            count[f] += 1;
            seen[f / 64] |= 1 << (f % 64);
        }
    }
}

/// Lists the features marked in `seen` in `touched`, ascending, and clears
/// `seen`.
fn list_seen(seen: &mut [u64], touched: &mut Vec<u16>) {
    touched.clear();
    for (w, word) in seen.iter_mut().enumerate() {
        let mut bits = std::mem::take(word);
        while bits != 0 {
            // w * 64 + bit < seen.len() * 64, which fits u16 (the features do).
            touched.push((w * 64) as u16 + bits.trailing_zeros() as u16);
            bits &= bits - 1;
        }
    }
}

/// Lines of a row summed together by [`accumulate`]: their sums stay in
/// registers across the features.
const TILE_LINES: usize = 2;

/// Lines of a row summed in one pass where the CPU has AVX-512 (12 of its
/// 32 registers of sums): all 6 of langid.py's, so each feature's row is
/// read once, front to back.
const WIDE_LINES: usize = 6;

/// `sums[j] += n * row[j]` for each touched feature in order (n its count),
/// in `f64` without fused multiply-add, so every target gives the same sums;
/// compiled for the vector extensions this CPU has. [`TILE_LINES`] of each
/// row at a time over all features (with AVX-512, [`WIDE_LINES`]): each
/// column's sum is the same sequence of additions, without a load and store
/// of it per feature.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2", "x86_64+sse4.1"))]
fn accumulate(sums: &mut [f64], touched: &[u16], count: &[u32], w: &Weights) {
    multiversion::target::match_target! {
        "x86_64+avx512f" => {
            if w.row_lines == WIDE_LINES {
                sum_columns::<{ WIDE_LINES * LINE }>(sums, touched, count, w, 0);
                return;
            }
        }
        _ => {}
    }
    accumulate_tiles(sums, touched, count, w);
}

/// [`accumulate`] [`TILE_LINES`] at a time.
#[inline(always)]
fn accumulate_tiles(sums: &mut [f64], touched: &[u16], count: &[u32], w: &Weights) {
    const TILE: usize = TILE_LINES * LINE;
    let mut first = 0;
    while first + TILE <= sums.len() {
        let tile = &mut sums[first..first + TILE];
        sum_columns::<TILE>(tile, touched, count, w, first);
        first += TILE;
    }
    while first < sums.len() {
        let line = &mut sums[first..first + LINE];
        sum_columns::<LINE>(line, touched, count, w, first);
        first += LINE;
    }
}

/// [`accumulate`] for columns `first..first + N` of the rows (`sums`:
/// their sums).
#[inline(always)]
fn sum_columns<const N: usize>(
    sums: &mut [f64],
    touched: &[u16],
    count: &[u32],
    w: &Weights,
    first: usize,
) {
    let mut sum = [0f64; N];
    sum.copy_from_slice(sums);
    let stride = w.row_lines * LINE;
    let table = &w.table[w.first + first..];
    for &f in touched {
        let f = usize::from(f);
        let n = f64::from(count[f]);
        let row = &table[f * stride..][..N];
        for (s, &w) in sum.iter_mut().zip(row) {
            *s += n * f64::from(w);
        }
    }
    sums.copy_from_slice(&sum);
}

/// Each class's score: its prior plus Σ count × weight over `touched`
/// ascending (but [`ASIDE`]'s if `aside_excluded`: its prior).
fn scores(m: &Model, touched: &[u16], count: &[u32], aside_excluded: bool) -> Vec<f64> {
    let w = &m.weights;
    let mut scores = m.prior.clone();
    let mut sums = vec![0f64; w.row_lines * LINE];
    for (s, &c) in sums.iter_mut().zip(&w.columns) {
        *s = m.prior[c];
    }
    accumulate(&mut sums, touched, count, w);
    for (&s, &c) in sums.iter().zip(&w.columns) {
        scores[c] = s;
    }
    if let Some((a, weights)) = &w.aside
        && !aside_excluded
    {
        let mut s = m.prior[*a];
        for &f in touched {
            let f = usize::from(f);
            s += f64::from(count[f]) * f64::from(weights[f]);
        }
        scores[*a] = s;
    }
    scores
}

/// Below this, `exp` is 0 in `f64` (e^-750 < 2^-1075).
const UNDERFLOW: f64 = -750.0;

/// langid.py's answer for `bytes` (the UTF-8 bytes of a text): the best
/// class, its softmax probability and the number of feature occurrences.
/// Cost is one table lookup per byte plus one weight row per distinct
/// feature, so callers bound `bytes` (see [`crate::LANG_SAMPLE_BYTES`]).
#[must_use]
pub fn classify(bytes: &[u8]) -> LangidAnswer {
    classify_excluding(bytes, &[])
}

/// [`classify`] over every class but those labelled in `excluded` (langid.py
/// labels, e.g. `"la"`): the best of the others and its probability among
/// them, as langid.py's `set_languages` with the remaining classes.
#[must_use]
pub fn classify_excluding(bytes: &[u8], excluded: &[&str]) -> LangidAnswer {
    let m = &*MODEL_PARSED;
    let n_feats = m.features;
    // Labels compared byte by byte: no string comparison call per class.
    let is_excluded = |label: &str| {
        excluded
            .iter()
            .any(|e| e.len() == label.len() && e.bytes().zip(label.bytes()).all(|(a, b)| a == b))
    };
    let (total, scores) = SCRATCH.with_borrow_mut(|sc| {
        sc.count.resize(n_feats + MAX_FEATURE, 0);
        sc.seen.resize((n_feats + MAX_FEATURE).div_ceil(64), 0);
        walk(&m.automaton, bytes, &mut sc.trail);
        credit(&m.automaton, &mut sc.trail, &mut sc.count, &mut sc.seen);
        // Ascending rows: the weight table is read front to back.
        list_seen(&mut sc.seen, &mut sc.touched);
        let total = sc.touched.iter().filter(|&&f| usize::from(f) < n_feats);
        let total = total.map(|&f| sc.count[usize::from(f)]).sum::<u32>();
        let scores = scores(m, &sc.touched, &sc.count, is_excluded(ASIDE));
        for &f in &sc.touched {
            sc.count[usize::from(f)] = 0;
        }
        (total, scores)
    });
    let candidates = || {
        scores
            .iter()
            .copied()
            .enumerate()
            .filter(|&(i, _)| !is_excluded(m.classes[i].0))
    };
    let (best, top) = candidates().fold(
        (0, f64::NEG_INFINITY),
        |a, (i, s)| {
            if s > a.1 { (i, s) } else { a }
        },
    );
    // langid.py's norm_probs: 1 / Σ exp(s_j − s_best). exp of less than
    // UNDERFLOW is 0 (under half the least subnormal): not computed.
    let sum: f64 = candidates()
        .map(|(_, s)| s - top)
        .filter(|&d| d >= UNDERFLOW)
        .map(f64::exp)
        .sum();
    let (class, code) = m.classes[best];
    LangidAnswer {
        class,
        code,
        probability: 1.0 / sum,
        features: total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_parses_with_langid_py_shape() {
        let m = parse(MODEL).unwrap();
        assert_eq!(m.classes.len(), 97);
        assert_eq!(m.features, 7480);
        assert_eq!(m.weights.row_lines, WIDE_LINES);
        let w = &m.weights;
        assert_eq!(
            w.table.len(),
            LINE + (7480 + MAX_FEATURE) * WIDE_LINES * LINE
        );
        assert_eq!(w.table[w.first..].as_ptr() as usize % 64, 0);
        assert_eq!(m.classes[18], ("en", "eng"));
        assert!(m.classes.contains(&("zh", "cmn")));
    }

    #[test]
    fn damaged_model_is_refused_naming_the_field() {
        let e = parse(&MODEL[..MODEL.len() - 1]).err().unwrap();
        assert!(e.contains("weights"), "{e}");
        let mut bad = MODEL.to_vec();
        bad[0] = b'X';
        assert!(parse(&bad).err().unwrap().contains("magic"));
    }

    /// The model file's sections, read as `parse` reads them: the class
    /// count, the weight palette, the feature strings and the weight index
    /// (`[f * classes + c]`, two bytes each).
    fn raw_model() -> (usize, Vec<f32>, Vec<&'static [u8]>, &'static [u8]) {
        let mut r = Reader {
            data: MODEL,
            at: MAGIC.len(),
        };
        let n_classes = usize::from(r.u16("").unwrap());
        let n_feats = usize::from(r.u16("").unwrap());
        let n_palette = r.u32("").unwrap() as usize;
        r.take(n_classes * 2 + n_classes * 4, "").unwrap();
        let palette = r.f32s(n_palette, "").unwrap();
        let features = (0..n_feats)
            .map(|_| {
                let len = usize::from(r.take(1, "").unwrap()[0]);
                r.take(len, "").unwrap()
            })
            .collect();
        let index = r.take(n_feats * n_classes * 2, "").unwrap();
        (n_classes, palette, features, index)
    }

    /// The model's weights as the file has them: `[f * classes + c]`.
    fn flat_weights() -> Vec<f32> {
        let (_, palette, _, index) = raw_model();
        index
            .chunks_exact(2)
            .map(|c| palette[usize::from(u16::from_le_bytes([c[0], c[1]]))])
            .collect()
    }

    /// The scores (one-pass with AVX-512, tiled, and Latin's apart) equal
    /// langid.py's sums over the file's weights, prior + Σ count × weight in
    /// ascending feature order, bit for bit, with pseudo-random features
    /// and counts, the last padding row included.
    #[test]
    fn scores_equal_plain_sums() {
        let m = &*MODEL_PARSED;
        let flat = flat_weights();
        let n_classes = m.classes.len();
        let rows = m.features + MAX_FEATURE;
        let aside = m.classes.iter().position(|c| c.0 == ASIDE).unwrap();
        let mut state = 7u64;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize % n
        };
        let bits = |v: &[f64]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
        for round in 0..20 {
            let mut touched: Vec<u16> = (0..50 * round + 1).map(|_| next(rows) as u16).collect();
            touched.push((rows - 1) as u16);
            touched.sort_unstable();
            touched.dedup();
            let mut count = vec![0u32; rows];
            for &f in &touched {
                count[usize::from(f)] = 1 + next(40) as u32;
            }
            let mut want = m.prior.clone();
            for &f in &touched {
                let f = usize::from(f);
                for (c, s) in want.iter_mut().enumerate() {
                    let w = flat.get(f * n_classes + c).copied().unwrap_or(0.0);
                    *s += f64::from(count[f]) * f64::from(w);
                }
            }
            assert_eq!(bits(&scores(m, &touched, &count, false)), bits(&want));
            let mut without = scores(m, &touched, &count, true);
            assert_eq!(without[aside], m.prior[aside]);
            without[aside] = want[aside];
            assert_eq!(bits(&without), bits(&want));
            let mut prior = vec![0f64; m.weights.row_lines * LINE];
            for (s, &c) in prior.iter_mut().zip(&m.weights.columns) {
                *s = m.prior[c];
            }
            let (mut tiles, mut one_pass) = (prior.clone(), prior);
            accumulate_tiles(&mut tiles, &touched, &count, &m.weights);
            let wide = WIDE_LINES * LINE;
            sum_columns::<{ WIDE_LINES * LINE }>(&mut one_pass, &touched, &count, &m.weights, 0);
            assert_eq!(one_pass.len(), wide);
            assert_eq!(bits(&tiles), bits(&one_pass));
            let columns = m.weights.columns.iter();
            let want: Vec<f64> = columns.map(|&c| want[c]).collect();
            assert_eq!(bits(&tiles[..want.len()]), bits(&want));
        }
    }

    /// The model's feature strings, read as `parse` reads them.
    fn model_features() -> Vec<&'static [u8]> {
        raw_model().2
    }

    /// With the model's automaton, where most states share their failure
    /// state's row: the walk and the credits count exactly the occurrences
    /// of each feature found by brute force, in texts of several scripts
    /// and in random bytes.
    #[test]
    fn model_automaton_counts_every_occurrence() {
        let feats = model_features();
        let a = &MODEL_PARSED.automaton;
        let mut texts: Vec<Vec<u8>> = [
            "The quick brown fox jumps over the lazy dog. Der Äther, la façade, ça va?",
            "Съешь же ещё этих мягких французских булок, да выпей чаю. Ελληνικά κείμενα",
            "用Rust写的API，版本2.0。日本語のテキストです。ภาษาไทย 한국어 텍스트 العربية",
        ]
        .iter()
        .map(|t| t.repeat(9).into_bytes())
        .collect();
        let mut state = 1u64;
        texts.push(
            (0..3000)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    (state >> 56) as u8
                })
                .collect(),
        );
        for text in texts {
            let mut trail = Vec::new();
            walk(a, &text, &mut trail);
            let mut count = vec![0u32; feats.len() + MAX_FEATURE];
            let mut seen = vec![0u64; count.len().div_ceil(64)];
            credit(a, &mut trail, &mut count, &mut seen);
            let want: Vec<u32> = feats
                .iter()
                .map(|f| text.windows(f.len()).filter(|w| w == f).count() as u32)
                .collect();
            assert_eq!(&count[..feats.len()], &want[..]);
        }
    }

    /// Overlapping occurrences are all counted: a brute-force count of every
    /// feature at every position equals the walk's and the credits', over
    /// texts long enough for the lanes and short ones.
    #[test]
    fn automaton_counts_every_overlapping_occurrence() {
        let feats: Vec<&[u8]> = vec![b"a", b"aa", b"aaa", b"ab", b"b", b"ba", b"xyz", b"aaab"];
        let a = automaton(&feats).unwrap();
        for text in [
            &b"aaabaaxyzbaab"[..],
            &b"xyaaabaaxyzbaabbbaxyzaaaab".repeat(7),
        ] {
            let mut trail = Vec::new();
            walk(&a, text, &mut trail);
            assert_eq!(trail.len(), text.len());
            let mut count = vec![0u32; feats.len() + MAX_FEATURE];
            let mut seen = vec![0u64; count.len().div_ceil(64)];
            let mut touched = Vec::new();
            credit(&a, &mut trail, &mut count, &mut seen);
            list_seen(&mut seen, &mut touched);
            assert!(seen.iter().all(|&w| w == 0));
            let want: Vec<u32> = feats
                .iter()
                .map(|f| text.windows(f.len()).filter(|w| w == f).count() as u32)
                .collect();
            assert_eq!(&count[..feats.len()], &want[..]);
            let nonzero: Vec<u16> = (0..count.len() as u16)
                .filter(|&f| count[usize::from(f)] > 0)
                .collect();
            assert_eq!(touched, nonzero);
        }
    }
}
