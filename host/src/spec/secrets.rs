//! Which parts of a pipeline's configuration may hold a secret, and the one
//! redacted view of it that the host shows anywhere (REST, the web page, logs,
//! errors). Secrets are recognised by the option's name, as Kafka's and the
//! S3 client's names are: every value of `storage.options` that names a key, a
//! token or a password, every Kafka `*.password`, `sasl.*` and `ssl.key*`
//! option, and any field of an operator's `config` whose name says secret.

use serde_json::Value;

use super::{PipelineSpec, SinkSpec, SourceSpec};

/// What a redacted value reads as.
pub const REDACTED: &str = "<redacted>";

/// Values shorter than this are not scrubbed out of free text (a one-letter
/// "password" would otherwise blank every such letter of a message); they are
/// still redacted wherever they appear as an option's value.
const MIN_SCRUBBED: usize = 3;

/// Whether an option or field named `name` may hold a secret.
pub fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('_', "-");
    const WORDS: [&str; 7] = ["password", "secret", "token", "credential", "private", "passphrase", "signature"];
    WORDS.iter().any(|w| n.contains(w)) || n.starts_with("sasl.") || n.starts_with("ssl.key") || n.ends_with("key") || n.ends_with("access-key-id")
}

/// The pipeline's configuration as JSON, with every secret replaced by [`REDACTED`].
pub fn redacted(spec: &PipelineSpec) -> Value {
    let mut config = serde_json::to_value(spec).unwrap_or(Value::Null);
    // Every storage option: endpoints and regions are harmless, but their
    // values are never needed by a reader and the names vary by backend.
    if let Some(options) = config.pointer_mut("/storage/options").and_then(Value::as_object_mut) {
        options.values_mut().for_each(|v| *v = Value::String(REDACTED.into()));
    }
    redact_named(&mut config);
    config
}

/// Replaces, anywhere in `v`, the value of every field whose name [`is_secret`].
fn redact_named(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                if is_secret(k) && !item.is_null() {
                    *item = Value::String(REDACTED.into());
                } else {
                    redact_named(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_named),
        _ => {}
    }
}

/// The secret values of a pipeline, for scrubbing free text (error messages
/// from a client library that echo a value back).
#[derive(Clone, Debug, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// The secrets of `spec`: storage options, connector options and operator
    /// config fields that [`is_secret`] names (every storage option counts).
    pub fn of(spec: &PipelineSpec) -> Secrets {
        let mut found: Vec<String> = spec.storage.options.values().cloned().collect();
        for source in &spec.sources {
            if let SourceSpec::Kafka(k) = source {
                found.extend(Self::named(&k.options));
            }
        }
        for sink in &spec.sinks {
            if let SinkSpec::Kafka(k) = sink {
                found.extend(Self::named(&k.options));
            }
        }
        for op in &spec.operators {
            if let Some(config) = &op.config {
                collect_named(config, &mut found);
            }
        }
        Secrets::from_values(found)
    }

    /// The values of `options` whose names are secret.
    pub fn named<'a>(options: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<String> {
        options.into_iter().filter(|(k, _)| is_secret(k)).map(|(_, v)| v.clone()).collect()
    }

    /// Secrets given by value.
    pub fn from_values(mut values: Vec<String>) -> Secrets {
        values.retain(|v| v.len() >= MIN_SCRUBBED);
        // Longest first, so that a secret containing another is scrubbed whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets(values)
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

/// Collects the string values of every secret-named field in `v`.
fn collect_named(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                match item {
                    Value::String(s) if is_secret(k) => out.push(s.clone()),
                    other => collect_named(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_named(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_hold_secrets() {
        for name in [
            "sasl.password",
            "sasl.username",
            "sasl.oauthbearer.config",
            "ssl.key.password",
            "ssl.key.pem",
            "ssl.keystore.password",
            "secret-access-key",
            "aws_secret_access_key",
            "access-key-id",
            "session-token",
            "token",
            "api_key",
            "apiKey",
        ] {
            assert!(is_secret(name), "{name}");
        }
        for name in ["bootstrap.servers", "security.protocol", "region", "endpoint", "isolation.level", "keys", "key-by"] {
            assert!(!is_secret(name), "{name}");
        }
    }

    #[test]
    fn the_shown_configuration_holds_no_secret() {
        let yaml = "name: s
sources:
  - id: k
    type: kafka
    bootstrap-servers: b:9092
    topic: t
    options: { sasl.password: pw-hunter2, ssl.key.pem: pem-hunter2, security.protocol: sasl_ssl }
operators:
  - id: op
    component: op.wasm
    input: k
    config: { api-token: tok-hunter2, nested: [ { password: pw2-hunter2 } ], label: shown }
sinks:
  - id: out
    type: kafka
    input: op
    bootstrap-servers: b:9092
    topic: o
    options: { sasl.jaas.config: jaas-hunter2 }
storage:
  url: s3://bucket
  options: { access-key-id: id-hunter2, secret-access-key: key-hunter2, region: eu }
";
        let p = crate::spec::Pipeline::parse(yaml, std::path::Path::new("p.yaml")).unwrap();
        let shown = redacted(&p.spec).to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("sasl_ssl") && shown.contains("\"shown\""), "what is not secret stays: {shown}");
        let secrets = Secrets::of(&p.spec);
        for s in ["pw-hunter2", "pem-hunter2", "tok-hunter2", "pw2-hunter2", "jaas-hunter2", "id-hunter2", "key-hunter2"] {
            assert_eq!(secrets.scrub(&format!("x {s} y")), "x <redacted> y", "{s}");
        }
    }

    #[test]
    fn scrubbing_replaces_every_occurrence_longest_first() {
        let s = Secrets::from_values(vec!["hunter2".into(), "hunter2-long".into(), "x".into()]);
        assert_eq!(s.scrub("bad `sasl.password: hunter2-long` (hunter2) x"), "bad `sasl.password: <redacted>` (<redacted>) x");
    }
}
