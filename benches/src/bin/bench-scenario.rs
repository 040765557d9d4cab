//! Runs one benchmark scenario a given number of times on a single-threaded
//! runtime, for `cargo xtask bench-gate` to count its instructions under
//! callgrind. Usage: `bench-scenario SCENARIO ITERATIONS`.

use std::process::ExitCode;

use rustchain_tools::schema::export::{ExportOptions, Format, export};
use rustchain_tools_benches as b;

const SCENARIOS: &str =
    "direct, valid, invalid, concurrent-1000, validate-valid, validate-invalid, export-strict";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(scenario), Some(iterations)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench-scenario SCENARIO ITERATIONS (scenarios: {SCENARIOS})");
        return ExitCode::from(64);
    };
    let Ok(iterations) = iterations.parse::<usize>() else {
        eprintln!("ITERATIONS must be a whole number, not {iterations:?}");
        return ExitCode::from(64);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let runtime = b::runtime();
    let tool = b::bare_tool();
    let validator = b::noop_validator();
    let large = b::large_definition();
    rt.block_on(async {
        match scenario.as_str() {
            "direct" => {
                for _ in 0..iterations {
                    b::direct(&tool).await;
                }
            }
            "valid" => {
                for _ in 0..iterations {
                    b::pipeline_valid(&runtime).await;
                }
            }
            "invalid" => {
                for _ in 0..iterations {
                    b::pipeline_invalid(&runtime).await;
                }
            }
            "concurrent-1000" => {
                for _ in 0..iterations {
                    b::concurrent(&runtime, 1000).await;
                }
            }
            "validate-valid" => {
                let args = b::valid_arguments();
                for _ in 0..iterations {
                    assert!(validator.validate(&args).is_ok());
                }
            }
            "validate-invalid" => {
                let args = b::invalid_arguments();
                for _ in 0..iterations {
                    assert!(validator.validate(&args).is_err());
                }
            }
            "export-strict" => {
                let options = ExportOptions::new(Format::OpenaiStrict);
                for _ in 0..iterations {
                    export(&large, options).expect("exports");
                }
            }
            other => {
                eprintln!("unknown scenario {other:?} (scenarios: {SCENARIOS})");
                return ExitCode::from(64);
            }
        }
        ExitCode::SUCCESS
    })
}
