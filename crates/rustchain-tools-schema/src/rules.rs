//! Rules in Rust for what a schema cannot say (cross-field business rules).

use serde_json::Value;

use crate::Violation;

/// A check of a tool's arguments that a JSON Schema cannot express, run
/// after the schema accepted them, so it may rely on their shape. Its
/// violations are reported with the schema's, in the same form.
///
/// Any `Fn(&Value) -> Vec<Violation>` is a rule:
///
/// ```
/// use rustchain_tools_schema::{ArgumentRule, Violation};
/// use serde_json::{json, Value};
///
/// let start_before_end = |args: &Value| {
///     if args["start"].as_i64() > args["end"].as_i64() {
///         vec![Violation::new("/end", "x-after-start", args["start"].clone(),
///                             args["end"].clone(), "the end must not come before the start")]
///     } else {
///         Vec::new()
///     }
/// };
/// assert_eq!(start_before_end.check(&json!({"start": 5, "end": 1}))[0].pointer, "/end");
/// ```
pub trait ArgumentRule: Send + Sync + 'static {
    /// Every violation of the rule; empty when the arguments keep it.
    fn check(&self, arguments: &Value) -> Vec<Violation>;
}

impl<F> ArgumentRule for F
where
    F: Fn(&Value) -> Vec<Violation> + Send + Sync + 'static,
{
    fn check(&self, arguments: &Value) -> Vec<Violation> {
        self(arguments)
    }
}
