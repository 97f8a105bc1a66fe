//! Regenerates `zeyos-schema.json` from the ZeyOS REST API reference.
//!
//! Usage: `cargo run -p zeyos-schema --bin extract-schema [REFERENCE] [OUT]`;
//! defaults to `../shared/reference/zeyos-rest-api.txt` relative to the
//! workspace root and to this crate's `zeyos-schema.json`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let reference = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("../../../shared/reference/zeyos-rest-api.txt"));
    let out = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("zeyos-schema.json"));
    let text = match std::fs::read_to_string(&reference) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("extract-schema: cannot read {}: {e}", reference.display());
            return ExitCode::FAILURE;
        }
    };
    let schema = match zeyos_schema::extract::extract(&text, "zeyos-rest-api.txt") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("extract-schema: {}: {e}", reference.display());
            return ExitCode::FAILURE;
        }
    };
    let json = match serde_json::to_string_pretty(&schema) {
        Ok(j) => j + "\n",
        Err(e) => {
            eprintln!("extract-schema: cannot serialize: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&out, json) {
        eprintln!("extract-schema: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let fields: usize = schema.entities.iter().map(|e| e.fields.len()).sum();
    println!(
        "wrote {}: {} entities, {} fields, {} composites",
        out.display(),
        schema.entities.len(),
        fields,
        schema.composites.len()
    );
    ExitCode::SUCCESS
}
