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
    generate(catalog).collect()
}

/// The files of [`files`], in the same order, each emitter's made only once the previous one's have been taken:
/// a caller that writes or compares each file and then drops it holds one document at a time, not all of them.
pub fn generate(catalog: &Catalog) -> impl Iterator<Item = GeneratedFile> + '_ {
    let module = std::iter::once_with(|| GeneratedFile {
        path: crate::RUST_MODULE.to_owned(),
        contents: crate::emit::rust::emit(catalog),
    });
    module.chain(DOCUMENTS.iter().flat_map(move |emit| emit(catalog)))
}

/// The documents generated from `catalog`: the AsyncAPI document, the
/// Markdown catalog, the Python models and the JSON Schemas (none without the `docs` feature).
pub fn documents(catalog: &Catalog) -> Vec<GeneratedFile> {
    DOCUMENTS.iter().flat_map(|emit| emit(catalog)).collect()
}

/// A document emitter: the files it generates from a catalog.
type Emit = fn(&Catalog) -> Vec<GeneratedFile>;

/// The document emitters, in the order of [`documents`].
#[cfg(feature = "docs")]
const DOCUMENTS: &[Emit] = {
    use crate::emit::{asyncapi, json_schema, markdown, python};
    &[asyncapi::emit, markdown::emit, python::emit, json_schema::emit]
};

/// Without the `docs` feature (build scripts), no documents.
#[cfg(not(feature = "docs"))]
const DOCUMENTS: &[Emit] = &[];

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

/// Writes `file` under `out` unless what is on disk is the same; whether it wrote it.
pub fn write(out: &Path, file: &GeneratedFile) -> io::Result<bool> {
    if status(out, file)? == Status::Current {
        return Ok(false);
    }
    let path = out.join(&file.path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, &file.contents)?;
    Ok(true)
}

/// The endings of the files the generator writes.
const GENERATED_ENDINGS: [&str; 5] = [".rs", ".json", ".md", ".yaml", ".py"];

/// Files under `out` with a generated file's ending that are not among the
/// `generated` paths (relative to `out`, as in [`GeneratedFile::path`]): left
/// over from events, commands or versions since removed, in path order. Empty
/// when `out` does not hold the generated Rust module, so that a mistaken
/// `--out` never puts other files at risk.
pub fn leftovers<'a>(out: &Path, generated: impl IntoIterator<Item = &'a str>) -> io::Result<Vec<PathBuf>> {
    if !out.join(crate::RUST_MODULE).is_file() {
        return Ok(Vec::new());
    }
    let expected: std::collections::HashSet<PathBuf> = generated.into_iter().map(|path| out.join(path)).collect();
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
        let paths = || files.iter().map(|file| file.path.as_str());
        let before_module = leftovers(&out, paths()).expect("readable");
        std::fs::write(out.join(crate::RUST_MODULE), "").expect("written");
        let found = leftovers(&out, paths()).expect("readable");
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
