//! Inputs for the scan's fuzz run: values generated from a JSON Schema, and
//! mutations of them. Generation is best effort (a `pattern` or a
//! combination of keywords may not be met); the scan keeps a generated
//! value as valid only if the tool's own validator accepts it.

use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift64), so a scan is repeatable.
pub(crate) struct Generator {
    state: u64,
}

/// How deep generated objects and arrays go.
const MAX_DEPTH: u32 = 6;

impl Generator {
    pub(crate) fn new(seed: u64) -> Generator {
        Generator { state: seed | 1 }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// A number in `0..bound` (`bound` ≥ 1).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A value meant to satisfy `schema`.
    pub(crate) fn value(&mut self, schema: &Value) -> Value {
        self.value_at(schema, 0)
    }

    fn value_at(&mut self, schema: &Value, depth: u32) -> Value {
        let Some(schema) = schema.as_object() else {
            // `true` (anything) or `false` (nothing): a scalar either way.
            return json!(self.below(100));
        };
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(Value::Array(options)) = schema.get("enum")
            && !options.is_empty()
        {
            return options[self.below(options.len() as u64) as usize].clone();
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(branches)) = schema.get(key)
                && !branches.is_empty()
            {
                let branch = &branches[self.below(branches.len() as u64) as usize];
                return self.value_at(branch, depth);
            }
        }
        if let Some(Value::Array(parts)) = schema.get("allOf")
            && let Some(first) = parts.first()
        {
            return self.value_at(first, depth);
        }
        let kind = match schema.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(Value::Array(kinds)) if !kinds.is_empty() => {
                let non_null: Vec<&Value> = kinds.iter().filter(|k| *k != "null").collect();
                let pick = if non_null.is_empty() || self.chance(10) {
                    &kinds[self.below(kinds.len() as u64) as usize]
                } else {
                    non_null[self.below(non_null.len() as u64) as usize]
                };
                pick.as_str().unwrap_or("string").to_owned()
            }
            _ => inferred_type(schema).to_owned(),
        };
        if depth >= MAX_DEPTH && matches!(kind.as_str(), "object" | "array") {
            return Value::Null;
        }
        match kind.as_str() {
            "object" => self.object(schema, depth),
            "array" => self.array(schema, depth),
            "integer" => self.integer(schema),
            "number" => self.number(schema),
            "boolean" => Value::Bool(self.chance(50)),
            "null" => Value::Null,
            _ => self.string(schema),
        }
    }

    fn object(&mut self, schema: &Map<String, Value>, depth: u32) -> Value {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, property) in properties {
                if required.contains(&name.as_str()) || self.chance(60) {
                    out.insert(name.clone(), self.value_at(property, depth + 1));
                }
            }
        }
        for name in required {
            if !out.contains_key(name) {
                out.insert(name.to_owned(), json!("x"));
            }
        }
        Value::Object(out)
    }

    fn array(&mut self, schema: &Map<String, Value>, depth: u32) -> Value {
        let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let max = schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(min + 4)
            .min(min + 4)
            .max(min);
        let len = min + self.below(max - min + 1);
        let items = schema.get("items").cloned().unwrap_or(Value::Bool(true));
        Value::Array((0..len).map(|_| self.value_at(&items, depth + 1)).collect())
    }

    fn bounds(&self, schema: &Map<String, Value>) -> (f64, f64) {
        let get = |key: &str| schema.get(key).and_then(Value::as_f64);
        let low = get("minimum")
            .or(get("exclusiveMinimum").map(|m| m + 1.0))
            .unwrap_or(-1_000.0);
        let high = get("maximum")
            .or(get("exclusiveMaximum").map(|m| m - 1.0))
            .unwrap_or(low.max(0.0) + 1_000.0);
        (low, high.max(low))
    }

    fn integer(&mut self, schema: &Map<String, Value>) -> Value {
        let (low, high) = self.bounds(schema);
        let (low, high) = (low.ceil() as i64, high.floor() as i64);
        if high < low {
            return json!(low);
        }
        let span = (high as i128 - low as i128 + 1).min(u64::MAX as i128) as u64;
        let edge = match self.below(6) {
            0 => Some(low),
            1 => Some(high),
            _ => None,
        };
        json!(edge.unwrap_or_else(|| (low as i128 + self.below(span) as i128) as i64))
    }

    fn number(&mut self, schema: &Map<String, Value>) -> Value {
        let (low, high) = self.bounds(schema);
        let fraction = self.below(10_001) as f64 / 10_000.0;
        json!(low + (high - low) * fraction)
    }

    fn string(&mut self, schema: &Map<String, Value>) -> Value {
        if let Some(format) = schema.get("format").and_then(Value::as_str)
            && let Some(example) = format_example(format)
        {
            return json!(example);
        }
        let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        let max = schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .unwrap_or(min + 16)
            .min(min + 16)
            .max(min);
        let len = min + self.below(max - min + 1);
        const ALPHABET: &[char] = &[
            'a', 'b', 'c', 'x', 'y', 'z', 'A', 'Q', '0', '7', ' ', '-', '_', '.', '/', 'é', 'ß',
            '中', '🦀',
        ];
        Value::String(
            (0..len)
                .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
                .collect(),
        )
    }

    /// Variations of `valid` meant to break its schema or stress the
    /// plugin: a required field dropped, a field of the wrong type, an
    /// unknown field, a huge string, deep nesting, extreme numbers, odd
    /// text, and inputs that are not objects.
    pub(crate) fn mutations(&mut self, valid: &Value) -> Vec<Value> {
        let mut out = vec![Value::Null, json!([]), json!("not an object"), json!({})];
        let Some(object) = valid.as_object() else {
            return out;
        };
        let keys: Vec<&String> = object.keys().collect();
        let with = |key: &str, value: Value| {
            let mut changed = object.clone();
            changed.insert(key.to_owned(), value);
            Value::Object(changed)
        };
        out.push(with("__unexpected", json!(true)));
        if !keys.is_empty() {
            let key = keys[self.below(keys.len() as u64) as usize].clone();
            let mut dropped = object.clone();
            dropped.remove(&key);
            out.push(Value::Object(dropped));
            let wrong = match &object[&key] {
                Value::String(_) => json!(12345),
                Value::Number(_) => json!("12345"),
                Value::Bool(_) => json!("true"),
                Value::Array(_) => json!({"not": "an array"}),
                Value::Object(_) => json!(["not", "an", "object"]),
                Value::Null => json!(0),
            };
            out.push(with(&key, wrong));
            out.push(with(&key, Value::String("🦀".repeat(16 << 10))));
            let mut deep = json!(0);
            for _ in 0..64 {
                deep = json!([deep]);
            }
            out.push(with(&key, deep));
            out.push(with(&key, json!(i64::MAX)));
            out.push(with(&key, json!(-1.0e308)));
            out.push(with(&key, json!("\u{0}\u{202e}\u{feff}'\"\\<script>")));
        }
        out
    }
}

