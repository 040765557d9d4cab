//! File tools confined to one root directory (feature `sandbox`):
//! `fs_read`, `fs_write`, `fs_list`, `fs_search`, `fs_delete`.
//!
//! Paths are relative to the root. Every operation goes through
//! [`FsRoot`], which refuses absolute paths, `..`, and anything a symlink
//! would lead outside; the file work runs on tokio's blocking pool.

use std::sync::Arc;

use base64::Engine as _;
use rustchain_tools_core::{
    BehaviorHints, Permissions, Tool, ToolContext, ToolError, ToolInfo, ToolSource, async_trait,
};
use rustchain_tools_sandbox::fs::{FsRoot, Listing, SearchQuery, SearchResults, WriteOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::sandboxed::blocking;

const VERSION: &str = "1.0.0";

fn info(name: &str, title: &str, description: &str, root: &FsRoot, writes: bool) -> ToolInfo {
    let root = root.root().display().to_string();
    let permissions = if writes {
        Permissions {
            file_write: vec![root],
            ..Permissions::default()
        }
    } else {
        Permissions {
            file_read: vec![root],
            ..Permissions::default()
        }
    };
    let hints = if writes {
        BehaviorHints {
            read_only: false,
            destructive: true,
            idempotent: true,
            open_world: false,
        }
    } else {
        BehaviorHints::PURE
    };
    ToolInfo::new(name, VERSION)
        .source(ToolSource::Builtin)
        .title(title)
        .description(description)
        .category("file")
        .tags(["file", "sandbox"])
        .permissions(permissions)
        .hints(hints)
}

/// How file content travels in JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// UTF-8 text.
    #[default]
    Utf8,
    /// Bytes in standard base64.
    Base64,
}

/// `fs_read`: the content of a file below the root.
pub struct FsRead {
    root: Arc<FsRoot>,
}

/// Arguments of [`FsRead`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FsReadParams {
    /// The file, relative to the root, e.g. `notes/today.txt`.
    pub path: String,
}

/// Result of [`FsRead`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct FsReadOutput {
    /// The file, as asked for.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// `utf8` when the content is text; `base64` when it is not valid UTF-8.
    pub encoding: Encoding,
    /// The content.
    pub content: String,
}

#[async_trait]
impl Tool for FsRead {
    type Params = FsReadParams;
    type Output = FsReadOutput;

    fn info(&self) -> ToolInfo {
        info(
            "fs_read",
            "Read a file",
            "Reads a file below the sandbox root and returns its content (text, or base64 for binary files).",
            &self.root,
            false,
        )
    }

    async fn run(&self, p: FsReadParams, _ctx: &ToolContext) -> Result<FsReadOutput, ToolError> {
        let root = self.root.clone();
        let path = p.path.clone();
        let bytes = blocking("fs_read", move || root.read(&path)).await?;
        let size = bytes.len() as u64;
        let (encoding, content) = match String::from_utf8(bytes) {
            Ok(text) => (Encoding::Utf8, text),
            Err(e) => (
                Encoding::Base64,
                base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            ),
        };
        Ok(FsReadOutput {
            path: p.path,
            size,
            encoding,
            content,
        })
    }
}

/// `fs_write`: writes a file below the root, atomically.
pub struct FsWrite {
    root: Arc<FsRoot>,
}

/// Arguments of [`FsWrite`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FsWriteParams {
    /// The file, relative to the root.
    pub path: String,
    /// The content to write.
    pub content: String,
    /// How `content` is encoded.
    #[serde(default)]
    pub encoding: Encoding,
    /// Create missing parent directories.
    #[serde(default)]
    pub create_dirs: bool,
    /// Replace the file if it exists (otherwise an existing file is an error).
    #[serde(default = "yes")]
    pub overwrite: bool,
}

fn yes() -> bool {
    true
}

/// Result of [`FsWrite`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct FsWriteOutput {
    /// The file written.
    pub path: String,
    /// How many bytes it now holds.
    pub bytes_written: u64,
}

#[async_trait]
impl Tool for FsWrite {
    type Params = FsWriteParams;
    type Output = FsWriteOutput;

    fn info(&self) -> ToolInfo {
        info(
            "fs_write",
            "Write a file",
            "Writes a file below the sandbox root atomically: readers see the old content or the new, never a part.",
            &self.root,
            true,
        )
    }

