//! Connected components of the candidate graph within a memory budget
//! (issue 17): the components stage's clusters by label propagation over
//! sorted runs in the task's scratch space, never a map of the contents.
//!
//! Input: the cluster stage's node rows (content id → earliest capture
//! time, merged in content order, a content possibly once per partition)
//! and edge rows (content id ‖ the smallest content id of a shared bucket).
//! Output: `clusters.run` rows, content id → cluster id ‖ keeper ‖ size
//! (16 + 16 + 8 bytes), in content order, for members of clusters of more
//! than one. Cluster id: the smallest content id of the cluster; keeper:
//! the member first by [`provindex_policy::keeper::precedes`] over (earliest
//! capture time, content id). Both depend only on the sets of edges and
//! times, so neither the workers, the partitions nor the order of tasks
//! change them.
//!
//! Labels form a forest whose roots are their trees' smallest members
//! (hooking and shortcutting, as Shiloach–Vishkin, over runs). Every content
//! starts as its own root. A round
//! 1. joins the symmetric edges (sorted by source) with the labels and
//!    offers each edge's target its source's label, sorted by target (only
//!    labels smaller than the target itself can win);
//! 2. joins the offers with the labels by target: a target whose root is
//!    larger than its smallest offer hooks that root under the offer, sorted
//!    by root, and each root keeps the smallest hook;
//! 3. shortcuts the hooked forest back to stars: its inner contents (those
//!    others hang from) pointer-jump — a content whose parent is `w` takes
//!    `w`'s parent, two sorts per pass — until no parent changes, so a chain
//!    of hooks of depth d takes about log2(d) passes; then every content
//!    takes its parent's root in one pass.
//!
//! A round hooks every tree that has a neighbouring tree with a smaller root,
//! so the trees that remain are at most the local minima among them: about
//! log2(n) rounds for a chain of n contents, one or two for the cluster
//! stage's stars. A round that hooks nothing leaves no edge between two
//! trees, so every label is its component's smallest id. [`MAX_ROUNDS`]
//! bounds the rounds. The keeper and size then come from one sort by label.
//!
//! Memory: one sorter at a time with the given budget, plus the read
//! buffers of the runs being merged.
//!
//! Every run of the stage holds fixed-width rows of big-endian integers
//! ([`Row`]), so the sorters sort tuples in memory and the merges compare
//! integers; records are read in place (the runs crate's lending [`Merge`]),
//! never allocated one by one. The run files are ordinary runs, checksummed and
//! checked as any other.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use provindex_runs::{Merge, MergeInput, RunError, RunReader, RunWriter};

use crate::tasks::{TaskError, id_of, time_of};

/// Rounds of hooking before the stage gives up. A chain of n contents
/// takes about log2(n) rounds; a graph that is not done after this many is
/// failed (permanently: the rounds
/// are a function of the graph, so a retry would fail again), not cut
/// short, which would give wrong cluster ids and keepers.
pub(crate) const MAX_ROUNDS: u32 = 64;

/// What [`components`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Components {
    /// Clusters of more than one content.
    pub clusters: u64,
    /// Contents in those clusters (rows written).
    pub clustered_contents: u64,
    /// Hooking rounds, the last one hooking nothing.
    pub rounds: u32,
    /// Runs spilled by the sorts (how far past the budget the data went).
    pub spilled_runs: usize,
}

/// Writes the clusters of the graph of `edges` over `nodes` to `out` (see
/// the module documentation), sorting within `budget` bytes in `scratch`.
pub(crate) fn components<W: std::io::Write>(
    nodes: Merge<impl MergeInput>,
    edges: Merge<impl MergeInput>,
    scratch: &Path,
    budget: usize,
    max_rounds: u32,
    cancel: &AtomicBool,
    out: &mut RunWriter<W>,
) -> Result<Components, TaskError> {
    let dir = scratch.join("components");
    std::fs::create_dir_all(&dir)
        .map_err(|e| TaskError::Retry(format!("scratch {}: {e}", dir.display())))?;
    let mut stage = Stage {
        dir,
        budget,
        cancel,
        spilled_runs: 0,
        rows: 0,
    };
    let result = stage.run(nodes, edges, max_rounds, out);
    let _ = std::fs::remove_dir_all(&stage.dir);
    result
}

struct Stage<'a> {
    dir: PathBuf,
    budget: usize,
    cancel: &'a AtomicBool,
    spilled_runs: usize,
    /// Rows streamed, for the cancellation check.
    rows: u64,
}

