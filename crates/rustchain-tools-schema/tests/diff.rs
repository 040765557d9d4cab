//! Schema evolution: breaking and compatible changes, and a property test
//! that "compatible" can be trusted.

use proptest::prelude::*;
use rustchain_tools_schema::{CompiledSchema, diff::diff};
use serde_json::{Map, Value, json};

fn base() -> Value {
    json!({
        "type": "object",
        "properties": {
            "q": {"type": "string", "maxLength": 100},
            "n": {"type": "integer", "minimum": 1, "maximum": 50},
            "mode": {"enum": ["fast", "safe"]}
        },
        "required": ["q"],
        "additionalProperties": false
    })
}

fn changed(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = base();
    edit(&mut v);
    v
}

fn breaking(new: Value) -> Vec<String> {
    diff(&base(), &new)
        .unwrap()
        .breaking
        .into_iter()
        .map(|c| format!("{} {}", c.pointer, c.what))
        .collect()
}

#[test]
fn identical_schemas_have_no_changes() {
    let d = diff(&base(), &base()).unwrap();
    assert!(d.is_compatible() && d.compatible.is_empty());
}

#[test]
fn each_kind_of_breaking_change_is_named() {
    let cases: Vec<(Value, &str)> = vec![
        (
            changed(|v| v["required"] = json!(["q", "n"])),
            "/n n is now required",
        ),
        (
            changed(|v| {
                v["properties"].as_object_mut().unwrap().remove("mode");
            }),
            "/mode the property mode was removed",
        ),
        (
            changed(|v| v["properties"]["n"]["type"] = json!("string")),
            "/n /n no longer accepts type integer",
        ),
        (
            changed(|v| v["properties"]["n"]["maximum"] = json!(10)),
            "/n /n: maximum changed from 50 to 10",
        ),
        (
            changed(|v| v["properties"]["n"]["minimum"] = json!(2)),
            "/n /n: minimum changed from 1 to 2",
        ),
        (
            changed(|v| v["properties"]["q"]["maxLength"] = json!(10)),
            "/q /q: maxLength changed from 100 to 10",
        ),
        (
            changed(|v| v["properties"]["q"]["pattern"] = json!("^a")),
            "/q /q: pattern \"^a\" added",
        ),
        (
            changed(|v| v["properties"]["mode"]["enum"] = json!(["fast"])),
            "/mode /mode no longer accepts \"safe\"",
        ),
    ];
    for (new, expected) in cases {
        let found = breaking(new);
        assert!(
            found.iter().any(|f| f.starts_with(expected)),
            "{expected:?} not in {found:?}"
        );
    }
    let open = json!({"type": "object", "properties": {"q": {"type": "string"}}});
    let closed = json!({"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": false});
    let d = diff(&open, &closed).unwrap();
    assert!(
        d.breaking
            .iter()
            .any(|c| c.what.contains("additional properties are now restricted")),
        "{d:?}"
    );
}

#[test]
fn each_kind_of_compatible_change_is_listed() {
    let new = changed(|v| {
        v["required"] = json!([]);
        v["properties"]["n"]["maximum"] = json!(100);
        v["properties"]["n"]["type"] = json!("number");
        v["properties"]["mode"]["enum"] = json!(["fast", "safe", "lazy"]);
        v["properties"]["extra"] = json!({"type": "boolean"});
        v["properties"]["q"]
            .as_object_mut()
            .unwrap()
            .remove("maxLength");
    });
    let d = diff(&base(), &new).unwrap();
    assert!(d.is_compatible(), "{:?}", d.breaking);
    let what: Vec<&str> = d.compatible.iter().map(|c| c.what.as_str()).collect();
    for expected in [
        "q is no longer required",
        "maximum changed from 50 to 100",
        "now also accepts type number",
        "now also accepts \"lazy\"",
        "the property extra was added",
        "maxLength 100 removed",
    ] {
        assert!(
            what.iter().any(|w| w.contains(expected)),
            "{expected:?} not in {what:?}"
        );
    }
}

#[test]
fn refs_are_followed_and_recursion_refused() {
    let old = json!({"type": "object", "properties": {"p": {"$ref": "#/$defs/p"}}, "$defs": {"p": {"type": "integer"}}});
    let new = json!({"type": "object", "properties": {"p": {"type": "string"}}});
    assert!(!diff(&old, &new).unwrap().is_compatible());
    let recursive = json!({"type": "object", "properties": {"p": {"$ref": "#"}}});
    assert!(diff(&recursive, &recursive).is_err());
}

/// One property of a generated flat schema.
#[derive(Debug, Clone)]
enum Prop {
    Int { min: i64, max: i64 },
    Str { max_len: u64 },
    Enum(Vec<String>),
    Bool,
}

