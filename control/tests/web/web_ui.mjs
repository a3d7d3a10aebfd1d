// Drives ferrocap's web admin page in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core; no browser is downloaded).
//
//   FERROCAP_URL=http://127.0.0.1:9700 FERROCAP_OUT=/tmp/out node web_ui.mjs
//
// Environment:
//   FERROCAP_URL      the appliance's control address (required)
//   FERROCAP_OUT      a directory for the download and the screenshot (required)
//   FERROCAP_DUMP     the dump name to create (default webui-<pid>)
//   FERROCAP_TOKEN    the API token, when the appliance has one
//   CHROMIUM          the browser (default /usr/bin/chromium)
//
// It types a bad expression and checks that the page shows the position the
// API reports, creates a dump with a good one, starts it, waits for packets,
// stops it, downloads it, sets and removes packet logging (with its tail),
// checks that the counters and the rate chart move, shows an API error, takes
// a screenshot and deletes the dump. The last line on stdout is a JSON object
// the Rust test (appliance/tests/web_ui.rs) reads: the download's path and
// the dump's written count from the API.
//
// Exits non-zero with a message on the first failed check.

import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const BASE = process.env.FERROCAP_URL;
const OUT = process.env.FERROCAP_OUT;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TOKEN = process.env.FERROCAP_TOKEN || "";
const DUMP = process.env.FERROCAP_DUMP || `webui-${process.pid}`;
const BAD_EXPR = "tcpfl = SYN & & port = 80";
const GOOD_EXPR = "tcpfl = SYN";
const PLOG_EXPR = "tcpfl = SYN -ACK";

if (!BASE || !OUT) {
  console.error("web_ui.mjs: set FERROCAP_URL and FERROCAP_OUT");
  process.exit(2);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`web_ui.mjs: no browser at ${CHROMIUM}; run \`bash deploy/test.sh\` (it installs chromium)`);
  process.exit(2);
}
fs.mkdirSync(OUT, { recursive: true });

function log(msg) {
  console.error(`[web_ui] ${msg}`);
}

class CheckFailed extends Error {}

function check(cond, msg) {
  if (!cond) throw new CheckFailed(msg);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; fails with `what` after `ms`. */
async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new CheckFailed(`timed out waiting for ${what} (last: ${last})`);
    await sleep(200);
  }
}

