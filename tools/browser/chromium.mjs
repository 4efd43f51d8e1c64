// Debian's headless Chromium for the browser tests, driven by Playwright:
// a fresh profile in a temporary directory, and the flags this machine
// needs (no sandbox as root, no background connections to the closed
// network). Chromium is /usr/bin/chromium unless CHROMIUM says otherwise.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Runs `test(page)` in a new browser and closes it after, whatever happens;
// returns what `test` returns. The page's console goes to standard error.
export async function withPage(test) {
  const profile = mkdtempSync(join(tmpdir(), "xerpium-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => console.error(`page: ${message.text()}`));
  try {
    return await test(page);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
