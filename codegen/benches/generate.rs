//! How long generation takes, and how much memory it needs, phase by phase: XERPIUM's catalog, and synthetic
//! catalogs of 300 to 2,000 events (time and peak memory should grow linearly).
//! Run with `cargo bench -p xerpium-codegen --bench generate`.
//!
//! Targets: every file of `events.yaml` in < 10 ms; 300 events in < 1 s; 2,000 events in < 250 ms with
//! < 50 MiB peak RSS. Each figure is the best of several runs; the peak is the most the process held during a
//! phase (Linux: `VmHWM`, reset before each phase through `/proc/self/clear_refs`).
//!
//! Each catalog is measured in a process of its own, and `all` (what `xerpium-codegen generate` does: check the
//! text, then make each file and let it go) runs first there, so that its peak is that of a whole run from a
//! fresh start, not memory that another catalog or an earlier phase left to the allocator. The phases run
//! after it, each keeping only what the next one needs; their peaks include what the allocator kept from before.

use std::fmt::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use xerpium_codegen::emit::{asyncapi, json_schema, markdown, python, rust};
use xerpium_codegen::output::GeneratedFile;
use xerpium_codegen::{Catalog, load, validate};

/// A catalog of `events` events in categories of 20, each with a shared type, an enum and eight fields.
fn synthetic_catalog(events: usize) -> String {
    let mut text = String::from(
        "catalog: synthetic\ntypes:\n  Money:\n    fields: { amount: decimal, currency: string }\nenums:\n  Level: [low, mid, high]\ncategories:\n",
    );
    for index in 0..events {
        if index % 20 == 0 {
            let _ = write!(
                text,
                "  cat{}:\n    description: Category {}.\n    events:\n",
                index / 20,
                index / 20
            );
        }
        let _ = write!(
            text,
            "      event{index}:\n        description: Event {index}.\n        subject: id\n        fields:\n          id: uuid\n          actor_id: uuid?\n          amount: Money\n          level: Level\n          tags: list<string>\n          meta: map<json>\n          at: datetime\n          email: {{ type: string, pii: true }}\n"
        );
    }
    text
}

/// Resets the process's peak resident memory to what it holds now (Linux only; elsewhere a no-op).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory of this process since the last [`reset_peak_rss`], in MiB (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// One phase's figures: the best time of its runs and the highest peak memory among them.
struct Measure {
    time: Duration,
    peak_mib: Option<f64>,
}

/// Runs `work` `runs` times and measures it; returns the measure and what the last run produced.
fn measure<T>(runs: usize, mut work: impl FnMut() -> T) -> (Measure, T) {
    let mut best = Duration::MAX;
    let mut peak = None::<f64>;
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        reset_peak_rss();
        let start = Instant::now();
        let result = work();
        best = best.min(start.elapsed());
        peak = match (peak, peak_rss_mib()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        last = Some(result);
    }
    let last = last.unwrap_or_else(|| panic!("measured no run"));
    (
        Measure {
            time: best,
            peak_mib: peak,
        },
        last,
    )
}

/// A line of the report: a phase's name, time, peak memory and how many bytes it produced.
fn report(phase: &str, measure: &Measure, bytes: Option<usize>) {
    let peak = measure
        .peak_mib
        .map_or_else(|| "?".to_owned(), |mib| format!("{mib:.1} MiB"));
    let bytes = bytes.map_or_else(String::new, |bytes| format!(", {bytes} bytes"));
    println!(
        "  {phase:<16} {:>9.2} ms  peak RSS {peak:>10}{bytes}",
        measure.time.as_secs_f64() * 1e3
    );
}

/// The checked catalog of `text`, or a panic with its diagnostics.
fn check(file: &str, text: &str) -> Catalog {
    xerpium_codegen::check_catalog_text(file, text).unwrap_or_else(|diagnostics| panic!("{diagnostics}"))
}

/// A document emitter.
type Emit = fn(&Catalog) -> Vec<GeneratedFile>;

/// The size of the files.
fn size(files: impl IntoIterator<Item = GeneratedFile>) -> usize {
    files.into_iter().map(|file| file.contents.len()).sum()
}

/// Measures generating the catalog `text` (`file` names it) as a whole, then phase by phase.
fn bench(file: &str, text: &str, runs: usize) {
    println!("{file}:");
    let (all, bytes) = measure(runs, || size(xerpium_codegen::output::generate(&check(file, text))));
    let (loaded, loaded_result) = measure(runs, || load::parse(file, text));
    report("load", &loaded, None);
    let loaded_result = loaded_result.unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    let (validated, catalog) = measure(runs, || validate::validate(&loaded_result));
    report("validate", &validated, None);
    drop(loaded_result);
    let catalog = catalog.unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    let (measured, module) = measure(runs, || rust::emit(&catalog));
    report("rust", &measured, Some(module.len()));
    drop(module);
    let documents: [(&str, Emit); 4] = [
        ("asyncapi", asyncapi::emit),
        ("markdown", markdown::emit),
        ("python", python::emit),
        ("json schema", json_schema::emit),
    ];
    for (phase, emit) in documents {
        let (measured, files) = measure(runs, || emit(&catalog));
        report(phase, &measured, Some(size(files)));
    }
    report("all", &all, Some(bytes));
}

/// The argument that has a process measure one catalog: `events.yaml` or a number of events.
const ONLY: &str = "--catalog=";

/// Measures the catalog `name` (see [`ONLY`]) in this process.
fn bench_catalog(name: &str) {
    if name == "events.yaml" {
        let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events.yaml");
        match std::fs::read_to_string(&catalog) {
            Ok(text) => bench(name, &text, 20),
            Err(error) => println!("{name}: skipped ({error})"),
        }
        return;
    }
    let events: usize = name
        .parse()
        .unwrap_or_else(|_| panic!("{ONLY}{name}: not `events.yaml` nor a number of events"));
    bench(&format!("{events} events"), &synthetic_catalog(events), 3);
}

fn main() {
    if let Some(name) = std::env::args().find_map(|arg| arg.strip_prefix(ONLY).map(str::to_owned)) {
        bench_catalog(&name);
        return;
    }
    let bench = std::env::current_exe().unwrap_or_else(|error| panic!("cannot find the bench: {error}"));
    for name in ["events.yaml", "300", "1000", "2000"] {
        let status = Command::new(&bench)
            .arg(format!("{ONLY}{name}"))
            .status()
            .unwrap_or_else(|error| panic!("cannot run the bench for {name}: {error}"));
        assert!(status.success(), "the bench for {name} failed: {status}");
    }
}
