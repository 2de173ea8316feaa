// Runs axe-core on a page in Debian's chromium, at a phone's width and a
// desktop's: node axe.mjs FILE.html [PHONE_SCREENSHOT.png]
// Prints one JSON object: {violations: [...], passes: N} over both widths.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const [file, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const violations = [];
let passes = 0;
try {
  for (const [width, height] of [[390, 844], [1024, 768]]) {
    // The page forbids scripts (Content-Security-Policy): axe is let in here only.
    const page = await browser.newPage({ viewport: { width, height }, bypassCSP: true });
    await page.goto(pathToFileURL(file).href);
    if (shot && width === 390) await page.screenshot({ path: shot, fullPage: true });
    await page.addScriptTag({ path: require.resolve("axe-core") });
    const r = await page.evaluate(() => window.axe.run(document));
    passes += r.passes.length;
    for (const v of r.violations) {
      violations.push({
        width, id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
      });
    }
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ violations, passes }));
