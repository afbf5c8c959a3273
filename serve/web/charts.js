// r1 serve's own SVG charts: line charts (several series, smoothing, log scale, drag to zoom,
// double-click to reset, hover read-out), histograms and heat maps. Text goes in with
// textContent only; no library, nothing fetched.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2f6fde", "#e4572e", "#17a398", "#8e44ad", "#f1a208", "#3d5a80", "#c0392b", "#1e8449", "#7f8c8d", "#d35400", "#2c3e50", "#16a085"];

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // Round tick values covering [lo, hi].
  function ticks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }

  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    if (Number.isInteger(v)) return String(v);
    return String(Number(v.toPrecision(4)));
  }

  // Exponential moving average with TensorBoard's debiasing: the first points are not pulled to 0.
  function smooth(points, weight) {
    if (!weight) return points;
    let last = 0, n = 0;
    return points.map(([x, y]) => {
      if (!Number.isFinite(y)) return [x, y];
      last = last * weight + (1 - weight) * y;
      n++;
      return [x, last / (1 - Math.pow(weight, n))];
    });
  }

  function lower(points, x) {
    let lo = 0, hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // A line chart in `box` (an element). opts: {title, note, series: [{name, points, color}],
  // logY, smoothing (0..0.999), xLabel}. Returns {update(opts)}.
  function lineChart(box, opts) {
    box.classList.add("chart");
    const title = document.createElement("div");
    title.className = "title";
    const note = document.createElement("div");
    note.className = "note";
    const tip = document.createElement("div");
    tip.className = "tooltip";
    tip.hidden = true;
    const legend = document.createElement("div");
    legend.className = "legend";
    box.replaceChildren(title, legend, tip);
    const svg = el("svg", { role: "img" }, box);
    box.appendChild(note);
    let state = Object.assign({}, opts);
    let zoom = null;  // [x0, x1] or null

    function render() {
      const W = Math.max(240, box.clientWidth - 16), H = 200;
      const m = { l: 52, r: 10, t: 8, b: 22 };
      svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
      svg.replaceChildren();
      title.textContent = state.title || "";
      note.textContent = state.note || "";
      legend.replaceChildren();
      const series = (state.series || []).map((s, i) => ({
        name: s.name, color: s.color || PALETTE[i % PALETTE.length], raw: s.points || [],
        pts: smooth(s.points || [], state.smoothing || 0),
      }));
      if (series.length > 1) {
        for (const s of series) {
          const item = document.createElement("span");
          const sw = document.createElement("span");
          sw.className = "sw";
          sw.style.background = s.color;
          item.append(sw, document.createTextNode(s.name));
          legend.appendChild(item);
        }
      }
      const okY = (y) => Number.isFinite(y) && (!state.logY || y > 0);
      let x0 = Infinity, x1 = -Infinity;
      for (const s of series) for (const [x] of s.raw) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); }
      if (zoom) [x0, x1] = zoom;
      let y0 = Infinity, y1 = -Infinity;
      for (const s of series)
        for (const list of [s.raw, s.pts])
          for (const [x, y] of list) if (x >= x0 && x <= x1 && okY(y)) { y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
      if (!Number.isFinite(x0) || !Number.isFinite(y0)) {
        el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "muted" }, svg).textContent = "no points";
        return;
      }
      if (x1 === x0) { x0 -= 1; x1 += 1; }
      if (y1 === y0) { const d = Math.abs(y0) * 0.05 || 0.5; y0 -= d; y1 += d; }
      const ty = state.logY ? Math.log10 : (v) => v;
      const Y0 = ty(y0), Y1 = ty(y1), pad = (Y1 - Y0) * 0.05;
      const sx = (x) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
      const sy = (y) => H - m.b - ((ty(y) - (Y0 - pad)) / (Y1 - Y0 + 2 * pad)) * (H - m.t - m.b);
      const axis = el("g", { class: "axis" }, svg);
      for (const v of ticks(x0, x1, Math.floor((W - m.l) / 70))) {
        el("line", { x1: sx(v), x2: sx(v), y1: H - m.b, y2: H - m.b + 4 }, axis);
        const t = el("text", { x: sx(v), y: H - 6, "text-anchor": "middle" }, axis);
        t.textContent = fmt(v);
      }
      const yt = state.logY
        ? ticks(Math.floor(Y0), Math.ceil(Y1), 4).filter((e) => Number.isInteger(e)).map((e) => Math.pow(10, e))
        : ticks(y0, y1, 4);
      for (const v of yt) {
        if (!okY(v) || sy(v) < m.t - 1 || sy(v) > H - m.b + 1) continue;
        el("line", { x1: m.l, x2: W - m.r, y1: sy(v), y2: sy(v), class: "gridline" }, svg);
        const t = el("text", { x: m.l - 4, y: sy(v) + 3, "text-anchor": "end" }, axis);
        t.textContent = fmt(v);
      }
      el("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }, axis);
      const clip = "clip" + Math.random().toString(36).slice(2);
      const defs = el("defs", {}, svg);
      el("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b }, el("clipPath", { id: clip }, defs));
      const plot = el("g", { "clip-path": `url(#${clip})` }, svg);
      const path = (pts) => {
        let d = "", pen = false;
        for (const [x, y] of pts) {
          if (!okY(y)) { pen = false; continue; }
          d += (pen ? "L" : "M") + sx(x).toFixed(1) + "," + sy(y).toFixed(1);
          pen = true;
        }
        return d;
      };
      for (const s of series) {
        if (state.smoothing) el("path", { d: path(s.raw), class: "raw", stroke: s.color }, plot);
        el("path", { d: path(s.pts), class: "series", stroke: s.color, "data-series": s.name }, plot);
      }
      // Hover read-out and drag-to-zoom on a transparent overlay.
      const hover = el("line", { class: "hoverline", y1: m.t, y2: H - m.b, visibility: "hidden" }, svg);
      const box2 = el("rect", { class: "zoombox", y: m.t, height: H - m.t - m.b, visibility: "hidden" }, svg);
      const overlay = el("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, fill: "transparent" }, svg);
      const toX = (evt) => {
        const r = svg.getBoundingClientRect();
        const px = ((evt.clientX - r.left) / r.width) * W;
        return { px, x: x0 + ((px - m.l) / (W - m.l - m.r)) * (x1 - x0) };
      };
      let drag = null;
      overlay.addEventListener("mousedown", (e) => { drag = toX(e).px; });
      overlay.addEventListener("mousemove", (e) => {
        const { px, x } = toX(e);
        hover.setAttribute("x1", px); hover.setAttribute("x2", px); hover.setAttribute("visibility", "visible");
        if (drag !== null) {
          box2.setAttribute("x", Math.min(drag, px)); box2.setAttribute("width", Math.abs(px - drag));
          box2.setAttribute("visibility", "visible");
        }
        const lines = [(state.xLabel || "x") + " " + fmt(x)];
        for (const s of series) {
          const i = Math.min(s.pts.length - 1, lower(s.pts, x));
          const j = i > 0 && Math.abs(s.pts[i - 1][0] - x) < Math.abs(s.pts[i][0] - x) ? i - 1 : i;
          if (j >= 0 && s.pts[j]) lines.push(`${s.name}: ${fmt(s.pts[j][1])} @ ${fmt(s.pts[j][0])}`);
        }
        tip.textContent = lines.join("\n");
        tip.hidden = false;
        const br = box.getBoundingClientRect();
        tip.style.left = Math.min(br.width - 160, e.clientX - br.left + 12) + "px";
        tip.style.top = e.clientY - br.top + 12 + "px";
      });
      overlay.addEventListener("mouseleave", () => { hover.setAttribute("visibility", "hidden"); tip.hidden = true; drag = null; box2.setAttribute("visibility", "hidden"); });
      overlay.addEventListener("mouseup", (e) => {
        const end = toX(e).px;
        if (drag !== null && Math.abs(end - drag) > 6) {
          const a = x0 + ((Math.min(drag, end) - m.l) / (W - m.l - m.r)) * (x1 - x0);
          const b = x0 + ((Math.max(drag, end) - m.l) / (W - m.l - m.r)) * (x1 - x0);
          zoom = [a, b];
          drag = null;
          render();
          return;
        }
        drag = null;
        box2.setAttribute("visibility", "hidden");
      });
      overlay.addEventListener("dblclick", () => { zoom = null; render(); });
    }
    render();
    return {
      update(next) { state = Object.assign(state, next); render(); },
      element: box,
    };
  }

  // Bars of counts over bin edges. opts: {title, edges, counts, xLabel}.
  function histogram(box, opts) {
    box.classList.add("chart");
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = opts.title || "";
    const svg = el("svg", { role: "img" });
    box.replaceChildren(title, svg);
    const W = Math.max(240, box.clientWidth - 16), H = 200, m = { l: 40, r: 8, t: 8, b: 22 };
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const counts = opts.counts || [], edges = opts.edges || [];
    if (!counts.length) { el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg).textContent = "no samples"; return; }
    const max = Math.max(...counts, 1), bw = (W - m.l - m.r) / counts.length;
    const axis = el("g", { class: "axis" }, svg);
    for (const v of ticks(0, max, 4)) {
      const y = H - m.b - (v / max) * (H - m.t - m.b);
      el("line", { x1: m.l, x2: W - m.r, y1: y, y2: y, class: "gridline" }, svg);
      el("text", { x: m.l - 4, y: y + 3, "text-anchor": "end" }, axis).textContent = fmt(v);
    }
    counts.forEach((c, i) => {
      const h = (c / max) * (H - m.t - m.b);
      const r = el("rect", { x: m.l + i * bw + 1, y: H - m.b - h, width: Math.max(1, bw - 2), height: h, fill: "#2f6fde", class: "bar" }, svg);
      el("title", {}, r).textContent = `[${fmt(edges[i])}, ${fmt(edges[i + 1])}): ${c}`;
    });
    for (const i of [0, Math.floor(counts.length / 2), counts.length]) {
      el("text", { x: m.l + i * bw, y: H - 6, "text-anchor": "middle" }, axis).textContent = fmt(edges[i]);
    }
  }

  // A matrix of values in [0, max] as coloured cells. opts: {title, matrix, rowLabel, colLabel}.
  function heatmap(box, opts) {
    box.classList.add("chart");
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = opts.title || "";
    const svg = el("svg", { role: "img", class: "heat" });
    box.replaceChildren(title, svg);
    const rows = opts.matrix || [], cols = rows.length ? rows[0].length : 0;
    const W = Math.max(240, box.clientWidth - 16), m = { l: 44, r: 8, t: 6, b: 20 };
    const cw = (W - m.l - m.r) / Math.max(1, cols), ch = Math.min(28, Math.max(10, cw));
    const H = m.t + m.b + ch * rows.length;
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.style.height = H + "px";
    let max = 0;
    for (const r of rows) for (const v of r) if (Number.isFinite(v)) max = Math.max(max, v);
    rows.forEach((r, i) => {
      el("text", { x: m.l - 4, y: m.t + i * ch + ch / 2 + 3, "text-anchor": "end", class: "axis" }, svg).textContent = (opts.rowLabel || "") + i;
      r.forEach((v, j) => {
        const t = Number.isFinite(v) && max > 0 ? v / max : 0;
        const light = Math.round(96 - t * 60);
        const rect = el("rect", { x: m.l + j * cw, y: m.t + i * ch, width: Math.max(1, cw - 1), height: ch - 1, fill: `hsl(215, 70%, ${light}%)` }, svg);
        el("title", {}, rect).textContent = `${opts.rowLabel || "row"} ${i}, ${opts.colLabel || "col"} ${j}: ${fmt(v)}`;
      });
    });
    for (let j = 0; j < cols; j += Math.max(1, Math.ceil(cols / 16)))
      el("text", { x: m.l + j * cw + cw / 2, y: H - 6, "text-anchor": "middle", class: "axis" }, svg).textContent = (opts.colLabel || "") + j;
  }

  window.R1Charts = { lineChart, histogram, heatmap, fmt, PALETTE };
})();
