//! How long generation takes: XERPIUM's catalog, and synthetic catalogs of
//! 500 to 2,000 events (time and peak memory should grow linearly).
//! Run with `cargo bench -p xerpium-codegen --bench generate`.

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

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

/// The best of `runs` timings of `work`.
fn best_of(runs: usize, mut work: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Peak resident memory of this process so far, in KiB (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn generate_all(file: &str, text: &str) -> usize {
    match xerpium_codegen::check_catalog_text(file, text) {
        Ok(catalog) => xerpium_codegen::output::files(&catalog)
            .iter()
            .map(|f| f.contents.len())
            .sum(),
        Err(diagnostics) => panic!("{diagnostics}"),
    }
}

fn main() {
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events.yaml");
    match std::fs::read_to_string(&catalog) {
        Ok(text) => {
            let mut bytes = 0;
            let time = best_of(20, || bytes = generate_all("events.yaml", &text));
            println!(
                "events.yaml: {:.1} ms for every generated file ({bytes} bytes; target < 50 ms)",
                time.as_secs_f64() * 1e3
            );
        }
        Err(error) => println!("events.yaml: skipped ({error})"),
    }
    for events in [500, 1000, 2000] {
        let text = synthetic_catalog(events);
        let mut bytes = 0;
        let time = best_of(3, || bytes = generate_all("synthetic.yaml", &text));
        let peak = peak_rss_kib().map_or_else(|| "?".to_owned(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0));
        println!(
            "{events:>5} events: {:>7.1} ms, {:>5.1} µs/event, output {bytes} bytes, peak RSS so far {peak} (target for 2,000: < 2 s)",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() * 1e6 / events as f64,
        );
    }
}
