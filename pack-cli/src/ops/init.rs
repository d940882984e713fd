//! `pack init`: a minimal, valid node pack skeleton.

use std::fs;
use std::path::{Path, PathBuf};

use pack_verify::canonical::to_canonical_pretty;
use serde_json::{Value, json};

use super::fsutil;
use super::names::{check_pack_name, check_version};
use crate::error::{CliError, CliResult};

/// The engines range new packs declare.
pub const DEFAULT_ENGINES: &str = ">=1.0.0 <2.0.0";

/// What `pack init` wrote.
#[derive(Debug)]
pub struct Initialised {
    /// The pack directory.
    pub dir: PathBuf,
    /// Files written, relative to `dir`.
    pub files: Vec<String>,
    /// The node's type id.
    pub type_id: String,
}

fn schema(title: &str, description: &str, properties: Value, required: &[&str]) -> String {
    to_canonical_pretty(&json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    }))
}

/// The skeleton's files for a node pack.
pub fn node_skeleton(name: &str, version: &str) -> Vec<(String, String)> {
    let type_id = format!("{name}.hello");
    let manifest = json!({
        "name": name,
        "version": version,
        "description": format!("{name}: a new OpenWOP node pack."),
        "engines": {"openwop": DEFAULT_ENGINES},
        "runtime": {"language": "javascript", "entry": "./index.mjs", "format": "esm", "minRuntimeVersion": "node>=20"},
        "nodes": [{
            "typeId": type_id,
            "version": version,
            "label": "Hello",
            "description": "Returns a greeting for the given name.",
            "category": "data",
            "role": "pure",
            "capabilities": ["cacheable"],
            "configSchemaRef": "schemas/hello.config.json",
            "inputSchemaRef": "schemas/hello.input.json",
            "outputSchemaRef": "schemas/hello.output.json",
        }],
    });
    let readme = format!(
        "# `{name}`\n\nAn OpenWOP node pack.\n\n| typeId | role | purpose |\n|---|---|---|\n| `{type_id}` | pure | \
         Returns a greeting for the given name. |\n\n## Build and verify\n\nFrom the directory that holds this pack (keys stay outside it):\n\n```sh\n\
         pack keygen --name my-key\npack build <pack-dir> --key my-key.key --key-id my-key\n\
         pack verify {name}-{version}.tgz --key my-key.pub\n```\n\n\
         The signing block in `pack.json` is written by `pack build`.\n"
    );
    let index = format!(
        "/**\n * {name}: pack runtime.\n *\n * Zero dependencies. Node >= 20.\n */\n\n\
         /** {type_id}: returns a greeting. Pure and replay-safe. */\n\
         export async function hello(ctx) {{\n  const name = String(ctx.inputs.name ?? 'world');\n  \
         return {{\n    status: 'success',\n    outputs: {{ greeting: `Hello, ${{name}}!` }},\n  }};\n}}\n\n\
         export const nodes = {{\n  '{type_id}': hello,\n}};\n\nexport default nodes;\n"
    );
    vec![
        ("pack.json".into(), to_canonical_pretty(&manifest)),
        ("README.md".into(), readme),
        ("index.mjs".into(), index),
        (
            "schemas/hello.config.json".into(),
            schema("HelloNodeConfig", &format!("Config for {type_id}. No settings yet."), json!({}), &[]),
        ),
        (
            "schemas/hello.input.json".into(),
            schema(
                "HelloNodeInput",
                &format!("Input for {type_id}."),
                json!({"name": {"type": "string", "description": "Who to greet."}}),
                &[],
            ),
        ),
        (
            "schemas/hello.output.json".into(),
            schema(
                "HelloNodeOutput",
                &format!("Output for {type_id}."),
                json!({"greeting": {"type": "string", "description": "The greeting."}}),
                &["greeting"],
            ),
        ),
    ]
}

/// Writes a new pack into `dir`, which must be missing or empty.
pub fn init(dir: &Path, name: &str, version: &str, kind: &str) -> CliResult<Initialised> {
    check_pack_name(name)?;
    check_version(version)?;
    if kind != "node" {
        return Err(CliError::usage(
            "pack_kind_unsupported",
            format!("`pack init` cannot create `{kind}` packs yet"),
            "use --kind node (the default), and change pack.json by hand for other kinds",
        ));
    }
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError::usage(
                    "target_not_empty",
                    format!("{} is not empty; refusing to write a pack skeleton into it", dir.display()),
                    "pass a new or empty directory, e.g. `pack init my-pack --name …`",
                )
                .at(dir));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::io(dir, "read", &e)),
    }
    let files = node_skeleton(name, version);
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fsutil::ensure_dir(parent)?;
        }
        fsutil::write_atomic(&path, text.as_bytes())?;
    }
    Ok(Initialised {
        dir: dir.to_path_buf(),
        files: files.into_iter().map(|(rel, _)| rel).collect(),
        type_id: format!("{name}.hello"),
    })
}
