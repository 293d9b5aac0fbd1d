extern crate self as cairn_guest;
pub mod bindings;
