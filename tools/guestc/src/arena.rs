//! A `cabi_realloc_adapter` for Go modules, added after `go build`.
//!
//! The WASI preview 1 adapter allocates its state and stack on the first WASI
//! call through the function the main module exports as
//! `cabi_realloc_adapter` (else `cabi_realloc`, else its own `memory.grow`).
//! In a Go module none of those work: the Go runtime's first WASI calls come
//! from `_initialize`, before a Go export may run ("wasmexport function
//! called before runtime initialization"), and Go's allocator assumes that it
//! alone grows the memory (a page grown by someone else is handed out again).
//! So the `cairn` package reserves an array in the module's data, marked
//! [`MARKER`] followed by the array's size in KiB (4 digits), and this module appends a plain
//! WebAssembly bump allocator over it, exported as `cabi_realloc_adapter`.

use wasmparser::{Parser, Payload};

/// The first 12 bytes of the arena (`adapterArena` in operators/go/abi.go).
pub const MARKER: &[u8; 12] = b"cairn-adapt!";

/// Bytes at the arena's start that stay the marker and size.
const HEADER: u32 = 16;

/// Returns `core` with a global (the bump pointer), a function and its export
/// `cabi_realloc_adapter` appended.
pub fn add_adapter_realloc(core: &[u8]) -> Result<Vec<u8>, String> {
    let (start, size) = find_arena(core)?;
    let (lo, hi) = (start + HEADER, start + size);
    let mut out = Vec::with_capacity(core.len() + 64);
    out.extend_from_slice(&core[..8]);
    let (mut imported_funcs, mut local_funcs, mut globals, mut realloc_type) = (0u32, 0u32, 0u32, None);
    let mut sections = Vec::new();
    for payload in Parser::new(0).parse_all(core) {
        let payload = payload.map_err(|e| e.to_string())?;
        match &payload {
            Payload::ImportSection(r) => {
                for imp in r.clone().into_imports() {
                    let imp = imp.map_err(|e| e.to_string())?;
                    match imp.ty {
                        wasmparser::TypeRef::Func(_) => imported_funcs += 1,
                        wasmparser::TypeRef::Global(_) => globals += 1,
                        _ => {}
                    }
                }
            }
            Payload::GlobalSection(r) => globals += r.count(),
            Payload::FunctionSection(r) => {
                local_funcs = r.count();
                // The type of the existing `cabi_realloc` is looked up below, through the exports.
                let types: Vec<u32> = r.clone().into_iter().collect::<Result<_, _>>().map_err(|e| e.to_string())?;
                sections.push(("types", types));
            }
            Payload::ExportSection(r) => {
                for e in r.clone() {
                    let e = e.map_err(|e| e.to_string())?;
                    if e.name == "cabi_realloc" && e.kind == wasmparser::ExternalKind::Func {
                        realloc_type = Some(e.index);
                    }
                }
            }
            _ => {}
        }
    }
    let func_types = sections.into_iter().next().map(|(_, t)| t).unwrap_or_default();
    let realloc = realloc_type.ok_or("the module exports no `cabi_realloc` (is the cairn package linked?)")?;
    let ty = realloc.checked_sub(imported_funcs).and_then(|i| func_types.get(i as usize)).copied().ok_or("`cabi_realloc` is not a local function")?;
    let new_func = imported_funcs + local_funcs;
    let new_global = globals;

    for payload in Parser::new(0).parse_all(core) {
        let payload = payload.map_err(|e| e.to_string())?;
        let Some((id, range)) = payload.as_section() else { continue };
        let body = &core[range.start as usize..range.end as usize];
        let patched = match id {
            3 => Some(append(body, &leb_u(ty))),
            6 => Some(append(body, &global_entry(lo))),
            7 => Some(append(body, &export_entry("cabi_realloc_adapter", new_func))),
            10 => Some(append(body, &function_body(new_global, hi))),
            _ => None,
        };
        out.push(id);
        match patched {
            Some(b) => {
                out.extend(leb_u(b.len() as u32));
                out.extend(b);
            }
            None => {
                out.extend(leb_u(body.len() as u32));
                out.extend_from_slice(body);
            }
        }
    }
    wasmparser::Validator::new().validate_all(&out).map_err(|e| format!("the patched module is invalid: {e}"))?;
    Ok(out)
}

