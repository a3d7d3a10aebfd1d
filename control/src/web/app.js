// ferrocap web admin page. Plain JavaScript, no framework, no build step and
// no external resources: everything it needs is served by the appliance.
// It talks only to the appliance's own HTTP API (/api/v1, see openapi.json).
"use strict";

(function () {
  const API = "/api/v1";
  const TOKEN_KEY = "ferrocap.apiToken";
  const CHART_SECONDS = 120;
  const DUMP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

  /** The element with this id (every id used here exists in index.html). */
  function el(id) {
    const e = document.getElementById(id);
    if (!e) throw new Error("page element #" + id + " is missing");
    return e;
  }

  function make(tag, props, children) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === "text") e.textContent = v;
        else if (k === "class") e.className = v;
        else if (k in e && typeof v !== "string") e[k] = v;
        else e.setAttribute(k, v);
      }
    }
    for (const c of children || []) e.append(c);
    return e;
  }

  // ---- formatting ---------------------------------------------------------

  function num(v) {
    return typeof v === "number" && Number.isFinite(v) ? v : 0;
  }

  function fmtInt(v) {
    if (typeof v !== "number" || !Number.isFinite(v)) return "–";
    return Math.round(v).toLocaleString("en-US");
  }

  function fmtBytes(v) {
    if (typeof v !== "number" || !Number.isFinite(v)) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let x = v;
    while (x >= 1024 && i < units.length - 1) {
      x /= 1024;
      i += 1;
    }
    return (i === 0 ? String(x) : x.toFixed(x < 10 ? 2 : 1)) + " " + units[i];
  }

  function fmtRate(v) {
    if (!Number.isFinite(v)) return "–";
    if (v >= 1e6) return (v / 1e6).toFixed(2) + " M/s";
    if (v >= 1e4) return (v / 1e3).toFixed(1) + " k/s";
    return Math.round(v).toLocaleString("en-US") + " /s";
  }

  function fmtAxis(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(v % 1e6 === 0 ? 0 : 1) + "M";
    if (v >= 1e3) return (v / 1e3).toFixed(v % 1e3 === 0 ? 0 : 1) + "k";
    return String(v);
  }

  function fmtDuration(s) {
    if (typeof s !== "number" || !Number.isFinite(s)) return "–";
    s = Math.floor(s);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    const pad = (x) => String(x).padStart(2, "0");
    if (d > 0) return d + "d " + h + "h " + pad(m) + "m";
    if (h > 0) return h + "h " + pad(m) + "m " + pad(sec) + "s";
    return m + "m " + pad(sec) + "s";
  }

  /** A drop count: a number, or an object of counts by reason. */
  function dropTotal(d) {
    if (typeof d === "number") return d;
    if (d && typeof d === "object") {
      return Object.values(d).reduce((a, b) => a + num(b), 0);
    }
    return 0;
  }

  function dropTitle(d) {
    if (d && typeof d === "object") {
      return Object.entries(d)
        .map(([k, v]) => k.replace(/_/g, " ") + ": " + fmtInt(num(v)))
        .join(", ");
    }
    return "";
  }

  // ---- errors -------------------------------------------------------------

  /** A failed API request, with the server's message (and position, if any). */
  class ApiError extends Error {
    constructor(method, path, status, message, detail) {
      super(message);
      this.method = method;
      this.path = path;
      this.status = status;
      this.line = detail && Number.isInteger(detail.line) ? detail.line : null;
      this.char = detail && Number.isInteger(detail.char) ? detail.char : null;
    }

    /** "POST /api/v1/dumps: 409 Conflict: …" */
    describe() {
      const where = this.method + " " + this.path;
      const code = this.status ? " (HTTP " + this.status + ")" : "";
      const pos = this.line ? " at line " + this.line + ", char " + this.char : "";
      return this.message + pos + " — " + where + code;
    }
  }

  const errorItems = new Map();

  /**
   * Shows `text` in the error list at the top. A `key` replaces the earlier
   * error with the same key (used by the pollers, which clear it on success).
   */
  function showError(text, key) {
    const box = el("errors");
    if (key && errorItems.has(key)) {
      errorItems.get(key).querySelector(".error-text").textContent = text;
      return;
    }
    const close = make("button", { type: "button", class: "error-close", "aria-label": "Dismiss error", text: "×" });
    const item = make("div", { class: "error-item" }, [
      make("span", { class: "error-icon", "aria-hidden": "true", text: "!" }),
      make("span", { class: "error-text", text }),
      close,
    ]);
    close.addEventListener("click", () => {
      item.remove();
      if (key) errorItems.delete(key);
    });
    if (key) errorItems.set(key, item);
    box.prepend(item);
    while (box.children.length > 6) box.lastElementChild.remove();
  }

  function clearError(key) {
    const item = errorItems.get(key);
    if (item) {
      item.remove();
      errorItems.delete(key);
    }
  }

  function describe(err) {
    return err instanceof ApiError ? err.describe() : String(err && err.message ? err.message : err);
  }

  // ---- API token ----------------------------------------------------------

  function getToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (_) {
      return "";
    }
  }

  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      /* storage disabled: the token lasts until the page reloads */
    }
    updateTokenButton();
  }

  function updateTokenButton() {
    el("token-button").textContent = getToken() ? "API token ✓" : "API token";
  }

  let tokenPrompt = null;
  let tokenDeclined = false;

  /** Asks for the token; resolves true when the user gave one. */
  function askToken(reason) {
    if (tokenPrompt) return tokenPrompt;
    const dialog = el("token-dialog");
    el("token-reason").textContent = reason || "This appliance needs an API token for changes.";
    el("token-input").value = getToken();
    tokenPrompt = new Promise((resolve) => {
      const finish = (ok) => {
        el("token-form").removeEventListener("submit", onSave);
        el("token-cancel").removeEventListener("click", onCancel);
        dialog.removeEventListener("cancel", onCancel);
        if (dialog.open) dialog.close();
        tokenPrompt = null;
        tokenDeclined = !ok;
        resolve(ok);
      };
      const onSave = (ev) => {
        ev.preventDefault();
        const t = el("token-input").value.trim();
        setToken(t);
        finish(Boolean(t));
      };
      const onCancel = (ev) => {
        ev.preventDefault();
        finish(false);
      };
      el("token-form").addEventListener("submit", onSave);
      el("token-cancel").addEventListener("click", onCancel);
      dialog.addEventListener("cancel", onCancel);
    });
    dialog.showModal();
    el("token-input").focus();
    return tokenPrompt;
  }

  // ---- HTTP ---------------------------------------------------------------

  async function errorFrom(method, path, res) {
    let message = res.statusText || "request failed";
    let detail = null;
    try {
      const body = await res.json();
      if (body && body.error) {
        detail = body.error;
        if (typeof body.error.message === "string") message = body.error.message;
      }
    } catch (_) {
      /* not JSON: keep the status text */
    }
    return new ApiError(method, path, res.status, message, detail);
  }

  /**
   * Calls the API. Resolves with the parsed JSON body; rejects with an
   * ApiError. A 401 asks for the token once and retries.
   */
  async function api(method, path, body, opts) {
    const options = opts || {};
    for (let attempt = 0; ; attempt += 1) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const token = getToken();
      if (token) headers.Authorization = "Bearer " + token;
      let res;
      try {
        res = await fetch(path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          cache: "no-store",
        });
      } catch (e) {
        throw new ApiError(method, path, 0, "cannot reach the appliance (" + (e && e.message ? e.message : e) + ")");
      }
      if (res.status === 401 && attempt === 0 && !(options.background && tokenDeclined)) {
        const err = await errorFrom(method, path, res);
        if (await askToken("The appliance refused the request: " + err.message + ". Enter the API token.")) continue;
        throw err;
      }
      if (!res.ok) throw await errorFrom(method, path, res);
      const text = await res.text();
      if (!text) return null;
      try {
        return JSON.parse(text);
      } catch (_) {
        throw new ApiError(method, path, res.status, "the appliance answered with something that is not JSON");
      }
    }
  }

  /** Runs `fn` now and again `ms` after each run finishes. */
  function every(ms, fn) {
    const run = async () => {
      try {
        await fn();
      } finally {
        setTimeout(run, ms);
      }
    };
    run();
  }

  // ---- expression boxes with live validation ------------------------------

  /** The source line with a caret under 1-based character `ch` (tabs kept). */
  function caretBlock(line, ch) {
    const chars = Array.from(line);
    const before = chars.slice(0, Math.max(0, ch - 1)).map((c) => (c === "\t" ? "\t" : " "));
    while (before.length < ch - 1) before.push(" ");
    return line + "\n" + before.join("") + "^";
  }

  function warningText(w) {
    if (typeof w === "string") return w;
    if (w && typeof w === "object") {
      const pos = Number.isInteger(w.line) ? "Line " + w.line + ", char " + w.char + ": " : "";
      return pos + (w.message || JSON.stringify(w));
    }
    return String(w);
  }

  /** Validates a textarea's expression as the user types (debounced). */
  class ExpressionBox {
    constructor(input, status) {
      this.input = input;
      this.status = status;
      this.seq = 0;
      this.timer = null;
      this.input.addEventListener("input", () => this.schedule());
    }

    schedule() {
      clearTimeout(this.timer);
      this.seq += 1;
      if (!this.input.value.trim()) {
        this.render("idle");
        return;
      }
      this.render("checking");
      this.timer = setTimeout(() => this.check(), 300);
    }

    async check() {
      const expr = this.input.value;
      const my = ++this.seq;
      try {
        const r = await api("POST", API + "/expressions/check", { expression: expr });
        if (my === this.seq) this.showValid(r || {});
      } catch (e) {
        if (my !== this.seq) return;
        if (e instanceof ApiError && e.status === 400) this.showError(e, expr);
        else this.render("failed", "Could not check the expression: " + describe(e));
      }
    }

    render(state, text) {
      const s = this.status;
      s.replaceChildren();
      s.dataset.state = state;
      this.input.removeAttribute("aria-invalid");
      if (state === "checking") s.append(make("span", { class: "muted", text: "Checking…" }));
      if (state === "failed") s.append(make("span", { class: "expr-bad", text }));
    }

    showValid(r) {
      this.render("valid");
      const s = this.status;
      const row = make("div", { class: "expr-ok" }, [
        make("span", { class: "mark ok", "aria-hidden": "true", text: "✓" }),
        make("span", { text: "Valid. " }),
      ]);
      if (typeof r.normalized === "string") {
        row.append(make("span", { class: "muted", text: "Normalized: " }), make("code", { class: "normalized", text: r.normalized }));
      }
      s.append(row);
      const warnings = Array.isArray(r.warnings) ? r.warnings : [];
      if (warnings.length) {
        s.append(make("ul", { class: "expr-warnings" }, warnings.map((w) => make("li", { text: "Warning: " + warningText(w) }))));
      }
      if (r.plan !== undefined && r.plan !== null) {
        const plan = typeof r.plan === "string" ? r.plan : JSON.stringify(r.plan, null, 2);
        s.append(make("details", { class: "plan" }, [make("summary", { text: "Matcher plan" }), make("pre", { text: plan })]));
      }
    }

    /** Shows a position error (from the check or from a create/set request). */
    showError(err, source) {
      this.seq += 1;
      clearTimeout(this.timer);
      this.render("invalid");
      this.input.setAttribute("aria-invalid", "true");
      const s = this.status;
      const head = make("div", { class: "expr-bad" }, [make("span", { class: "mark bad", "aria-hidden": "true", text: "✗" })]);
      if (err.line) {
        head.append(make("strong", { class: "expr-pos", text: "Line " + err.line + ", char " + err.char + ": " }));
      }
      head.append(make("span", { class: "expr-msg", text: err.message }));
      s.append(head);
      if (err.line) {
        const lines = String(source === undefined ? this.input.value : source).split("\n");
        const line = lines[err.line - 1];
        if (line !== undefined) s.append(make("pre", { class: "caret", text: caretBlock(line, err.char || 1) }));
      }
    }
  }

  // ---- packet dumps ---------------------------------------------------------

  const dumpExpr = new ExpressionBox(el("dump-expr"), el("dump-expr-status"));
  const dumpRows = new Map();

  function formMessage(id, text, kind) {
    const m = el(id);
    m.textContent = text;
    m.dataset.kind = kind || "";
  }

  function defaultDumpName() {
    const d = new Date();
    const p = (x) => String(x).padStart(2, "0");
    return "dump-" + d.getFullYear() + p(d.getMonth() + 1) + p(d.getDate()) + "-" + p(d.getHours()) + p(d.getMinutes()) + p(d.getSeconds());
  }

  function positiveInt(id) {
    const v = el(id).value.trim();
    if (!v) return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(el(id).labels[0].textContent + " must be a whole number above 0");
    return n;
  }

  async function createDump(start) {
    formMessage("dump-form-msg", "");
    const expression = el("dump-expr").value;
    let name = el("dump-name").value.trim();
    if (!name) name = defaultDumpName();
    if (!DUMP_NAME.test(name) || name.includes("..")) {
      el("dump-name").setAttribute("aria-invalid", "true");
      formMessage("dump-form-msg", "The name may hold letters, digits, _ . - (not ..), start with a letter or digit, and be at most 64 long.", "error");
      el("dump-name").focus();
      return;
    }
    el("dump-name").removeAttribute("aria-invalid");
    if (!expression.trim()) {
      formMessage("dump-form-msg", "Type an expression first.", "error");
      el("dump-expr").focus();
      return;
    }
    const body = { name, expression, format: el("dump-format").value, start };
    try {
      const rotation = {};
      const mb = positiveInt("dump-max-mb");
      const secs = positiveInt("dump-max-seconds");
      const files = positiveInt("dump-max-files");
      if (mb) rotation.max_file_bytes = mb * 1000000;
      if (secs) rotation.max_file_seconds = secs;
      if (files) rotation.max_files = files;
      if (Object.keys(rotation).length) body.rotation = rotation;
    } catch (e) {
      formMessage("dump-form-msg", e.message, "error");
      return;
    }
    const buttons = [el("dump-start-new"), el("dump-create")];
    buttons.forEach((b) => (b.disabled = true));
    try {
      const d = await api("POST", API + "/dumps", body);
      formMessage("dump-form-msg", "Dump \u201c" + name + "\u201d created" + (d && d.state ? " (" + d.state + ")." : "."), "ok");
      el("dump-name").value = "";
      await refreshDumps();
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && e.line) dumpExpr.showError(e, expression);
      formMessage("dump-form-msg", "Could not create the dump: " + e.message, "error");
      showError("Create dump \u201c" + name + "\u201d: " + describe(e));
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  async function dumpAction(name, action, button) {
    const path = API + "/dumps/" + encodeURIComponent(name) + (action === "delete" ? "" : "/" + action);
    if (action === "delete" && !window.confirm("Delete dump \u201c" + name + "\u201d and its files?")) return;
    button.disabled = true;
    try {
      await api(action === "delete" ? "DELETE" : "POST", path);
    } catch (e) {
      showError(action[0].toUpperCase() + action.slice(1) + " dump \u201c" + name + "\u201d: " + describe(e));
    } finally {
      button.disabled = false;
      await refreshDumps();
    }
  }

  function dumpRow(name) {
    const cells = {};
    const tr = make("tr", { "data-name": name });
    for (const k of ["name", "expression", "state", "files", "size", "matched", "written", "dropped"]) {
      cells[k] = make("td", { class: ["files", "size", "matched", "written", "dropped"].includes(k) ? "n" : "col-" + k });
      tr.append(cells[k]);
    }
    const btn = (action, label, cls) => {
      const b = make("button", { type: "button", class: "small " + (cls || ""), text: label, "data-action": action, "aria-label": label + " dump " + name });
      b.addEventListener("click", () => dumpAction(name, action, b));
      return b;
    };
    const start = btn("start", "Start", "go");
    const stop = btn("stop", "Stop", "");
    const download = make("a", {
      class: "button small",
      href: API + "/dumps/" + encodeURIComponent(name) + "/download",
      download: "",
      text: "Download",
      "aria-label": "Download dump " + name,
    });
    const del = btn("delete", "Delete", "danger");
    cells.actions = make("td", { class: "actions" }, [start, stop, download, del]);
    tr.append(cells.actions);
    return { tr, cells, start, stop };
  }

  function updateDumpRow(row, d) {
    const c = row.cells;
    c.name.replaceChildren(make("span", { class: "dump-name", text: d.name }));
    if (d.source === "config") c.name.append(make("span", { class: "tag", text: "config", title: "Defined in the configuration file" }));
    if (d.format) c.name.append(make("span", { class: "tag", text: d.format }));
    c.expression.replaceChildren(make("code", { text: d.expression || "", title: d.expression || "" }));
    const state = d.state || "unknown";
    c.state.replaceChildren(make("span", { class: "state state-" + state, text: state }));
    const files = Array.isArray(d.files) ? d.files : [];
    c.files.textContent = fmtInt(files.length);
    c.files.title = files.map((f) => f.name + " (" + fmtBytes(num(f.bytes)) + ")").join("\n") || (d.path || "");
    c.size.textContent = fmtBytes(num(d.file_bytes));
    c.matched.textContent = fmtInt(num(d.matched));
    c.written.textContent = fmtInt(num(d.written));
    c.dropped.textContent = fmtInt(dropTotal(d.dropped));
    c.dropped.title = dropTitle(d.dropped);
    c.dropped.classList.toggle("warn", dropTotal(d.dropped) > 0);
    row.start.disabled = state === "running";
    row.stop.disabled = state !== "running";
    row.tr.dataset.state = state;
    row.tr.dataset.written = String(num(d.written));
  }

  async function refreshDumps() {
    let r;
    try {
      r = await api("GET", API + "/dumps", undefined, { background: true });
    } catch (e) {
      el("dump-poll-error").hidden = false;
      el("dump-poll-error").textContent = "Could not list the dumps: " + describe(e);
      return;
    }
    el("dump-poll-error").hidden = true;
    const dumps = r && Array.isArray(r.dumps) ? r.dumps : [];
    const seen = new Set();
    const body = el("dump-rows");
    for (const d of dumps) {
      if (!d || typeof d.name !== "string") continue;
      seen.add(d.name);
      let row = dumpRows.get(d.name);
      if (!row) {
        row = dumpRow(d.name);
        dumpRows.set(d.name, row);
      }
      updateDumpRow(row, d);
      body.append(row.tr); // keeps the server's order; moving an element keeps its focus state
    }
    for (const [name, row] of dumpRows) {
      if (!seen.has(name)) {
        row.tr.remove();
        dumpRows.delete(name);
      }
    }
    el("dump-empty").hidden = dumpRows.size > 0;
  }

  el("dump-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    createDump(true);
  });
  el("dump-create").addEventListener("click", () => createDump(false));
  // Ctrl+Enter in an expression box submits its form.
  for (const [box, form] of [
    [el("dump-expr"), el("dump-form")],
    [el("plog-expr"), el("plog-form")],
  ]) {
    box.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
  }
  el("dump-name").addEventListener("input", () => el("dump-name").removeAttribute("aria-invalid"));

  // ---- packet logging -------------------------------------------------------

  const plogExpr = new ExpressionBox(el("plog-expr"), el("plog-expr-status"));
  let plogLoaded = false;

  function showPlogCurrent(expression) {
    const c = el("plog-current");
    if (typeof expression === "string" && expression) {
      c.textContent = expression;
      c.classList.remove("muted");
    } else {
      c.textContent = "none — packet logging is off";
      c.classList.add("muted");
    }
    el("plog-remove").disabled = !(typeof expression === "string" && expression);
    if (!plogLoaded) {
      plogLoaded = true;
      if (!el("plog-expr").value && expression) el("plog-expr").value = expression;
    }
  }

  async function refreshPlog() {
    try {
      const r = await api("GET", API + "/packet-logging", undefined, { background: true });
      showPlogCurrent(r ? r.expression : null);
      clearError("plog-poll");
    } catch (e) {
      showError("Could not read the packet-logging expression: " + describe(e), "plog-poll");
    }
  }

  el("plog-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const expression = el("plog-expr").value;
    if (!expression.trim()) {
      formMessage("plog-form-msg", "Type an expression first (use Remove to stop logging).", "error");
      return;
    }
    el("plog-set").disabled = true;
    try {
      const r = await api("PUT", API + "/packet-logging", { expression });
      const warnings = r && Array.isArray(r.warnings) ? r.warnings : [];
      formMessage(
        "plog-form-msg",
        "Packet logging set" + (r && r.normalized ? ": " + r.normalized : ".") + warnings.map((w) => "  Warning: " + warningText(w)).join(""),
        warnings.length ? "warn" : "ok"
      );
      showPlogCurrent(r ? r.expression : expression);
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && e.line) plogExpr.showError(e, expression);
      formMessage("plog-form-msg", "Could not set packet logging: " + e.message, "error");
      showError("Set packet logging: " + describe(e));
    } finally {
      el("plog-set").disabled = false;
      refreshPlog();
    }
  });

  el("plog-remove").addEventListener("click", async () => {
    el("plog-remove").disabled = true;
    try {
      await api("DELETE", API + "/packet-logging");
      formMessage("plog-form-msg", "Packet logging removed.", "ok");
      showPlogCurrent(null);
    } catch (e) {
      formMessage("plog-form-msg", "Could not remove packet logging: " + e.message, "error");
      showError("Remove packet logging: " + describe(e));
    } finally {
      refreshPlog();
    }
  });

  async function refreshTail() {
    if (!el("tail-follow").checked) return;
    const pre = el("tail");
    const n = Number(el("tail-lines").value) || 100;
    let r;
    try {
      r = await api("GET", API + "/packet-logging/tail?lines=" + n, undefined, { background: true });
    } catch (e) {
      el("tail-error").hidden = false;
      el("tail-error").textContent =
        e instanceof ApiError && e.status === 409 ? "No tail: " + e.message : "Could not read the packet log: " + describe(e);
      pre.dataset.state = "error";
      return;
    }
    el("tail-error").hidden = true;
    const lines = r && Array.isArray(r.lines) ? r.lines : [];
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    const text = lines.length ? lines.join("\n") : "";
    if (pre.textContent !== text) pre.textContent = text;
    pre.dataset.state = lines.length ? "lines" : "empty";
    pre.dataset.count = String(lines.length);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  el("tail-follow").addEventListener("change", refreshTail);
  el("tail-lines").addEventListener("change", refreshTail);

  // ---- counters and the rate chart -----------------------------------------

  const samples = []; // {t (ms), rx, matched, dropped} in packets per second
  let previous = null; // {t, rx, matched, dropped} totals

  function addSample(totals) {
    const now = performance.now();
    const cur = { t: now, rx: num(totals.rx_packets), matched: num(totals.matched), dropped: num(totals.dropped) };
    if (previous) {
      const dt = (cur.t - previous.t) / 1000;
      const d = (k) => cur[k] - previous[k];
      // A counter going back (the appliance restarted) starts a new series.
      if (dt > 0.2 && d("rx") >= 0 && d("matched") >= 0 && d("dropped") >= 0) {
        samples.push({ t: now, rx: d("rx") / dt, matched: d("matched") / dt, dropped: d("dropped") / dt });
      } else if (d("rx") < 0) {
        samples.length = 0;
      }
    }
    previous = cur;
    while (samples.length && now - samples[0].t > CHART_SECONDS * 1000) samples.shift();
    const last = samples[samples.length - 1];
    el("rate-rx").textContent = last ? fmtRate(last.rx) : "–";
    el("rate-matched").textContent = last ? fmtRate(last.matched) : "–";
    el("rate-dropped").textContent = last ? fmtRate(last.dropped) : "–";
    drawChart();
  }

  /** The smallest 1, 2 or 5 × 10^n at or above v. */
  function niceCeil(v) {
    if (v <= 10) return 10;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawChart() {
    const chart = el("rate-chart");
    const W = Math.max(320, Math.round(chart.clientWidth || 800));
    const H = 220;
    const m = { l: 56, r: 14, t: 22, b: 26 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    chart.setAttribute("viewBox", "0 0 " + W + " " + H);
    const parts = [];
    const now = performance.now();
    let max = 0;
    for (const s of samples) max = Math.max(max, s.rx, s.matched, s.dropped);
    const top = niceCeil(max);
    for (let i = 0; i <= 4; i += 1) {
      const v = (top * i) / 4;
      const y = m.t + ph - (ph * i) / 4;
      parts.push(svg("line", { x1: m.l, x2: W - m.r, y1: y, y2: y, class: i === 0 ? "axis" : "grid" }));
      parts.push(svg("text", { x: m.l - 8, y: y + 4, "text-anchor": "end", class: "tick" }, fmtAxis(v)));
    }
    for (let s = 0; s <= CHART_SECONDS; s += 30) {
      const x = m.l + pw - (pw * s) / CHART_SECONDS;
      parts.push(svg("text", { x, y: H - 8, "text-anchor": s === 0 ? "end" : s === CHART_SECONDS ? "start" : "middle", class: "tick" }, s === 0 ? "now" : "−" + s + " s"));
    }
    parts.push(svg("text", { x: m.l, y: 11, "text-anchor": "start", class: "unit" }, "packets per second"));
    const xy = (s, k) => {
      const x = m.l + pw - (pw * (now - s.t)) / (CHART_SECONDS * 1000);
      const y = m.t + ph - (ph * s[k]) / top;
      return Math.max(m.l, x).toFixed(1) + "," + y.toFixed(1);
    };
    if (samples.length >= 1) {
      const first = samples[0];
      const lastS = samples[samples.length - 1];
      const area =
        "M" + xy(first, "rx").replace(",", " ") + " " +
        samples.map((s) => "L" + xy(s, "rx").replace(",", " ")).join(" ") +
        " L" + xy(lastS, "rx").split(",")[0] + " " + (m.t + ph) +
        " L" + xy(first, "rx").split(",")[0] + " " + (m.t + ph) + " Z";
      parts.push(svg("path", { d: area, class: "area-rx" }));
      for (const k of ["rx", "matched", "dropped"]) {
        parts.push(svg("polyline", { points: samples.map((s) => xy(s, k)).join(" "), class: "line line-" + k, "data-series": k }));
      }
    } else {
      parts.push(svg("text", { x: m.l + pw / 2, y: m.t + ph / 2, "text-anchor": "middle", class: "placeholder" }, "Waiting for counters…"));
    }
    chart.replaceChildren(...parts);
    chart.dataset.samples = String(samples.length);
  }

  function fillTable(id, rows) {
    const body = el(id);
    if (!rows.length) {
      const cols = body.closest("table").tHead.rows[0].cells.length;
      body.replaceChildren(make("tr", {}, [make("td", { colspan: String(cols), class: "empty-cell", text: "none" })]));
      return;
    }
    body.replaceChildren(
      ...rows.map((cells) =>
        make(
          "tr",
          {},
          cells.map((c) => {
            const cell = typeof c === "object" && c !== null && !(c instanceof Node) ? c : { v: c };
            const td = make("td", { class: cell.cls || (typeof cell.v === "number" || cell.n ? "n" : ""), title: cell.title });
            if (cell.v instanceof Node) td.append(cell.v);
            else td.textContent = typeof cell.v === "number" ? fmtInt(cell.v) : String(cell.v === undefined || cell.v === null ? "–" : cell.v);
            return td;
          })
        )
      )
    );
  }

  function setConn(ok, text) {
    const c = el("conn");
    c.textContent = text;
    c.className = "conn " + (ok ? "conn-ok" : "conn-bad");
  }

  let levelBusy = false;
  let lastLevel = null; // the level the appliance last reported

  function showStatus(st) {
    el("fact-version").textContent = st.version || "–";
    el("fact-uptime").textContent = fmtDuration(st.uptime_seconds);
    el("fact-generation").textContent = st.generation === undefined ? "–" : "#" + st.generation;
    const level = st.log_level && Number.isInteger(st.log_level.level) ? st.log_level.level : null;
    if (level !== null) lastLevel = level;
    if (level !== null && !levelBusy && document.activeElement !== el("log-level")) el("log-level").value = String(level);
    const t = st.totals || {};
    el("total-rx").textContent = fmtInt(num(t.rx_packets));
    el("total-matched").textContent = fmtInt(num(t.matched));
    el("total-unmatched").textContent = fmtInt(num(t.unmatched));
    el("total-dropped").textContent = fmtInt(num(t.dropped));
    el("total-written").textContent = fmtInt(num(t.written));
    el("total-dropped").classList.toggle("warn", num(t.dropped) > 0);
    addSample(t);
    const ports = Array.isArray(st.ports) ? st.ports : [];
    fillTable(
      "port-rows",
      ports.map((p) => [
        { v: p.name + (p.port_id !== undefined ? " (#" + p.port_id + ")" : ""), cls: "" },
        { v: make("span", { class: "state " + (p.link_up ? "state-running" : "state-failed"), text: p.link_up ? "up" : "down" }), cls: "" },
        num(p.rx_packets),
        { v: fmtBytes(num(p.rx_bytes)), n: true },
        num(p.imissed),
        num(p.rx_nombuf),
        num(p.rx_errors),
      ])
    );
    const workers = Array.isArray(st.workers) ? st.workers : [];
    fillTable(
      "worker-rows",
      workers.map((w) => [
        { v: "#" + w.worker, cls: "" },
        num(w.rx_packets),
        { v: fmtBytes(num(w.rx_bytes)), n: true },
        num(w.matched),
        num(w.unmatched),
        { v: dropTotal(w.dropped), n: true, title: dropTitle(w.dropped) },
      ])
    );
    const outputs = Array.isArray(st.outputs) ? st.outputs : [];
    fillTable(
      "output-rows",
      outputs.map((o) => [
        { v: o.name + (o.failed ? " (failed)" : ""), cls: o.failed ? "bad" : "" },
        { v: o.kind === "packet_log" ? "packet log" : o.kind, cls: "" },
        { v: make("code", { text: o.expression || "", title: o.expression || "" }), cls: "col-expression" },
        num(o.matched),
        num(o.written),
        { v: fmtBytes(num(o.bytes)), n: true },
        { v: dropTotal(o.dropped), n: true, title: dropTitle(o.dropped) },
        num(o.files_rotated),
        num(o.write_errors),
      ])
    );
  }

  async function refreshStatus() {
    try {
      const st = await api("GET", API + "/status", undefined, { background: true });
      showStatus(st || {});
      setConn(true, "Live");
      el("status-error").hidden = true;
      clearError("status");
    } catch (e) {
      setConn(false, e instanceof ApiError && e.status === 0 ? "Disconnected" : "Error");
      el("status-error").hidden = false;
      el("status-error").textContent = "Could not read the status: " + describe(e);
      showError("Could not read the status: " + describe(e), "status");
    }
  }

  el("log-level").addEventListener("change", async () => {
    const level = Number(el("log-level").value);
    levelBusy = true;
    try {
      const r = await api("PUT", API + "/log/level", { level });
      if (r && Number.isInteger(r.level)) el("log-level").value = String(r.level);
    } catch (e) {
      if (lastLevel !== null) el("log-level").value = String(lastLevel);
      showError("Set log level: " + describe(e));
    } finally {
      levelBusy = false;
      refreshStatus();
    }
  });

  // ---- start ----------------------------------------------------------------

  el("token-button").addEventListener("click", () => {
    tokenDeclined = false;
    askToken("Enter the API token that the configuration's [control] token holds.");
  });
  el("token-clear").addEventListener("click", () => {
    setToken("");
    el("token-input").value = "";
  });
  updateTokenButton();
  window.addEventListener("resize", drawChart);
  drawChart();

  every(1000, refreshStatus);
  every(1000, refreshDumps);
  every(2000, refreshPlog);
  every(1000, refreshTail);
})();
