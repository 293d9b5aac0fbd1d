//! The output format of the queries that emit rows event by event (q0, q1, q2).

use serde::Deserialize;

/// How a query writes its rows: config `{ "format": "binary" | "csv" }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// Fixed-width little-endian fields (the default: cheapest to write and read).
    #[default]
    Binary,
    /// Comma-separated ASCII, for reading.
    Csv,
}

/// The config of q0, q1 and q2.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FormatConfig {
    /// How rows are written.
    #[serde(default)]
    pub format: OutputFormat,
}
