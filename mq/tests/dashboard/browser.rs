//! The dashboard in a browser: headless Chromium (Debian's `chromium`,
//! driven by Playwright from `tools/browser/dashboard.mjs`) opens the
//! overview, sees the stalled group flagged, opens the dead letter, logs in
//! with the token and replays it (the fleet then handles it), and follows
//! the live tail. The screenshots of the overview, the dead letter, the
//! replay and the tail are saved in `target/tmp/dashboard-screenshots/`.
//!
//! Needs `scripts/setup` (Chromium, Node and `npm ci` in `tools/browser/`).

use std::path::Path;
use std::process::Command;

use crate::support::{self, Fleet, TOKEN, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_the_stalled_group_and_replays_a_dead_letter_in_the_browser() {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
        "Chromium or Playwright is missing: run scripts/setup"
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).expect("the screenshot directory");
    let fleet = Fleet::start().await;
    let dashboard = fleet.dashboard(true);
    fleet.until_dead_letters(&dashboard, 1).await;
    fleet.mend();
    // Sign-ups for the live tail to show, every 300 ms while the browser runs.
    let signing_up = {
        let publisher = fleet.publisher.clone();
        tokio::spawn(async move {
            loop {
                support::publish_sign_up(&publisher, "plain").await;
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
        })
    };
    let (url, dir) = (dashboard.base.clone(), shots.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("dashboard.mjs")
            .arg(&url)
            .arg(&dir)
            .env("DASHBOARD_TOKEN", TOKEN)
            .current_dir(&browser)
            .output()
    })
    .await
    .expect("no panic")
    .expect("node runs");
    signing_up.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser did not get through (screenshots in {}):\n{stdout}\n{stderr}",
        shots.display()
    );
    assert!(stdout.contains("stalled: stalled mailer"), "{stdout}");
    assert!(stdout.contains("replayed "), "{stdout}");
    assert!(
        stdout.contains("tail: decoded, filtered, paused and resumed"),
        "{stdout}"
    );
    eventually("the replayed sign-up is handled", || async {
        fleet.handled(fleet.bounced)
    })
    .await;
    for shot in ["overview.png", "dead-letter.png", "replayed.png", "tail.png"] {
        let size = std::fs::metadata(shots.join(shot)).map_or(0, |meta| meta.len());
        assert!(size > 10_000, "{shot} is {size} bytes");
    }
    let log = dashboard.stop();
    assert!(
        log.contains("operator \"browser-operator\" replayed dead letters of group audit"),
        "{log}"
    );
    fleet.stop().await;
}