    async fn run(&self, p: FsWriteParams, _ctx: &ToolContext) -> Result<FsWriteOutput, ToolError> {
        let bytes = match p.encoding {
            Encoding::Utf8 => p.content.into_bytes(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(p.content.as_bytes())
                .map_err(|e| {
                    crate::invalid_argument(
                        "fs_write",
                        "/content",
                        "contentEncoding",
                        serde_json::Value::Null,
                        format!("content is not valid base64: {e}"),
                    )
                })?,
        };
        let root = self.root.clone();
        let path = p.path.clone();
        let options = WriteOptions {
            create_dirs: p.create_dirs,
            overwrite: p.overwrite,
        };
        let bytes_written =
            blocking("fs_write", move || root.write(&path, &bytes, options)).await?;
        Ok(FsWriteOutput {
            path: p.path,
            bytes_written,
        })
    }
}

/// `fs_list`: the entries of a directory below the root.
pub struct FsList {
    root: Arc<FsRoot>,
}

/// Arguments of [`FsList`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FsListParams {
    /// The directory, relative to the root (`.` for the root itself).
    #[serde(default = "dot")]
    pub path: String,
    /// Also list everything below, depth first.
    #[serde(default)]
    pub recursive: bool,
}

fn dot() -> String {
    ".".to_owned()
}

#[async_trait]
impl Tool for FsList {
    type Params = FsListParams;
    type Output = Listing;

    fn info(&self) -> ToolInfo {
        info(
            "fs_list",
            "List a directory",
            "Lists the files, directories and symlinks in a directory below the sandbox root, with kinds and sizes; symlinks are reported, not followed.",
            &self.root,
            false,
        )
    }

    async fn run(&self, p: FsListParams, _ctx: &ToolContext) -> Result<Listing, ToolError> {
        let root = self.root.clone();
        blocking("fs_list", move || root.list(&p.path, p.recursive)).await
    }
}

/// `fs_search`: files below the root by glob and by text.
pub struct FsSearch {
    root: Arc<FsRoot>,
}

/// Arguments of [`FsSearch`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FsSearchParams {
    /// The directory to search, relative to the root (`.` for all of it).
    #[serde(default = "dot")]
    pub path: String,
    /// Only files whose path matches this glob, e.g. `**/*.rs`.
    pub glob: Option<String>,
    /// Only lines containing this text (plain text, case-sensitive).
    pub text: Option<String>,
    /// At most this many matches.
    #[schemars(range(min = 1, max = 10000))]
    pub limit: Option<u32>,
}

#[async_trait]
impl Tool for FsSearch {
    type Params = FsSearchParams;
    type Output = SearchResults;

    fn info(&self) -> ToolInfo {
        info(
            "fs_search",
            "Search files",
            "Finds files below the sandbox root by glob pattern and/or lines by plain text; binary and oversized files are skipped and counted.",
            &self.root,
            false,
        )
    }

    async fn run(&self, p: FsSearchParams, _ctx: &ToolContext) -> Result<SearchResults, ToolError> {
        let root = self.root.clone();
        let query = SearchQuery {
            under: p.path,
            glob: p.glob,
            text: p.text,
            limit: p.limit.map(|l| l as usize),
        };
        blocking("fs_search", move || root.search(&query)).await
    }
}

/// `fs_delete`: removes a file, symlink or directory below the root.
pub struct FsDelete {
    root: Arc<FsRoot>,
}

/// Arguments of [`FsDelete`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FsDeleteParams {
    /// What to delete, relative to the root. A symlink is removed, never its target.
    pub path: String,
    /// Delete a directory with everything in it.
    #[serde(default)]
    pub recursive: bool,
}

/// Result of [`FsDelete`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct FsDeleteOutput {
    /// What was deleted.
    pub deleted: String,
}

#[async_trait]
impl Tool for FsDelete {
    type Params = FsDeleteParams;
    type Output = FsDeleteOutput;

    fn info(&self) -> ToolInfo {
        info(
            "fs_delete",
            "Delete a file or directory",
            "Deletes a file, a symlink (not its target) or a directory (with `recursive`, and everything in it) below the sandbox root; the root itself is never deleted.",
            &self.root,
            true,
        )
        .hints(BehaviorHints {
            read_only: false,
            destructive: true,
            idempotent: false,
            open_world: false,
        })
    }

    async fn run(
        &self,
        p: FsDeleteParams,
        _ctx: &ToolContext,
    ) -> Result<FsDeleteOutput, ToolError> {
        let root = self.root.clone();
        let path = p.path.clone();
        blocking("fs_delete", move || root.delete(&path, p.recursive)).await?;
        Ok(FsDeleteOutput { deleted: p.path })
    }
}

/// The five file tools on one root.
pub(crate) fn tools(root: Arc<FsRoot>) -> (FsRead, FsWrite, FsList, FsSearch, FsDelete) {
    (
        FsRead { root: root.clone() },
        FsWrite { root: root.clone() },
        FsList { root: root.clone() },
        FsSearch { root: root.clone() },
        FsDelete { root },
    )
}
