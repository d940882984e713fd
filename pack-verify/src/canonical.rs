//! The project's one canonical-JSON writer.
//!
//! Canonical form is what the reference builder signs: no whitespace, object keys sorted by
//! UTF-16 code units (JavaScript's default sort), strings escaped exactly as `JSON.stringify`
//! does, numbers printed as JavaScript prints them. For every input the reference registry holds
//! this equals RFC 8785 (JCS).

use serde_json::Value;

/// Serialises `value` canonically.
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Serialises `value` canonically as bytes (what gets signed and stored).
pub fn to_canonical_vec(value: &Value) -> Vec<u8> {
    to_canonical_string(value).into_bytes()
}

/// Serialises `value` canonically, indented by two spaces, with a trailing newline: the
/// "published reference" style used for lockfiles. Key order and escaping are the canonical ones.
pub fn to_canonical_pretty(value: &Value) -> String {
    let mut out = String::new();
    write_pretty(&mut out, value, 0);
    out.push('\n');
    out
}

fn sorted_entries(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    entries
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in sorted_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
        scalar => write_scalar(out, scalar),
    }
}

fn write_pretty(out: &mut String, value: &Value, depth: usize) {
    let indent = |out: &mut String, d: usize| out.extend(std::iter::repeat_n("  ", d));
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                write_pretty(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in sorted_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                write_string(out, k);
                out.push_str(": ");
                write_pretty(out, v, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
        scalar => write_scalar(out, scalar),
    }
}

fn write_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(_) | Value::Object(_) => write_value(out, value),
    }
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    // Integers that JavaScript represents exactly print as plain digits; everything else goes
    // through the double, as JSON.stringify would.
    const MAX_EXACT: u64 = 1 << 53;
    if let Some(u) = n.as_u64().filter(|u| *u <= MAX_EXACT) {
        out.push_str(&u.to_string());
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_EXACT) {
        out.push_str(&i.to_string());
    } else {
        out.push_str(&js_number(n.as_f64().unwrap_or(f64::NAN)));
    }
}

/// Formats a double the way ECMAScript's Number::toString does (shortest round-trip digits).
fn js_number(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_string(); // JSON.stringify turns NaN/Infinity into null
    }
    if f == 0.0 {
        return "0".to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits as d.ddddde<exp>.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1; // position of the decimal point relative to the digits
    let mut s = String::new();
    if f < 0.0 {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        s.push_str(&digits[..n as usize]);
        s.push('.');
        s.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-n) as usize));
        s.push_str(&digits);
    } else {
        let e = n - 1;
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if e >= 0 { '+' } else { '-' });
        s.push_str(&e.abs().to_string());
    }
    s
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [true, null, {"d": "x", "c": 2}]});
        assert_eq!(to_canonical_string(&v), r#"{"a":[true,null,{"c":2,"d":"x"}],"b":1}"#);
    }

    #[test]
    fn sorts_by_utf16_not_utf8() {
        // U+E000 sorts after U+1F600 in UTF-8 byte order but before it in UTF-16 code units? No:
        // the surrogate pair D83D.. is below E000, so the emoji comes first in UTF-16 order.
        let v = json!({"\u{e000}": 1, "\u{1f600}": 2});
        assert_eq!(to_canonical_string(&v), "{\"\u{1f600}\":2,\"\u{e000}\":1}");
    }

    #[test]
    fn escapes_like_json_stringify() {
        let v = json!("q\"b\\n\n\u{1}\u{1f}/é\u{7f}");
        assert_eq!(to_canonical_string(&v), "\"q\\\"b\\\\n\\n\\u0001\\u001f/é\u{7f}\"");
    }

    #[test]
    fn numbers_print_as_javascript() {
        let cases = [
            ("0.1", "0.1"),
            ("1.5e300", "1.5e+300"),
            ("1e21", "1e+21"),
            ("123456789012345680000", "123456789012345680000"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("-2.5", "-2.5"),
            ("10.0", "10"),
            ("9007199254740993", "9007199254740992"),
            ("-0.0", "0"),
        ];
        for (input, want) in cases {
            let v: Value = serde_json::from_str(input).expect("test literal parses");
            assert_eq!(to_canonical_string(&v), want, "{input}");
        }
    }

    #[test]
    fn pretty_form_is_stable() {
        let v = json!({"b": [], "a": {"y": [1, 2], "x": {}}});
        assert_eq!(
            to_canonical_pretty(&v),
            "{\n  \"a\": {\n    \"x\": {},\n    \"y\": [\n      1,\n      2\n    ]\n  },\n  \"b\": []\n}\n"
        );
    }
}
