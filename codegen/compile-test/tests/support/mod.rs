//! Payloads of the fixture catalog shared by the tests of this crate.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;
use xerpium_codegen_compile_test::*;

/// `amount` euros.
pub fn money(amount: &str) -> Money {
    Money {
        amount: Decimal::from_str(amount).expect("valid decimal"),
        currency: "EUR".into(),
    }
}

/// A `ledger.posted` that sets every field, the optional ones included.
#[allow(deprecated)]
pub fn posted() -> LedgerPosted {
    LedgerPosted {
        entry_id: Uuid::from_u128(7),
        amount: money("12.50"),
        nested: vec![BTreeMap::from([
            ("a".to_owned(), Some(money("1"))),
            ("b".to_owned(), None),
        ])],
        maybe_money: None,
        tags: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        roles: vec![Role::Admin, Role::V2Api],
        role: Role::A1,
        flag: Some(Flag::Off),
        raw: json!({"any": [1, "two", null]}),
        ratio: 0.25,
        big: u64::MAX,
        small: -1,
        count: 3,
        total: -9_000_000_000,
        posted_at: "2026-11-26T10:00:00.123456Z".parse().expect("valid time"),
        value_date: "2026-11-30".parse().expect("valid date"),
        note: Some("private".into()),
        rate: Decimal::from_str("0.333").expect("valid decimal"),
        enabled: false,
        weight: 2.0,
        labels: vec!["x".into()],
        legacy_code: Some("L1".into()),
    }
}

/// A `ledger.voided` with keyword field names and a tree.
pub fn voided() -> LedgerVoided {
    LedgerVoided {
        reference: "r-1".into(),
        keywords: Keywords {
            r#type: "t".into(),
            r#match: -3,
            r#async: true,
            self_: Some("me".into()),
            r#gen: 4,
            class: None,
            from: Some("2026-01-31".parse().expect("a date")),
        },
        tree: Some(Node {
            label: "root".into(),
            children: vec![Node {
                label: "leaf".into(),
                children: Vec::new(),
                by_name: BTreeMap::new(),
            }],
            by_name: BTreeMap::from([("none".to_owned(), None)]),
        }),
    }
}

/// The fixture catalog, checked.
pub fn catalog() -> xerpium_codegen::Catalog {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/everything.yaml");
    xerpium_codegen::check_catalog(&fixture).unwrap_or_else(|diagnostics| panic!("{diagnostics}"))
}

/// The stream entry fields of a message of `event_type` v`version` about `subject` carrying `data`, as the wire
/// format writes them (a new id, the current time).
pub fn entry_fields(event_type: &str, version: u32, subject: &str, data: &str) -> Vec<(&'static str, String)> {
    vec![
        ("specversion", "1.0".to_owned()),
        ("id", Uuid::now_v7().to_string()),
        ("type", event_type.to_owned()),
        ("version", version.to_string()),
        ("source", "test".to_owned()),
        (
            "time",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ),
        ("subject", subject.to_owned()),
        ("correlationid", "c".to_owned()),
        ("datacontenttype", "application/json".to_owned()),
        ("data", data.to_owned()),
    ]
}

/// A stream entry of `event_type` v`version` carrying `data`, as a handler gets it.
pub fn message(event_type: &str, version: u32, data: &str) -> xerpium_messaging::Message {
    let fields = entry_fields(event_type, version, "s", data);
    let get = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    };
    xerpium_messaging::Message {
        envelope: xerpium_messaging::Envelope::from_fields(get).expect("a valid envelope"),
        stream: "test:events:ledger".into(),
        entry_id: "1-0".into(),
        delivery_count: 1,
    }
}

/// The Python interpreter of `.venv/` (or `XERPIUM_PYTHON`); `None` when there is none outside CI.
pub fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("XERPIUM_PYTHON") {
        return Some(path.into());
    }
    let venv = workspace().join(".venv/bin/python");
    if venv.is_file() {
        return Some(venv);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: run scripts/setup",
        venv.display()
    );
    eprintln!("skipped: {} is missing (scripts/setup makes it)", venv.display());
    None
}

/// Python (the interpreter of [`python`]) with a generated module `xerpium_events` on its path, running the
/// scripts of `tests/python/`.
pub struct Python {
    interpreter: PathBuf,
    /// The directory on `PYTHONPATH`.
    path: PathBuf,
    /// The temporary directory of a module generated for the test, removed with it.
    _generated: Option<tempfile::TempDir>,
}

impl Python {
    /// With the module generated from the fixture catalog, in a temporary directory; `None` without Python.
    pub fn fixture() -> Option<Python> {
        let interpreter = python()?;
        let generated = tempfile::tempdir().expect("a temporary directory");
        for file in xerpium_codegen::emit::python::emit(&catalog()) {
            let name = Path::new(&file.path).file_name().expect("a file name");
            std::fs::write(generated.path().join(name), file.contents).expect("module written");
        }
        Some(Python {
            interpreter,
            path: generated.path().to_owned(),
            _generated: Some(generated),
        })
    }

