//! The README's `rustchain.toml` is a configuration the server reads, with
//! the values it shows.

use rustchain_tools_mcp::{Mode, ServerConfig};

#[test]
fn the_readme_configuration_parses_as_shown() {
    let readme = include_str!("../../../README.md");
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let text = &readme[start..start + readme[start..].find("```").unwrap()];
    let config = ServerConfig::parse(text, "README.md").unwrap();
    assert_eq!(config.policy.profiles, ["read-only"]);
    assert_eq!(config.principal.roles, ["editor"]);
    assert_eq!(config.tools.hide, ["fs_delete"]);
    assert_eq!(config.tools.mode, Mode::Auto);
    assert_eq!(config.limits.unwrap().max_concurrent, 32);
    assert_eq!(config.sandbox.programs, ["git"]);
    assert_eq!(
        config.http.token_env.as_deref(),
        Some("RUSTCHAIN_MCP_TOKEN")
    );
}
