use crate::{Record, RecordRef, RunError};

/// An input of [`Merge`]: records in non-decreasing key order, the current
/// one held in place so the merge can compare it without copying.
///
/// [`crate::RunReader`] is one (its order and damage are checked by the
/// reader: [`RunError::Corrupt`] naming the run and the byte offset);
/// [`IterInput`] adapts an iterator of owned records.
pub trait MergeInput {
    /// Moves to the next record and returns it; `Ok(None)` at the end.
    /// Not called again after the end or an error.
    fn advance(&mut self) -> Result<Option<RecordRef<'_>>, RunError>;

    /// The record the last `advance` returned.
    fn current(&self) -> RecordRef<'_>;
}

/// An iterator of owned records as a [`MergeInput`]. It checks the order
/// itself: a key smaller than the previous one is
/// [`RunError::OutOfOrder`] with the input's name and the record's index.
pub struct IterInput<I> {
    iter: I,
    name: String,
    record: Record,
    records: u64,
}

impl<I> IterInput<I>
where
    I: Iterator<Item = Result<Record, RunError>>,
{
    /// `name` is used in errors.
    pub fn new(iter: I, name: &str) -> Self {
        IterInput {
            iter,
            name: name.to_owned(),
            record: Record::default(),
            records: 0,
        }
    }
}

impl<I> MergeInput for IterInput<I>
where
    I: Iterator<Item = Result<Record, RunError>>,
{
    fn advance(&mut self) -> Result<Option<RecordRef<'_>>, RunError> {
        match self.iter.next() {
            None => Ok(None),
            Some(Err(e)) => Err(e),
            Some(Ok(record)) => {
                if self.records > 0 && crate::key_less(&record.0, &self.record.0) {
                    return Err(RunError::OutOfOrder {
                        name: self.name.clone(),
                        record: self.records,
                    });
                }
                self.record = record;
                self.records += 1;
                Ok(Some((&self.record.0, &self.record.1)))
            }
        }
    }

    fn current(&self) -> RecordRef<'_> {
        (&self.record.0, &self.record.1)
    }
}

/// K-way merge of sorted inputs by key, lending each record from the input
/// it comes from ([`Merge::next_ref`]): nothing is copied or allocated per
/// record.
///
/// Equal keys come out in input order (input 0 first), and within an input
/// in that input's own order, so the output is deterministic for a given
/// order of the inputs. The first error of any input is returned after the
/// records that precede it (an input is read past a record only when that
/// record has been handed out) and ends the merge: every later call gives
/// `None`.
///
/// A loser tree over the inputs: each record costs about log2(k) key
/// comparisons, and an input is read only when its record has been taken.
pub struct Merge<S> {
    inputs: Vec<S>,
    /// Whether each input holds a current record (not at its end).
    live: Vec<bool>,
    /// `tree[0]`: the input whose record is next; `tree[1..k]`: the losers
    /// of the matches at the inner nodes (node n's children are 2n and
    /// 2n + 1; input i is the leaf k + i).
    tree: Vec<usize>,
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// No input read yet.
    Start,
    /// `tree[0]`'s current record is the next one.
    Ready,
    /// `tree[0]`'s current record was handed out: advance it first.
    Taken,
    Done,
}

impl<S: MergeInput> Merge<S> {
    /// A merge of `inputs`; nothing is read before the first call.
    pub fn new(inputs: Vec<S>) -> Self {
        let k = inputs.len();
        Merge {
            inputs,
            live: vec![false; k],
            tree: vec![0; k.max(1)],
            state: State::Start,
        }
    }

