//! Checks, before any instance exists, that every function a component exports
//! for its `cairn:operator` world has the world's type, and names the one that
//! does not ("export `process` … takes (input: string), the world's takes
//! (input: batch)"). Without it a mistyped export is only found when the first
//! instance is created, with a message that names no export.
//!
//! It uses wasmtime's own type check (`ComponentFunc::typecheck`, the one
//! typed functions use) against the host's generated bindings, so the check
//! is exactly what instantiation would require.

use wasmtime::Engine;
use wasmtime::component::types::{self, ComponentFunc, ComponentItem, Type};

use super::World;
use super::bindings::{Batch, StateInfo, v2};

/// A check of one export against its type in the bindings.
type Check = fn(&ComponentFunc, &types::Component) -> wasmtime::Result<()>;

/// The functions of `world`'s operator interface: name, the world's signature
/// (for messages) and the check.
fn expected(world: World) -> Vec<(&'static str, &'static str, Check)> {
    fn check<P, R>(f: &ComponentFunc, c: &types::Component) -> wasmtime::Result<()>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
    {
        f.typecheck::<P, R>(&c.instance_type())
    }
    type Unit = (Result<(), String>,);
    type Out = (Result<Batch, String>,);
    let mut list: Vec<(&'static str, &'static str, Check)> = vec![
        ("on-watermark", "func(ts: s64) -> result<batch, string>", check::<(i64,), Out>),
        ("snapshot-read", "func(max-len: u32) -> list<u8>", check::<(u32,), (Vec<u8>,)>),
        ("restore-write", "func(bytes: list<u8>) -> result<_, string>", check::<(Vec<u8>,), Unit>),
        ("restore-finish", "func() -> result<_, string>", check::<(), Unit>),
    ];
    match world {
        World::V0_1 => list.extend([
            ("init", "func(config: string) -> result<_, string>", check::<(String,), Unit> as Check),
            ("process", "func(input: batch) -> result<batch, string>", check::<(Batch,), Out>),
            ("snapshot", "func() -> result<state-info, string>", check::<(), (Result<StateInfo, String>,)>),
            ("restore", "func(info: state-info) -> result<_, string>", check::<(StateInfo,), Unit>),
        ]),
        World::V0_2 => list.extend([
            ("init", "func(config: string, context: context) -> result<_, string>", check::<(String, v2::types::Context), Unit> as Check),
            ("process", "func(input: u32, batch: batch) -> result<batch, string>", check::<(u32, Batch), Out>),
            ("snapshot", "func() -> result<snapshot-info, string>", check::<(), (Result<v2::types::SnapshotInfo, String>,)>),
            ("restore", "func(info: restore-info) -> result<_, string>", check::<(v2::types::RestoreInfo,), Unit>),
        ]),
    }
    list
}

/// Checks every function of `world`'s operator interface that `component`
/// exports; `Err` names the first export that is missing, not a function, or
/// of another type, with the type found and the type the world wants.
pub(crate) fn check_exports(engine: &Engine, component: &wasmtime::component::Component, world: World) -> Result<(), String> {
    let ct = component.component_type();
    let interface = world.export();
    let Some(ComponentItem::ComponentInstance(instance)) = ct.get_export(engine, interface).map(|e| e.ty) else {
        return Err(format!("`{interface}` is exported, but not as an instance of functions"));
    };
    for (name, wants, check) in expected(world) {
        let export = instance.get_export(engine, name).map(|e| e.ty);
        let func = match export {
            Some(ComponentItem::ComponentFunc(f)) => f,
            Some(_) => return Err(format!("export `{name}` of `{interface}` is not a function; the world's is {wants}")),
            None => return Err(format!("`{interface}` does not export `{name}` ({wants})")),
        };
        if let Err(e) = check(&func, &ct) {
            return Err(format!("export `{name}` of `{interface}` has the wrong type: it is {}, the world's is {wants} ({e})", signature(&func)));
        }
    }
    Ok(())
}

/// A function type in WIT-like text, e.g. `func(input: string) -> result<batch, string>`.
fn signature(f: &ComponentFunc) -> String {
    let params: Vec<String> = f.params().map(|(n, t)| format!("{n}: {}", ty(&t, 0))).collect();
    let results: Vec<String> = f.results().map(|t| ty(&t, 0)).collect();
    match results.len() {
        0 => format!("func({})", params.join(", ")),
        _ => format!("func({}) -> {}", params.join(", "), results.join(", ")),
    }
}

/// A value type in WIT-like text; records and variants show their fields at the top level only.
fn ty(t: &Type, depth: usize) -> String {
    let inner = |t: &Type| ty(t, depth + 1);
    match t {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", inner(&l.ty())),
        Type::Option(o) => format!("option<{}>", inner(&o.ty())),
        Type::Result(r) => {
            let side = |s: Option<Type>| s.map_or("_".to_string(), |t| inner(&t));
            format!("result<{}, {}>", side(r.ok()), side(r.err()))
        }
        Type::Tuple(tu) => format!("tuple<{}>", tu.types().map(|t| inner(&t)).collect::<Vec<_>>().join(", ")),
        Type::Record(r) if depth == 0 => {
            format!("record {{ {} }}", r.fields().map(|f| format!("{}: {}", f.name, inner(&f.ty))).collect::<Vec<_>>().join(", "))
        }
        Type::Variant(v) if depth == 0 => format!(
            "variant {{ {} }}",
            v.cases().map(|c| c.ty.map_or(c.name.to_string(), |t| format!("{}({})", c.name, inner(&t)))).collect::<Vec<_>>().join(", ")
        ),
        Type::Record(_) => "record {…}".into(),
        Type::Variant(_) => "variant {…}".into(),
        Type::Enum(e) => format!("enum {{ {} }}", e.names().collect::<Vec<_>>().join(", ")),
        Type::Flags(f) => format!("flags {{ {} }}", f.names().collect::<Vec<_>>().join(", ")),
        other => format!("{other:?}").split('(').next().unwrap_or("?").to_lowercase(),
    }
}
