//! A clone of the repository builds and tests on its own: nothing under `crates/`,
//! `tests/`, `scripts/` or `.ci/` reads a file outside the repository.

use std::path::{Path, PathBuf};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Text files under `dir`, without build output, virtualenvs and test artifacts.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | ".venv" | "artifacts" | "__pycache__" | "node_modules" | ".git"
            ) {
                files(&path, out);
            }
        } else if std::fs::read_to_string(&path).is_ok() {
            out.push(path);
        }
    }
}

/// The string literal arguments of `include_str!(` / `include_bytes!(` calls.
fn included_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for macro_name in ["include_str!(", "include_bytes!("] {
        for (at, _) in text.match_indices(macro_name) {
            let rest = &text[at + macro_name.len()..];
            if let Some(literal) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) {
                found.push(literal.to_owned());
            }
        }
    }
    found
}

#[test]
fn nothing_reads_outside_the_repository() {
    let root = repository_root();
    let mut all = Vec::new();
    for dir in ["crates", "tests", "scripts", ".ci"] {
        files(&root.join(dir), &mut all);
    }
    assert!(all.len() > 50, "only {} files scanned", all.len());
    // Spelled in pieces so this file does not name it itself.
    let sibling = ["..", "/shared"].concat();
    let absolute = ["/work", "/shared"].concat();
    let mut outside = Vec::new();
    for file in &all {
        let text = std::fs::read_to_string(file).expect("text");
        if text.contains(&sibling) || text.contains(&absolute) {
            outside.push(format!(
                "{} names the shared reference folder",
                file.display()
            ));
        }
        for included in included_paths(&text) {
            let target = file.parent().expect("parent").join(&included);
            match target.canonicalize() {
                Ok(resolved) if resolved.starts_with(&root) => {}
                Ok(resolved) => outside.push(format!(
                    "{} includes {}, outside the repository",
                    file.display(),
                    resolved.display()
                )),
                // `concat!(env!(...), ...)` forms have no literal path: checked by name above.
                Err(_) => {}
            }
        }
    }
    assert!(outside.is_empty(), "{}", outside.join("\n"));
}
