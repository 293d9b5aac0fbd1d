//! Rewrites a component so that the host can read and write its core state.
//!
//! wasmtime's component API exposes no core memory or global of an instance.
//! The rewrite makes every instantiated core module export its defined
//! memories and mutable globals, then appends an *accessor* core module,
//! instantiated with those instances, whose functions copy between the
//! captured memories and a scratch memory of its own; they are lifted and
//! exported from the component as `cairn-image-*` functions ([`EXPORTS`]).
//! The original sections are kept byte for byte, so the component behaves as
//! before; only the accessor's functions are new.
//!
//! What the host could not restore faithfully is refused here, before any
//! instance exists ([`Uncapturable`]).

use wasm_encoder::{
    CanonicalFunctionSection, CanonicalOption, CodeSection, ComponentAliasSection, ComponentExportKind, ComponentExportSection, ComponentTypeSection,
    ComponentValType, ExportKind, ExportSection, Function, FunctionSection, ImportSection, InstanceSection, MemArg, MemorySection, MemoryType, Module,
    ModuleArg, PrimitiveValType, RawSection, TypeSection, ValType,
};
use wasmparser::{Operator, Parser, Payload};

/// The component functions the rewrite adds, by name:
/// `size(memory) -> pages`, `grow(memory, pages) -> old pages or -1`,
/// `read(memory, offset, len) -> list<u8>`, `write(memory, offset, list<u8>)`,
/// `globals() -> list<u8>` (8 bytes per global, little-endian bits),
/// `set-globals(list<u8>)`.
pub const EXPORTS: [&str; 6] =
    ["cairn-image-size", "cairn-image-grow", "cairn-image-read", "cairn-image-write", "cairn-image-globals", "cairn-image-set-globals"];

/// One captured global's value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalKind {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
}

/// What the rewrite captured: the memories and mutable globals of every core
/// instance, in a fixed order (the same for the same binary).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Captured memories: (core instance index, index of the memory in its module).
    pub memories: Vec<(u32, u32)>,
    /// Captured mutable globals, with their types.
    pub globals: Vec<GlobalKind>,
}

/// The rewritten component and what it captures.
#[derive(Clone, Debug)]
pub struct Instrumented {
    /// The component with the accessor exports.
    pub bytes: Vec<u8>,
    /// What the accessor reads and writes.
    pub layout: Layout,
}

/// Why a component's state cannot be captured as a memory image.
#[derive(Debug, thiserror::Error)]
pub enum Uncapturable {
    /// Not a valid component.
    #[error("it is not a valid component: {0}")]
    Invalid(String),
    /// A nested component, whose instances the rewrite does not reach.
    #[error("it nests components that hold core modules, whose instances the host cannot reach")]
    Nested,
    /// A shared memory (threads): its content changes under the host.
    #[error("core module {module} defines a shared memory (threads), which changes while the host copies it")]
    SharedMemory {
        /// Module index.
        module: u32,
    },
    /// memory64 or a custom page size.
    #[error("core module {module} defines a 64-bit memory or one with a custom page size; only 32-bit memories of 64 KiB pages are captured")]
    MemoryType {
        /// Module index.
        module: u32,
    },
    /// A table that holds host references, or that code changes at run time.
    #[error("core module {module} {what}: a table's content lives outside linear memory and could not be restored")]
    Table {
        /// Module index.
        module: u32,
        /// What it does.
        what: &'static str,
    },
    /// A mutable global of a reference or vector type.
    #[error("core module {module} has a mutable {ty} global, which a memory image cannot hold")]
    Global {
        /// Module index.
        module: u32,
        /// Its type.
        ty: String,
    },
}

/// What one defined core module holds.
#[derive(Default)]
struct ModuleInfo {
    /// The module's bytes with the `cairn-image-*` exports added.
    rewritten: Vec<u8>,
    /// Defined memories (module-local indices).
    memories: Vec<u32>,
    /// Defined mutable globals (module-local indices) and types.
    globals: Vec<(u32, GlobalKind, wasmparser::ValType)>,
}

fn memory_export(index: u32) -> String {
    format!("cairn-image-memory-{index}")
}

fn global_export(index: u32) -> String {
    format!("cairn-image-global-{index}")
}

