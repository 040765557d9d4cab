//! Walking every subschema of a schema, and resolving local `$ref`s.

use serde_json::{Map, Value};

use crate::SchemaError;

/// Keywords whose value is one subschema.
const SINGLE: &[&str] = &[
    "additionalProperties",
    "items",
    "additionalItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is an array of subschemas.
const LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems", "items"];
/// Keywords whose value maps names to subschemas.
const MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// What [`visit_mut`] calls on each node, with its pointer; may rewrite it.
pub(crate) type RewriteNode<'a> =
    dyn FnMut(&mut Map<String, Value>, &str) -> Result<(), SchemaError> + 'a;
/// What [`visit`] calls on each node, with its pointer and object depth.
pub(crate) type ReadNode<'a> = dyn FnMut(&Map<String, Value>, &str, usize) + 'a;

/// Calls `visit` on `schema` and, depth first, on every subschema, with the
/// JSON pointer of each (within the schema) and its nesting depth in
/// objects. `visit` may rewrite the node it is given.
pub(crate) fn visit_mut(
    schema: &mut Value,
    pointer: &mut String,
    visit: &mut RewriteNode<'_>,
) -> Result<(), SchemaError> {
    let Value::Object(node) = schema else {
        return Ok(());
    };
    visit(node, pointer)?;
    for (key, value) in node.iter_mut() {
        let len = pointer.len();
        pointer.push('/');
        pointer.push_str(&escape(key));
        let key = key.as_str();
        if MAP.contains(&key) {
            if let Value::Object(children) = value {
                for (name, child) in children.iter_mut() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&escape(name));
                    visit_mut(child, pointer, visit)?;
                    pointer.truncate(len);
                }
            }
        } else if LIST.contains(&key) && value.is_array() {
            if let Value::Array(items) = value {
                for (i, child) in items.iter_mut().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    visit_mut(child, pointer, visit)?;
                    pointer.truncate(len);
                }
            }
        } else if SINGLE.contains(&key) {
            visit_mut(value, pointer, visit)?;
        }
        pointer.truncate(len);
    }
    Ok(())
}

/// Read-only walk: `visit(node, pointer, object_depth)`.
pub(crate) fn visit(schema: &Value, visit: &mut ReadNode<'_>) {
    fn go(schema: &Value, pointer: &mut String, depth: usize, visit: &mut ReadNode<'_>) {
        let Value::Object(node) = schema else {
            return;
        };
        visit(node, pointer, depth);
        let child_depth = depth + usize::from(node.contains_key("properties"));
        for (key, value) in node {
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&escape(key));
            let k = key.as_str();
            if MAP.contains(&k) {
                if let Value::Object(children) = value {
                    for (name, child) in children {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&escape(name));
                        go(child, pointer, child_depth, visit);
                        pointer.truncate(len);
                    }
                }
            } else if LIST.contains(&k) && value.is_array() {
                if let Value::Array(items) = value {
                    for (i, child) in items.iter().enumerate() {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&i.to_string());
                        go(child, pointer, child_depth, visit);
                        pointer.truncate(len);
                    }
                }
            } else if SINGLE.contains(&k) {
                go(value, pointer, child_depth, visit);
            }
            pointer.truncate(len);
        }
    }
    go(schema, &mut String::new(), 1, visit);
}

pub(crate) use crate::violation::escape_pointer_token as escape;

/// Replaces every local `$ref` (`#`, `#/$defs/...`, any JSON pointer into the
/// document) by the schema it points at, siblings of the `$ref` kept on top,
/// then removes `$defs` and `definitions`. A recursive reference cannot be
/// inlined and is refused; so is a reference outside the document.
pub(crate) fn inline_refs(schema: &Value, format: &str) -> Result<Value, SchemaError> {
    Inliner {
        root: schema,
        format,
        stack: Vec::new(),
    }
    .schema(schema, "")
}

struct Inliner<'a> {
    root: &'a Value,
    format: &'a str,
    /// The `$ref` targets being inlined, to catch recursion.
    stack: Vec<String>,
}

impl Inliner<'_> {
    fn refuse(&self, pointer: &str, reason: String) -> SchemaError {
        SchemaError::Unexportable {
            format: self.format.to_owned(),
            pointer: pointer.to_owned(),
            reason,
        }
    }

    fn schema(&mut self, node: &Value, pointer: &str) -> Result<Value, SchemaError> {
        let Value::Object(map) = node else {
            return Ok(node.clone());
        };
        let mut out = Map::new();
        if let Some(Value::String(reference)) = map.get("$ref") {
            let target_pointer = reference.strip_prefix('#').ok_or_else(|| {
                self.refuse(
                    pointer,
                    format!("the $ref {reference:?} points outside the schema"),
                )
            })?;
            if self.stack.iter().any(|p| p == target_pointer) {
                return Err(self.refuse(
                    pointer,
                    format!("the $ref {reference:?} is recursive and cannot be inlined"),
                ));
            }
            let target = self.root.pointer(target_pointer).ok_or_else(|| {
                self.refuse(pointer, format!("the $ref {reference:?} leads nowhere"))
            })?;
            self.stack.push(target_pointer.to_owned());
            let resolved = self.schema(target, pointer)?;
            self.stack.pop();
            if let Value::Object(resolved) = resolved {
                out.extend(resolved);
            }
        }
        for (key, value) in map {
            let k = key.as_str();
            if (k == "$ref" && value.is_string()) || k == "$defs" || k == "definitions" {
                continue;
            }
            let here = format!("{pointer}/{}", escape(key));
            let child = if MAP.contains(&k) {
                match value {
                    Value::Object(children) => {
                        let mut mapped = Map::new();
                        for (name, child) in children {
                            let at = format!("{here}/{}", escape(name));
                            mapped.insert(name.clone(), self.schema(child, &at)?);
                        }
                        Value::Object(mapped)
                    }
                    other => other.clone(),
                }
            } else if LIST.contains(&k) && value.is_array() {
                let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
                let mut mapped = Vec::with_capacity(items.len());
                for (i, child) in items.iter().enumerate() {
                    mapped.push(self.schema(child, &format!("{here}/{i}"))?);
                }
                Value::Array(mapped)
            } else if SINGLE.contains(&k) {
                self.schema(value, &here)?
            } else {
                value.clone()
            };
            out.insert(key.clone(), child);
        }
        Ok(Value::Object(out))
    }
}
