// Drives the web view of a running job in headless Chromium (playwright-core):
// waits for the job graph to show events flowing, clicks "Trigger savepoint",
// waits until the new savepoint is listed, and writes a screenshot.
// Usage: node drive.js <api-url> <screenshot.png>; PLAYWRIGHT_CORE names the
// installed playwright-core, CHROMIUM the browser, TOKEN the job's API token.
// Prints one JSON line.
"use strict";

const { chromium } = require(process.env.PLAYWRIGHT_CORE);

async function main() {
  const [api, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const errors = [];
  let page;
  try {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(api + "/", { waitUntil: "load" });
    // Every node of the graph is drawn, and events reach the sink.
    await page.waitForSelector('[data-node="count"]');
    await page.waitForFunction(() => {
      const sink = document.querySelector('[data-node="out"]');
      return sink && /written [1-9][\d.]* ?[kM]?\/s/.test(sink.textContent);
    }, null, { timeout: 60000 });
    // A job with a token shows the token field; the buttons send what it holds.
    if (process.env.TOKEN && await page.isVisible("#token")) await page.fill("#token", process.env.TOKEN);
    const before = await page.locator("#savepoints tr.savepoint").count();
    await page.click("#trigger-savepoint");
    await page.waitForFunction((n) => document.querySelectorAll("#savepoints tr.savepoint").length > n, before, { timeout: 60000 });
    await page.waitForFunction(() => document.querySelectorAll("#timeline rect.bar").length > 0);
    const message = await page.textContent("#message");
    const paths = await page.$$eval("#savepoints tr.savepoint", (rows) => rows.map((r) => r.dataset.path));
    const nodes = await page.$$eval("[data-node]", (gs) => gs.map((g) => g.dataset.node));
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ before, paths, message, nodes, errors }));
  } catch (e) {
    // What the page showed, for the failure report.
    if (page) await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
    throw new Error(String(e) + "\npage errors: " + JSON.stringify(errors) + "\npage text: " + (page ? await page.innerText("body").catch(() => "") : ""));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