/// Rewrites `component` (see the module comment).
pub fn instrument(component: &[u8]) -> Result<Instrumented, Uncapturable> {
    let invalid = |e: wasmparser::BinaryReaderError| Uncapturable::Invalid(e.to_string());
    let types = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all()).validate_all(component).map_err(invalid)?;
    let counts = types.as_ref();
    let (n_types, n_core_funcs, n_memories, n_core_instances, n_funcs) =
        (counts.component_type_count(), counts.function_count(), counts.memory_count(), counts.core_instance_count(), counts.component_function_count());
    let n_modules = counts.module_count();

    let mut out = wasm_encoder::Component::new();
    // Module index -> defined module (position in `modules`), None for imported or aliased ones.
    let mut module_space: Vec<Option<usize>> = Vec::new();
    let mut modules: Vec<ModuleInfo> = Vec::new();
    // Core instance index -> the defined module it instantiates.
    let mut instances: Vec<Option<usize>> = Vec::new();

    // Top-level payloads only: those of a module or nested component (depth
    // 1 and more) are skipped. A nested component that holds core modules
    // is refused (wit-component nests components that only re-export types
    // and functions: those are kept as they are).
    let mut depth = 0usize;
    let mut in_component = false;
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload.map_err(invalid)?;
        if depth > 0 {
            match payload {
                Payload::End(_) => depth -= 1,
                Payload::ModuleSection { .. } if in_component => return Err(Uncapturable::Nested),
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                _ => {}
            }
            continue;
        }
        let section = payload.as_section();
        match payload {
            Payload::ModuleSection { unchecked_range, .. } => {
                in_component = false;
                let index = module_space.len() as u32;
                let info = rewrite_module(&component[unchecked_range], index)?;
                out.section(&RawSection { id: wasm_encoder::ComponentSectionId::CoreModule as u8, data: &info.rewritten });
                module_space.push(Some(modules.len()));
                modules.push(info);
                depth += 1;
                continue;
            }
            Payload::ComponentSection { .. } => {
                depth += 1;
                in_component = true;
            }
            Payload::InstanceSection(reader) => {
                for instance in reader {
                    match instance.map_err(invalid)? {
                        wasmparser::Instance::Instantiate { module_index, .. } => instances.push(module_space.get(module_index as usize).copied().flatten()),
                        wasmparser::Instance::FromExports(_) => instances.push(None),
                    }
                }
            }
            Payload::ComponentAliasSection(reader) => {
                for alias in reader {
                    let module = matches!(
                        alias.map_err(invalid)?,
                        wasmparser::ComponentAlias::InstanceExport { kind: wasmparser::ComponentExternalKind::Module, .. }
                            | wasmparser::ComponentAlias::Outer { kind: wasmparser::ComponentOuterAliasKind::CoreModule, .. }
                    );
                    if module {
                        module_space.push(None);
                    }
                }
            }
            Payload::ComponentImportSection(reader) => {
                for import in reader {
                    if matches!(import.map_err(invalid)?.ty, wasmparser::ComponentTypeRef::Module(_)) {
                        module_space.push(None);
                    }
                }
            }
            Payload::ComponentExportSection(reader) => {
                for export in reader {
                    if export.map_err(invalid)?.kind == wasmparser::ComponentExternalKind::Module {
                        module_space.push(None);
                    }
                }
            }
            _ => {}
        }
        if let Some((id, range)) = section {
            out.section(&RawSection { id, data: &component[range] });
        }
    }
    debug_assert_eq!(module_space.len(), n_modules as usize);
    debug_assert_eq!(instances.len(), n_core_instances as usize);

    // What the accessor captures, in core instance order.
    let mut layout = Layout::default();
    let mut imports = ImportSection::new();
    let mut memory_imports = 0u32;
    let mut global_types = Vec::new();
    let mut args: Vec<(String, u32)> = Vec::new();
    for (k, module) in instances.iter().enumerate() {
        let Some(m) = *module else { continue };
        let info = &modules[m];
        if info.memories.is_empty() && info.globals.is_empty() {
            continue;
        }
        let name = format!("i{k}");
        for &mem in &info.memories {
            let ty = MemoryType { minimum: 0, maximum: None, memory64: false, shared: false, page_size_log2: None };
            imports.import(&name, &memory_export(mem), ty);
            layout.memories.push((k as u32, mem));
            memory_imports += 1;
        }
        for &(g, kind, ty) in &info.globals {
            let val_type = core_type(ty);
            imports.import(&name, &global_export(g), wasm_encoder::GlobalType { val_type, mutable: true, shared: false });
            layout.globals.push(kind);
            global_types.push(kind);
        }
        args.push((name, k as u32));
    }

    out.section(&wasm_encoder::ModuleSection(&accessor(imports, memory_imports, &global_types)));
    let mut inst = InstanceSection::new();
    inst.instantiate(n_modules, args.iter().map(|(n, k)| (n.as_str(), ModuleArg::Instance(*k))));
    out.section(&inst);
    let accessor_instance = n_core_instances;

    // Alias the accessor's functions and scratch memory into the component.
    let mut aliases = ComponentAliasSection::new();
    let core_names = ["size", "grow", "read", "write", "globals", "set-globals", "realloc"];
    for name in core_names {
        aliases.alias(wasm_encoder::Alias::CoreInstanceExport { instance: accessor_instance, kind: ExportKind::Func, name });
    }
    aliases.alias(wasm_encoder::Alias::CoreInstanceExport { instance: accessor_instance, kind: ExportKind::Memory, name: "scratch" });
    out.section(&aliases);
    let core_func = |name: &str| n_core_funcs + core_names.iter().position(|n| *n == name).expect("known accessor function") as u32;
    let scratch = n_memories;

    // The component types of the lifted functions.
    let mut types_section = ComponentTypeSection::new();
    let u32t = ComponentValType::Primitive(PrimitiveValType::U32);
    let s32t = ComponentValType::Primitive(PrimitiveValType::S32);
    types_section.defined_type().list(ComponentValType::Primitive(PrimitiveValType::U8));
    let list = ComponentValType::Type(n_types);
    types_section.function().params([("memory", u32t)]).result(Some(u32t));
    types_section.function().params([("memory", u32t), ("pages", u32t)]).result(Some(s32t));
    types_section.function().params([("memory", u32t), ("offset", u32t), ("len", u32t)]).result(Some(list));
    types_section.function().params([("memory", u32t), ("offset", u32t), ("bytes", list)]).result(None);
    types_section.function().params::<_, ComponentValType>([]).result(Some(list));
    types_section.function().params([("bytes", list)]).result(None);
    out.section(&types_section);

    let mut canon = CanonicalFunctionSection::new();
    let with_memory = [CanonicalOption::Memory(scratch)];
    let with_realloc = [CanonicalOption::Memory(scratch), CanonicalOption::Realloc(core_func("realloc"))];
    canon.lift(core_func("size"), n_types + 1, []);
    canon.lift(core_func("grow"), n_types + 2, []);
    canon.lift(core_func("read"), n_types + 3, with_memory);
    canon.lift(core_func("write"), n_types + 4, with_realloc);
    canon.lift(core_func("globals"), n_types + 5, with_memory);
    canon.lift(core_func("set-globals"), n_types + 6, with_realloc);
    out.section(&canon);

    let mut exports = ComponentExportSection::new();
    for (i, name) in EXPORTS.iter().enumerate() {
        exports.export(*name, ComponentExportKind::Func, n_funcs + i as u32, None);
    }
    out.section(&exports);
    let bytes = out.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .map_err(|e| Uncapturable::Invalid(format!("the host's rewrite is invalid (a host bug): {e}")))?;
    Ok(Instrumented { bytes, layout })
}

