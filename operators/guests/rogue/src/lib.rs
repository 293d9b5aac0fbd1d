//! `rogue`: a 0.2.0 operator that breaks the state contract on purpose,
//! written against the raw bindings (the SDK would not let it). It passes
//! its input through; its `snapshot` claims one keyed piece for every hash,
//! although a subtask of a parallelism above 1 owns only its share. The host
//! must refuse that snapshot, naming the operator and subtask, and never
//! write a checkpoint holding it.

use cairn_guest::Batch;
use cairn_guest::bindings::v2::exports::cairn::operator0_2_0::operator::Guest;
use cairn_guest::v2::{Context, KeyRange, Piece, PieceKind, Redistribution, RestoreInfo, SnapshotInfo};

struct Rogue;

impl Guest for Rogue {
    fn init(_config: String, _context: Context) -> Result<(), String> {
        Ok(())
    }

    fn process(_input: u32, batch: Batch) -> Result<Batch, String> {
        Ok(batch)
    }

    fn on_watermark(_ts: i64) -> Result<Batch, String> {
        Ok(Batch { keys: vec![], key_ends: vec![], values: vec![], value_ends: vec![], timestamps: vec![], keyless: vec![] })
    }

    fn snapshot() -> Result<SnapshotInfo, String> {
        Ok(SnapshotInfo {
            format: "raw".into(),
            version: 1,
            pieces: vec![
                Piece { kind: PieceKind::Operator(Redistribution::Union), size: 0 },
                Piece { kind: PieceKind::Keyed(KeyRange { first: 0, last: u64::MAX }), size: 0 },
            ],
        })
    }

    fn snapshot_read(_max_len: u32) -> Vec<u8> {
        Vec::new()
    }

    fn restore(_info: RestoreInfo) -> Result<(), String> {
        Ok(())
    }

    fn restore_write(_bytes: Vec<u8>) -> Result<(), String> {
        Ok(())
    }

    fn restore_finish() -> Result<(), String> {
        Ok(())
    }
}

cairn_guest::bindings::v2::export_0_2!(Rogue with_types_in cairn_guest::bindings::v2);