impl Prop {
    fn schema(&self) -> Value {
        match self {
            Prop::Int { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
            Prop::Str { max_len } => json!({"type": "string", "maxLength": max_len}),
            Prop::Enum(values) => json!({"enum": values}),
            Prop::Bool => json!({"type": "boolean"}),
        }
    }

    fn value(&self) -> BoxedStrategy<Value> {
        match self.clone() {
            Prop::Int { min, max } => (min..=max).prop_map(Value::from).boxed(),
            Prop::Str { max_len } => {
                prop::collection::vec(prop::char::range('a', 'e'), 0..=max_len as usize)
                    .prop_map(|c| Value::String(c.into_iter().collect()))
                    .boxed()
            }
            Prop::Enum(values) => prop::sample::select(values).prop_map(Value::from).boxed(),
            Prop::Bool => any::<bool>().prop_map(Value::from).boxed(),
        }
    }
}

fn prop_strategy() -> impl Strategy<Value = Prop> {
    prop_oneof![
        (-5i64..5, 0i64..10).prop_map(|(min, span)| Prop::Int {
            min,
            max: min + span
        }),
        (0u64..6).prop_map(|max_len| Prop::Str { max_len }),
        prop::collection::btree_set("[a-d]", 1..4)
            .prop_map(|s| Prop::Enum(s.into_iter().collect())),
        Just(Prop::Bool),
    ]
}

#[derive(Debug, Clone)]
struct Shape {
    props: Vec<(String, Prop)>,
    required: Vec<bool>,
    closed: bool,
}

impl Shape {
    fn schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for ((name, prop), req) in self.props.iter().zip(&self.required) {
            properties.insert(name.clone(), prop.schema());
            if *req {
                required.push(json!(name));
            }
        }
        let mut schema = json!({"type": "object", "properties": properties, "required": required});
        if self.closed {
            schema["additionalProperties"] = json!(false);
        }
        schema
    }

    /// Inputs the schema accepts: required properties always, others by chance.
    fn inputs(&self) -> BoxedStrategy<Value> {
        let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = self
            .props
            .iter()
            .zip(&self.required)
            .map(|((name, prop), req)| {
                let name = name.clone();
                let value = prop.value();
                if *req {
                    value.prop_map(move |v| Some((name.clone(), v))).boxed()
                } else {
                    prop::option::of(value.prop_map(move |v| (name.clone(), v))).boxed()
                }
            })
            .collect();
        parts
            .prop_map(|kv| Value::Object(kv.into_iter().flatten().collect()))
            .boxed()
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    prop::collection::btree_map("[a-e]", prop_strategy(), 1..5).prop_flat_map(|props| {
        let props: Vec<(String, Prop)> = props.into_iter().collect();
        let n = props.len();
        (
            Just(props),
            prop::collection::vec(any::<bool>(), n),
            any::<bool>(),
        )
            .prop_map(|(props, required, closed)| Shape {
                props,
                required,
                closed,
            })
    })
}

/// A variation of `old`: bounds, lengths, enum values, requiredness and
/// closedness each moved one way or the other, so that both compatible and
/// breaking variations come up often.
fn variation(old: Shape) -> impl Strategy<Value = Shape> {
    let n = old.props.len();
    (
        prop::collection::vec((-2i64..=2, -2i64..=2, any::<bool>(), any::<bool>()), n),
        any::<bool>(),
    )
        .prop_map(move |(moves, flip_closed)| {
            let mut new = old.clone();
            for (i, (a, b, flip_required, drop_or_add)) in moves.into_iter().enumerate() {
                match &mut new.props[i].1 {
                    Prop::Int { min, max } => {
                        *min += a;
                        *max = (*max + b).max(*min);
                    }
                    Prop::Str { max_len } => *max_len = (*max_len as i64 + a).max(0) as u64,
                    Prop::Enum(values) => {
                        if drop_or_add && values.len() > 1 {
                            values.pop();
                        } else if !drop_or_add {
                            values.push(format!("z{a}"));
                            values.dedup();
                        }
                    }
                    Prop::Bool => {}
                }
                if flip_required {
                    new.required[i] = !new.required[i];
                }
            }
            if flip_closed {
                new.closed = !new.closed;
            }
            new
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The same for NEW a variation of OLD, where compatible changes are common.
    #[test]
    fn compatible_variations_accept_every_old_input(
        (old, new, input) in shape().prop_flat_map(|old| {
            let input = old.inputs();
            (Just(old.clone()), variation(old), input)
        })
    ) {
        let (old_schema, new_schema) = (old.schema(), new.schema());
        let d = diff(&old_schema, &new_schema).unwrap();
        if d.is_compatible() {
            let accepted = CompiledSchema::compile(&new_schema).unwrap().validate(&input);
            prop_assert!(accepted.is_ok(), "{} -> {} called compatible, refuses {}: {:?}", old_schema, new_schema, input, accepted);
        }
    }

    /// Inputs generated from OLD are accepted by any NEW the check calls
    /// compatible (NEW is OLD or an unrelated schema over the same names).
    #[test]
    fn compatible_means_every_old_input_is_still_accepted(
        (old, new, input) in (shape(), shape()).prop_flat_map(|(old, new)| {
            let input = old.inputs();
            (Just(old), Just(new), input)
        })
    ) {
        let (old_schema, new_schema) = (old.schema(), new.schema());
        prop_assert!(CompiledSchema::compile(&old_schema).unwrap().validate(&input).is_ok());
        let d = diff(&old_schema, &new_schema).unwrap();
        if d.is_compatible() {
            let accepted = CompiledSchema::compile(&new_schema).unwrap().validate(&input);
            prop_assert!(accepted.is_ok(), "{} -> {} called compatible, refuses {}: {:?}", old_schema, new_schema, input, accepted);
        }
    }
}
