// Drives the dashboard in headless chromium and checks what a user sees: the runs table's rows, a
// drawn curve, a completion full of markup shown as text (and nothing of it run), a new metric row
// appearing live, the lineage tree and the SQL box. Saves screenshots. Exits non-zero on the first
// failed check, naming it.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";

const { R1, DB, PORT, OUT, CHROMIUM, RUN_ALPHA, RUN_BETA } = process.env;
const base = `http://127.0.0.1:${PORT}`;
const SCRIPT_TEXT = "<script>window.__pwned = 1</script> and \"><img src=x onerror=\"window.__pwned=2\"> <b>bold?</b>";
let checks = 0;
function check(ok, what) {
  if (!ok) {
    console.error(`FAIL: ${what}`);
    process.exitCode = 1;
    throw new Error(what);
  }
  checks++;
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push("console: " + m.text()); });
  // Every failed request is a problem, except the SQL box's refusal this test asks for.
  page.on("response", (r) => { if (r.status() >= 400 && !(r.url().endsWith("/api/sql") && r.status() === 400)) problems.push(`${r.status()} ${r.url()}`); });
  page.on("dialog", (d) => { problems.push("dialog: " + d.message()); d.dismiss(); });
  const ready = (hashPath) => page.waitForFunction((p) => document.body.dataset.ready === p, hashPath, { timeout: 15000 });

  // Runs: one row per run in the store, names as text.
  await page.goto(`${base}/#/runs`);
  await ready("/runs");
  const names = await page.$$eval("#runs-table tbody tr td:nth-child(3)", (tds) => tds.map((t) => t.textContent));
  check(names.length === 4, `runs table has 4 rows (got ${names.length}: ${names.join(", ")})`);
  check(names.includes("alpha") && names.includes("beta") && names.includes("demo-pipe.zero"), "runs table names the fixture's runs");
  await page.fill("#main input.wide", "rl.beta=0.001");
  await page.click("#main button:text-is(\"Apply\")");
  await page.waitForFunction(() => document.querySelectorAll("#runs-table tbody tr").length === 1, null, { timeout: 10000 });
  check(true, "the filter rl.beta=0.001 leaves one row");
  await page.screenshot({ path: `${OUT}/runs.png` });

  // Run page: every metric is a curve; the 5,000-step reward curve is drawn from its 2,000 points.
  await page.goto(`${base}/#/run/${RUN_ALPHA}/curves`);
  await ready(`/run/${RUN_ALPHA}/curves`);
  const d = await page.getAttribute('.chart[data-key="reward"] path.series', "d");
  check(d && (d.match(/L/g) || []).length >= 1999, `the reward curve is an SVG path of 2,000 points (got ${(d || "").split("L").length})`);
  const charts = await page.$$eval(".chart[data-key]", (c) => c.length);
  check(charts === 10, `one chart per metric (got ${charts})`);
  const note = await page.textContent('.chart[data-key="reward"] .note');
  check(note.includes("2000 of 5000 points"), `the chart says it is downsampled ("${note}")`);
  await page.screenshot({ path: `${OUT}/run.png` });
  await page.hover('.chart[data-key="reward"] svg', { position: { x: 200, y: 100 } });
  const tip = await page.textContent('.chart[data-key="reward"] .tooltip');
  check(tip.includes("reward:"), `hovering shows values ("${tip.split("\n").join(" | ")}")`);

  // Samples: the completion with markup is shown literally and runs nothing.
  await page.goto(`${base}/#/run/${RUN_ALPHA}/samples?step=2`);
  await ready(`/run/${RUN_ALPHA}/samples`);
  const completions = await page.$$eval("#samples .completion", (e) => e.map((x) => x.textContent));
  check(completions.length === 8, `8 samples at step 2 (got ${completions.length})`);
  check(completions.includes(SCRIPT_TEXT), "the <script>/<img onerror> completion shows as literal text");
  check((await page.$$("#samples .completion *, #samples img, #samples script")).length === 0, "no element was made from the completion's markup");
  check((await page.evaluate(() => window.__pwned)) === undefined, "the completion's script and onerror never ran");
  const refs = await page.$$eval("#samples .reference", (e) => e.map((x) => x.textContent));
  check(refs.includes("2"), "the reference answer is shown beside the prompt");
  check((await page.$$eval(".chart rect.bar", (b) => b.length)) > 0, "the reward histogram is drawn");
  await page.screenshot({ path: `${OUT}/samples.png`, fullPage: false });

  // Live: a metric row written by another process appears without a reload, within 2 s.
  await page.goto(`${base}/#/run/${RUN_BETA}/curves`);
  await ready(`/run/${RUN_BETA}/curves`);
  await page.waitForFunction(() => (document.getElementById("live-flag") || {}).textContent === " ● live", null, { timeout: 10000 });
  const before = await page.getAttribute('.chart[data-key="reward"] path.series', "d");
  // Timed from the start of the writing command: an upper bound on "row in the store -> on the page".
  const t0 = Date.now();
  execFileSync(R1, ["--db", DB, "-q", "runs", "log", RUN_BETA, "--step", "50", "reward=0.93", "live_only=1"]);
  await page.waitForFunction((b) => {
    const p = document.querySelector('.chart[data-key="reward"] path.series');
    return p && p.getAttribute("d") !== b && document.querySelector('.chart[data-key="live_only"]');
  }, before, { timeout: 5000, polling: 20 });
  const ms = Date.now() - t0;
  check(ms <= 2000, `the new row appeared live within ${ms} ms of starting the command that wrote it (limit 2,000)`);

  // Lineage and SQL.
  await page.goto(`${base}/#/lineage`);
  await ready("/lineage");
  await page.click("#main table a");
  await page.waitForSelector("#lineage .node");
  const stages = await page.$$eval("#lineage .node", (n) => n.map((x) => x.dataset.stage));
  check(stages.join(",") === "base,zero", `the lineage tree shows base then zero (got ${stages})`);
  check((await page.$$("#lineage ul ul .node")).length === 1, "zero is drawn under base");
  await page.goto(`${base}/#/sql`);
  await ready("/sql");
  await page.fill("textarea.sql", "DELETE FROM runs");
  await page.click("#main button.primary");
  await page.waitForSelector("#sql-result .error");
  check((await page.textContent("#sql-result .error")).includes("refused"), "the SQL box refuses a DELETE");
  check(problems.length === 0, `no page errors, CSP violations or dialogs (${problems.join("; ")})`);
  console.log(`RESULT browser_checks=${checks} live_ms=${ms}`);
} finally {
  await browser.close();
}
