//! The `xerpium-codegen` command line: `validate`, `generate` and `check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xerpium_codegen::output::{self, Status};
use xerpium_codegen::{Catalog, Diagnostics};

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

fn generate(catalog: &Catalog, out: &Path) -> std::io::Result<ExitCode> {
    let files = output::files(catalog);
    let written = output::write(out, &files)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    println!(
        "{} of {} files changed in {}",
        written.len(),
        files.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn check(catalog: &Catalog, args: &OutputArgs) -> std::io::Result<ExitCode> {
    let mut stale = 0;
    for file in output::files(catalog) {
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
