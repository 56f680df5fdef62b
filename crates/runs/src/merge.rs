use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;

use crate::{Record, RunError};

/// K-way merge of sorted runs by key.
///
/// Equal keys come out in run order (run 0 first), and within a run in that
/// run's own order, so the output is deterministic for a given order of
/// `runs`. The first error from any run — including a run whose keys decrease
/// ([`RunError::OutOfOrder`] named `merge input {i}`) — is yielded after the
/// records that precede it and ends the merge.
pub fn merge<I>(runs: Vec<I>) -> Merge<I>
where
    I: Iterator<Item = Result<Record, RunError>>,
{
    let counts = vec![0; runs.len()];
    Merge {
        runs,
        counts,
        heap: BinaryHeap::new(),
        started: false,
        pending_error: None,
        done: false,
    }
}

/// The iterator returned by [`merge`].
pub struct Merge<I> {
    runs: Vec<I>,
    /// Records taken from each run so far.
    counts: Vec<u64>,
    heap: BinaryHeap<Head>,
    started: bool,
    pending_error: Option<RunError>,
    done: bool,
}

/// The smallest not-yet-yielded record of one run.
struct Head {
    key: Vec<u8>,
    value: Vec<u8>,
    run: usize,
}

impl Ord for Head {
    // Reversed so that BinaryHeap (a max-heap) yields the smallest (key, run).
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key).then(other.run.cmp(&self.run))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// What came of pulling the next record of a run.
enum Pulled {
    Record(Record),
    Exhausted,
    Failed(RunError),
}

impl<I> Merge<I>
where
    I: Iterator<Item = Result<Record, RunError>>,
{
    /// Pulls the next record of `run`, checking it against `prev_key`.
    fn pull(&mut self, run: usize, prev_key: Option<&[u8]>) -> Pulled {
        match self.runs[run].next() {
            None => Pulled::Exhausted,
            Some(Err(e)) => Pulled::Failed(e),
            Some(Ok((key, value))) => {
                let record = self.counts[run];
                if prev_key.is_some_and(|prev| key.as_slice() < prev) {
                    return Pulled::Failed(RunError::OutOfOrder {
                        name: format!("merge input {run}"),
                        record,
                    });
                }
                self.counts[run] = record + 1;
                Pulled::Record((key, value))
            }
        }
    }

    fn start(&mut self) -> Result<(), RunError> {
        self.started = true;
        self.heap.reserve(self.runs.len());
        for run in 0..self.runs.len() {
            match self.pull(run, None) {
                Pulled::Record((key, value)) => self.heap.push(Head { key, value, run }),
                Pulled::Exhausted => {}
                Pulled::Failed(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<I> Iterator for Merge<I>
where
    I: Iterator<Item = Result<Record, RunError>>,
{
    type Item = Result<Record, RunError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(e) = self.pending_error.take() {
            self.done = true;
            return Some(Err(e));
        }
        if !self.started
            && let Err(e) = self.start()
        {
            self.done = true;
            return Some(Err(e));
        }
        // Take the smallest head, and refill it from the same run in place.
        let mut heap = std::mem::take(&mut self.heap);
        let result = match heap.peek_mut() {
            None => {
                self.done = true;
                None
            }
            Some(mut top) => {
                let run = top.run;
                match self.pull(run, Some(&top.key)) {
                    Pulled::Record((key, value)) => {
                        let key = std::mem::replace(&mut top.key, key);
                        let value = std::mem::replace(&mut top.value, value);
                        drop(top); // restores the heap order
                        Some(Ok((key, value)))
                    }
                    Pulled::Exhausted => {
                        let head = PeekMut::pop(top);
                        Some(Ok((head.key, head.value)))
                    }
                    Pulled::Failed(e) => {
                        self.pending_error = Some(e);
                        let head = PeekMut::pop(top);
                        Some(Ok((head.key, head.value)))
                    }
                }
            }
        };
        self.heap = heap;
        result
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (
                self.heap.len() + usize::from(self.pending_error.is_some()),
                None,
            )
        }
    }
}