fn inferred_type(schema: &Map<String, Value>) -> &'static str {
    let has = |keys: &[&str]| keys.iter().any(|k| schema.contains_key(*k));
    if has(&["properties", "required", "additionalProperties"]) {
        "object"
    } else if has(&["items", "minItems", "maxItems"]) {
        "array"
    } else if has(&["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]) {
        "number"
    } else {
        "string"
    }
}

fn format_example(format: &str) -> Option<&'static str> {
    Some(match format {
        "date-time" => "2026-12-06T10:30:00Z",
        "date" => "2026-12-06",
        "time" => "10:30:00Z",
        "email" => "ada@example.com",
        "uri" | "url" | "iri" => "https://example.com/docs/item?id=7",
        "uuid" => "5f1f7c2e-8a4b-4c8e-9d3a-2b6f0e1c4a77",
        "ipv4" => "192.0.2.7",
        "ipv6" => "2001:db8::7",
        "hostname" => "example.com",
        "relative-path" => "docs/readme.md",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_follow_simple_schemas() {
        let schema = json!({
            "type": "object",
            "required": ["name", "count"],
            "properties": {
                "name": {"type": "string", "minLength": 2, "maxLength": 5},
                "count": {"type": "integer", "minimum": 1, "maximum": 3},
                "mode": {"enum": ["fast", "slow"]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
            }
        });
        let mut generator = Generator::new(7);
        for _ in 0..200 {
            let v = generator.value(&schema);
            let name = v["name"].as_str().unwrap();
            assert!((2..=5).contains(&name.chars().count()), "{v}");
            assert!((1..=3).contains(&v["count"].as_i64().unwrap()), "{v}");
            if let Some(mode) = v.get("mode") {
                assert!(mode == "fast" || mode == "slow");
            }
            if let Some(tags) = v.get("tags") {
                assert!(tags.as_array().unwrap().len() <= 2);
            }
        }
    }

    #[test]
    fn mutations_break_the_shape() {
        let mut generator = Generator::new(1);
        let mutations = generator.mutations(&json!({"name": "ada"}));
        assert!(mutations.contains(&Value::Null));
        assert!(mutations.contains(&json!({"name": "ada", "__unexpected": true})));
        assert!(mutations.contains(&json!({"name": 12345})));
        assert!(mutations.len() >= 10);
    }
}
