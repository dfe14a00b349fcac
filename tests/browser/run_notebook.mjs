// Opens a notebook in a running JupyterLab with headless Debian chromium, runs all its cells,
// and reports what the page shows. Called by tests/test_browser.py, which asserts on the report.
//
//   node run_notebook.mjs <lab-url-of-notebook> <screenshot.png> <user-data-dir> [timeout-s]
//
// Prints one JSON line: {svg, progress, errors, stderr, prompts, passed, text}. Exit code 0
// when the run finished (the test decides whether it passed), 1 when the page never got there.
import { chromium } from "playwright-core";

const [url, screenshot, userDataDir, timeoutArg] = process.argv.slice(2);
const timeoutMs = 1000 * Number(timeoutArg || 300);

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.FERROLAB_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1400, height: 1000 },
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
const page = context.pages()[0] || (await context.newPage());
const log = (msg) => console.error(`[browser ${new Date().toISOString().slice(11, 19)}] ${msg}`);
page.on("pageerror", (e) => log(`page error: ${e.message}`));

let exitCode = 0;
try {
  await page.goto(url, { waitUntil: "domcontentloaded", timeout: 120000 });
  // The notebook is open once its cells are rendered.
  await page.locator(".jp-Notebook .jp-Cell").first().waitFor({ timeout: 120000 });
  log("notebook open");
  // Wait for the kernel (named in the notebook's metadata) to be idle before running.
  await page
    .locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    .first()
    .waitFor({ timeout: 120000 })
    .catch(() => log("no idle indicator seen; running anyway"));

  // Run > Run All Cells, through JupyterLab's own menu.
  await page.locator(".lm-MenuBar-item", { hasText: /^Run$/ }).click();
  await page.locator(".lm-Menu-item[data-command='notebook:run-all-cells']").click();
  log("run all cells");

  // Done when no prompt shows [*] and the last code cell has a number.
  const started = Date.now();
  for (;;) {
    const prompts = await page.locator(".jp-CodeCell .jp-InputPrompt").allInnerTexts();
    const busy = prompts.some((p) => p.includes("*"));
    const last = prompts[prompts.length - 1] || "";
    if (!busy && /\[\d+\]/.test(last)) break;
    if (Date.now() - started > timeoutMs) {
      log(`timed out; prompts: ${prompts.join(" ")}`);
      exitCode = 1;
      break;
    }
    await page.waitForTimeout(1000);
  }
  log(`cells done in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  // Scroll to the first plot so the screenshot shows one, then take it.
  const svg = page.locator(".jp-OutputArea-output [data-mime-type='image/svg+xml'], .jp-RenderedSVG");
  if ((await svg.count()) > 0) await svg.first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: screenshot });

  const report = {
    svg: await svg.count(),
    progress: await page.locator(".jp-OutputArea-output .ferrolab-progress").count(),
    // error outputs and stderr streams both render with the stderr mime type
    stderr: await page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").allInnerTexts(),
    prompts: await page.locator(".jp-CodeCell .jp-InputPrompt").allInnerTexts(),
    passed: (await page.getByText("All checks passed").count()) > 0,
  };
  console.log(JSON.stringify(report));
} catch (e) {
  log(`failed: ${e.message}`);
  await page.screenshot({ path: screenshot }).catch(() => {});
  exitCode = 1;
} finally {
  await context.close();
}
process.exit(exitCode);
