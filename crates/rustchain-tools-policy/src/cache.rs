//! Reusing decisions: a decision depends only on the parts of the input the
//! policies read, so two calls that agree on those parts get the same
//! decision. Which parts are read is known from the modules' `input`
//! references (the same reading the typo check does); the tool part comes
//! from the tool's metadata and the environment from the engine, both fixed.

use std::{
    collections::HashMap,
    sync::{Arc, Weak},
};

use rustchain_tools_core::{RegisteredTool, ToolRequest};
use serde_json::Value;

use crate::Decision;

/// What of a call's input a decision depends on, beyond the tool and the
/// principal (always part of the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachePlan {
    /// The arguments are read whole (iterated, passed on, indexed by a
    /// variable): the key holds them all.
    whole_arguments: bool,
    /// `input.call.argumentNames` is read.
    argument_names: bool,
    /// The paths below `input.call.arguments` read one by one.
    argument_paths: Vec<Vec<String>>,
}

impl CachePlan {
    /// The plan for modules that read `reads` (paths below `input`);
    /// `None` when decisions cannot be reused: the policies read the call's
    /// id, the whole call or the whole input, or may call a builtin whose
    /// value varies between calls.
    pub(crate) fn new(reads: &[Vec<String>], nondeterministic: bool) -> Option<CachePlan> {
        if nondeterministic {
            return None;
        }
        let mut plan = CachePlan {
            whole_arguments: false,
            argument_names: false,
            argument_paths: Vec::new(),
        };
        for path in reads {
            let parts: Vec<&str> = path.iter().map(String::as_str).collect();
            match parts.as_slice() {
                [] | ["call"] | ["call", "id", ..] => return None,
                ["call", "arguments"] => plan.whole_arguments = true,
                ["call", "arguments", rest @ ..] => {
                    let rest: Vec<String> = rest.iter().map(|s| (*s).to_owned()).collect();
                    if !plan.argument_paths.contains(&rest) {
                        plan.argument_paths.push(rest);
                    }
                }
                ["call", "argumentNames", ..] => plan.argument_names = true,
                // A field the input does not have (refused at load anyway).
                ["call", ..] => return None,
                // The tool, the principal and the environment: in the key,
                // or fixed for the engine.
                _ => {}
            }
        }
        plan.argument_paths.sort();
        Some(plan)
    }

    /// The key of `request`: the tool (by identity), the principal, and
    /// what the policies read of the arguments, with every part
    /// length-prefixed so that no two inputs share a key.
    pub(crate) fn key(&self, request: &ToolRequest) -> Vec<u8> {
        let mut key = Vec::with_capacity(96);
        key.extend_from_slice(&(Arc::as_ptr(&request.tool) as usize).to_le_bytes());
        let principal = &request.call.principal;
        push_str(&mut key, &principal.id);
        key.extend_from_slice(&(principal.roles.len() as u32).to_le_bytes());
        for role in &principal.roles {
            push_str(&mut key, role);
        }
        let arguments = &request.call.arguments;
        if self.whole_arguments {
            push_value(&mut key, Some(arguments));
            return key;
        }
        if self.argument_names {
            match arguments.as_object() {
                Some(object) => {
                    key.extend_from_slice(&(object.len() as u32).to_le_bytes());
                    for name in object.keys() {
                        push_str(&mut key, name);
                    }
                }
                None => key.extend_from_slice(&u32::MAX.to_le_bytes()),
            }
        }
        for path in &self.argument_paths {
            let value = path.iter().try_fold(arguments, |value, step| match value {
                Value::Object(object) => object.get(step),
                Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            });
            push_value(&mut key, value);
        }
        key
    }
}

fn push_str(key: &mut Vec<u8>, text: &str) {
    key.extend_from_slice(&(text.len() as u32).to_le_bytes());
    key.extend_from_slice(text.as_bytes());
}

/// A value's JSON text (object members in the map's order, which is the
/// sorted one), or a marker for no value.
fn push_value(key: &mut Vec<u8>, value: Option<&Value>) {
    match value {
        None => key.push(0),
        Some(value) => {
            key.push(1);
            let start = key.len();
            key.extend_from_slice(&[0; 4]);
            // Writing a JSON value into memory cannot fail.
            let _ = serde_json::to_writer(&mut *key, value);
            let len = (key.len() - start - 4) as u32;
            key[start..start + 4].copy_from_slice(&len.to_le_bytes());
        }
    }
}

/// Past this many entries a thread's cache starts afresh: a bound for
/// workloads whose inputs never repeat.
const MAX_ENTRIES: usize = 4096;

/// One thread's decisions for one engine.
#[derive(Default)]
pub(crate) struct DecisionCache {
    /// The weak reference keeps the tool's allocation from being reused by
    /// another tool while the entry exists, so its address in the key
    /// stays its own.
    entries: HashMap<Vec<u8>, (Weak<RegisteredTool>, Decision)>,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}

impl DecisionCache {
    pub(crate) fn get(&mut self, key: &[u8]) -> Option<Decision> {
        match self.entries.get(key) {
            Some((tool, decision)) if tool.strong_count() > 0 => {
                self.hits += 1;
                Some(decision.clone())
            }
            _ => {
                self.misses += 1;
                None
            }
        }
    }

    pub(crate) fn insert(&mut self, key: Vec<u8>, tool: &Arc<RegisteredTool>, decision: Decision) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(key, (Arc::downgrade(tool), decision));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(paths: &[&str]) -> Vec<Vec<String>> {
        paths
            .iter()
            .map(|p| {
                p.split('.')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn reading_the_call_id_or_the_whole_input_prevents_reuse() {
        assert!(CachePlan::new(&reads(&["call.id"]), false).is_none());
        assert!(CachePlan::new(&reads(&[""]), false).is_none());
        assert!(CachePlan::new(&reads(&["call"]), false).is_none());
        assert!(CachePlan::new(&reads(&["tool.name"]), true).is_none());
        let plan = CachePlan::new(&reads(&["tool.name", "call.arguments.path"]), false).unwrap();
        assert_eq!(plan.argument_paths, [vec!["path".to_owned()]]);
        assert!(!plan.whole_arguments);
        let plan =
            CachePlan::new(&reads(&["call.arguments", "call.arguments.url"]), false).unwrap();
        assert!(plan.whole_arguments);
    }
}
