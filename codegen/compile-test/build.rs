//! Generates the fixture catalog's Rust module into `$OUT_DIR`.

fn main() -> std::process::ExitCode {
    xerpium_codegen::build_script::generate_into_out_dir("../tests/fixtures/everything.yaml")
}
