//! The `xerpium-codegen` command line: `validate`, `generate`, `check` and `breaking`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xerpium_codegen::output::{self, Status};
use xerpium_codegen::{Catalog, Diagnostics, breaking};

/// Reads XERPIUM's message catalog, checks it and generates typed Rust and documents.
#[derive(Debug, Parser)]
#[command(name = "xerpium-codegen", version)]
struct Cli {
    #[command(subcommand)]
    command: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Check the catalog and report every problem with FILE:LINE:COLUMN.
    Validate(CatalogArgs),
    /// Write the generated files that changed into the output directory.
    Generate(OutputArgs),
    /// Exit 1, with a diff, when the output directory is not current.
    Check(OutputArgs),
    /// List the changes since an older catalog that would break a deployed producer or consumer;
    /// exit 1 when there is any, 2 when the catalogs cannot be compared.
    Breaking(BreakingArgs),
}

#[derive(Debug, clap::Args)]
struct BreakingArgs {
    #[command(flatten)]
    catalog: CatalogArgs,
    /// The older catalog: a file, or a git revision (`origin/main`, a merge base) whose version of the
    /// catalog file is read with `git show`.
    #[arg(long, value_name = "GIT-REF | FILE")]
    against: String,
}

#[derive(Debug, clap::Args)]
struct CatalogArgs {
    /// The catalog file.
    #[arg(long, default_value = "events.yaml")]
    catalog: PathBuf,
}

#[derive(Debug, clap::Args)]
struct OutputArgs {
    #[command(flatten)]
    catalog: CatalogArgs,
    /// The directory of generated files.
    #[arg(long, default_value = "generated")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let catalog_path = match &cli.command {
        Action::Validate(args) => &args.catalog,
        Action::Generate(args) | Action::Check(args) => &args.catalog.catalog,
        Action::Breaking(args) => return breaking(args),
    };
    let catalog = match xerpium_codegen::check_catalog(catalog_path) {
        Ok(catalog) => catalog,
        Err(diagnostics) => return report_diagnostics(&diagnostics),
    };
    let result = match &cli.command {
        Action::Validate(_) => {
            let events = catalog.events().count();
            println!(
                "{}: ok ({} categories, {events} events, {} commands)",
                catalog_path.display(),
                catalog.categories.len(),
                catalog.commands.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Action::Generate(args) => generate(&catalog, &args.out),
        Action::Check(args) => check(&catalog, args),
        Action::Breaking(_) => Ok(ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        ExitCode::FAILURE
    })
}

fn report_diagnostics(diagnostics: &Diagnostics) -> ExitCode {
    eprintln!("{diagnostics}");
    ExitCode::FAILURE
}

/// Writes each generated file that differs from what is under `out`, one at a time, then removes the files no
/// longer generated.
fn generate(catalog: &Catalog, out: &Path) -> std::io::Result<ExitCode> {
    let mut paths = Vec::new();
    let mut written = 0;
    for file in output::generate(catalog) {
        if output::write(out, &file)? {
            written += 1;
            println!("wrote {}", out.join(&file.path).display());
        }
        paths.push(file.path);
    }
    for path in output::leftovers(out, paths.iter().map(String::as_str))? {
        std::fs::remove_file(&path)?;
        println!("removed {} (no longer generated)", path.display());
    }
    println!("{written} of {} files changed in {}", paths.len(), out.display());
    Ok(ExitCode::SUCCESS)
}

/// Compares each generated file with what is under `args.out`, one at a time, with a diff for each that differs,
/// then lists the files no longer generated.
fn check(catalog: &Catalog, args: &OutputArgs) -> std::io::Result<ExitCode> {
    let mut paths = Vec::new();
    let mut stale = 0;
    for file in output::generate(catalog) {
        let shown = args.out.join(&file.path);
        match output::status(&args.out, &file)? {
            Status::Current => {}
            Status::Missing => {
                stale += 1;
                println!("missing: {}", shown.display());
            }
            Status::Stale(existing) => {
                stale += 1;
                println!("stale: {}", shown.display());
                let diff = similar::TextDiff::from_lines(&existing, &file.contents);
                let old = format!("{} (on disk)", shown.display());
                let new = format!("{} (from {})", shown.display(), args.catalog.catalog.display());
                print!("{}", diff.unified_diff().context_radius(3).header(&old, &new));
            }
        }
        paths.push(file.path);
    }
    for path in output::leftovers(&args.out, paths.iter().map(String::as_str))? {
        stale += 1;
        println!("no longer generated: {}", path.display());
    }
    if stale == 0 {
        println!("{} is current", args.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "\n{stale} generated file(s) are not current. Fix: xerpium-codegen generate --catalog {} --out {}",
        args.catalog.catalog.display(),
        args.out.display()
    );
    Ok(ExitCode::FAILURE)
}

/// Exit status of `breaking` when the catalogs cannot be compared.
const CANNOT_COMPARE: u8 = 2;

fn breaking(args: &BreakingArgs) -> ExitCode {
    let path = &args.catalog.catalog;
    let (old_name, old_text) = match baseline(&args.against, path) {
        Ok(Some(found)) => found,
        Ok(None) => {
            println!(
                "{} does not exist at `{}`: nothing to compare, no breaking changes",
                path.display(),
                args.against
            );
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(CANNOT_COMPARE);
        }
    };
    let new_text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", path.display());
            return ExitCode::from(CANNOT_COMPARE);
        }
    };
    let sides = breaking::Side::read(&old_name, &old_text)
        .and_then(|old| breaking::Side::read(&path.display().to_string(), &new_text).map(|new| (old, new)));
    let (old, new) = match sides {
        Ok(sides) => sides,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            eprintln!("error: the catalogs must both be valid to be compared");
            return ExitCode::from(CANNOT_COMPARE);
        }
    };
    let changes = breaking::compare(&old, &new);
    for change in &changes {
        println!("{change}");
    }
    if changes.is_empty() {
        println!("no breaking changes against {old_name}");
        ExitCode::SUCCESS
    } else {
        println!("\n{} breaking change(s) against {old_name}", changes.len());
        ExitCode::FAILURE
    }
}

/// The older catalog named by `against`: the file of that name, or else the
/// catalog file as of git revision `against`. Returns its name for reports
/// and its text; `None` when the revision has no such file.
fn baseline(against: &str, catalog: &Path) -> Result<Option<(String, String)>, String> {
    if Path::new(against).is_file() {
        return std::fs::read_to_string(against)
            .map(|text| Some((against.to_owned(), text)))
            .map_err(|error| format!("cannot read {against}: {error}"));
    }
    let directory = match catalog.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let Some(file) = catalog.file_name().map(|name| name.to_string_lossy().into_owned()) else {
        return Err(format!("{} names no file", catalog.display()));
    };
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(directory)
        .arg("show")
        .arg(format!("{against}:./{file}"))
        .output()
        .map_err(|error| format!("cannot run git to read {file} at `{against}`: {error}"))?;
    if output.status.success() {
        let text = String::from_utf8(output.stdout).map_err(|_| format!("{file} at `{against}` is not UTF-8 text"))?;
        return Ok(Some((format!("{against}:{}", catalog.display()), text)));
    }
    let reason = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if reason.contains("does not exist in") || reason.contains("exists on disk, but not in") {
        return Ok(None);
    }
    Err(format!(
        "`{against}` is neither a file nor a git revision with {file}: {reason}"
    ))
}