fn core_type(ty: wasmparser::ValType) -> ValType {
    match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        _ => unreachable!("only number globals are captured"),
    }
}

/// Copies a core module, adding exports for its defined memories and mutable
/// globals; refuses what cannot be captured.
fn rewrite_module(bytes: &[u8], index: u32) -> Result<ModuleInfo, Uncapturable> {
    let invalid = |e: wasmparser::BinaryReaderError| Uncapturable::Invalid(e.to_string());
    let mut info = ModuleInfo::default();
    let (mut imported_memories, mut imported_globals) = (0u32, 0u32);
    let mut exports: Vec<(String, wasmparser::ExternalKind, u32)> = Vec::new();
    let mut sections: Vec<(u8, &[u8])> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(invalid)?;
        if let Some((id, range)) = payload.as_section() {
            let body = &bytes[range];
            sections.push((id, body));
        }
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import.map_err(invalid)?.ty {
                        wasmparser::TypeRef::Memory(_) => imported_memories += 1,
                        wasmparser::TypeRef::Global(_) => imported_globals += 1,
                        _ => {}
                    }
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    if !table.map_err(invalid)?.ty.element_type.is_func_ref() {
                        return Err(Uncapturable::Table { module: index, what: "defines a table of host references" });
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for (i, memory) in reader.into_iter().enumerate() {
                    let memory = memory.map_err(invalid)?;
                    if memory.shared {
                        return Err(Uncapturable::SharedMemory { module: index });
                    }
                    if memory.memory64 || memory.page_size_log2.is_some_and(|p| p != 16) {
                        return Err(Uncapturable::MemoryType { module: index });
                    }
                    info.memories.push(imported_memories + i as u32);
                }
            }
            Payload::GlobalSection(reader) => {
                for (i, global) in reader.into_iter().enumerate() {
                    let ty = global.map_err(invalid)?.ty;
                    if !ty.mutable {
                        continue;
                    }
                    let kind = match ty.content_type {
                        wasmparser::ValType::I32 => GlobalKind::I32,
                        wasmparser::ValType::I64 => GlobalKind::I64,
                        wasmparser::ValType::F32 => GlobalKind::F32,
                        wasmparser::ValType::F64 => GlobalKind::F64,
                        other => return Err(Uncapturable::Global { module: index, ty: format!("{other:?}") }),
                    };
                    info.globals.push((imported_globals + i as u32, kind, ty.content_type));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader().map_err(invalid)?;
                while !ops.eof() {
                    let what = match ops.read().map_err(invalid)? {
                        Operator::TableSet { .. } | Operator::TableFill { .. } | Operator::TableInit { .. } | Operator::TableCopy { .. } => {
                            "changes a table at run time"
                        }
                        Operator::TableGrow { .. } => "grows a table at run time",
                        _ => continue,
                    };
                    return Err(Uncapturable::Table { module: index, what });
                }
            }
            _ => {}
        }
    }

    // The module again, with the export section extended (or added in its place).
    let mut module = Module::new();
    let mut export_section = ExportSection::new();
    for (name, kind, i) in &exports {
        export_section.export(name, export_kind(*kind), *i);
    }
    for &m in &info.memories {
        export_section.export(&memory_export(m), ExportKind::Memory, m);
    }
    for &(g, _, _) in &info.globals {
        export_section.export(&global_export(g), ExportKind::Global, g);
    }
    let mut written = false;
    for (id, body) in sections {
        // Export (7) precedes start (8), element (9), data count (12), code (10), data (11).
        if !written && matches!(id, 8..=12) {
            module.section(&export_section);
            written = true;
        }
        if id == 7 {
            module.section(&export_section);
            written = true;
            continue;
        }
        module.section(&RawSection { id, data: body });
    }
    if !written {
        module.section(&export_section);
    }
    info.rewritten = module.finish();
    Ok(info)
}