/// The arena's address and size, from the data segment that holds its marker.
fn find_arena(core: &[u8]) -> Result<(u32, u32), String> {
    for payload in Parser::new(0).parse_all(core) {
        if let Payload::DataSection(r) = payload.map_err(|e| e.to_string())? {
            for data in r {
                let data = data.map_err(|e| e.to_string())?;
                let wasmparser::DataKind::Active { offset_expr, .. } = data.kind else { continue };
                let Some(at) = data.data.windows(MARKER.len()).position(|w| w == MARKER) else { continue };
                let mut ops = offset_expr.get_operators_reader();
                let Ok(wasmparser::Operator::I32Const { value }) = ops.read() else {
                    return Err("the arena's data segment has no constant offset".into());
                };
                // The size in KiB, 4 decimal digits (no zero bytes: Go's linker
                // leaves runs of zeros out of its data segments).
                let digits = data.data.get(at + 12..at + 16).ok_or("the arena's size is cut off")?;
                let kib: u32 = std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok()).ok_or("the arena's size is not 4 digits")?;
                let size = kib << 10;
                let start = (value as u32).checked_add(at as u32).ok_or("arena address overflows")?;
                if start % 8 != 0 || size < 64 << 10 {
                    return Err(format!("unexpected arena at {start} of {size} bytes"));
                }
                return Ok((start, size));
            }
        }
    }
    Err("no adapter arena found in the module's data (is the cairn package linked?)".into())
}

/// A vector section's body with one more entry.
fn append(body: &[u8], entry: &[u8]) -> Vec<u8> {
    let mut reader = wasmparser::BinaryReader::new(body, 0);
    let count = reader.read_var_u32().unwrap_or(0);
    let rest = &body[reader.current_position()..];
    let mut out = leb_u(count + 1);
    out.extend_from_slice(rest);
    out.extend_from_slice(entry);
    out
}

/// `(global (mut i32) (i32.const lo))`
fn global_entry(lo: u32) -> Vec<u8> {
    let mut g = vec![0x7f, 0x01, 0x41];
    g.extend(leb_s(lo as i64));
    g.push(0x0b);
    g
}

fn export_entry(name: &str, func: u32) -> Vec<u8> {
    let mut e = leb_u(name.len() as u32);
    e.extend_from_slice(name.as_bytes());
    e.push(0x00);
    e.extend(leb_u(func));
    e
}

/// `realloc(old, old_size, align, size)`: fresh allocations only (the adapter
/// makes no others), bumped through the global, trapping when the arena is full.
fn function_body(global: u32, hi: u32) -> Vec<u8> {
    let g = leb_u(global);
    let mut code = vec![0x01, 0x02, 0x7f]; // locals: ptr (4), end (5)
    code.extend([0x20, 0x00, 0x04, 0x40, 0x00, 0x0b]); // if old != 0: unreachable
    code.push(0x23);
    code.extend(&g); // bump
    code.extend([0x20, 0x02, 0x6a, 0x41, 0x01, 0x6b]); // + align - 1
    code.extend([0x41, 0x00, 0x20, 0x02, 0x6b, 0x71]); // & -align
    code.extend([0x22, 0x04, 0x20, 0x03, 0x6a, 0x22, 0x05]); // ptr; end = ptr + size
    code.push(0x41);
    code.extend(leb_s(hi as i64));
    code.extend([0x4b, 0x04, 0x40, 0x00, 0x0b]); // if end > hi: unreachable
    code.extend([0x20, 0x05, 0x24]);
    code.extend(&g); // bump = end
    code.extend([0x20, 0x04, 0x0b]); // ptr
    let mut body = leb_u(code.len() as u32);
    body.extend(code);
    body
}

fn leb_u(mut v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Signed LEB128 of an i32 constant given as its unsigned bits.
fn leb_s(v: i64) -> Vec<u8> {
    let mut v = v as u32 as i32 as i64;
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0) {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_encodings() {
        assert_eq!(leb_u(624485), [0xe5, 0x8e, 0x26]);
        assert_eq!(leb_s(-123456), [0xc0, 0xbb, 0x78]);
        assert_eq!(leb_s(0x10_0000), [0x80, 0x80, 0xc0, 0x00]);
        assert_eq!(leb_s(63), [0x3f]);
        assert_eq!(leb_s(64), [0xc0, 0x00]);
    }
}