impl Stage<'_> {
    fn run<W: std::io::Write>(
        &mut self,
        nodes: Merge<impl MergeInput>,
        edges: Merge<impl MergeInput>,
        max_rounds: u32,
        out: &mut RunWriter<W>,
    ) -> Result<Components, TaskError> {
        let times = self.path("times.run");
        let mut labels = self.path("labels-00000.run");
        self.write_nodes(nodes, &times, &labels)?;
        let adjacency = self.adjacency(edges)?;
        let mut rounds = 0;
        loop {
            if rounds == max_rounds {
                return Err(TaskError::Permanent(format!(
                    "components: trees still hooking after {max_rounds} rounds; the \
                     candidate graph is too deep for this stage"
                )));
            }
            rounds += 1;
            let offers = self.offers(&adjacency, &labels)?;
            let hooks = self.hooks(&labels, &offers)?;
            remove(&offers);
            if hooks.is_empty() {
                // No root hooks: no edge joins two trees.
                break;
            }
            let parents = self.path(&format!("parents-{rounds:05}.run"));
            let jumps = self.hook(&labels, &hooks, &parents)?;
            remove(&hooks);
            remove(&[labels]);
            labels = self.shortcut(parents, jumps, rounds)?;
        }
        remove(&adjacency);
        let mut summary = self.clusters(&labels, &times, out)?;
        summary.rounds = rounds;
        summary.spilled_runs = self.spilled_runs;
        Ok(summary)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn sorter<T: Row>(&self, prefix: &'static str) -> Sorter<T> {
        Sorter::new(&self.dir, prefix, self.budget)
    }

    fn finish<T: Row>(&mut self, sorter: Sorter<T>) -> Result<Vec<PathBuf>, TaskError> {
        let runs = sorter.finish()?;
        self.spilled_runs += runs.len();
        Ok(runs)
    }

    fn tick(&mut self) -> Result<(), TaskError> {
        self.rows += 1;
        if self.rows.is_multiple_of(65536) && self.cancel.load(Ordering::Relaxed) {
            return Err(TaskError::Cancelled);
        }
        Ok(())
    }

    /// The nodes once each with their earliest time (`times`), and the
    /// first labels: every content its own.
    fn write_nodes(
        &mut self,
        mut nodes: Merge<impl MergeInput>,
        times: &Path,
        labels: &Path,
    ) -> Result<(), TaskError> {
        let mut times_out = RowWriter::create(times)?;
        let mut labels_out = RowWriter::create(labels)?;
        let mut current: Option<(u128, i64)> = None;
        let mut emit = |(content, time): (u128, i64)| -> Result<(), TaskError> {
            times_out.push(&Time { content, time })?;
            labels_out.push(&Pair {
                key: content,
                value: content,
            })
        };
        while let Some(row) = nodes.next_ref() {
            self.tick()?;
            let (key, value) = row.map_err(retry)?;
            let content = id_of(key, "node run content id")?;
            let time = time_of(value, "node run time")?;
            match current {
                // The same content from several partitions: its earliest time.
                Some((last, first)) if last == content => current = Some((last, first.min(time))),
                Some(done) if done.0 < content => {
                    emit(done)?;
                    current = Some((content, time));
                }
                Some(_) => {
                    return Err(TaskError::Permanent(
                        "node runs are not in content order".into(),
                    ));
                }
                None => current = Some((content, time)),
            }
        }
        if let Some(done) = current {
            emit(done)?;
        }
        times_out.close()?;
        labels_out.close()
    }

    /// Every edge in both directions, source ‖ target, sorted by source.
    fn adjacency(&mut self, mut edges: Merge<impl MergeInput>) -> Result<Vec<PathBuf>, TaskError> {
        let mut sorter = self.sorter("adjacency");
        while let Some(row) = edges.next_ref() {
            self.tick()?;
            let (key, _) = row.map_err(retry)?;
            if key.len() != 32 {
                return Err(TaskError::Permanent(format!(
                    "edge run key of {} bytes, expected 32",
                    key.len()
                )));
            }
            let (a, b) = (id_of(&key[..16], "edge")?, id_of(&key[16..], "edge")?);
            sorter.push(Edge { from: a, to: b })?;
            sorter.push(Edge { from: b, to: a })?;
        }
        self.finish(sorter)
    }

    /// Step 1: each edge offers its target the source's label, when that is
    /// smaller than the target (its own label is never larger): target →
    /// label, sorted by target.
    fn offers(&mut self, adjacency: &[PathBuf], labels: &Path) -> Result<Vec<PathBuf>, TaskError> {
        let mut sorter = self.sorter("offers");
        let mut label_of = Cursor::new(Rows::<Pair>::open(&[labels.to_path_buf()])?);
        let mut edges = Rows::<Edge>::open(adjacency)?;
        while let Some(Edge { from, to }) = edges.next()? {
            self.tick()?;
            let Some(label) = label_of.get(from)? else {
                return Err(TaskError::Permanent(
                    "an edge names a content missing from the node runs".into(),
                ));
            };
            if label.value < to {
                sorter.push(Pair {
                    key: to,
                    value: label.value,
                })?;
            }
        }
        self.finish(sorter)
    }

    /// Step 2: per target, its smallest offer when smaller than its root:
    /// root → offer, sorted by root.
    fn hooks(&mut self, labels: &Path, offers: &[PathBuf]) -> Result<Vec<PathBuf>, TaskError> {
        let mut hooks = self.sorter("hooks");
        let mut offers = Rows::<Pair>::open(offers)?;
        let mut labels = Rows::<Pair>::open(&[labels.to_path_buf()])?;
        while let Some(Pair {
            key: content,
            value: root,
        }) = labels.next()?
        {
            self.tick()?;
            let mut best = root;
            while let Some(offer) = offers.next_if(|o| o.key <= content)? {
                if offer.key != content {
                    return Err(TaskError::Permanent(
                        "components: an offer names a content missing from the labels".into(),
                    ));
                }
                best = best.min(offer.value);
            }
            if best < root {
                hooks.push(Pair {
                    key: root,
                    value: best,
                })?;
            }
        }
        if offers.next()?.is_some() {
            return Err(TaskError::Permanent(
                "components: an offer names a content missing from the labels".into(),
            ));
        }
        self.finish(hooks)
    }

    /// The labels with every hooked root under its smallest hook, written
    /// to `parents`; returns their jumps (see [`jumps_of`]), which
    /// [`Stage::shortcut`] calls hangs.
    fn hook(
        &mut self,
        labels: &Path,
        hooks: &[PathBuf],
        parents: &Path,
    ) -> Result<Sorter<Edge>, TaskError> {
        let mut out = RowWriter::create(parents)?;
        let mut jumps = self.sorter("hangs");
        let mut hooks = Rows::<Pair>::open(hooks)?;
        let mut labels = Rows::<Pair>::open(&[labels.to_path_buf()])?;
        while let Some(Pair {
            key: content,
            value: label,
        }) = labels.next()?
        {
            self.tick()?;
            let mut parent = label;
            while let Some(hook) = hooks.next_if(|h| h.key <= content)? {
                // Hooks name roots, which are contents labelled with themselves.
                if hook.key != content || label != content {
                    return Err(TaskError::Permanent(format!(
                        "components: a hook names {content:032x}, not a root"
                    )));
                }
                parent = parent.min(hook.value);
            }
            let row = Pair {
                key: content,
                value: parent,
            };
            out.push(&row)?;
            jumps_of(&row, &mut jumps)?;
        }
        if hooks.next()?.is_some() {
            return Err(TaskError::Permanent(
                "components: a hook names a content missing from the labels".into(),
            ));
        }
        out.close()?;
        Ok(jumps)
    }

    /// Step 3: the hooked forest back to stars; `hangs` are the jumps of
    /// `parents` (see [`jumps_of`]). Only the forest's inner contents —
    /// those some content hangs from — pointer-jump; every other content
    /// then takes its parent's root in one pass, so leaves (most contents
    /// of the cluster stage's stars) are not carried through every pass.
    /// Returns the path of the final labels (`labels-<round>.run`).
    fn shortcut(
        &mut self,
        parents: PathBuf,
        hangs: Sorter<Edge>,
        round: u32,
    ) -> Result<PathBuf, TaskError> {
        let hangs = self.finish(hangs)?;
        let inner = self.path(&format!("inner-{round:05}.run"));
        let jumps = self.inner(&hangs, &parents, &inner)?;
        let roots = self.pointer_jump(inner, jumps, round)?;
        let moves = self.settle(&hangs, &roots)?;
        remove(&hangs);
        remove(&[roots]);
        let labels = self.path(&format!("labels-{round:05}.run"));
        self.apply(&parents, &moves, &labels, None)?;
        remove(&moves);
        remove(&[parents]);
        Ok(labels)
    }

    /// The inner contents of the forest with their parents, written to
    /// `inner` in content order, from `hangs` (parent ‖ content, by
    /// parent); returns their jumps.
    fn inner(
        &mut self,
        hangs: &[PathBuf],
        parents: &Path,
        inner: &Path,
    ) -> Result<Sorter<Edge>, TaskError> {
        let mut out = RowWriter::create(inner)?;
        let mut jumps = self.sorter("jumps");
        let mut parent_of = Cursor::new(Rows::<Pair>::open(&[parents.to_path_buf()])?);
        let mut rows = Rows::<Edge>::open(hangs)?;
        let mut last = None;
        while let Some(Edge { from: via, .. }) = rows.next()? {
            self.tick()?;
            if last == Some(via) {
                continue;
            }
            last = Some(via);
            let Some(row) = parent_of.get(via)? else {
                return Err(TaskError::Permanent(format!(
                    "components: label {via:032x} is no content's"
                )));
            };
            out.push(&row)?;
            jumps_of(&row, &mut jumps)?;
        }
        out.close()?;
        Ok(jumps)
    }

    /// Pointer jumping over `parents` (closed under parent) until every
    /// parent is a root; `jumps` are those of `parents`. Returns the path
    /// of the result (`inner-<round>-<pass>.run`).
    fn pointer_jump(
        &mut self,
        mut parents: PathBuf,
        mut jumps: Sorter<Edge>,
        round: u32,
    ) -> Result<PathBuf, TaskError> {
        // Each pass halves the depth of the forest, so 128 passes cover any
        // depth a u128 id space allows: more means a broken invariant.
        for pass in 0..128u32 {
            let (moves, moved) = self.jump(jumps, &parents)?;
            if moved == 0 {
                remove(&moves);
                return Ok(parents);
            }
            let next = self.path(&format!("inner-{round:05}-{pass:03}.run"));
            jumps = self.sorter("jumps");
            self.apply(&parents, &moves, &next, Some(&mut jumps))?;
            remove(&moves);
            remove(&[parents]);
            parents = next;
        }
        Err(TaskError::Permanent(
            "components: labels still moving after 128 shortcut passes".into(),
        ))
    }

    /// Every content hanging from an inner content takes that one's root
    /// (`roots`, in content order): content → root, sorted by content,
    /// where that is not its parent already.
    fn settle(&mut self, hangs: &[PathBuf], roots: &Path) -> Result<Vec<PathBuf>, TaskError> {
        let mut moves = self.sorter("settled");
        let mut root_of = Cursor::new(Rows::<Pair>::open(&[roots.to_path_buf()])?);
        let mut rows = Rows::<Edge>::open(hangs)?;
        while let Some(Edge { from: via, to }) = rows.next()? {
            self.tick()?;
            let Some(root) = root_of.get(via)? else {
                return Err(TaskError::Permanent(format!(
                    "components: label {via:032x} is no inner content's"
                )));
            };
            if root.value != via {
                moves.push(Pair {
                    key: to,
                    value: root.value,
                })?;
            }
        }
        self.finish(moves)
    }

    /// One shortcut pass: a content whose parent is `w` takes `w`'s
    /// parent when that is smaller: content → new parent, sorted by
    /// content, and how many moved.
    fn jump(
        &mut self,
        jumps: Sorter<Edge>,
        parents: &Path,
    ) -> Result<(Vec<PathBuf>, u64), TaskError> {
        let jumps = self.finish(jumps)?;
        let mut sorter = self.sorter("moves");
        let mut parent_of = Cursor::new(Rows::<Pair>::open(&[parents.to_path_buf()])?);
        let mut moved = 0u64;
        let mut rows = Rows::<Edge>::open(&jumps)?;
        while let Some(Edge { from: via, to }) = rows.next()? {
            self.tick()?;
            let Some(parent) = parent_of.get(via)? else {
                return Err(TaskError::Permanent(format!(
                    "components: label {via:032x} is no content's"
                )));
            };
            if parent.value < via {
                moved += 1;
                sorter.push(Pair {
                    key: to,
                    value: parent.value,
                })?;
            }
        }
        remove(&jumps);
        Ok((self.finish(sorter)?, moved))
    }

    /// The parents with the moves applied, written to `next`. With
    /// `jumps`, the next pass's jumps go there: those of the moved rows
    /// only, as a content that did not move hangs from a root (its parent's
    /// parent was not smaller) and roots stay roots.
    fn apply(
        &mut self,
        parents: &Path,
        moves: &[PathBuf],
        next: &Path,
        mut jumps: Option<&mut Sorter<Edge>>,
    ) -> Result<(), TaskError> {
        let mut out = RowWriter::create(next)?;
        let mut moves = Rows::<Pair>::open(moves)?;
        let mut rows = Rows::<Pair>::open(&[parents.to_path_buf()])?;
        while let Some(mut row) = rows.next()? {
            self.tick()?;
            if let Some(moved) = moves.next_if(|m| m.key <= row.key)? {
                if moved.key != row.key {
                    return Err(TaskError::Permanent(
                        "components: a jump names a content missing from the labels".into(),
                    ));
                }
                row.value = moved.value;
                if let Some(jumps) = jumps.as_deref_mut() {
                    jumps_of(&row, jumps)?;
                }
            }
            out.push(&row)?;
        }
        if moves.next()?.is_some() {
            return Err(TaskError::Permanent(
                "components: a jump names a content missing from the labels".into(),
            ));
        }
        out.close()
    }

    /// The final labels → clusters: sorted by label (cluster id), each
    /// cluster's keeper and size, then every member's row in content order.
    fn clusters<W: std::io::Write>(
        &mut self,
        labels: &Path,
        times: &Path,
        out: &mut RunWriter<W>,
    ) -> Result<Components, TaskError> {
        let mut members = self.sorter("members");
        let mut times_rows = Rows::<Time>::open(&[times.to_path_buf()])?;
        let mut labels_rows = Rows::<Pair>::open(&[labels.to_path_buf()])?;
        while let Some(Pair {
            key: content,
            value: label,
        }) = labels_rows.next()?
        {
            self.tick()?;
            let time = times_rows
                .next()?
                .ok_or_else(|| TaskError::Permanent("components: a label without a time".into()))?;
            if time.content != content {
                return Err(TaskError::Permanent(
                    "components: labels and times disagree on the contents".into(),
                ));
            }
            members.push(Member {
                label,
                content,
                time: time.time,
            })?;
        }
        drop((times_rows, labels_rows));
        remove(&[labels.to_path_buf(), times.to_path_buf()]);
        let members = self.finish(members)?;

        // Per cluster id, its keeper and size (label order).
        let summaries = self.path("summaries.run");
        let mut summary_out = RowWriter::create(&summaries)?;
        let mut summary = Components::default();
        let mut current: Option<(u128, (i64, u128), u64)> = None;
        let mut emit = |(label, (_, keeper), size): (u128, (i64, u128), u64)| {
            if size > 1 {
                summary.clusters += 1;
            }
            summary_out.push(&Summary {
                label,
                keeper,
                size,
            })
        };
        let mut rows = Rows::<Member>::open(&members)?;
        while let Some(Member {
            label,
            content,
            time,
        }) = rows.next()?
        {
            self.tick()?;
            match &mut current {
                Some((cluster, keeper, size)) if *cluster == label => {
                    *size += 1;
                    if provindex_policy::keeper::precedes((time, content), *keeper) {
                        *keeper = (time, content);
                    }
                }
                _ => {
                    if let Some(done) = current.take() {
                        emit(done)?;
                    }
                    current = Some((label, (time, content), 1));
                }
            }
        }
        if let Some(done) = current {
            emit(done)?;
        }
        summary_out.close()?;

        // Every member of a cluster of more than one, by content id.
        let mut clustered = self.sorter("rows");
        let mut summary_of = Cursor::new(Rows::<Summary>::open(std::slice::from_ref(&summaries))?);
        let mut rows = Rows::<Member>::open(&members)?;
        while let Some(Member { label, content, .. }) = rows.next()? {
            self.tick()?;
            let Some(cluster) = summary_of.get(label)? else {
                return Err(TaskError::Permanent(format!(
                    "components: cluster {label:032x} has no summary"
                )));
            };
            if cluster.size < 2 {
                continue;
            }
            clustered.push(Clustered {
                content,
                label,
                keeper: cluster.keeper,
                size: cluster.size,
            })?;
        }
        drop((rows, summary_of));
        remove(&members);
        remove(&[summaries]);
        let clustered = self.finish(clustered)?;
        let mut rows = Rows::<Clustered>::open(&clustered)?;
        let mut bytes = [0u8; Clustered::LEN];
        while let Some(row) = rows.next()? {
            self.tick()?;
            row.put(&mut bytes);
            out.push(&bytes[..Clustered::KEY], &bytes[Clustered::KEY..])
                .map_err(retry)?;
            summary.clustered_contents += 1;
        }
        drop(rows);
        remove(&clustered);
        Ok(summary)
    }
}