/** The API, called from Node (not the page) to cross-check what the page shows. */
async function api(method, p, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  const res = await fetch(BASE + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

async function dumpFromApi(name) {
  const r = await api("GET", "/api/v1/dumps");
  check(r.status === 200, `GET /api/v1/dumps: ${r.status} ${r.text}`);
  return (r.json.dumps || []).find((d) => d.name === name);
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ferrocap-chromium-"));
const pageErrors = [];
let context;
let exitCode = 0;

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
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
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => pageErrors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(`console error: ${m.text()}`);
  });
  page.on("dialog", (d) => d.accept());
  // Every request the page makes stays on the appliance: no CDN, no fonts.
  const origin = new URL(BASE).origin;
  page.on("request", (req) => {
    const u = new URL(req.url());
    if (u.protocol.startsWith("http") && u.origin !== origin) pageErrors.push(`request to another host: ${req.url()}`);
  });
  log(`opening ${BASE}/`);
  await page.goto(`${BASE}/`);
  await page.locator("#conn", { hasText: "Live" }).waitFor();
  check((await page.title()).includes("ferrocap"), "page title names ferrocap");

  // ---- the token: a wrong one gets a 401, the page asks again, the right one works
  if (TOKEN) {
    log("token");
    const before = (await api("GET", "/api/v1/log/level")).json.level;
    const next = before === 6 ? 5 : 6;
    await page.click("#token-button");
    await page.locator("#token-dialog[open]").waitFor();
    await page.fill("#token-input", "not-the-token");
    await page.click("#token-save");
    await page.locator("#token-dialog").waitFor({ state: "hidden" });
    await page.selectOption("#log-level", String(next));
    await page.locator("#token-dialog[open]").waitFor();
    check(/refused/.test(await page.textContent("#token-reason")), "the dialog says why it asks");
    await page.fill("#token-input", TOKEN);
    await page.click("#token-save");
    await until("the log level to change through the API", async () => (await api("GET", "/api/v1/log/level")).json.level === next);
    const stored = await page.evaluate(() => sessionStorage.getItem("ferrocap.apiToken"));
    check(stored === TOKEN, "the token is kept in sessionStorage");
    await page.selectOption("#log-level", String(before));
    await until("the log level to change back", async () => (await api("GET", "/api/v1/log/level")).json.level === before);
    check((await page.locator("#token-dialog[open]").count()) === 0, "no second prompt with the right token");
  }

  // ---- a bad expression: the page shows the position the API reports
  log("bad expression");
  const bad = await api("POST", "/api/v1/expressions/check", { expression: BAD_EXPR });
  check(bad.status === 400, `check of a bad expression answers 400, got ${bad.status} ${bad.text}`);
  const { line, char } = bad.json.error;
  check(Number.isInteger(line) && Number.isInteger(char), `the error has line and char: ${bad.text}`);
  await page.fill("#dump-expr", BAD_EXPR);
  const pos = page.locator("#dump-expr-status .expr-pos");
  await pos.waitFor();
  check((await pos.textContent()).includes(`Line ${line}, char ${char}`), `the page shows "Line ${line}, char ${char}"`);
  check((await page.getAttribute("#dump-expr", "aria-invalid")) === "true", "the expression box is marked invalid");
  const caret = (await page.textContent("#dump-expr-status pre.caret")).split("\n");
  check(caret[0] === BAD_EXPR.split("\n")[line - 1], `the caret block repeats the line: ${JSON.stringify(caret)}`);
  check(caret[1] === " ".repeat(char - 1) + "^", `the caret is under char ${char}: ${JSON.stringify(caret[1])}`);
  const msg = await page.textContent("#dump-expr-status .expr-msg");
  check(msg === bad.json.error.message, `the page shows the API's message: ${msg}`);

  // ---- a good expression
  log("good expression");
  await page.fill("#dump-expr", GOOD_EXPR);
  await page.locator("#dump-expr-status .expr-ok").waitFor();
  check((await page.getAttribute("#dump-expr", "aria-invalid")) === null, "the expression box is valid again");

  // ---- create, start, wait, stop
  log(`create dump ${DUMP}`);
  await page.fill("#dump-name", DUMP);
  await page.selectOption("#dump-format", "pcap");
  await page.click("#dump-create");
  const row = page.locator(`#dump-rows tr[data-name="${DUMP}"]`);
  await row.waitFor();
  await until("the new dump to show as stopped", async () => (await row.getAttribute("data-state")) === "stopped");
  const created = await dumpFromApi(DUMP);
  check(created && created.expression === GOOD_EXPR && created.format === "pcap", `the API has the dump: ${JSON.stringify(created)}`);

  log("start");
  await page.getByRole("button", { name: `Start dump ${DUMP}` }).click();
  await until("the dump to run", async () => (await row.getAttribute("data-state")) === "running");
  await until("packets written to the dump", async () => Number(await row.getAttribute("data-written")) > 0, 30000);

  log("stop");
  await page.getByRole("button", { name: `Stop dump ${DUMP}` }).click();
  await until("the dump to stop", async () => (await row.getAttribute("data-state")) === "stopped");
  // The written count is final once two reads a second apart agree.
  let written = -1;
  await until("the written count to settle", async () => {
    await sleep(800);
    const d = await dumpFromApi(DUMP);
    const settled = d.state === "stopped" && d.written === written;
    written = d.written;
    return settled;
  }, 15000);
  check(written > 0, `the stopped dump wrote packets (${written})`);
  await until("the table to show the final count", async () => Number(await row.getAttribute("data-written")) === written);

  log("download");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: `Download dump ${DUMP}` }).click(),
  ]);
  check(download.suggestedFilename() === `${DUMP}.pcap`, `the download is named ${DUMP}.pcap: ${download.suggestedFilename()}`);
  const file = path.join(OUT, download.suggestedFilename());
  await download.saveAs(file);
  check(fs.statSync(file).size > 24, "the download holds more than a pcap header");

  // ---- an API error is shown: creating the same dump again is a 409
  log("duplicate dump shows an error");
  await page.fill("#dump-name", DUMP);
  await page.click("#dump-create");
  await page.locator("#errors .error-item", { hasText: "(HTTP 409)" }).waitFor();
  await page.locator("#dump-form-msg[data-kind=error]").waitFor();

  // ---- packet logging: set, tail, remove
  log("packet logging");
  await page.fill("#plog-expr", PLOG_EXPR);
  await page.locator("#plog-expr-status .expr-ok").waitFor();
  await page.click("#plog-set");
  await page.locator("#plog-form-msg[data-kind=ok], #plog-form-msg[data-kind=warn]").waitFor();
  const plog = await api("GET", "/api/v1/packet-logging");
  check(plog.json && typeof plog.json.expression === "string" && plog.json.expression.length > 0, `packet logging is set: ${plog.text}`);
  await until("the current expression on the page", async () => (await page.textContent("#plog-current")) === plog.json.expression);
  await until("packet records in the tail", async () => Number(await page.getAttribute("#tail", "data-count")) > 0, 30000);
  const tail = await page.textContent("#tail");
  check(/PFLG/.test(tail), `the tail holds packet records: ${tail.slice(0, 200)}`);

  // ---- counters and the chart move
  log("counters");
  const rx1 = await page.textContent("#total-rx");
  await until("the received total to change", async () => (await page.textContent("#total-rx")) !== rx1);
  await until("three chart samples", async () => Number(await page.getAttribute("#rate-chart", "data-samples")) >= 3);
  const points = await page.getAttribute("#rate-chart polyline[data-series=rx]", "points");
  check(points.trim().split(/\s+/).length >= 3, `the received line has points: ${points}`);
  await until("a received rate above zero", async () => {
    const rate = await page.textContent("#rate-rx");
    return /\d/.test(rate) && !/^0 /.test(rate);
  });
  const workers = await page.locator("#worker-rows tr").count();
  const ports = await page.locator("#port-rows tr").count();
  check(workers >= 1 && ports >= 1, `port and worker tables are filled (${ports}, ${workers})`);

  const shot = path.join(OUT, "web_ui.png");
  await page.screenshot({ path: shot, fullPage: true });

  log("remove packet logging");
  await page.click("#plog-remove");
  await until("packet logging off on the page", async () => (await page.textContent("#plog-current")).includes("off"));
  const off = await api("GET", "/api/v1/packet-logging");
  check(off.json && off.json.expression === null, `packet logging is removed: ${off.text}`);

  log("delete the dump");
  await page.getByRole("button", { name: `Delete dump ${DUMP}` }).click();
  await row.waitFor({ state: "detached" });
  check((await dumpFromApi(DUMP)) === undefined, "the API no longer lists the dump");

  check(pageErrors.length === 0, `the page had errors:\n${pageErrors.join("\n")}`);
  console.log(JSON.stringify({ download: file, dump: DUMP, written, screenshot: shot }));
} catch (e) {
  exitCode = 1;
  console.error(`web_ui.mjs: ${e instanceof CheckFailed ? "check failed" : "error"}: ${e.message}`);
  if (pageErrors.length) console.error(pageErrors.join("\n"));
  if (context) {
    const page = context.pages()[0];
    if (page) {
      await page.screenshot({ path: path.join(OUT, "web_ui_failure.png"), fullPage: true }).catch(() => {});
      console.error(`web_ui.mjs: failure screenshot in ${path.join(OUT, "web_ui_failure.png")}`);
    }
  }
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);