    /// With the committed module of XERPIUM's catalog, `generated/python/xerpium_events.py`; `None` without
    /// Python.
    pub fn xerpium() -> Option<Python> {
        Some(Python {
            interpreter: python()?,
            path: workspace().join("generated/python"),
            _generated: None,
        })
    }

    /// The directory of the module.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn command(&self, arguments: &[&str]) -> Command {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
        let mut command = Command::new(&self.interpreter);
        command
            .current_dir(&scripts)
            .env("PYTHONPATH", &self.path)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .args(arguments)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs a script with `arguments`, `input` on its standard input, to its end; panics unless it succeeds.
    pub fn run(&self, arguments: &[&str], input: &str) -> Output {
        let mut child = self.command(arguments).spawn().expect("python starts");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("input written");
        }
        let output = child.wait_with_output().expect("python ends");
        assert!(
            output.status.success(),
            "python {arguments:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Starts a script with `arguments` that runs beside the test: it reads the lines it prints as it prints
    /// them, and it stops when its standard input closes ([`Running::finish`]).
    pub fn spawn(&self, arguments: &[&str]) -> Running {
        let mut child = self.command(arguments).spawn().expect("python starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Running {
            what: format!("{arguments:?}"),
            child,
            stdin,
            lines,
            reader: Some(reader),
            errors: Some(errors),
        }
    }
}

/// A script started by [`Python::spawn`]; killed if the test ends before it.
pub struct Running {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// The thread that forwards its standard output, line by line.
    reader: Option<JoinHandle<()>>,
    /// The thread that collects its standard error.
    errors: Option<JoinHandle<String>>,
}

impl Running {
    /// The next line the script printed, waiting at most `patience`; panics with what it reported otherwise.
    pub fn line(&mut self, patience: Duration) -> String {
        match self.lines.recv_timeout(patience) {
            Ok(line) => line,
            Err(error) => {
                let _ = self.child.kill();
                let errors = self.errors();
                panic!("python {}: no line ({error}):\n{errors}", self.what)
            }
        }
    }

    /// Closes the script's standard input, waits for it to end and returns the lines it printed since the last
    /// [`line`](Self::line); panics unless it succeeded.
    pub fn finish(mut self) -> Vec<String> {
        drop(self.stdin.take());
        let status = self.child.wait().expect("python ends");
        let errors = self.errors();
        assert!(status.success(), "python {} failed ({status}):\n{errors}", self.what);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.lines.try_iter().collect()
    }

    fn errors(&mut self) -> String {
        self.errors
            .take()
            .map(|errors| errors.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The compiled schemas of the fixture catalog, by file name (`ledger.posted.v1.json`).
pub struct Validator {
    schemas: boon::Schemas,
    index: BTreeMap<String, boon::SchemaIndex>,
}

impl Validator {
    /// Compiles every schema of the fixture catalog.
    pub fn new() -> Self {
        let catalog = catalog();
        let mut compiler = boon::Compiler::new();
        compiler.enable_format_assertions();
        let mut schemas = boon::Schemas::new();
        let mut index = BTreeMap::new();
        for file in xerpium_codegen::emit::json_schema::emit(&catalog) {
            let name = file.path.trim_start_matches("schemas/").to_owned();
            let document: Value = serde_json::from_str(&file.contents).expect("a schema is JSON");
            let location = format!("urn:xerpium:{name}");
            compiler.add_resource(&location, document).expect("a new resource");
            let compiled = compiler
                .compile(&location, &mut schemas)
                .unwrap_or_else(|error| panic!("{name} does not compile: {error}"));
            index.insert(name, compiled);
        }
        Validator { schemas, index }
    }

    /// Validates `payload` against schema `name`; the error as text.
    pub fn check(&self, name: &str, payload: &Value) -> Result<(), String> {
        let schema = *self.index.get(name).unwrap_or_else(|| panic!("no schema {name}"));
        self.schemas
            .validate(payload, schema)
            .map_err(|error| format!("{error:#}"))
    }

    /// Panics unless schema `name` accepts `payload`.
    pub fn accepts(&self, name: &str, payload: &impl Serialize) {
        let value = serde_json::to_value(payload).expect("serializes");
        if let Err(error) = self.check(name, &value) {
            panic!("{name} rejects {value}:\n{error}");
        }
    }

    /// Panics unless schema `name` rejects `payload` with an error that mentions `because`.
    pub fn rejects(&self, name: &str, payload: &Value, because: &str) {
        match self.check(name, payload) {
            Ok(()) => panic!("{name} accepts {payload}, but should not: {because}"),
            Err(error) => assert!(error.contains(because), "{name}: expected {because:?} in:\n{error}"),
        }
    }
}
