//! Which saved pieces each subtask of an operator is restored from: its own
//! state at the same parallelism, and at another parallelism every keyed
//! piece whose hash range overlaps the new subtask's range (from any number
//! of old subtasks) plus the operator pieces their redistribution gives it.
//! Pure: decides from the metadata only; [`super::restore`] reads the bytes.

use crate::control::{PieceHandle, PieceKind, Redistribution, StateHandle};
use crate::keys::{self, HashRange};
use crate::runtime::World;

use super::metadata::OperatorState;

/// What one saved piece a new subtask receives: which old subtask's file, and
/// which piece of it (`None`: the whole file of a 0.1.0 state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pick {
    /// The old subtask that wrote it.
    pub from_subtask: usize,
    /// The piece; `None` for a 0.1.0 subtask's whole state.
    pub piece: Option<PieceHandle>,
}

impl Pick {
    /// Bytes it brings.
    pub fn size(&self, saved: &OperatorState) -> u64 {
        self.piece.as_ref().map_or(saved.subtasks[self.from_subtask].size, |p| p.size)
    }
}

/// How an operator is restored: per new subtask, the pieces it receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorPlan {
    /// Operator id.
    pub operator: String,
    /// The contract version of the component that wrote the state.
    pub world: World,
    /// Parallelism the state was taken at.
    pub from: usize,
    /// Parallelism it is restored at.
    pub to: usize,
    /// Per new subtask, in order.
    pub subtasks: Vec<Vec<Pick>>,
}

impl OperatorPlan {
    /// Bytes new subtask `s` receives.
    pub fn bytes_of(&self, s: usize, saved: &OperatorState) -> u64 {
        self.subtasks[s].iter().map(|p| p.size(saved)).sum()
    }
}

