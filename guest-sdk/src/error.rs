//! [`Error`]: what an operator's fallible methods return, so that `?` works
//! on any error.

/// The error of an [`Operator`](crate::Operator)'s methods: any error at all.
///
/// It is `Box<dyn std::error::Error + Send + Sync>`, so `?` converts into it
/// from every type that implements [`std::error::Error`] (`std::io::Error`,
/// `serde_json::Error`, `std::num::ParseIntError`, your own), from `String`
/// and `&str` (`.ok_or("no value")?`, `Err(format!("bad {x}").into())`), and
/// from `anyhow::Error`. The host is handed the error's message followed by its
/// causes ([`Error::source`](std::error::Error::source)), joined by `: `; the
/// job fails with it, naming the operator, subtask and call.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The message the host is handed for `error`: its `Display`, then each
/// cause's that it does not already contain, joined by `: `.
pub fn message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !more.is_empty() && !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a cause, as libraries write them (the cause not in the message).
    #[derive(Debug)]
    struct ReadConfig(std::io::Error);

    impl std::fmt::Display for ReadConfig {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("cannot read the table")
        }
    }

    impl std::error::Error for ReadConfig {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn parse(text: &str) -> Result<u32, Error> {
        let n: u32 = text.trim().parse()?; // ParseIntError
        let v: serde_json::Value = serde_json::from_str(text)?; // serde_json::Error
        let _ = v.as_u64().ok_or("not a number")?; // &str
        if n == 7 {
            return Err(format!("{n} is not allowed").into()); // String
        }
        if n == 8 {
            Err(ReadConfig(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")))?;
        }
        Ok(n)
    }

    #[test]
    fn question_mark_converts_any_error_and_the_message_carries_its_causes() {
        assert_eq!(parse("3").unwrap(), 3);
        assert_eq!(message(&*parse("x").unwrap_err()), "invalid digit found in string");
        assert_eq!(message(&*parse("7").unwrap_err()), "7 is not allowed");
        assert_eq!(message(&*parse("8").unwrap_err()), "cannot read the table: no such file");
    }
}
