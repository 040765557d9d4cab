//! Generated tools for the 100,000-tool measurements, shared by the bench
//! and the memory example.

use rustchain_tools_registry::Manifest;

/// `count` tools: the real ones (as many as fit), then variants of them
/// (another name, id and a description with one word more) until there are
/// enough.
pub fn with_variants(real: &[Manifest], count: usize) -> Vec<Manifest> {
    let mut all: Vec<Manifest> = real.iter().take(count).cloned().collect();
    let mut k = 1;
    while all.len() < count {
        for tool in real.iter().take(count - all.len()) {
            let mut variant = tool.clone();
            variant.name = format!("{}.v{k}", tool.name.chars().take(120).collect::<String>());
            variant.id = Some(format!("{}~v{k}", tool.id.as_deref().unwrap_or(&tool.name)));
            variant.description = format!("{} (variant {k})", tool.description);
            all.push(variant);
        }
        k += 1;
    }
    all
}