/// The shortcut pass's jumps of one parents row: `parent ‖ content` for a
/// content that is not a root, sorted by parent to look the parent's own
/// parent up.
fn jumps_of(row: &Pair, jumps: &mut Sorter<Edge>) -> Result<(), TaskError> {
    if row.value != row.key {
        jumps.push(Edge {
            from: row.value,
            to: row.key,
        })?;
    }
    Ok(())
}

/// A fixed-width row of one of the stage's runs: key ‖ value, big-endian
/// integers field by field, so the derived order on the fields (key fields
/// first) is the runs' byte order of keys, and sorting rows sorts the run.
trait Row: Copy + Ord {
    /// Bytes of the key; the value is the rest of [`Row::LEN`].
    const KEY: usize;
    /// Bytes of key and value.
    const LEN: usize;
    /// Writes the row's `LEN` bytes.
    fn put(&self, bytes: &mut [u8]);
    /// The row of `LEN` bytes.
    fn get(bytes: &[u8]) -> Self;
    /// The leading content id of the key (what [`Cursor`] looks up).
    fn id(&self) -> u128;
}

/// The widest [`Row::LEN`].
const MAX_ROW: usize = 56;

fn u128_at(bytes: &[u8], at: usize) -> u128 {
    u128::from_be_bytes(bytes[at..at + 16].try_into().expect("16 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// A content id → content id run: labels, parents, offers (target →
/// label), hooks (root → offer), moves (content → new parent).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pair {
    key: u128,
    value: u128,
}

impl Row for Pair {
    const KEY: usize = 16;
    const LEN: usize = 32;
    fn put(&self, bytes: &mut [u8]) {
        bytes[..16].copy_from_slice(&self.key.to_be_bytes());
        bytes[16..32].copy_from_slice(&self.value.to_be_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        Pair {
            key: u128_at(bytes, 0),
            value: u128_at(bytes, 16),
        }
    }
    fn id(&self) -> u128 {
        self.key
    }
}

/// Two content ids as the key, no value: adjacency (source ‖ target) and
/// jumps (parent ‖ content).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: u128,
    to: u128,
}

impl Row for Edge {
    const KEY: usize = 32;
    const LEN: usize = 32;
    fn put(&self, bytes: &mut [u8]) {
        bytes[..16].copy_from_slice(&self.from.to_be_bytes());
        bytes[16..32].copy_from_slice(&self.to.to_be_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        Edge {
            from: u128_at(bytes, 0),
            to: u128_at(bytes, 16),
        }
    }
    fn id(&self) -> u128 {
        self.from
    }
}

/// Content → earliest capture time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Time {
    content: u128,
    time: i64,
}

impl Row for Time {
    const KEY: usize = 16;
    const LEN: usize = 24;
    fn put(&self, bytes: &mut [u8]) {
        bytes[..16].copy_from_slice(&self.content.to_be_bytes());
        bytes[16..24].copy_from_slice(&self.time.to_be_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        Time {
            content: u128_at(bytes, 0),
            time: u64_at(bytes, 16) as i64,
        }
    }
    fn id(&self) -> u128 {
        self.content
    }
}

/// Label ‖ content → time: the members of each cluster (keys are unique,
/// so the time's order never matters).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Member {
    label: u128,
    content: u128,
    time: i64,
}

impl Row for Member {
    const KEY: usize = 32;
    const LEN: usize = 40;
    fn put(&self, bytes: &mut [u8]) {
        bytes[..16].copy_from_slice(&self.label.to_be_bytes());
        bytes[16..32].copy_from_slice(&self.content.to_be_bytes());
        bytes[32..40].copy_from_slice(&self.time.to_be_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        Member {
            label: u128_at(bytes, 0),
            content: u128_at(bytes, 16),
            time: u64_at(bytes, 32) as i64,
        }
    }
    fn id(&self) -> u128 {
        self.label
    }
}

/// Cluster id → keeper ‖ size.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Summary {
    label: u128,
    keeper: u128,
    size: u64,
}

impl Row for Summary {
    const KEY: usize = 16;
    const LEN: usize = 40;
    fn put(&self, bytes: &mut [u8]) {
        bytes[..16].copy_from_slice(&self.label.to_be_bytes());
        bytes[16..32].copy_from_slice(&self.keeper.to_be_bytes());
        bytes[32..40].copy_from_slice(&self.size.to_be_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        Summary {
            label: u128_at(bytes, 0),
            keeper: u128_at(bytes, 16),
            size: u64_at(bytes, 32),
        }
    }
    fn id(&self) -> u128 {
        self.label
    }
}

/// A `clusters.run` row: content → cluster id ‖ keeper ‖ size.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Clustered {
    content: u128,
    label: u128,
    keeper: u128,
    size: u64,
}

impl Row for Clustered {
    const KEY: usize = 16;
    const LEN: usize = 56;
    fn put(&self, bytes: &mut [u8]) {
        bytes[..16].copy_from_slice(&self.content.to_be_bytes());
        bytes[16..32].copy_from_slice(&self.label.to_be_bytes());
        bytes[32..48].copy_from_slice(&self.keeper.to_be_bytes());
        bytes[48..56].copy_from_slice(&self.size.to_be_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        Clustered {
            content: u128_at(bytes, 0),
            label: u128_at(bytes, 16),
            keeper: u128_at(bytes, 32),
            size: u64_at(bytes, 48),
        }
    }
    fn id(&self) -> u128 {
        self.content
    }
}

/// External sort of rows: buffers up to `budget` bytes of rows, sorts them
/// (unstably: rows equal in every field are interchangeable) and spills
/// them as the run `{dir}/{prefix}-{n:05}.run`.
struct Sorter<T> {
    dir: PathBuf,
    prefix: &'static str,
    /// Rows buffered before a spill.
    limit: usize,
    rows: Vec<T>,
    runs: Vec<PathBuf>,
}

impl<T: Row> Sorter<T> {
    fn new(dir: &Path, prefix: &'static str, budget: usize) -> Self {
        Sorter {
            dir: dir.to_path_buf(),
            prefix,
            limit: (budget / size_of::<T>()).max(1),
            rows: Vec::new(),
            runs: Vec::new(),
        }
    }

    fn push(&mut self, row: T) -> Result<(), TaskError> {
        if self.rows.len() == self.limit {
            self.spill()?;
        }
        if self.rows.len() == self.rows.capacity() {
            // Grow by doubling, but never past the budget.
            let want = (self.rows.len() * 2).max(1024).min(self.limit);
            self.rows.reserve_exact(want - self.rows.len());
        }
        self.rows.push(row);
        Ok(())
    }

    fn spill(&mut self) -> Result<(), TaskError> {
        let path = self
            .dir
            .join(format!("{}-{:05}.run", self.prefix, self.runs.len()));
        self.rows.sort_unstable();
        let mut out = RowWriter::create(&path)?;
        for row in &self.rows {
            out.push(row)?;
        }
        out.close()?;
        self.rows.clear();
        self.runs.push(path);
        Ok(())
    }

    /// Spills what is buffered; every run in spill order.
    fn finish(mut self) -> Result<Vec<PathBuf>, TaskError> {
        if !self.rows.is_empty() {
            self.spill()?;
        }
        Ok(self.runs)
    }
}

/// A run file of rows being written.
struct RowWriter {
    run: RunWriter<File>,
}

impl RowWriter {
    fn create(path: &Path) -> Result<Self, TaskError> {
        let file =
            File::create(path).map_err(|e| TaskError::Retry(format!("{}: {e}", path.display())))?;
        let run = RunWriter::new(file, &path.display().to_string()).map_err(retry)?;
        Ok(RowWriter { run })
    }

    fn push<T: Row>(&mut self, row: &T) -> Result<(), TaskError> {
        let mut bytes = [0u8; MAX_ROW];
        row.put(&mut bytes[..T::LEN]);
        self.run
            .push(&bytes[..T::KEY], &bytes[T::KEY..T::LEN])
            .map_err(retry)
    }

    fn close(self) -> Result<(), TaskError> {
        // finish flushes into the file; nothing of it is buffered here.
        self.run.finish().map(drop).map_err(retry)
    }
}

/// The k-way merge of sorted run files of rows (the runs crate's, each row
/// read in place and checked to be `T`'s width), with one row of lookahead
/// for merge joins.
struct Rows<T> {
    merged: Merge<RunReader<BufReader<File>>>,
    peeked: Option<T>,
}

impl<T: Row> Rows<T> {
    fn open(paths: &[PathBuf]) -> Result<Self, TaskError> {
        let runs = paths
            .iter()
            .map(|path| provindex_runs::open_file(path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(retry)?;
        Ok(Rows {
            merged: Merge::new(runs),
            peeked: None,
        })
    }

    fn pull(&mut self) -> Result<Option<T>, TaskError> {
        let mut bytes = [0u8; MAX_ROW];
        let (key, value) = match self.merged.next_ref() {
            None => return Ok(None),
            Some(Err(e)) => return Err(retry(e)),
            Some(Ok((key, value))) => {
                if key.len() == T::KEY && key.len() + value.len() == T::LEN {
                    bytes[..T::KEY].copy_from_slice(key);
                    bytes[T::KEY..T::LEN].copy_from_slice(value);
                    return Ok(Some(T::get(&bytes[..T::LEN])));
                }
                (key.len(), value.len())
            }
        };
        let run = &self.merged.inputs()[self.merged.taken_from().unwrap_or_default()];
        Err(TaskError::Permanent(format!(
            "components: run {} record {}: {key}-byte key and {value}-byte value, expected {} and {}",
            run.name(),
            run.records_read() - 1,
            T::KEY,
            T::LEN - T::KEY
        )))
    }

    fn next(&mut self) -> Result<Option<T>, TaskError> {
        match self.peeked.take() {
            Some(row) => Ok(Some(row)),
            None => self.pull(),
        }
    }

    /// The next row if `take` accepts it.
    fn next_if(&mut self, take: impl FnOnce(&T) -> bool) -> Result<Option<T>, TaskError> {
        let row = match self.peeked.take() {
            Some(row) => row,
            None => match self.pull()? {
                Some(row) => row,
                None => return Ok(None),
            },
        };
        if take(&row) {
            Ok(Some(row))
        } else {
            self.peeked = Some(row);
            Ok(None)
        }
    }
}

/// A merge join's side: the row of each id asked for, ids asked in
/// non-decreasing order, over rows of unique ids.
struct Cursor<T> {
    rows: Rows<T>,
    current: Option<T>,
    done: bool,
}

impl<T: Row> Cursor<T> {
    fn new(rows: Rows<T>) -> Self {
        Self {
            rows,
            current: None,
            done: false,
        }
    }

    fn get(&mut self, id: u128) -> Result<Option<T>, TaskError> {
        loop {
            match self.current {
                Some(row) if row.id() >= id => return Ok((row.id() == id).then_some(row)),
                _ if self.done => return Ok(None),
                _ => {}
            }
            self.current = self.rows.next()?;
            self.done = self.current.is_none();
        }
    }
}

/// Scratch files no longer needed (a failed removal only costs disk
/// until the task's scratch is removed).
fn remove(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}

fn retry(e: RunError) -> TaskError {
    // Our own scratch runs, or a staged input run torn in transfer.
    TaskError::Retry(e.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use provindex_runs::{IterInput, Record};

    use super::*;

    /// Rows as one merge input, as the staged runs give them.
    fn input<I: Iterator<Item = Result<Record, RunError>>>(rows: I) -> Merge<IterInput<I>> {
        Merge::new(vec![IterInput::new(rows, "rows")])
    }

    /// The stage before issue 17's bound, kept as the reference: union-find
    /// over every candidate, the root the smallest id, the keeper by
    /// `precedes`, rows of clusters of more than one in content order.
    fn reference(
        nodes: impl IntoIterator<Item = (u128, i64)>,
        edges: impl IntoIterator<Item = (u128, u128)>,
    ) -> Vec<Record> {
        let mut rows = Vec::new();
        reference_rows(nodes, edges, |row| rows.push(row));
        rows
    }

    /// [`reference`]'s rows handed to `emit` in order, as the old stage
    /// streamed them to its run writer.
    fn reference_rows(
        nodes: impl IntoIterator<Item = (u128, i64)>,
        edges: impl IntoIterator<Item = (u128, u128)>,
        mut emit: impl FnMut(Record),
    ) {
        let mut first_seen: HashMap<u128, i64> = HashMap::new();
        for (content, time) in nodes {
            first_seen
                .entry(content)
                .and_modify(|t| *t = (*t).min(time))
                .or_insert(time);
        }
        let mut ids: Vec<u128> = first_seen.keys().copied().collect();
        ids.sort_unstable();
        let position: HashMap<u128, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut parent: Vec<usize> = (0..ids.len()).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for (a, b) in edges {
            let (ra, rb) = (
                find(&mut parent, position[&a]),
                find(&mut parent, position[&b]),
            );
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
        let mut clusters: HashMap<usize, (usize, u64)> = HashMap::new();
        for i in 0..ids.len() {
            let root = find(&mut parent, i);
            let entry = clusters.entry(root).or_insert((i, 0));
            entry.1 += 1;
            if provindex_policy::keeper::precedes(
                (first_seen[&ids[i]], ids[i]),
                (first_seen[&ids[entry.0]], ids[entry.0]),
            ) {
                entry.0 = i;
            }
        }
        for (i, id) in ids.iter().enumerate() {
            let root = find(&mut parent, i);
            let (keeper, size) = clusters[&root];
            if size < 2 {
                continue;
            }
            let mut value = ids[root].to_be_bytes().to_vec();
            value.extend_from_slice(&ids[keeper].to_be_bytes());
            value.extend_from_slice(&size.to_be_bytes());
            emit((id.to_be_bytes().to_vec(), value));
        }
    }

    /// Rows as the merged staged runs give them: sorted by key.
    fn node_rows(nodes: &[(u128, i64)]) -> Vec<Result<Record, RunError>> {
        let mut rows: Vec<Record> = nodes
            .iter()
            .map(|(c, t)| (c.to_be_bytes().to_vec(), t.to_be_bytes().to_vec()))
            .collect();
        rows.sort();
        rows.into_iter().map(Ok).collect()
    }

    fn edge_rows(edges: &[(u128, u128)]) -> Vec<Result<Record, RunError>> {
        let mut rows: Vec<Record> = edges
            .iter()
            .map(|(a, b)| {
                let mut key = a.to_be_bytes().to_vec();
                key.extend_from_slice(&b.to_be_bytes());
                (key, Vec::new())
            })
            .collect();
        rows.sort();
        rows.into_iter().map(Ok).collect()
    }

    fn run(
        nodes: &[(u128, i64)],
        edges: &[(u128, u128)],
        budget: usize,
        max_rounds: u32,
    ) -> Result<(Vec<Record>, Components), TaskError> {
        let scratch = tempfile::tempdir().unwrap();
        let mut out = RunWriter::new(Vec::new(), "clusters.run").unwrap();
        let found = components(
            input(node_rows(nodes).into_iter()),
            input(edge_rows(edges).into_iter()),
            scratch.path(),
            budget,
            max_rounds,
            &AtomicBool::new(false),
            &mut out,
        )?;
        let (_, bytes) = out.finish().unwrap();
        let rows = RunReader::new(&bytes[..], "clusters.run")
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        Ok((rows, found))
    }

    /// splitmix64: deterministic pseudo-random graphs without a dependency.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Nodes (content, time) and edges of a test graph.
    type Graph = (Vec<(u128, i64)>, Vec<(u128, u128)>);

    /// A graph like the cluster stage's: buckets of random members, each a
    /// star to its smallest member, plus chains (a content shares a band
    /// with the next one only), contents seen with several times, and ties
    /// of times so the keeper's id rule matters.
    fn random_graph(seed: u64, contents: usize) -> Graph {
        let mut random = Random(seed);
        let ids: Vec<u128> = (0..contents)
            .map(|_| (u128::from(random.next()) << 64) | u128::from(random.next() % 1000))
            .collect();
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        let mut bucket = |members: Vec<u128>, nodes: &mut Vec<(u128, i64)>, random: &mut Random| {
            let root = *members.iter().min().unwrap_or(&0);
            for member in &members {
                nodes.push((*member, (random.next() % 5) as i64));
                if *member != root {
                    edges.push((*member, root));
                }
            }
        };
        for _ in 0..contents / 3 {
            let size = 2 + random.below(4);
            let members: Vec<u128> = (0..size).map(|_| ids[random.below(contents)]).collect();
            let mut members = members;
            members.sort_unstable();
            members.dedup();
            bucket(members, &mut nodes, &mut random);
        }
        for _ in 0..3 {
            let start = random.below(contents);
            let length = random.below(contents / 4 + 2);
            for i in start..(start + length).min(contents - 1) {
                bucket(vec![ids[i], ids[i + 1]], &mut nodes, &mut random);
            }
        }
        (nodes, edges)
    }

    #[test]
    fn matches_union_find_on_random_graphs() {
        for seed in 0..40 {
            let (nodes, edges) = random_graph(seed, 10 + (seed as usize) * 7);
            let expected = reference(nodes.iter().copied(), edges.iter().copied());
            let (rows, found) = run(&nodes, &edges, 64 << 20, MAX_ROUNDS).unwrap();
            assert_eq!(rows, expected, "seed {seed}");
            assert_eq!(found.clustered_contents, expected.len() as u64);
            let clusters: std::collections::HashSet<&[u8]> =
                expected.iter().map(|(_, v)| &v[..16]).collect();
            assert_eq!(found.clusters, clusters.len() as u64, "seed {seed}");
        }
    }

    #[test]
    fn a_tiny_budget_spills_and_gives_the_same_clusters() {
        let (nodes, edges) = random_graph(7, 400);
        let expected = reference(nodes.iter().copied(), edges.iter().copied());
        assert!(
            expected.len() > 100,
            "the graph should cluster most contents"
        );
        let (rows, found) = run(&nodes, &edges, 1 << 10, MAX_ROUNDS).unwrap();
        assert_eq!(rows, expected);
        assert!(
            found.spilled_runs > 100,
            "a 1 KiB budget should spill many runs, spilled {}",
            found.spilled_runs
        );
    }

    /// Chains need hooking and shortcutting: one edge per round would take n
    /// rounds.
    #[test]
    fn long_chains_take_few_rounds() {
        let n = 4096u128;
        let mut random = Random(3);
        let mut shuffled: Vec<u128> = (1..=n).collect();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, random.below(i + 1));
        }
        let orders: [(&str, Vec<u128>); 4] = [
            ("ascending", (1..=n).collect()),
            ("descending", (1..=n).rev().collect()),
            ("smallest in the middle", {
                let mut v: Vec<u128> = (1..=n).rev().filter(|id| id % 2 == 1).collect();
                v.extend((2..=n).step_by(2));
                v
            }),
            ("shuffled", shuffled),
        ];
        for (name, path) in orders {
            let nodes: Vec<(u128, i64)> = path
                .iter()
                .map(|id| (*id, 100 - (*id % 7) as i64))
                .collect();
            // Each edge from the larger id to the smaller, as the cluster stage writes them.
            let edges: Vec<(u128, u128)> = path
                .windows(2)
                .map(|w| (w[0].max(w[1]), w[0].min(w[1])))
                .collect();
            let expected = reference(nodes.iter().copied(), edges.iter().copied());
            let (rows, found) = run(&nodes, &edges, 64 << 20, MAX_ROUNDS).unwrap();
            assert_eq!(rows, expected, "{name}");
            assert_eq!((found.clusters, found.clustered_contents), (1, n as u64));
            // Hooking leaves at most the local minima of a chain's trees: about
            // log2(4096) = 12 rounds; one edge per round would take thousands.
            assert!(found.rounds <= 16, "{name}: {} rounds", found.rounds);
        }
    }

    #[test]
    fn the_round_limit_fails_the_task_permanently() {
        // A chain whose ids zigzag needs several rounds of hooking.
        let mut random = Random(11);
        let mut path: Vec<u128> = (1..=256).collect();
        for i in (1..path.len()).rev() {
            path.swap(i, random.below(i + 1));
        }
        let nodes: Vec<(u128, i64)> = path.iter().map(|id| (*id, 0)).collect();
        let edges: Vec<(u128, u128)> = path
            .windows(2)
            .map(|w| (w[0].max(w[1]), w[0].min(w[1])))
            .collect();
        let (rows, found) = run(&nodes, &edges, 64 << 20, MAX_ROUNDS).unwrap();
        assert_eq!(rows.len(), 256);
        assert!(found.rounds > 2, "{} rounds", found.rounds);
        let limit = found.rounds - 1;
        let error = run(&nodes, &edges, 64 << 20, limit).unwrap_err();
        assert!(error.is_permanent(), "{error}");
        assert!(
            error.to_string().contains(&format!("after {limit} rounds")),
            "{error}"
        );
    }

    #[test]
    fn an_edge_to_an_unknown_content_is_permanent() {
        let nodes = [(1u128, 0i64), (2, 0)];
        let error = run(&nodes, &[(2, 1), (3, 1)], 64 << 20, MAX_ROUNDS).unwrap_err();
        assert!(error.is_permanent());
        assert!(
            error
                .to_string()
                .contains("an edge names a content missing from the node runs"),
            "{error}"
        );
    }

    #[test]
    fn singletons_and_no_edges_give_no_rows() {
        let (rows, found) = run(&[(5, 1), (9, 0)], &[], 64 << 20, MAX_ROUNDS).unwrap();
        assert!(rows.is_empty());
        assert_eq!((found.clusters, found.clustered_contents), (0, 0));
    }

    /// Peak memory of this stage against the union-find it replaced, on a
    /// synthetic graph streamed in order (no input held in memory): stars
    /// of 8 contents, their roots chained 64 at a time. Run one side per
    /// process, as nextest does:
    /// `COMPONENTS_MEASURE=new|reference COMPONENTS_CONTENTS=4000000 cargo
    /// nextest run --workspace --all-targets --run-ignored only -E
    /// 'test(measure_peak_memory)' --no-capture`.
    #[test]
    #[ignore = "a measurement, run by hand"]
    fn measure_peak_memory() {
        let side = std::env::var("COMPONENTS_MEASURE").unwrap_or_else(|_| "new".into());
        let contents: u64 = std::env::var("COMPONENTS_CONTENTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        let id = |i: u64| (u128::from(i) << 64) | u128::from(i.wrapping_mul(0x9e37_79b9));
        let nodes = move || (0..contents).map(move |i| (id(i), (i % 5) as i64));
        let edges = move || {
            (0..contents).filter_map(move |i| match (i % 8, (i / 8) % 64) {
                (0, 0) => None,
                (0, _) => Some((id(i), id(i - 8))),
                (m, _) => Some((id(i), id(i - m))),
            })
        };
        let start = std::time::Instant::now();
        let rows = if side == "reference" {
            let mut rows = 0u64;
            reference_rows(nodes(), edges(), |_| rows += 1);
            rows
        } else {
            let scratch = tempfile::tempdir().unwrap();
            let mut out = RunWriter::new(std::io::sink(), "clusters.run").unwrap();
            let found = components(
                input(
                    nodes().map(|(c, t)| Ok((c.to_be_bytes().to_vec(), t.to_be_bytes().to_vec()))),
                ),
                input(edges().map(|(a, b)| {
                    let mut key = a.to_be_bytes().to_vec();
                    key.extend_from_slice(&b.to_be_bytes());
                    Ok((key, Vec::new()))
                })),
                scratch.path(),
                crate::tasks::SORT_BUDGET,
                MAX_ROUNDS,
                &AtomicBool::new(false),
                &mut out,
            )
            .unwrap();
            println!("{found:?}");
            found.clustered_contents
        };
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let peak = status
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap_or("VmHWM: ?");
        println!(
            "{side}: {contents} contents, {rows} rows, {peak}, {:.1} s",
            start.elapsed().as_secs_f64()
        );
        assert_eq!(rows, contents);
    }
}
