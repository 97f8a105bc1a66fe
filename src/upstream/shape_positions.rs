//! Where a fixed list of fields sits in records of each shape met.
//!
//! The serializer reads the same fields from every record of a page, and
//! the records of a page share one [`Shape`] (line items one of a few).
//! Finding each field by name in every record compared a name per field
//! per row, some 50,000 comparisons for a page of 1,000 wide transactions
//! (about 4 % of the gateway's CPU for it). [`ShapePositions`] finds the
//! fields once per shape and the writer then reads them by position.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::record::Shape;

/// How many shapes' positions are kept: a page's records share one shape,
/// and their line items one of a few kinds.
const REMEMBERED: usize = 8;

/// Shapes met, oldest first, each with the position of every name.
type Known = Vec<(Arc<Shape>, Box<[Option<usize>]>)>;

/// The positions of `names` in records of the shapes met so far.
///
/// Shared by reference by a writer that may be used from any thread, so
/// the positions are behind a lock; [`ShapePositions::lookup`] takes it
/// once for a run of records.
#[derive(Debug)]
pub struct ShapePositions {
    names: Box<[Box<str>]>,
    /// Shapes met, oldest first, each with the position of every name
    /// (`None` where the shape lacks it). Holding the shape keeps its
    /// address from being reused by another one.
    known: Mutex<Known>,
}

impl ShapePositions {
    /// Positions of `names`, in that order, to be found per shape.
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        ShapePositions {
            names: names.into_iter().map(|n| n.as_ref().into()).collect(),
            known: Mutex::new(Vec::new()),
        }
    }

    /// Access to the positions for a run of records. Nothing else may
    /// look up positions of this `ShapePositions` while it is held.
    pub fn lookup(&self) -> PositionLookup<'_> {
        PositionLookup {
            names: &self.names,
            known: self.known.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }
}

/// The positions of [`ShapePositions`], locked for a run of records.
pub struct PositionLookup<'p> {
    names: &'p [Box<str>],
    known: MutexGuard<'p, Known>,
}

impl PositionLookup<'_> {
    /// Where each name is in records of `shape`, in the order the names
    /// were given.
    pub fn positions(&mut self, shape: &Arc<Shape>) -> &[Option<usize>] {
        let at = match self.known.iter().position(|(s, _)| Arc::ptr_eq(s, shape)) {
            Some(at) => at,
            None => {
                if self.known.len() >= REMEMBERED {
                    self.known.remove(0);
                }
                let positions = find_positions(self.names, shape);
                self.known.push((shape.clone(), positions));
                self.known.len() - 1
            }
        };
        &self.known[at].1
    }
}

/// Where each of `names` is in `shape`. Names are usually wanted in the
/// order the shape has them (the planner asks ZeyOS for fields in the
/// order the writer writes them), so each is looked for from after the
/// last one found first.
fn find_positions(names: &[Box<str>], shape: &Shape) -> Box<[Option<usize>]> {
    let fields = shape.names_slice();
    let mut next = 0;
    names
        .iter()
        .map(|name| {
            let found = (next..fields.len())
                .chain(0..next.min(fields.len()))
                .find(|&i| fields[i] == *name);
            if let Some(i) = found {
                next = i + 1;
            }
            found
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(names: &[&str]) -> Arc<Shape> {
        Arc::new(Shape::new(names.iter().map(|n| (*n).into()).collect()))
    }

    #[test]
    fn finds_names_in_any_order_and_marks_missing_ones() {
        let positions = ShapePositions::new(["b", "x", "a", "c", "a"]);
        let s = shape(&["a", "b", "c"]);
        assert_eq!(
            positions.lookup().positions(&s),
            &[Some(1), None, Some(0), Some(2), Some(0)]
        );
        let empty = shape(&[]);
        assert_eq!(positions.lookup().positions(&empty), &[None; 5]);
    }

    #[test]
    fn keeps_positions_per_shape_not_per_names() {
        let positions = ShapePositions::new(["a", "b"]);
        let first = shape(&["a", "b"]);
        let second = shape(&["b", "a"]);
        let mut lookup = positions.lookup();
        assert_eq!(lookup.positions(&first), &[Some(0), Some(1)]);
        assert_eq!(lookup.positions(&second), &[Some(1), Some(0)]);
        assert_eq!(lookup.positions(&first), &[Some(0), Some(1)]);
        assert_eq!(lookup.known.len(), 2);
    }

    #[test]
    fn forgets_the_oldest_shape_beyond_its_bound() {
        let positions = ShapePositions::new(["a"]);
        let shapes: Vec<_> = (0..REMEMBERED + 3).map(|_| shape(&["z", "a"])).collect();
        let mut lookup = positions.lookup();
        for s in &shapes {
            assert_eq!(lookup.positions(s), &[Some(1)]);
        }
        assert_eq!(lookup.known.len(), REMEMBERED);
        assert!(Arc::ptr_eq(&lookup.known[0].0, &shapes[3]));
    }
}
