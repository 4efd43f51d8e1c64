// The operator's path through the dashboard in Debian's headless Chromium:
// the overview flags the stalled group, the charts draw; the dead letter
// opens with its personal data hidden; the operator logs in and replays it;
// the live tail shows events, filters them, pauses and resumes.
//
//   DASHBOARD_TOKEN=… node dashboard.mjs http://127.0.0.1:PORT SCREENSHOT_DIR
//
// Saves overview.png, dead-letter.png, replayed.png and tail.png in SCREENSHOT_DIR
// (failure.png when something is missing). Prints `replayed <id>` and
// exits with 0 when the replay is confirmed, 1 otherwise.
import { join } from "node:path";
import { withPage } from "./chromium.mjs";

const [base, shots] = process.argv.slice(2);
const token = process.env.DASHBOARD_TOKEN;
if (!base || !shots || !token) {
  console.error("usage: DASHBOARD_TOKEN=… node dashboard.mjs URL SCREENSHOT_DIR");
  process.exit(2);
}
const patience = { timeout: 60_000 };

const ok = await withPage(async (page) => {
  try {
    // The overview: the stalled group is flagged, with its reason, and the charts are drawn.
    await page.goto(base + "/", { waitUntil: "load", ...patience });
    const stalled = page.locator('tr[data-group="mailer"][data-verdict="stalled"]');
    await stalled.waitFor({ state: "visible", ...patience });
    console.log(`stalled: ${(await stalled.innerText()).replace(/\s+/g, " ").trim()}`);
    await page.locator('tr[data-group="reports"][data-verdict="lagging"]').waitFor(patience);
    await page.locator(".verdict.unhealthy").waitFor(patience);
    await page.waitForFunction(
      () => document.querySelectorAll("figure.chart svg path").length >= 4,
      null,
      patience,
    );
    await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });

    // The dead letter, from the overview: its personal data is hidden.
    await page.click("p.dead-letters a");
    await page.click('a[href="/dead-letters/audit"]');
    await page.click("table.letters tbody a");
    await page.locator("pre.payload").waitFor(patience);
    const payload = await page.locator("pre.payload").innerText();
    if (!payload.includes("[redacted]") || payload.includes("@bounce.example")) {
      throw new Error(`personal data is not hidden: ${payload}`);
    }
    const letter = page.url();
    await page.screenshot({ path: join(shots, "dead-letter.png"), fullPage: true });

    // Log in with the token, come back, replay it.
    await page.click('a[href="/login"]');
    await page.fill("input[name=name]", "browser-operator");
    await page.fill("input[name=token]", token);
    await page.click("form.login button[type=submit]");
    await page.waitForURL(base + "/", patience);
    await page.goto(letter, { waitUntil: "load", ...patience });
    await page.click('button[value="selected"]:not(.danger)');
    const flash = page.locator("p.flash", { hasText: "Replayed 1 dead letter(s) of group audit" });
    await flash.waitFor({ state: "visible", ...patience });
    await page.screenshot({ path: join(shots, "replayed.png"), fullPage: true });
    console.log(`replayed ${letter.split("/").pop()}`);

    // The live tail of `user` (the test publishes sign-ups meanwhile): events
    // come in decoded, a type filter hides the others, pausing stops it.
    await page.goto(base + "/tail?category=user", { waitUntil: "load", ...patience });
    const event = page.locator("#tail-events li:not(.hidden)", { hasText: "user.created v1" }).first();
    await event.waitFor({ state: "visible", ...patience });
    if (!(await event.innerText()).includes("[redacted]")) throw new Error("the tail shows personal data");
    await page.selectOption("#tail-type", "user.deleted");
    await page.waitForFunction(() => document.querySelectorAll("#tail-events li:not(.hidden)").length === 0, null, patience);
    await page.selectOption("#tail-type", "");
    await page.click("#tail-pause");
    await page.locator("#tail-state", { hasText: "paused" }).waitFor(patience);
    const shown = await page.locator("#tail-events li").count();
    await page.waitForTimeout(2500);
    if ((await page.locator("#tail-events li").count()) !== shown) throw new Error("the tail went on while paused");
    await page.click("#tail-pause");
    await page.waitForFunction((n) => document.querySelectorAll("#tail-events li").length > n, shown, patience);
    await page.screenshot({ path: join(shots, "tail.png"), fullPage: true });
    console.log("tail: decoded, filtered, paused and resumed");
    return true;
  } catch (error) {
    console.error(`failed: ${error.message}`);
    await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
    return false;
  }
});
process.exit(ok ? 0 : 1);