fn export_kind(kind: wasmparser::ExternalKind) -> ExportKind {
    match kind {
        wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => ExportKind::Func,
        wasmparser::ExternalKind::Table => ExportKind::Table,
        wasmparser::ExternalKind::Memory => ExportKind::Memory,
        wasmparser::ExternalKind::Global => ExportKind::Global,
        wasmparser::ExternalKind::Tag => ExportKind::Tag,
    }
}

/// Where the accessor's own data starts in its scratch memory: bytes 0..8
/// hold the (pointer, length) pair a lifted `list<u8>` result is read from.
const DATA: i32 = 16;

/// The accessor module: imports the captured memories (0..`memories`) and
/// globals, defines the scratch memory (index `memories`), exports `size`,
/// `grow`, `read`, `write`, `globals`, `set-globals`, `realloc` and `scratch`.
fn accessor(imports: ImportSection, memories: u32, globals: &[GlobalKind]) -> Module {
    let scratch = memories;
    let mut types = TypeSection::new();
    let i32t = ValType::I32;
    types.ty().function([i32t], [i32t]); // 0 size
    types.ty().function([i32t, i32t], [i32t]); // 1 grow
    types.ty().function([i32t, i32t, i32t], [i32t]); // 2 read
    types.ty().function([i32t, i32t, i32t, i32t], []); // 3 write
    types.ty().function([], [i32t]); // 4 globals
    types.ty().function([i32t, i32t], []); // 5 set-globals
    types.ty().function([i32t, i32t, i32t, i32t], [i32t]); // 6 realloc
    types.ty().function([i32t], []); // 7 reserve (internal)
    let mut functions = FunctionSection::new();
    for ty in [0, 1, 2, 3, 4, 5, 6, 7] {
        functions.function(ty);
    }
    let reserve = 7u32;
    let mut mems = MemorySection::new();
    mems.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
    let mut exports = ExportSection::new();
    for (i, name) in ["size", "grow", "read", "write", "globals", "set-globals", "realloc"].iter().enumerate() {
        exports.export(name, ExportKind::Func, i as u32);
    }
    exports.export("scratch", ExportKind::Memory, scratch);

    let at = |offset: u64| MemArg { offset, align: 2, memory_index: scratch };
    // `if (memory == j) { body(j) }` for every captured memory, then trap.
    let dispatch = |f: &mut Function, body: &dyn Fn(&mut wasm_encoder::InstructionSink<'_>, u32)| {
        let mut ins = f.instructions();
        for j in 0..memories {
            ins.local_get(0).i32_const(j as i32).i32_eq().if_(wasm_encoder::BlockType::Empty);
            body(&mut ins, j);
            ins.end();
        }
        ins.unreachable().end();
    };
    let mut code = CodeSection::new();
    // size(memory) -> pages
    let mut f = Function::new([]);
    dispatch(&mut f, &|ins, j| {
        ins.memory_size(j).return_();
    });
    code.function(&f);
    // grow(memory, pages) -> old size or -1
    let mut f = Function::new([]);
    dispatch(&mut f, &|ins, j| {
        ins.local_get(1).memory_grow(j).return_();
    });
    code.function(&f);
    // read(memory, offset, len) -> pointer to (DATA, len) in scratch
    let mut f = Function::new([]);
    dispatch(&mut f, &|ins, j| {
        ins.local_get(2).call(reserve);
        ins.i32_const(DATA).local_get(1).local_get(2).memory_copy(scratch, j);
        ins.i32_const(0).i32_const(DATA).i32_store(at(0));
        ins.i32_const(0).local_get(2).i32_store(at(4));
        ins.i32_const(0).return_();
    });
    code.function(&f);
    // write(memory, offset, pointer, len): copies scratch[pointer..] to memory[offset..]
    let mut f = Function::new([]);
    dispatch(&mut f, &|ins, j| {
        ins.local_get(1).local_get(2).local_get(3).memory_copy(j, scratch).return_();
    });
    code.function(&f);
    // globals() -> pointer to (DATA, 8 * globals)
    let mut f = Function::new([]);
    {
        let n = globals.len() as i32 * 8;
        let mut ins = f.instructions();
        ins.i32_const(n).call(reserve);
        for (g, kind) in globals.iter().enumerate() {
            ins.i32_const(0).global_get(g as u32);
            match kind {
                GlobalKind::I32 => ins.i64_extend_i32_u(),
                GlobalKind::I64 => &mut ins,
                GlobalKind::F32 => ins.i32_reinterpret_f32().i64_extend_i32_u(),
                GlobalKind::F64 => ins.i64_reinterpret_f64(),
            };
            ins.i64_store(MemArg { offset: DATA as u64 + 8 * g as u64, align: 3, memory_index: scratch });
        }
        ins.i32_const(0).i32_const(DATA).i32_store(at(0));
        ins.i32_const(0).i32_const(n).i32_store(at(4));
        ins.i32_const(0).end();
    }
    code.function(&f);
    // set-globals(pointer, len)
    let mut f = Function::new([]);
    {
        let mut ins = f.instructions();
        ins.local_get(1).i32_const(globals.len() as i32 * 8).i32_ne().if_(wasm_encoder::BlockType::Empty).unreachable().end();
        for (g, kind) in globals.iter().enumerate() {
            ins.local_get(0).i64_load(MemArg { offset: 8 * g as u64, align: 0, memory_index: scratch });
            match kind {
                GlobalKind::I32 => ins.i32_wrap_i64(),
                GlobalKind::I64 => &mut ins,
                GlobalKind::F32 => ins.i32_wrap_i64().f32_reinterpret_i32(),
                GlobalKind::F64 => ins.f64_reinterpret_i64(),
            };
            ins.global_set(g as u32);
        }
        ins.end();
    }
    code.function(&f);
    // realloc(old, old size, align, size) -> DATA, with room for `size` bytes
    let mut f = Function::new([]);
    f.instructions().local_get(3).call(reserve).i32_const(DATA).end();
    code.function(&f);
    // reserve(len): grows scratch to hold DATA + len bytes
    let mut f = Function::new([(1, i32t)]);
    {
        let mut ins = f.instructions();
        // pages needed = (DATA + len + 65535) >> 16, computed in i64 (len may be near 4 GiB)
        ins.local_get(0).i64_extend_i32_u().i64_const(DATA as i64 + 65535).i64_add().i64_const(16).i64_shr_u().i32_wrap_i64();
        ins.memory_size(scratch).i32_sub().local_tee(1);
        ins.i32_const(0).i32_gt_s().if_(wasm_encoder::BlockType::Empty);
        ins.local_get(1).memory_grow(scratch).i32_const(-1).i32_eq().if_(wasm_encoder::BlockType::Empty).unreachable().end();
        ins.end();
        ins.end();
    }
    code.function(&f);

    let mut module = Module::new();
    module.section(&types).section(&imports).section(&functions).section(&mems).section(&exports).section(&code);
    module
}
