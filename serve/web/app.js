// r1 serve's pages: runs, run (curves, config, checkpoints and evals, experts), samples, compare,
// lineage and SQL, as one hash-routed page over the JSON endpoints. Everything from the store is
// put in the page with textContent: model output and run names are untrusted text.
"use strict";
(function () {
  const C = window.R1Charts;
  const main = document.getElementById("main");
  let cleanup = [];  // closed when the page changes (live streams, timers)

  // --- small DOM helpers ----------------------------------------------------------------------
  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const k in props || {}) {
      if (k === "class") e.className = props[k];
      else if (k === "text") e.textContent = props[k];
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), props[k]);
      else if (props[k] !== undefined && props[k] !== null && props[k] !== false) e.setAttribute(k, props[k]);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  const fmt = C.fmt;
  function when(t) { return t ? new Date(t * 1000).toLocaleString() : "–"; }
  function dur(s) {
    if (s === null || s === undefined) return "–";
    if (s < 60) return s.toFixed(0) + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  }
  function status(s) { return h("span", { class: "status status-" + s, text: s }); }
  async function api(path, init) {
    const r = await fetch(path, Object.assign({ credentials: "same-origin" }, init || {}));
    const body = await r.json().catch(() => ({ error: r.statusText }));
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }
  function fail(where, e) { where.replaceChildren(h("p", { class: "error", text: String(e.message || e) })); }
  function params() {
    const q = location.hash.split("?")[1] || "";
    return new URLSearchParams(q);
  }
  function go(hash) { location.hash = hash; }

  // --- runs -----------------------------------------------------------------------------------
  async function runsPage() {
    const p = params();
    const state = {
      q: p.get("q") || "", sort: p.get("sort") || "id", order: p.get("order") || "desc",
      offset: Number(p.get("offset") || 0), limit: 50,
      params: p.get("params"), metrics: p.get("metrics"),
    };
    const selected = new Set();
    const filter = h("input", { class: "wide", placeholder: "filter: status=running rl.beta=0.001 tag=baseline words", value: state.q });
    const pcols = h("input", { placeholder: "param columns", list: "param-keys", value: state.params || "" });
    const mcols = h("input", { placeholder: "metric columns", list: "metric-keys", value: state.metrics || "" });
    const compare = h("button", { class: "primary", disabled: true, text: "Compare selected" });
    const table = h("div");
    const pager = h("div", { class: "pager" });
    const pkeys = h("datalist", { id: "param-keys" }), mkeys = h("datalist", { id: "metric-keys" });
    const apply = () => {
      const q = new URLSearchParams();
      if (filter.value) q.set("q", filter.value);
      if (pcols.value) q.set("params", pcols.value);
      if (mcols.value) q.set("metrics", mcols.value);
      q.set("sort", state.sort); q.set("order", state.order);
      go("#/runs?" + q.toString());
    };
    filter.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(); });
    for (const i of [pcols, mcols]) i.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(); });
    compare.addEventListener("click", () => go("#/compare?runs=" + [...selected].join(",")));
    main.replaceChildren(h("h2", { text: "Runs" }),
      h("div", { class: "toolbar" }, filter, pcols, mcols, h("button", { text: "Apply", onclick: apply }), compare),
      pkeys, mkeys, table, pager);
    api("/api/keys").then((k) => {
      for (const x of k.params) pkeys.append(h("option", { value: x }));
      for (const x of k.metrics) mkeys.append(h("option", { value: x }));
    }).catch(() => {});

    async function load() {
      const q = new URLSearchParams({ q: state.q, sort: state.sort, order: state.order, offset: state.offset, limit: state.limit });
      if (state.params !== null && state.params !== undefined) q.set("params", state.params);
      if (state.metrics !== null && state.metrics !== undefined) q.set("metrics", state.metrics);
      let data;
      try { data = await api("/api/runs?" + q.toString()); } catch (e) { return fail(table, e); }
      const sortable = (label, key) => {
        const th = h("th", { class: "sortable", text: label + (state.sort === key ? (state.order === "desc" ? " ▾" : " ▴") : "") });
        th.addEventListener("click", () => {
          state.order = state.sort === key && state.order === "desc" ? "asc" : "desc";
          state.sort = key;
          load();
        });
        return th;
      };
      const head = h("tr", {}, h("th", {}), sortable("id", "id"), sortable("name", "name"), sortable("status", "status"),
        sortable("kind", "kind"), sortable("stage", "stage"), h("th", { text: "tags" }), sortable("started", "started"),
        sortable("duration", "duration"),
        data.params.map((k) => sortable(k, "param:" + k)), data.metrics.map((k) => sortable(k, "metric:" + k)));
      const rows = data.rows.map((r) => {
        const box = h("input", { type: "checkbox" });
        box.checked = selected.has(r.id);
        box.addEventListener("change", () => {
          box.checked ? selected.add(r.id) : selected.delete(r.id);
          compare.disabled = selected.size < 2;
        });
        return h("tr", { "data-run": r.id }, h("td", {}, box), h("td", { class: "num", text: r.id }),
          h("td", {}, h("a", { href: "#/run/" + r.id, text: r.name })), h("td", {}, status(r.status)),
          h("td", { text: r.kind }),
          h("td", {}, r.pipeline_id ? h("a", { href: "#/lineage/" + r.pipeline_id, text: (r.pipeline || "") + (r.stage ? " / " + r.stage : "") }) : ""),
          h("td", {}, r.tags.map((t) => h("span", { class: "tag", text: t }))),
          h("td", { text: when(r.started_at) }), h("td", { class: "num", text: dur(r.duration_s) }),
          data.params.map((k) => h("td", { class: "num", text: r.params[k] === undefined ? "" : r.params[k] })),
          data.metrics.map((k) => h("td", { class: "num", title: r.metrics[k] ? "step " + r.metrics[k].step : "", text: r.metrics[k] ? fmt(r.metrics[k].value) : "" })));
      });
      table.replaceChildren(h("table", { class: "grid", id: "runs-table" }, h("thead", {}, head), h("tbody", {}, rows)));
      const prev = h("button", { text: "◀ prev", disabled: state.offset === 0 });
      const next = h("button", { text: "next ▶", disabled: state.offset + state.limit >= data.total });
      prev.addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); load(); });
      next.addEventListener("click", () => { state.offset += state.limit; load(); });
      pager.replaceChildren(prev, h("span", { class: "muted", text: `${data.total ? state.offset + 1 : 0}–${state.offset + data.rows.length} of ${data.total}` }), next);
      return data;
    }
    const data = await load();
    // While some run is running, the table refreshes itself.
    const timer = setInterval(() => { if (document.querySelector("#runs-table .status-running")) load(); }, 5000);
    cleanup.push(() => clearInterval(timer));
    return data;
  }

  // --- one run --------------------------------------------------------------------------------
  function runTabs(id, active, run) {
    const tab = (name, label) => h("a", { href: `#/run/${id}/${name}`, class: name === active ? "active" : "", text: label });
    return h("div", {},
      h("h2", {}, h("span", { text: `${run.name} ` }), h("span", { class: "muted", text: `#${run.id} ` }), status(run.status),
        h("span", { class: "live", id: "live-flag" })),
      h("div", { class: "tabs" }, tab("curves", "Curves"), tab("samples", "Samples"), tab("config", "Config"),
        tab("evals", "Checkpoints & evals"), tab("experts", "Expert load")));
  }

  // A live stream of the run's new rows; `on` maps event names to handlers.
  function live(id, afterStep, on) {
    const es = new EventSource(`/api/events?run=${id}&after_step=${afterStep}`);
    for (const name in on) es.addEventListener(name, (e) => on[name](JSON.parse(e.data)));
    es.addEventListener("open", () => { const f = document.getElementById("live-flag"); if (f) f.textContent = " ● live"; });
    cleanup.push(() => es.close());
    return es;
  }

  async function curvesPage(id, run) {
    const p = params();
    const keyFilter = h("input", { placeholder: "metrics (text or /regex/)", value: p.get("keys") || "" });
    const smoothing = h("input", { type: "range", min: 0, max: 0.99, step: 0.01, value: p.get("smooth") || 0 });
    const logY = h("input", { type: "checkbox" });
    const xAxis = h("select", {}, h("option", { value: "step", text: "x = step" }), h("option", { value: "wall", text: "x = wall time (s)" }));
    const grid = h("div", { class: "charts", id: "charts" });
    main.append(h("div", { class: "toolbar" }, keyFilter, h("label", {}, "smooth ", smoothing), h("label", {}, logY, " log y"), xAxis,
      h("span", { class: "muted", text: "drag to zoom, double-click to reset" })), grid);
    let data = await api(`/api/runs/${id}/metrics?keys=*&x=step`);
    const charts = new Map();
    const match = () => {
      const f = keyFilter.value.trim();
      if (!f) return () => true;
      if (f.length > 2 && f.startsWith("/") && f.endsWith("/")) { try { const re = new RegExp(f.slice(1, -1)); return (k) => re.test(k); } catch (e) { return () => true; } }
      return (k) => k.includes(f);
    };
    const draw = () => {
      const ok = match();
      grid.replaceChildren();
      charts.clear();
      for (const s of data.series) {
        if (!ok(s.key)) continue;
        const box = h("div", { "data-key": s.key });
        grid.append(box);
        const chart = C.lineChart(box, {
          title: s.key, series: [{ name: s.key, points: s.points }], smoothing: Number(smoothing.value), logY: logY.checked,
          xLabel: data.x, note: s.downsampled ? `${s.points.length} of ${s.n} points (LTTB)` : `${s.n} points`,
        });
        charts.set(s.key, { chart, s });
      }
      if (!grid.children.length) grid.append(h("p", { class: "muted", text: "no metrics" }));
    };
    draw();
    keyFilter.addEventListener("input", draw);
    for (const c of [smoothing, logY]) c.addEventListener("input", () => {
      for (const { chart } of charts.values()) chart.update({ smoothing: Number(smoothing.value), logY: logY.checked });
    });
    xAxis.addEventListener("change", async () => { data = await api(`/api/runs/${id}/metrics?keys=*&x=${xAxis.value}`); draw(); });
    let lastStep = -1;
    for (const s of data.series) if (s.last_step !== null) lastStep = Math.max(lastStep, s.last_step);
    live(id, lastStep, {
      metrics: (ev) => {
        let added = false;
        for (const key in ev.points) {
          let entry = charts.get(key);
          let s = entry ? entry.s : data.series.find((x) => x.key === key);
          if (!s) { s = { key, n: 0, points: [], downsampled: false, last_step: null }; data.series.push(s); added = true; }
          for (const [step, value, wall] of ev.points[key]) {
            if (value === null) continue;
            const x = data.x === "wall" ? wall - run.started_at : step;
            const i = s.points.findIndex((q) => q[0] === x);
            if (i >= 0) s.points[i] = [x, value]; else { s.points.push([x, value]); s.n++; }
            s.last_step = step;
          }
          entry = charts.get(key);
          if (entry) entry.chart.update({ series: [{ name: key, points: s.points }], note: `${s.n} points (live)` });
        }
        if (added) { data.series.sort((a, b) => (a.key < b.key ? -1 : 1)); draw(); }
      },
      status: (ev) => { const st = document.querySelector("h2 .status"); if (st) { st.textContent = ev.status; st.className = "status status-" + ev.status; } },
    });
  }

  async function configPage(id, run) {
    const kv = h("dl", { class: "kv" });
    const add = (k, v) => kv.append(h("dt", { text: k }), h("dd", {}, v));
    add("kind", run.kind); add("status", status(run.status)); add("seed", run.seed ?? "–");
    add("started", when(run.started_at)); add("ended", when(run.ended_at)); add("host", run.host || "–");
    add("git commit", run.git_commit || "–"); add("tags", run.tags.map((t) => h("span", { class: "tag", text: t })));
    if (run.pipeline_id) add("pipeline", h("a", { href: "#/lineage/" + run.pipeline_id, text: `${run.pipeline} / ${run.stage}` }));
    if (run.parent_run_id) add("parent run", h("a", { href: "#/run/" + run.parent_run_id, text: "#" + run.parent_run_id }));
    if (run.children.length) add("child runs", run.children.map((c) => h("a", { href: "#/run/" + c.id, text: ` #${c.id} ${c.stage || c.name}` })));
    add("notes", h("span", { id: "notes", text: run.notes || "–" }));
    let pretty = run.config_json;
    try { pretty = JSON.stringify(JSON.parse(run.config_json), null, 2); } catch (e) { /* shown as stored */ }
    main.append(kv, h("h3", { text: "Recipe as written" }), h("pre", { class: "block", text: run.recipe || "(none)" }),
      h("h3", { text: "Resolved config" }), h("pre", { class: "block", text: pretty || "(none)" }));
  }

  async function evalsPage(id, run) {
    const ck = h("table", { class: "grid" }, h("tr", {}, ["step", "path", "bytes", "sha256", "created"].map((t) => h("th", { text: t }))),
      run.checkpoints.map((c) => h("tr", {}, h("td", { class: "num", text: c.step }), h("td", { text: c.path }), h("td", { class: "num", text: c.bytes ?? "" }),
        h("td", { text: (c.sha256 || "").slice(0, 16) }), h("td", { text: when(c.created_at) }))));
    const ev = h("table", { class: "grid" }, h("tr", {}, ["step", "dataset", "metric", "value", "n"].map((t) => h("th", { text: t }))),
      run.evals.map((e) => h("tr", {}, h("td", { class: "num", text: e.step }), h("td", { text: e.dataset }), h("td", { text: e.metric }),
        h("td", { class: "num", text: fmt(e.value) }), h("td", { class: "num", text: e.n ?? "" }))));
    main.append(h("h3", { text: `Checkpoints (${run.checkpoints.length})` }), ck, h("h3", { text: `Evaluations (${run.evals.length})` }), ev);
  }

  async function expertsPage(id) {
    const box = h("div");
    const slider = h("input", { type: "range", min: 0, max: 0, step: 1 });
    const label = h("span", { class: "muted" });
    main.append(h("div", { class: "toolbar" }, h("span", { text: "step " }), slider, label), box);
    let steps = [];
    const show = async (step) => {
      const d = await api(`/api/runs/${id}/experts` + (step === undefined ? "" : `?step=${step}`));
      if (!d.layers) { box.replaceChildren(h("p", { class: "muted", text: "This run logged no per-expert load (moe/load/l<layer>/e<expert>): not an MoE run." })); slider.hidden = true; return; }
      steps = d.steps;
      slider.max = steps.length - 1;
      slider.value = Math.max(0, steps.indexOf(d.step));
      label.textContent = `${d.step}: each expert's share of its layer's routed tokens`;
      C.heatmap(box, { title: `Expert load at step ${d.step}`, matrix: d.load, rowLabel: "MoE layer ", colLabel: "e" });
    };
    slider.addEventListener("change", () => show(steps[Number(slider.value)]));
    await show();
  }

  // --- samples --------------------------------------------------------------------------------
  async function samplesPage(id) {
    const p = params();
    const stepSel = h("select", { id: "step-select" }, h("option", { value: "", text: "all steps" }));
    const minR = h("input", { placeholder: "min reward", size: 8, value: p.get("min_reward") || "" });
    const maxR = h("input", { placeholder: "max reward", size: 8, value: p.get("max_reward") || "" });
    const comp = h("select", {}, h("option", { value: "", text: "total reward" }));
    const finish = h("select", {}, h("option", { value: "", text: "any finish" }), ["eos", "length", "stop"].map((f) => h("option", { value: f, text: f })));
    const text = h("input", { placeholder: "text in prompt or completion", value: p.get("q") || "" });
    const list = h("div", { id: "samples" });
    const hist = h("div");
    const pager = h("div", { class: "pager" });
    let offset = 0;
    const limit = 20;
    main.append(h("div", { class: "toolbar" }, stepSel, comp, minR, maxR, finish, text, h("button", { text: "Filter", onclick: () => { offset = 0; load(); } })),
      h("div", { class: "split" }, hist, h("div", { id: "step-summary" })), pager, list);
    const steps = await api(`/api/runs/${id}/sample_steps`);
    const fillSteps = (s) => {
      const keep = stepSel.value;
      stepSel.replaceChildren(h("option", { value: "", text: "all steps" }), ...s.steps.map((x) => h("option", { value: x.step, text: `step ${x.step} (${x.n}, mean ${fmt(x.mean_reward)})` })));
      stepSel.value = keep;
    };
    fillSteps(steps);
    if (p.get("step") !== null) stepSel.value = p.get("step");
    else if (steps.steps.length) stepSel.value = steps.steps[steps.steps.length - 1].step;
    for (const c of steps.components) comp.append(h("option", { value: c, text: c }));
    const query = () => {
      const q = new URLSearchParams();
      if (stepSel.value !== "") q.set("step", stepSel.value);
      if (comp.value) q.set("component", comp.value);
      if (minR.value) q.set("min_reward", minR.value);
      if (maxR.value) q.set("max_reward", maxR.value);
      if (finish.value) q.set("finish", finish.value);
      if (text.value) q.set("q", text.value);
      return q;
    };
    async function load() {
      const q = query();
      let page, h2;
      try {
        [page, h2] = await Promise.all([
          api(`/api/runs/${id}/samples?${q}&offset=${offset}&limit=${limit}`),
          api(`/api/runs/${id}/histogram?${q}&bins=20`)]);
      } catch (e) { return fail(list, e); }
      C.histogram(hist, { title: `${comp.value || "reward"} histogram (${h2.n} samples${stepSel.value !== "" ? ", step " + stepSel.value : ""})`, edges: h2.edges, counts: h2.counts });
      list.replaceChildren(...page.rows.map(sampleCard));
      if (!page.rows.length) list.append(h("p", { class: "muted", text: "no samples match" }));
      const prev = h("button", { text: "◀ prev", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - limit); load(); } });
      const next = h("button", { text: "next ▶", disabled: offset + limit >= page.total, onclick: () => { offset += limit; load(); } });
      pager.replaceChildren(prev, h("span", { class: "muted", text: `${page.total ? offset + 1 : 0}–${offset + page.rows.length} of ${page.total}` }), next);
    }
    stepSel.addEventListener("change", () => { offset = 0; load(); });
    await load();
    live(id, 1e15, { samples: async () => fillSteps(await api(`/api/runs/${id}/sample_steps`)) });
  }

  function sampleCard(s) {
    const parts = [];
    for (const k in (s.breakdown && typeof s.breakdown === "object" ? s.breakdown : {})) parts.push(`${k} ${fmt(s.breakdown[k])}`);
    return h("div", { class: "sample", "data-sample": s.id },
      h("div", { class: "head" },
        h("span", {}, "step ", h("b", { text: s.step })), h("span", {}, "task ", h("b", { text: s.task_id })),
        h("span", {}, "reward ", h("b", { class: s.reward > 0 ? "reward-pos" : "reward-zero", text: fmt(s.reward) })),
        h("span", { text: parts.join(" · ") }), h("span", {}, "finish ", h("b", { text: s.finish_reason })),
        h("span", { text: `${s.completion_tokens ?? "?"} tokens` }), s.weight_version !== null ? h("span", { text: `weights v${s.weight_version}` }) : null),
      h("div", { class: "body" },
        h("div", {}, h("span", { class: "label", text: "prompt" }), h("span", { class: "prompt", text: s.prompt }),
          h("span", { class: "label", text: "reference answer" }), h("span", { class: "reference", text: s.reference ?? "(not recorded)" })),
        h("div", {}, h("span", { class: "label", text: "completion" }), h("span", { class: "completion", text: s.completion }))));
  }

  // --- compare --------------------------------------------------------------------------------
  async function comparePage() {
    const ids = (params().get("runs") || "").split(",").filter(Boolean);
    main.replaceChildren(h("h2", { text: "Compare runs " + ids.map((i) => "#" + i).join(", ") }));
    const cmp = await api("/api/compare?runs=" + ids.join(","));
    const head = h("tr", {}, h("th", { text: "config key" }), cmp.runs.map((r) => h("th", {}, h("a", { href: "#/run/" + r.id, text: `#${r.id} ${r.name}` }))));
    main.append(h("h3", { text: `Config keys that differ (${cmp.diff.length}; ${cmp.same} equal)` }),
      h("table", { class: "grid", id: "param-diff" }, head, cmp.diff.map((d) => h("tr", {}, h("td", { text: d.key }), d.values.map((v) => h("td", { text: v ?? "–" }))))));
    const filter = h("input", { placeholder: "metrics (text)", value: "reward" });
    const grid = h("div", { class: "charts" });
    main.append(h("h3", { text: "Curves, overlaid" }), h("div", { class: "toolbar" }, filter, h("span", { class: "muted", text: "up to 24 charts" })), grid);
    const all = await Promise.all(cmp.runs.map((r) => api(`/api/runs/${r.id}/metrics?keys=*`)));
    const draw = () => {
      const keys = [...new Set(all.flatMap((d) => d.series.map((s) => s.key)))].filter((k) => k.includes(filter.value)).sort().slice(0, 24);
      grid.replaceChildren();
      for (const key of keys) {
        const box = h("div");
        grid.append(box);
        C.lineChart(box, { title: key, xLabel: "step", series: all.map((d, i) => ({ name: `#${cmp.runs[i].id} ${cmp.runs[i].name}`, points: (d.series.find((s) => s.key === key) || { points: [] }).points })) });
      }
    };
    filter.addEventListener("input", draw);
    draw();
  }

  // --- lineage --------------------------------------------------------------------------------
  async function lineagePage(pid) {
    if (!pid) {
      const list = await api("/api/pipelines");
      main.replaceChildren(h("h2", { text: "Pipelines" }),
        list.length ? h("table", { class: "grid" }, h("tr", {}, ["id", "name", "file", "stages", "runs", "created"].map((t) => h("th", { text: t }))),
          list.map((p) => h("tr", {}, h("td", { class: "num", text: p.id }), h("td", {}, h("a", { href: "#/lineage/" + p.id, text: p.name })),
            h("td", { text: p.path }), h("td", { class: "num", text: p.stages }), h("td", { class: "num", text: p.runs }), h("td", { text: when(p.created_at) }))))
          : h("p", { class: "muted", text: "No pipelines in this store (r1 pipeline RECIPE makes one)." }));
      return;
    }
    const d = await api("/api/pipelines/" + pid);
    const byParent = new Map();
    const ids = new Set(d.stages.map((s) => s.run_id));
    for (const s of d.stages) {
      const parent = ids.has(s.parent_run_id) ? s.parent_run_id : 0;
      if (!byParent.has(parent)) byParent.set(parent, []);
      byParent.get(parent).push(s);
    }
    const tree = (parent) => h("ul", {}, (byParent.get(parent) || []).map((s) => h("li", {},
      h("span", { class: "node", "data-stage": s.stage },
        h("b", { text: s.stage }), h("span", { class: "muted", text: s.kind }), status(s.status),
        h("a", { href: "#/run/" + s.run_id, text: "run #" + s.run_id }),
        h("span", { text: s.headline.map((x, i) => (i && x.label !== "of" ? ", " : i ? " " : "") + `${x.label} ${fmt(x.value)}`).join("") }),
        h("span", { class: "muted", text: dur((s.ended_at || Date.now() / 1000) - s.started_at) }),
        s.earlier_runs ? h("span", { class: "muted", text: `(${s.earlier_runs} earlier)` }) : null),
      byParent.has(s.run_id) ? tree(s.run_id) : null)));
    main.replaceChildren(h("h2", {}, h("span", { text: `Pipeline ${d.name} ` }), h("span", { class: "muted", text: d.path })),
      h("div", { class: "tree", id: "lineage" }, tree(0)));
  }

  // --- SQL ------------------------------------------------------------------------------------
  async function sqlPage() {
    const box = h("textarea", { class: "sql", spellcheck: "false" });
    box.value = params().get("sql") || "SELECT run_id, key, step, value FROM latest_metrics ORDER BY run_id DESC LIMIT 50";
    const out = h("div", { id: "sql-result" });
    const csv = h("a", { text: "CSV" });
    const run = async () => {
      csv.href = "/api/sql?format=csv&sql=" + encodeURIComponent(box.value);
      try {
        const r = await api("/api/sql", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sql: box.value }) });
        out.replaceChildren(h("p", { class: "muted", text: `${r.rows.length} rows${r.truncated ? " (limit " + r.limit + " reached)" : ""} in ${r.elapsed_ms.toFixed(1)} ms` }),
          h("table", { class: "grid" }, h("tr", {}, r.columns.map((c) => h("th", { text: c }))),
            r.rows.map((row) => h("tr", {}, row.map((v) => h("td", { class: typeof v === "number" ? "num" : "", text: v === null ? "NULL" : typeof v === "number" ? fmt(v) : v }))))));
      } catch (e) { fail(out, e); }
    };
    box.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(); });
    main.replaceChildren(h("h2", { text: "SQL" }),
      h("p", { class: "muted", text: "One read-only statement. Tables: runs, params, metrics (view), metric_values, metric_keys, samples, checkpoints, evals, tags, pipelines, samplesets. Views: latest_metrics, metric_summary, params_pivot, run_overview. Ctrl+Enter runs." }),
      box, h("div", { class: "toolbar" }, h("button", { class: "primary", text: "Run", onclick: run }), csv), out);
    await run();
  }

  // --- routing --------------------------------------------------------------------------------
  async function route() {
    for (const f of cleanup) f();
    cleanup = [];
    const path = location.hash.replace(/^#/, "").split("?")[0] || "/runs";
    const parts = path.split("/").filter(Boolean);
    for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.dataset.nav === parts[0]);
    main.replaceChildren(h("p", { class: "muted", text: "Loading…" }));
    try {
      if (parts[0] === "run" && parts[1]) {
        const id = Number(parts[1]);
        const run = await api("/api/runs/" + id);
        const tab = parts[2] || "curves";
        main.replaceChildren(runTabs(id, tab, run));
        if (tab === "samples") await samplesPage(id);
        else if (tab === "config") await configPage(id, run);
        else if (tab === "evals") await evalsPage(id, run);
        else if (tab === "experts") await expertsPage(id);
        else await curvesPage(id, run);
      } else if (parts[0] === "compare") await comparePage();
      else if (parts[0] === "lineage") await lineagePage(parts[1]);
      else if (parts[0] === "sql") await sqlPage();
      else await runsPage();
      document.body.dataset.ready = path;
    } catch (e) {
      fail(main, e);
      document.body.dataset.ready = "error";
    }
  }
  window.addEventListener("hashchange", route);
  route();
})();
