//! All printing goes through [`Shell`]: status lines and warnings on stderr, the result on
//! stdout, either for people or, with `--json`, as one JSON object per line (JSON Lines) with a
//! `reason` tag and a `format` version; the last line is the result or the error.

use serde_json::{Map, Value, json};

use crate::error::CliError;

/// Version of the `--json` output format.
pub const FORMAT_VERSION: u32 = 1;

/// What a command produced: a tag, the facts for machines, and the lines for people.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The command, as the JSON `reason` tag (`keygen`, `build`, …).
    pub reason: &'static str,
    /// Facts for machines (a JSON object).
    pub data: Value,
    /// Lines for people, printed on stdout.
    pub human: Vec<String>,
}

impl Outcome {
    /// An outcome with the given facts and lines.
    pub fn new(reason: &'static str, data: Value, human: Vec<String>) -> Self {
        Outcome { reason, data, human }
    }
}

/// Renders results, status lines, warnings and errors.
#[derive(Debug, Clone, Copy)]
pub struct Shell {
    json: bool,
}

impl Shell {
    /// A shell printing JSON Lines when `json` is set.
    pub fn new(json: bool) -> Self {
        Shell { json }
    }

    /// A progress line (`   Building vendor.acme.tools 0.1.0`), on stderr; silent under `--json`.
    pub fn status(&self, verb: &str, message: &str) {
        if !self.json {
            eprintln!("{verb:>12} {message}");
        }
    }

    /// A warning: `warning: …` on stderr, or a `warning` JSON line.
    pub fn warn(&self, message: &str) {
        self.warning(None, message);
    }

    /// A warning with a machine-readable code: `warning: … [code]` on stderr, or a `warning`
    /// JSON line with a `code` field, so a consumer can act on the kind without parsing text.
    pub fn warn_coded(&self, code: &str, message: &str) {
        self.warning(Some(code), message);
    }

    fn warning(&self, code: Option<&str>, message: &str) {
        if self.json {
            let mut line = json!({"reason": "warning", "format": FORMAT_VERSION, "message": message});
            if let Some(code) = code {
                line["code"] = Value::from(code);
            }
            println!("{line}");
        } else {
            match code {
                Some(code) => eprintln!("warning: {message} [{code}]"),
                None => eprintln!("warning: {message}"),
            }
        }
    }

    /// Prints the result of a command.
    pub fn outcome(&self, outcome: &Outcome) {
        if self.json {
            let mut obj = Map::new();
            obj.insert("reason".into(), Value::from(outcome.reason));
            obj.insert("format".into(), Value::from(FORMAT_VERSION));
            obj.insert("ok".into(), Value::Bool(true));
            if let Value::Object(data) = &outcome.data {
                for (k, v) in data {
                    obj.insert(k.clone(), v.clone());
                }
            }
            println!("{}", Value::Object(obj));
        } else {
            for line in &outcome.human {
                println!("{line}");
            }
        }
    }

    /// Prints an error: `error[code]: what`, `  --> path`, `  hint: how to fix` on stderr, or an
    /// `error` JSON line on stdout.
    pub fn error(&self, err: &CliError) {
        if self.json {
            println!(
                "{}",
                json!({
                    "reason": "error",
                    "format": FORMAT_VERSION,
                    "ok": false,
                    "error": err.code,
                    "message": err.message,
                    "path": err.path.as_ref().map(|p| p.display().to_string()),
                    "hint": err.hint,
                    "details": err.details,
                    "exitCode": err.exit.code(),
                })
            );
        } else {
            eprintln!("{err}");
            if let Some(path) = &err.path {
                eprintln!("  --> {}", path.display());
            }
            eprintln!("  hint: {}", err.hint);
        }
    }
}