    /// The next record, valid until the next call. Same records, errors
    /// and end as [`merge`]'s iterator, without the copies.
    pub fn next_ref(&mut self) -> Option<Result<RecordRef<'_>, RunError>> {
        if self.inputs.len() == 1 {
            // One input (most of the components stage's reads): its
            // records as they come, no tree.
            return match self.state {
                State::Done => None,
                State::Ready => {
                    self.state = State::Taken;
                    Some(Ok(self.inputs[0].current()))
                }
                State::Start | State::Taken => match self.inputs[0].advance() {
                    Ok(Some(record)) => {
                        self.state = State::Taken;
                        Some(Ok(record))
                    }
                    Ok(None) => {
                        self.state = State::Done;
                        None
                    }
                    Err(e) => {
                        self.state = State::Done;
                        Some(Err(e))
                    }
                },
            };
        }
        match self.ready() {
            Ok(true) => {
                self.state = State::Taken;
                Some(Ok(self.inputs[self.tree[0]].current()))
            }
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// The record [`Merge::next_ref`] would return next, without taking
    /// it. An error found here is returned here, once, and ends the merge.
    pub fn peek_ref(&mut self) -> Option<Result<RecordRef<'_>, RunError>> {
        match self.ready() {
            Ok(true) => Some(Ok(self.inputs[self.tree[0]].current())),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// The inputs in the order given.
    pub fn inputs(&self) -> &[S] {
        &self.inputs
    }

    /// The input of the record [`Merge::next_ref`] returned last, until
    /// the next call (for errors about that record).
    pub fn taken_from(&self) -> Option<usize> {
        (self.state == State::Taken).then_some(self.tree[0])
    }

    /// Brings the next record to `tree[0]`: `Ok(false)` at the end.
    fn ready(&mut self) -> Result<bool, RunError> {
        match self.state {
            State::Ready => return Ok(true),
            State::Done => return Ok(false),
            State::Start => {
                for i in 0..self.inputs.len() {
                    self.live[i] = self.advance(i)?;
                }
                self.build();
            }
            State::Taken => {
                let winner = self.tree[0];
                self.live[winner] = self.advance(winner)?;
                self.replay(winner);
            }
        }
        if self.live.get(self.tree[0]).copied().unwrap_or(false) {
            self.state = State::Ready;
            Ok(true)
        } else {
            self.state = State::Done;
            Ok(false)
        }
    }

    /// Advances `input`: whether it holds a record.
    fn advance(&mut self, input: usize) -> Result<bool, RunError> {
        match self.inputs[input].advance() {
            Ok(record) => Ok(record.is_some()),
            Err(e) => {
                self.state = State::Done;
                Err(e)
            }
        }
    }

    /// Whether input `a`'s record comes before input `b`'s: by key, equal
    /// keys by input order, inputs at their end last.
    #[inline]
    fn before(&self, a: usize, b: usize) -> bool {
        match (self.live[a], self.live[b]) {
            (true, true) => {
                let ka = self.inputs[a].current().0;
                let kb = self.inputs[b].current().0;
                if a < b {
                    !crate::key_less(kb, ka)
                } else {
                    crate::key_less(ka, kb)
                }
            }
            (true, false) => true,
            (false, true) => false,
            (false, false) => a < b,
        }
    }

    /// Plays every match once, bottom up.
    fn build(&mut self) {
        let k = self.inputs.len();
        if k == 0 {
            return;
        }
        let mut winners = vec![0; 2 * k];
        for (i, leaf) in winners[k..].iter_mut().enumerate() {
            *leaf = i;
        }
        for node in (1..k).rev() {
            let (a, b) = (winners[2 * node], winners[2 * node + 1]);
            let (winner, loser) = if self.before(a, b) { (a, b) } else { (b, a) };
            winners[node] = winner;
            self.tree[node] = loser;
        }
        self.tree[0] = if k == 1 { 0 } else { winners[1] };
    }

    /// Replays the matches on the path of `input`, whose record changed
    /// (the previous winner's: every loser on its path is the winner of
    /// the other side).
    #[inline]
    fn replay(&mut self, input: usize) {
        let mut winner = input;
        let mut node = (self.inputs.len() + input) / 2;
        while node > 0 {
            if self.before(self.tree[node], winner) {
                std::mem::swap(&mut self.tree[node], &mut winner);
            }
            node /= 2;
        }
        self.tree[0] = winner;
    }
}

/// K-way merge of sorted inputs by key, as owned records: [`Merge`] with a
/// copy of each record. Equal keys come out in input order (input 0
/// first), and within an input in its own order; the first error of any
/// input is yielded after the records that precede it and ends the merge.
pub fn merge<S: MergeInput>(inputs: Vec<S>) -> Merged<S> {
    Merged(Merge::new(inputs))
}

/// [`merge`] of iterators of owned records, input `i` named `merge input
/// {i}` in [`RunError::OutOfOrder`] if its keys decrease.
pub fn merge_iters<I>(runs: Vec<I>) -> Merged<IterInput<I>>
where
    I: Iterator<Item = Result<Record, RunError>>,
{
    merge(
        runs.into_iter()
            .enumerate()
            .map(|(i, run)| IterInput::new(run, &format!("merge input {i}")))
            .collect(),
    )
}

/// The iterator returned by [`merge`].
pub struct Merged<S>(Merge<S>);

impl<S: MergeInput> Merged<S> {
    /// The lending merge underneath.
    pub fn into_inner(self) -> Merge<S> {
        self.0
    }
}

impl<S: MergeInput> Iterator for Merged<S> {
    type Item = Result<Record, RunError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0
            .next_ref()
            .map(|record| record.map(|(key, value)| (key.to_vec(), value.to_vec())))
    }
}
