//! Tools written as Rust types, with schemas derived from their parameter and
//! output types.

use async_trait::async_trait;
use rustchain_tools_schema::{Violation, derive_input_schema, derive_output_schema};
use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{ToolContext, ToolError, ToolExecutor, ToolInfo, ToolMetadata, ToolOutput};

/// A tool with typed parameters and output.
///
/// ```
/// use rustchain_tools_core::{async_trait, BehaviorHints, Tool, ToolContext, ToolError, ToolInfo};
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
///
/// struct Greet;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct GreetParams {
///     /// Who to greet.
///     name: String,
/// }
///
/// #[derive(Serialize, JsonSchema)]
/// struct Greeting {
///     message: String,
/// }
///
/// #[async_trait]
/// impl Tool for Greet {
///     type Params = GreetParams;
///     type Output = Greeting;
///
///     fn info(&self) -> ToolInfo {
///         ToolInfo::new("greet", "1.0.0")
///             .description("Greets someone by name.")
///             .hints(BehaviorHints::PURE)
///     }
///
///     async fn run(&self, params: GreetParams, _ctx: &ToolContext) -> Result<Greeting, ToolError> {
///         Ok(Greeting { message: format!("Hello, {}!", params.name) })
///     }
/// }
/// ```
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    /// The arguments, deserialized from the call's JSON.
    type Params: DeserializeOwned + JsonSchema + Send;
    /// The structured result.
    type Output: Serialize + JsonSchema + Send;

    /// The tool's name, version, description and the rest.
    fn info(&self) -> ToolInfo;

    /// Runs the tool.
    async fn run(&self, params: Self::Params, ctx: &ToolContext)
    -> Result<Self::Output, ToolError>;
}

/// A [`Tool`] erased to a [`ToolExecutor`], with its schemas derived once.
pub struct TypedTool<T> {
    tool: T,
    metadata: ToolMetadata,
}

impl<T: Tool> TypedTool<T> {
    /// Derives the schemas of `tool` and checks its name and version.
    pub fn new(tool: T) -> Result<Self, ToolError> {
        let metadata = ToolMetadata::new(
            tool.info(),
            derive_input_schema::<T::Params>(),
            Some(derive_output_schema::<T::Output>()),
        )?;
        Ok(TypedTool { tool, metadata })
    }

    /// The typed tool inside.
    pub fn inner(&self) -> &T {
        &self.tool
    }
}

#[async_trait]
impl<T: Tool> ToolExecutor for TypedTool<T> {
    fn metadata(&self) -> &ToolMetadata {
        &self.metadata
    }

    async fn execute(
        &self,
        arguments: Value,
        context: ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        // The validation layer has normally caught every schema violation;
        // this catches what a schema cannot say and calls without that layer.
        let params: T::Params =
            serde_json::from_value(arguments).map_err(|e| ToolError::InvalidArguments {
                tool: self.metadata.name().to_string(),
                violations: vec![Violation::new(
                    "",
                    "deserialize",
                    Value::Null,
                    Value::Null,
                    e.to_string(),
                )],
            })?;
        let output = self.tool.run(params, &context).await?;
        let structured = serde_json::to_value(output).map_err(|e| {
            ToolError::failed(
                self.metadata.name().as_str(),
                format!("its result could not be serialized: {e}"),
            )
        })?;
        Ok(ToolOutput::structured(structured))
    }
}