/// Why an operator's state cannot be restored at the asked parallelism.
#[derive(Debug, thiserror::Error)]
#[error("operator `{operator}`{}: {message}", subtask.map(|s| format!(" subtask {s}")).unwrap_or_default())]
pub struct PlanError {
    /// Operator id.
    pub operator: String,
    /// The saved subtask at fault, if one is.
    pub subtask: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Plans the restore of operator `id`'s `saved` state at parallelism `to`.
/// `None`: nothing to restore (stateless state at another parallelism).
pub fn plan(id: &str, saved: &OperatorState, to: usize) -> Result<Option<OperatorPlan>, PlanError> {
    let err = |subtask: Option<usize>, message: String| PlanError { operator: id.into(), subtask, message };
    let from = saved.parallelism;
    let same = from == to;
    if !same && !saved.is_stateful() {
        return Ok(None);
    }
    let whole = |s: usize| vec![Pick { from_subtask: s, piece: None }];
    if saved.world == World::V0_1 {
        if !same {
            return Err(err(
                None,
                format!(
                    "its state was taken at parallelism {from} by a cairn:operator@0.1.0 component, whose state the host cannot \
                     split by key; it restores at parallelism {from} only, not {to}. Rebuild the operator for cairn:operator@0.2.0 \
                     (keyed state by key-hash ranges) to change its parallelism"
                ),
            ));
        }
        return Ok(Some(OperatorPlan { operator: id.into(), world: saved.world, from, to, subtasks: (0..to).map(whole).collect() }));
    }
    for (s, h) in saved.subtasks.iter().enumerate() {
        check_handle(s, from, h).map_err(|m| err(Some(s), m))?;
    }
    let subtasks = (0..to)
        .map(|j| {
            let mine = HashRange::of_subtask(j, to);
            let mut picks = Vec::new();
            for (s, h) in saved.subtasks.iter().enumerate() {
                for p in &h.pieces {
                    let take = match p.kind {
                        _ if same => s == j,
                        PieceKind::Keyed(r) => r.overlaps(&mine),
                        PieceKind::Operator(Redistribution::Union) => true,
                        PieceKind::Operator(Redistribution::FirstSubtask) => j == 0,
                    };
                    if take {
                        picks.push(Pick { from_subtask: s, piece: Some(p.clone()) });
                    }
                }
            }
            picks
        })
        .collect();
    Ok(Some(OperatorPlan { operator: id.into(), world: saved.world, from, to, subtasks }))
}

/// Checks one 0.2.0 subtask's handle: its range is the one its subtask owned,
/// its pieces tile the file, and its keyed pieces cover exactly its range.
fn check_handle(s: usize, parallelism: usize, h: &StateHandle) -> Result<(), String> {
    let own = HashRange::of_subtask(s, parallelism);
    match h.range {
        Some(r) if r == own => {}
        Some(r) => return Err(format!("its state claims the hash range {r}, but subtask {s} of {parallelism} owns {own}")),
        None => return Err("its 0.2.0 state has no hash range".into()),
    }
    let mut at = 0u64;
    for p in &h.pieces {
        if p.offset != at {
            return Err(format!("piece at offset {} should start at {at}: the pieces do not tile the state file", p.offset));
        }
        at += p.size;
    }
    if at != h.size {
        return Err(format!("its pieces add up to {at} bytes but the state file has {}", h.size));
    }
    let keyed: Vec<HashRange> = h.pieces.iter().filter_map(|p| if let PieceKind::Keyed(r) = p.kind { Some(r) } else { None }).collect();
    keys::check_cover(&keyed, own).map_err(|m| format!("its keyed pieces do not cover its hash range {own}: {m}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(s: usize, n: usize, cuts: usize) -> StateHandle {
        let own = HashRange::of_subtask(s, n);
        let step = (own.last - own.first) / cuts as u64;
        let mut pieces = vec![PieceHandle { kind: PieceKind::Operator(Redistribution::Union), offset: 0, size: 5, sha256: "o".into() }];
        for c in 0..cuts {
            let first = own.first + step * c as u64;
            let last = if c + 1 == cuts { own.last } else { first + step - 1 };
            pieces.push(PieceHandle { kind: PieceKind::Keyed(HashRange { first, last }), offset: 5 + 10 * c as u64, size: 10, sha256: "k".into() });
        }
        StateHandle {
            file: format!("f{s}"),
            sha256: "x".into(),
            size: 5 + 10 * cuts as u64,
            format: "postcard".into(),
            version: 1,
            range: Some(own),
            pieces,
            image: None,
        }
    }

    fn saved(n: usize, cuts: usize) -> OperatorState {
        OperatorState { component_digest: "d".into(), world: World::V0_2, parallelism: n, subtasks: (0..n).map(|s| handle(s, n, cuts)).collect() }
    }

    #[test]
    fn same_parallelism_gives_each_subtask_its_own_pieces() {
        let p = plan("count", &saved(3, 2), 3).unwrap().unwrap();
        for (j, picks) in p.subtasks.iter().enumerate() {
            assert_eq!(picks.len(), 3);
            assert!(picks.iter().all(|k| k.from_subtask == j));
        }
    }

    #[test]
    fn rescale_gives_overlapping_keyed_pieces_and_union_operator_pieces() {
        let s = saved(2, 4);
        let p = plan("count", &s, 3).unwrap().unwrap();
        for (j, picks) in p.subtasks.iter().enumerate() {
            let mine = HashRange::of_subtask(j, 3);
            let keyed: Vec<HashRange> = picks
                .iter()
                .filter_map(|k| match k.piece.as_ref().unwrap().kind {
                    PieceKind::Keyed(r) => Some(r),
                    _ => None,
                })
                .collect();
            assert!(keyed.iter().all(|r| r.overlaps(&mine)));
            // Every hash of the new range is in some picked piece.
            assert!(keyed.first().unwrap().first <= mine.first && keyed.last().unwrap().last >= mine.last);
            let ops = picks.iter().filter(|k| matches!(k.piece.as_ref().unwrap().kind, PieceKind::Operator(_))).count();
            assert_eq!(ops, 2, "union: every old subtask's operator piece");
        }
        // Finer pieces: a new subtask reads well under the whole state.
        assert!(p.bytes_of(1, &s) < s.subtasks.iter().map(|h| h.size).sum::<u64>());
        // Down to 1: everything.
        let p = plan("count", &s, 1).unwrap().unwrap();
        assert_eq!(p.bytes_of(0, &s), s.subtasks.iter().map(|h| h.size).sum::<u64>());
    }

    #[test]
    fn bad_pieces_and_old_state_are_refused_naming_operator_and_subtask() {
        let mut s = saved(2, 2);
        if let PieceKind::Keyed(r) = &mut s.subtasks[1].pieces[2].kind {
            r.first += 1; // a gap
        }
        let e = plan("count", &s, 3).unwrap_err().to_string();
        assert!(e.starts_with("operator `count` subtask 1:") && e.contains("gap"), "{e}");
        let mut s = saved(2, 2);
        s.subtasks[0].range = Some(HashRange::ALL);
        let e = plan("count", &s, 2).unwrap_err().to_string();
        assert!(e.contains("subtask 0") && e.contains("claims the hash range"), "{e}");
        let mut s = saved(2, 2);
        s.world = World::V0_1;
        let e = plan("count", &s, 3).unwrap_err().to_string();
        assert!(e.contains("cairn:operator@0.1.0") && e.contains("parallelism 2 only"), "{e}");
        assert_eq!(plan("count", &s, 2).unwrap().unwrap().subtasks[1], vec![Pick { from_subtask: 1, piece: None }]);
    }
}
