// Opens a notebook in a running JupyterLab with headless Debian chromium, runs all its cells,
// and reports what the page shows. Called by tests/test_browser.py, which asserts on the report.
//
//   node run_notebook.mjs <lab-url-of-notebook> <screenshot.png> <user-data-dir> [timeout-s]
//
// Prints one JSON line: {svg, svg_img, progress, stderr, model_errors, execution_counts, passed}. Exit code 0
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
// The open notebook's model, through the app instance (JupyterLab runs with
// --LabApp.expose_app_in_browser=True).
const notebookState = () =>
  page.evaluate(() => {
    const widget = window.jupyterapp.shell.currentWidget;
    const cells = [...widget.content.model.cells];
    const code = cells.filter((c) => c.type === "code");
    return {
      kernel: widget.sessionContext.session?.kernel?.status ?? "none",
      counts: code.map((c) => c.executionCount),
      errors: code.flatMap((c) =>
        [...Array(c.outputs.length).keys()]
          .map((i) => c.outputs.get(i).toJSON())
          .filter((o) => o.output_type === "error")
          .map((o) => `${o.ename}: ${o.evalue}`),
      ),
    };
  });

try {
  await page.goto(url, { waitUntil: "domcontentloaded", timeout: 120000 });
  await page.locator(".jp-Notebook .jp-Cell").first().waitFor({ timeout: 120000 });
  await page.waitForFunction(() => window.jupyterapp?.shell?.currentWidget?.sessionContext, null, { timeout: 60000 });
  log("notebook open");
  // The kernel named in the notebook's metadata starts by itself; wait until it is idle.
  await page.waitForFunction(
    () => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === "idle",
    null,
    { timeout: 120000, polling: 500 },
  );
  log("kernel idle; Run > Run All Cells");
  const started = Date.now();
  // Resolves when the cells have run; the loop below checks the outcome and the kernel.
  await page.evaluate(() => window.jupyterapp.commands.execute("notebook:run-all-cells"));

  // Done when every code cell has an execution count and the kernel is idle again.
  let state;
  for (;;) {
    await page.waitForTimeout(1000);
    state = await notebookState();
    if (state.kernel === "idle" && state.counts.every((n) => n !== null)) break;
    if (Date.now() - started > timeoutMs) {
      log(`timed out; kernel ${state.kernel}, execution counts ${JSON.stringify(state.counts)}`);
      exitCode = 1;
      break;
    }
  }
  log(`cells done in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  // Scroll to fit's progress bar, with the History curves under it, and take the screenshot.
  const svg = page.locator(".jp-OutputArea-output[data-mime-type='image/svg+xml']");
  const bars = page.locator(".jp-OutputArea-output .ferrolab-progress");
  if ((await bars.count()) > 0) await bars.first().evaluate((e) => e.scrollIntoView({ block: "start" }));
  await page.waitForTimeout(500);
  await page.screenshot({ path: screenshot });

  const outputs = page.locator(".jp-OutputArea-output");
  const report = {
    svg: await svg.count(),
    svg_img: await page.locator(".jp-OutputArea-output[data-mime-type='image/svg+xml'] img").count(),
    progress: await page.locator(".jp-OutputArea-output .ferrolab-progress").count(),
    // error outputs and stderr streams both render with the stderr mime type
    stderr: await page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").allInnerTexts(),
    model_errors: state.errors,
    execution_counts: state.counts,
    passed: (await outputs.filter({ hasText: "All checks passed" }).count()) > 0,
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
