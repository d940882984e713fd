//! `pack init`.

use serde_json::json;

use crate::cli::InitArgs;
use crate::error::CliResult;
use crate::ops::init;
use crate::output::{Outcome, Shell};

/// Writes a new pack skeleton.
pub fn exec(args: &InitArgs, shell: &Shell) -> CliResult<Outcome> {
    let done = init::init(&args.dir, &args.name, &args.version, &args.kind)?;
    shell.status("Created", &format!("{} {} in {}", args.name, args.version, done.dir.display()));
    let mut human = vec![format!("created pack {} {} in {}", args.name, args.version, done.dir.display())];
    human.extend(done.files.iter().map(|f| format!("  {f}")));
    human.push(format!("next: pack build {} --key <name>.key --key-id <name>", done.dir.display()));
    Ok(Outcome::new(
        "init",
        json!({
            "name": args.name,
            "version": args.version,
            "kind": args.kind,
            "dir": done.dir.display().to_string(),
            "files": done.files,
            "typeId": done.type_id,
        }),
        human,
    ))
}
