//! `count-0-1`: the `count` operator exported for `cairn:operator@0.1.0`,
//! the first contract (fixed parallelism; no key ranges in its state). The
//! reference counter for the operators of other languages that stay at 0.1.0,
//! and what the tests use for "an old component".

#[path = "../../count/src/count.rs"]
mod count;

cairn_guest::export_operator_0_1!(count::Count);
