//! The browser test: headless Chromium (Debian's `chromium`, driven by
//! Playwright from `tools/browser/`) registers through
//! user-auth's page and must see the "Welcome!" toast, which travels from
//! user-auth through Redis Pub/Sub and the gateway's Server-Sent Events.
//!
//! Needs `scripts/setup` (Chromium, Node and `npm ci` in that directory).

mod support;

use std::path::Path;
use std::process::Command;

use support::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_in_the_browser_shows_the_welcome_toast() {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
        "Chromium or Playwright is missing: run scripts/setup"
    );
    let stack = Stack::start().await;
    // Kept after a failure, to look at.
    let screenshot = std::env::temp_dir().join("xerpium-browser-test-failure.png");
    let shown = screenshot.display().to_string();
    let url = stack.user_auth.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("welcome.mjs")
            .arg(&url)
            .arg(&screenshot)
            .current_dir(&browser)
            .output()
    })
    .await
    .expect("no panic")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser saw no welcome (screenshot: {shown}):
{stdout}
{stderr}"
    );
    assert!(stdout.contains("Welcome!"), "{stdout}");
}
