/* Small SVG charts for the AgentSight dashboard: our own code, no library.
 * Every label is set with textContent, never parsed as markup. */
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, label, anchor) {
    const node = el("text", { x, y, "text-anchor": anchor || "middle" }, parent);
    node.textContent = label;
    return node;
  }

  function tip(node, label) {
    el("title", {}, node).textContent = label;
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function compact(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + "M";
    if (n >= 1e3) return (n / 1e3).toFixed(n >= 1e4 ? 0 : 1) + "k";
    return String(Math.round(n * 10) / 10);
  }

  function shortDate(iso) {
    const [, m, d] = iso.split("-");
    return `${Number(d)} ${["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][Number(m) - 1]}`;
  }

  /* Bars for one series and an optional line for another, over days. */
  function barsAndLine(points, opts) {
    const width = 760, height = opts.height || 230, left = 40, right = 12, top = 10, bottom = 26;
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
    tip(svg, opts.title || "chart");
    const plotW = width - left - right, plotH = height - top - bottom;
    const bars = points.map((p) => p[opts.bar] || 0);
    const line = opts.line ? points.map((p) => p[opts.line] || 0) : [];
    const max = niceMax(Math.max(1, ...bars, ...line));
    for (let i = 0; i <= 4; i++) {
      const y = top + plotH - (plotH * i) / 4;
      el("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid-line" }, svg);
      text(svg, left - 6, y + 4, compact((max * i) / 4), "end");
    }
    if (!points.length) {
      text(svg, width / 2, height / 2, "No data for these filters");
      return svg;
    }
    const step = plotW / points.length;
    const barW = Math.max(1, Math.min(28, step * 0.7));
    const every = Math.max(1, Math.ceil(points.length / 10));
    points.forEach((p, i) => {
      const x = left + step * i + (step - barW) / 2;
      const h = (plotH * bars[i]) / max;
      const bar = el("rect", { x, y: top + plotH - h, width: barW, height: Math.max(h, 0), rx: Math.min(4, barW / 3), class: "bar" }, svg);
      tip(bar, `${p.date}: ${bars[i].toLocaleString()} ${opts.barLabel}` + (opts.line ? `, ${line[i].toLocaleString()} ${opts.lineLabel}` : ""));
      if (i % every === 0) text(svg, left + step * i + step / 2, height - 8, shortDate(p.date));
    });
    if (opts.line) {
      const coords = line.map((v, i) => [left + step * i + step / 2, top + plotH - (plotH * v) / max]);
      el("polyline", { points: coords.map((c) => c.join(",")).join(" "), class: "line" }, svg);
      if (points.length <= 60) coords.forEach((c, i) => tip(el("circle", { cx: c[0], cy: c[1], r: 3, class: "dot" }, svg), `${points[i].date}: ${line[i]} ${opts.lineLabel}`));
    }
    return svg;
  }

  /* A weekday x hour grid, Monday first, coloured by count. */
  function heatmap(counts) {
    const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const cell = 26, gap = 3, left = 36, top = 18;
    const width = left + 24 * (cell + gap), height = top + 7 * (cell + gap);
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart heatmap", role: "img" });
    tip(svg, "Messages by weekday and hour");
    const max = Math.max(1, ...counts.flat());
    for (let h = 0; h < 24; h += 3) text(svg, left + h * (cell + gap) + cell / 2, 11, `${String(h).padStart(2, "0")}h`);
    counts.forEach((row, d) => {
      text(svg, left - 8, top + d * (cell + gap) + cell / 2 + 4, days[d], "end");
      row.forEach((value, h) => {
        const share = value / max;
        const rect = el("rect", {
          x: left + h * (cell + gap), y: top + d * (cell + gap), width: cell, height: cell, rx: 4,
          fill: value ? "#4f46e5" : "#f1f5f9", "fill-opacity": value ? (0.12 + 0.88 * share).toFixed(3) : 1,
          class: "cell", "data-weekday": d, "data-hour": h, "data-count": value,
        }, svg);
        tip(rect, `${days[d]} ${String(h).padStart(2, "0")}:00–${String(h + 1).padStart(2, "0")}:00: ${value.toLocaleString()} messages`);
      });
    });
    return svg;
  }

  /* Stacked bars of several series over days (token usage). */
  function stacked(points, series) {
    const width = 760, height = 200, left = 44, right = 12, top = 10, bottom = 26;
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
    tip(svg, "Tokens per day");
    const plotW = width - left - right, plotH = height - top - bottom;
    const totals = points.map((p) => series.reduce((s, k) => s + (p[k.key] || 0), 0));
    const max = niceMax(Math.max(1, ...totals));
    for (let i = 0; i <= 4; i++) {
      const y = top + plotH - (plotH * i) / 4;
      el("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid-line" }, svg);
      text(svg, left - 6, y + 4, compact((max * i) / 4), "end");
    }
    if (!points.length) {
      text(svg, width / 2, height / 2, "No token usage for these filters");
      return svg;
    }
    const step = plotW / points.length;
    const barW = Math.max(1, Math.min(28, step * 0.7));
    const every = Math.max(1, Math.ceil(points.length / 10));
    points.forEach((p, i) => {
      let y = top + plotH;
      const x = left + step * i + (step - barW) / 2;
      for (const s of series) {
        const h = (plotH * (p[s.key] || 0)) / max;
        y -= h;
        tip(el("rect", { x, y, width: barW, height: h, fill: s.color }, svg), `${p.date}: ${(p[s.key] || 0).toLocaleString()} ${s.label}`);
      }
      if (i % every === 0) text(svg, left + step * i + step / 2, height - 8, shortDate(p.date));
    });
    return svg;
  }

  window.Charts = { barsAndLine, heatmap, stacked, compact };
})();
