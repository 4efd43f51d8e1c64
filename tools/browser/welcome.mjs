// Registers a user through user-auth's page in Debian's headless Chromium
// and waits for the "Welcome!" toast.
//
//   node welcome.mjs http://127.0.0.1:PORT [screenshot.png]
//
// Exit code 0 when the toast shows, 1 otherwise (with a screenshot when a
// path is given). Chromium is /usr/bin/chromium unless CHROMIUM says
// otherwise; its profile is a fresh temporary directory, removed afterwards.
import { withPage } from "./chromium.mjs";

const [url, screenshot] = process.argv.slice(2);
if (!url) {
  console.error("usage: node welcome.mjs URL [screenshot.png]");
  process.exit(2);
}

const ok = await withPage(async (page) => {
  try {
    await page.goto(url, { waitUntil: "load", timeout: 30_000 });
    const email = `browser-${Date.now()}@example.com`;
    await page.fill("#register input[name=display_name]", "Browser Tester");
    await page.fill("#register input[name=email]", email);
    await page.fill("#register input[name=password]", "correct horse battery");
    await page.click("#register button[type=submit]");
    const toast = page.locator(".toast-success", { hasText: "Welcome!" });
    await toast.waitFor({ state: "visible", timeout: 30_000 });
    console.log(`toast: ${(await toast.innerText()).replace(/\s+/g, " ").trim()}`);
    return true;
  } catch (error) {
    console.error(`failed: ${error.message}`);
    if (screenshot) await page.screenshot({ path: screenshot }).catch(() => {});
    return false;
  }
});
process.exit(ok ? 0 : 1);
