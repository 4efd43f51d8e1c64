//! Generates the typed API of `events.yaml` into `$OUT_DIR` at build time.

fn main() -> std::process::ExitCode {
    xerpium_codegen::build_script::generate_into_out_dir("events.yaml")
}
