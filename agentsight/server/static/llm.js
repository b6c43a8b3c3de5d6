/* AgentSight dashboard: models and their cost, scores, and the steps of a turn as a tree.
 * app.js calls AgentSightLLM(h, helpers) once and uses what it returns. */
"use strict";

window.AgentSightLLM = function (h, { fmt, duration, clock }) {
  /* Dollars: cents from $0.01 up, two significant digits below; "–" when unknown. */
  function usd(value) {
    if (value === null || value === undefined) return "–";
    if (value === 0) return "$0";
    if (Math.abs(value) < 0.01) return `$${Number(value.toPrecision(2))}`;
    return `$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  }
  function costText(cost) {
    if (!cost) return "–";
    const unpriced = cost.unpriced_calls ? ` · ${fmt(cost.unpriced_calls)} unpriced` : "";
    return `${cost.usd === null ? "unknown" : usd(cost.usd)}${unpriced}`;
  }

  /* ---------- overview ---------- */
  function costTile(tile, cost) {
    const note = cost.unpriced_calls
      ? `${fmt(cost.unpriced_calls)} calls unpriced`
      : `${usd(cost.per_conversation_usd)} per conversation`;
    return tile("cost", "Cost", cost.usd === null ? "unknown" : usd(cost.usd), note, "#16a34a");
  }

  function modelsCard(card, cost) {
    const models = cost.by_model;
    const body = models.length
      ? h("table", { id: "model-table" },
          h("thead", {}, h("tr", {}, ["Model", "Calls", "Tokens", "Cost"].map((label, i) => h("th", { class: i ? "num" : "", text: label })))),
          h("tbody", {}, models.slice(0, 12).map((m) => h("tr", { "data-model": m.model || "" },
            h("td", {}, h("span", { class: "mono", text: m.model || "no model" }),
              m.provider ? h("span", { class: "muted small", text: ` ${m.provider}` }) : null),
            h("td", { class: "num", text: fmt(m.calls) }),
            h("td", { class: "num", text: fmt(m.total_tokens) }),
            h("td", { class: "num" }, m.usd === null
              ? h("span", { class: "pill", title: "no price known for this model", text: "unpriced" })
              : h("span", { text: usd(m.usd) }),
              m.usd !== null && m.unpriced_calls ? h("span", { class: "muted small", text: ` +${fmt(m.unpriced_calls)} unpriced` }) : null)))))
      : h("p", { class: "muted", text: "No model calls tracked" });
    const customers = cost.top_customers.length
      ? h("div", { class: "row-gap" }, h("h2", { text: "Top customers by cost" }),
          h("div", { class: "bars row-gap", id: "cost-customers" }, cost.top_customers.map((c) =>
            h("div", { class: "bar-row" },
              h("span", { class: "bar-name", title: c.customer_id, text: c.customer_id }),
              h("div", { class: "bar-track" }, h("div", { class: "bar-fill", style: { width: `${(100 * (c.usd || 0)) / Math.max(cost.top_customers[0].usd || 0, 1e-12)}%` } })),
              h("span", { class: "bar-count", text: usd(c.usd) })))))
      : null;
    return card("Models and cost", h("span", { class: "muted small", text: "prices: genai-prices or --prices" }), body, customers);
  }

  function scoreValue(value) {
    if (value === true) return "yes";
    if (value === false) return "no";
    return String(value);
  }
  function scoresCard(card, scores) {
    if (!scores.length) return card("Scores", null, h("p", { class: "muted", text: "No scores yet" }));
    return card("Scores", null, h("div", { id: "scores", class: "scores" }, scores.slice(0, 8).map((s) => {
      const max = Math.max(...s.distribution.map((d) => d.count), 1);
      return h("div", { class: "score", "data-score": s.name },
        h("div", { class: "score-head" }, h("b", { text: s.name }),
          h("span", { class: "muted small", text: `${fmt(s.count)} scores${s.avg === null ? "" : ` · avg ${Number(s.avg.toFixed(3))}`}` })),
        h("div", { class: "bars" }, s.distribution.slice(0, 6).map((d) => h("div", { class: "bar-row" },
          h("span", { class: "bar-name", text: d.other ? "other" : scoreValue(d.value) }),
          h("div", { class: "bar-track" }, h("div", { class: "bar-fill", style: { width: `${(100 * d.count) / max}%` } })),
          h("span", { class: "bar-count", text: fmt(d.count) })))));
    })));
  }

  /* ---------- transcript ---------- */
  function scoreNode(event, time) {
    return h("div", { class: "event score-event", "data-event": "score" }, h("span", { text: "★" }),
      h("b", { text: event.name }), h("span", { class: "pill accent", text: scoreValue(event.value) }),
      h("span", { class: "muted small", text: event.source + (event.message_id ? " · on a message" : "") }),
      event.comment ? h("span", { text: event.comment }) : null, time);
  }

  const isStep = (e) => (e.type === "action" || e.type === "token_usage") && e.step_id;
  function span(e) {
    const end = Date.parse(e.timestamp);
    const ms = typeof e.duration_ms === "number" ? e.duration_ms : 0;
    const start = e.started_at ? Date.parse(e.started_at) : end - ms;
    return { start, end: Math.max(end, start + ms) };
  }
  function stepLabel(e) {
    if (e.type === "action") return e.action_name;
    return `LLM · ${e.model || "model"}`;
  }
  function stepDetails(e) {
    const parts = [];
    if (typeof e.duration_ms === "number") parts.push(duration(e.duration_ms));
    if (e.type === "token_usage") {
      parts.push(`${fmt(e.prompt_tokens)} → ${fmt(e.completion_tokens)} tokens`);
      parts.push(e.cost_usd === null || e.cost_usd === undefined ? "unpriced" : usd(e.cost_usd));
    }
    return parts.join(" · ");
  }

  /* One turn's steps: a tree by parent id, each row with its bar on the turn's time line. */
  function stepTree(steps) {
    const byId = new Map(steps.map((e) => [e.step_id, e]));
    const children = new Map();
    const roots = [];
    for (const e of steps) {
      if (e.parent_id && byId.has(e.parent_id) && e.parent_id !== e.step_id) {
        if (!children.has(e.parent_id)) children.set(e.parent_id, []);
        children.get(e.parent_id).push(e);
      } else {
        roots.push(e);
      }
    }
    const spans = new Map(steps.map((e) => [e.step_id, span(e)]));
    const t0 = Math.min(...[...spans.values()].map((s) => s.start));
    const t1 = Math.max(...[...spans.values()].map((s) => s.end));
    const width = Math.max(t1 - t0, 1);
    const byStart = (a, b) => spans.get(a.step_id).start - spans.get(b.step_id).start || a.seq - b.seq;
    const rows = [];
    const seen = new Set();
    const walk = (e, depth) => {
      if (seen.has(e.step_id)) return;  // a cycle in ids one sent: shown once
      seen.add(e.step_id);
      const s = spans.get(e.step_id);
      const failed = e.error_msg !== null && e.error_msg !== undefined;
      rows.push(h("div", { class: `step${failed ? " failed" : ""}`, "data-step": e.step_id, "data-depth": depth },
        h("span", { class: "step-name", style: { paddingLeft: `${depth * 16}px` }, title: failed ? String(e.error_msg) : stepLabel(e) },
          h("span", { class: "step-icon", text: e.type === "token_usage" ? "◆" : failed ? "⚠" : "⚙" }), stepLabel(e)),
        h("span", { class: "step-track" }, h("span", { class: `step-bar ${e.type}`, style: {
          left: `${(100 * (s.start - t0)) / width}%`, width: `${Math.max((100 * (s.end - s.start)) / width, 0.8)}%` } })),
        h("span", { class: "step-info", text: stepDetails(e) })));
      for (const child of (children.get(e.step_id) || []).sort(byStart)) walk(child, depth + 1);
    };
    for (const root of roots.sort(byStart)) walk(root, 0);
    const total = steps.filter((e) => e.type === "token_usage").reduce((sum, e) => sum + (e.cost_usd || 0), 0);
    return h("div", { class: "steps", "data-event": "steps" },
      h("div", { class: "steps-head" }, h("b", { text: `${steps.length} step${steps.length === 1 ? "" : "s"}` }),
        h("span", { class: "muted small", text: `${duration(t1 - t0)}${total ? ` · ${usd(total)}` : ""}` })),
      rows);
  }

  /* The transcript's nodes: runs of steps between messages become one tree each. */
  function transcriptNodes(events, eventNode) {
    const nodes = [];
    let run = [];
    const flush = () => { if (run.length) nodes.push(stepTree(run)); run = []; };
    for (const e of events) {
      if (isStep(e)) { run.push(e); continue; }
      if (e.type === "message") flush();
      nodes.push(eventNode(e));
    }
    flush();
    return nodes;
  }

  return { usd, costText, costTile, modelsCard, scoresCard, scoreNode, transcriptNodes, clock };
};
