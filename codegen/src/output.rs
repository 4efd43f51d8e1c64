//! Stage 4: the set of generated files, written to disk or compared with it.

use std::io;
use std::path::{Path, PathBuf};

use crate::model::Catalog;

/// One generated file: its path relative to the output directory, and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the output directory, `/`-separated.
    pub path: String,
    /// The full contents.
    pub contents: String,
}

/// Every file generated from `catalog`, in a fixed order: the Rust module
/// and, with the `docs` feature, the documents.
pub fn files(catalog: &Catalog) -> Vec<GeneratedFile> {
    let mut files = vec![GeneratedFile {
        path: crate::RUST_MODULE.to_owned(),
        contents: crate::emit::rust::emit(catalog),
    }];
    files.extend(documents(catalog));
    files
}

/// The documents generated from `catalog`: the AsyncAPI document, the
/// Markdown catalog, the Python models and the JSON Schemas.
#[cfg(feature = "docs")]
pub fn documents(catalog: &Catalog) -> Vec<GeneratedFile> {
    use crate::emit::{asyncapi, json_schema, markdown, python};
    let mut files = asyncapi::emit(catalog);
    files.extend(markdown::emit(catalog));
    files.extend(python::emit(catalog));
    files.extend(json_schema::emit(catalog));
    files
}

/// Without the `docs` feature (build scripts), no documents.
#[cfg(not(feature = "docs"))]
pub fn documents(_catalog: &Catalog) -> Vec<GeneratedFile> {
    Vec::new()
}

/// How a generated file compares with the one on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The file on disk is the same.
    Current,
    /// The file does not exist.
    Missing,
    /// The file differs; holds what is on disk.
    Stale(String),
}

/// Compares `file` with its counterpart under `out` (as bytes: a file that is current needs no decoding).
pub fn status(out: &Path, file: &GeneratedFile) -> io::Result<Status> {
    match std::fs::read(out.join(&file.path)) {
        Ok(existing) if existing == file.contents.as_bytes() => Ok(Status::Current),
        Ok(existing) => String::from_utf8(existing)
            .map(Status::Stale)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Status::Missing),
        Err(error) => Err(error),
    }
}

/// Writes the files that differ from what is on disk; returns the paths written.
pub fn write(out: &Path, files: &[GeneratedFile]) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for file in files {
        if status(out, file)? == Status::Current {
            continue;
        }
        let path = out.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.contents)?;
        written.push(path);
    }
    Ok(written)
}

/// The endings of the files the generator writes.
const GENERATED_ENDINGS: [&str; 5] = [".rs", ".json", ".md", ".yaml", ".py"];

/// Files under `out` with a generated file's ending that `files` no longer
/// holds: left over from events, commands or versions since removed, in
/// path order. Empty when `out` does not hold the generated Rust module, so
/// that a mistaken `--out` never puts other files at risk.
pub fn leftovers(out: &Path, files: &[GeneratedFile]) -> io::Result<Vec<PathBuf>> {
    if !out.join(crate::RUST_MODULE).is_file() {
        return Ok(Vec::new());
    }
    let expected: std::collections::HashSet<PathBuf> = files.iter().map(|file| out.join(&file.path)).collect();
    let mut found = Vec::new();
    let mut directories = vec![out.to_path_buf()];
    while let Some(directory) = directories.pop() {
        for entry in std::fs::read_dir(&directory)? {
            let path = entry?.path();
            if path.is_dir() {
                directories.push(path);
            } else if !expected.contains(&path)
                && GENERATED_ENDINGS
                    .iter()
                    .any(|ending| path.to_string_lossy().ends_with(ending))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_files_no_longer_generated_only_in_a_generated_directory() {
        let out = std::env::temp_dir().join(format!("xerpium-leftovers-{}", std::process::id()));
        let file = |path: &str| GeneratedFile {
            path: path.to_owned(),
            contents: String::new(),
        };
        let files = [file(crate::RUST_MODULE), file("schemas/a.v1.json")];
        std::fs::create_dir_all(out.join("schemas/nested")).expect("temp dir");
        for path in [
            "schemas/a.v1.json",
            "schemas/gone.v1.json",
            "schemas/nested/old.md",
            "notes.txt",
        ] {
            std::fs::write(out.join(path), "").expect("written");
        }
        let before_module = leftovers(&out, &files).expect("readable");
        std::fs::write(out.join(crate::RUST_MODULE), "").expect("written");
        let found = leftovers(&out, &files).expect("readable");
        std::fs::remove_dir_all(&out).expect("removed");
        assert!(
            before_module.is_empty(),
            "not a generated directory: nothing is a leftover"
        );
        assert_eq!(
            found,
            [out.join("schemas/gone.v1.json"), out.join("schemas/nested/old.md")]
        );
    }
}
