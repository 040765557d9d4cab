//! A typed tool of your own beside the built-ins, called through the default
//! pipeline once with valid and once with invalid arguments.
//!
//! Run with `cargo run -p rustchain-tools --example quickstart`.

use rustchain_tools::{BehaviorHints, Principal, prelude::*};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Converts a temperature between Celsius and Fahrenheit.
struct ConvertTemperature;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// The temperature to convert.
    #[schemars(range(min = -273.15))]
    value: f64,
    /// The unit of `value`.
    unit: Unit,
}

#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy)]
enum Unit {
    #[serde(rename = "C")]
    Celsius,
    #[serde(rename = "F")]
    Fahrenheit,
}

#[derive(Serialize, JsonSchema)]
struct Converted {
    value: f64,
    unit: Unit,
}

#[async_trait]
impl Tool for ConvertTemperature {
    type Params = Params;
    type Output = Converted;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("units.convert_temperature", "1.0.0")
            .description("Converts a temperature between Celsius (C) and Fahrenheit (F).")
            .category("units")
            .hints(BehaviorHints::PURE)
    }

    async fn run(&self, p: Params, _ctx: &ToolContext) -> Result<Converted, ToolError> {
        Ok(match p.unit {
            Unit::Celsius => Converted {
                value: p.value * 9.0 / 5.0 + 32.0,
                unit: Unit::Fahrenheit,
            },
            Unit::Fahrenheit => Converted {
                value: (p.value - 32.0) * 5.0 / 9.0,
                unit: Unit::Celsius,
            },
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ToolError> {
    // The default stack is the secure one: every call is recorded in the
    // audit log, validated, decided by the default policy (default deny),
    // limited and given a deadline.
    let runtime = Runtime::builder()
        .tool(ConvertTemperature)
        .builtins()
        .default_layers()
        .build()?;
    println!("{} tools registered", runtime.tools().len());

    let ok = runtime
        .call(ToolCall::new(
            "units.convert_temperature",
            json!({"value": 100, "unit": "C"}),
        ))
        .await?;
    println!(
        "valid call   -> {} (in {:?})",
        ok.structured.unwrap_or_default(),
        ok.duration
    );

    let err = runtime
        .call(ToolCall::new(
            "units.convert_temperature",
            json!({"value": -500, "unit": "K"}),
        ))
        .await
        .expect_err("these arguments break the schema");
    println!("invalid call -> {err}");
    if let ToolError::InvalidArguments { violations, .. } = &err {
        for v in violations {
            println!(
                "  {} [{}] expected {} got {}",
                v.pointer, v.keyword, v.expected, v.actual
            );
        }
    }

    // A caller with no role is not granted the tool's category.
    let stranger = Principal {
        id: "stranger".into(),
        roles: vec![],
    };
    let denied = runtime
        .call(
            ToolCall::new(
                "units.convert_temperature",
                json!({"value": 0, "unit": "C"}),
            )
            .with_principal(stranger),
        )
        .await
        .expect_err("the default policy denies it");
    println!("denied call  -> {denied}");
    if let Some(dir) = rustchain_tools::data_dir() {
        println!(
            "every call is in {} (check it with `rustchain-tools audit verify`)",
            dir.join(rustchain_tools::DEFAULT_AUDIT_FILE).display()
        );
    }
    Ok(())
}
