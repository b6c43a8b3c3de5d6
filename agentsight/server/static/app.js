/* AgentSight dashboard: overview, conversation list and transcripts over the /v1 API.
 *
 * Safety rules of this file: data from the API is only ever put into the page
 * as text (textContent, text nodes, attribute values); no innerHTML anywhere.
 * The page holds no API key: it signs in with an e-mail address and password,
 * the collector keeps the session in an HttpOnly cookie (no script can read
 * it), and every change carries the session's CSRF token.
 */
"use strict";
(function () {
  const PROJECT = "agentsight.project";
  const state = { user: null, csrf: null, projects: [], project: null, listPages: [null], listIndex: 0 };
  const $ = (id) => document.getElementById(id);
  const zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";
  const isAdmin = () => state.user && state.user.role === "admin";

  /* ---------- DOM helpers ---------- */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "style") {
        for (const [k, v] of Object.entries(value)) node.style.setProperty(k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), v);
      }
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function toast(message) {
    const t = $("toast");
    t.textContent = message;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 2600);
  }

  /* ---------- formatting ---------- */
  const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
  const pct = (r) => (r === null || r === undefined ? "–" : `${(r * 100).toFixed(r >= 0.1 ? 0 : 1)}%`);
  function duration(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
    const m = s / 60;
    if (m < 60) return `${m.toFixed(m < 10 ? 1 : 0)} min`;
    return `${(m / 60).toFixed(1)} h`;
  }
  function when(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return d.toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }
  function clock(iso) {
    return new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  /* A country code badge: flag emoji need fonts that many machines lack. */
  function flag(code) {
    return h("span", { class: "flag", text: code && /^[A-Za-z]{2}$/.test(code) ? code.toUpperCase() : "··" });
  }
  let regionNames = null;
  try { regionNames = new Intl.DisplayNames(["en"], { type: "region" }); } catch (e) { regionNames = null; }
  function countryName(code) {
    if (!code) return "Unknown";
    try { return (regionNames && regionNames.of(code.toUpperCase())) || code; } catch (e) { return code; }
  }

  /* ---------- API ---------- */
  const LLM = window.AgentSightLLM(h, { fmt, duration, clock });

  async function request(method, path, params, body) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) url.searchParams.set(k, v);
    const headers = body ? { "Content-Type": "application/json" } : {};
    if (state.project !== null) headers["X-AgentSight-Project"] = encodeURIComponent(state.project);
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    const response = await fetch(url, {
      method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    return { response, data };
  }
  async function api(method, path, params, body) {
    const { response, data } = await request(method, path, params, body);
    if (response.status === 401) {
      signedOut("Your session has ended: sign in again.");
      throw new Error("unauthorised");
    }
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }

  /* ---------- signing in ---------- */
  function showLogin(message) {
    $("shell").hidden = true;
    $("login").hidden = false;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
    $("email-input").focus();
  }
  function signedOut(message) {
    state.user = null;
    state.csrf = null;
    state.project = null;
    showLogin(message);
  }
  async function logout() {
    try { await request("DELETE", "/v1/session"); } catch (e) { /* signed out either way */ }
    signedOut();
  }
  async function login(event) {
    event.preventDefault();
    const email = $("email-input").value.trim();
    const password = $("password-input").value;
    if (!email || !password) return;
    const { response, data } = await request("POST", "/v1/session", null, { email, password });
    $("password-input").value = "";
    if (!response.ok) {
      showLogin(response.status === 401 ? "Wrong e-mail or password." : (data.error || `HTTP ${response.status}`));
      return;
    }
    start(data);
  }
  function start(session) {
    state.user = session.user;
    state.csrf = session.csrf_token;
    state.projects = session.projects;
    const remembered = sessionStorage.getItem(PROJECT);
    state.project = state.projects.includes(remembered) ? remembered : (state.projects[0] || null);
    const picker = clear($("project"));
    for (const name of state.projects) picker.appendChild(h("option", { value: name, text: name }));
    picker.value = state.project || "";
    picker.disabled = state.projects.length < 2;
    $("user-label").textContent = `${state.user.email} · ${state.user.role}`;
    $("settings-link").hidden = !isAdmin();
    $("login").hidden = true;
    $("shell").hidden = false;
    route();
  }
  function pickProject() {
    state.project = $("project").value;
    sessionStorage.setItem(PROJECT, state.project);
    route();
  }

  /* ---------- routing ---------- */
  function parseHash() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const [path, query] = raw.split("?");
    return { path, params: Object.fromEntries(new URLSearchParams(query || "")) };
  }
  function go(path, params) {
    const query = new URLSearchParams(Object.entries(params || {}).filter(([, v]) => v !== "" && v !== undefined && v !== null)).toString();
    location.hash = query ? `${path}?${query}` : path;
  }
  function route() {
    if (!state.user) return showLogin();
    const { path, params } = parseHash();
    // A fresh element per view: an answer still on its way to the previous view
    // (another page, another project) lands in the detached one, never here.
    const main = $("main").cloneNode(false);
    $("main").replaceWith(main);
    for (const link of document.querySelectorAll("[data-nav]")) link.classList.remove("active");
    if (state.project === null && path !== "/settings") {
      main.append(h("p", { class: "empty", id: "no-project", text: "No project is open to you yet: ask an admin to grant you one." }));
      return;
    }
    if (path === "/settings" && isAdmin()) {
      document.querySelector('[data-nav="settings"]').classList.add("active");
      settings(main);
    } else if (path.startsWith("/conversation/")) {
      document.querySelector('[data-nav="conversations"]').classList.add("active");
      transcript(main, decodeURIComponent(path.slice("/conversation/".length)));
    } else if (path === "/conversations") {
      document.querySelector('[data-nav="conversations"]').classList.add("active");
      conversations(main, params);
    } else if (path === "/customers") {
      document.querySelector('[data-nav="customers"]').classList.add("active");
      customers(main, params);
    } else {
      document.querySelector('[data-nav="overview"]').classList.add("active");
      overview(main, params);
    }
  }

  /* ---------- shared filter bar ---------- */
  const FILTERS = {
    range: { label: "Period", options: ["30d", "7d", "24h", "all", "custom"],
      labels: { "30d": "Last 30 days", "7d": "Last 7 days", "24h": "Last 24 hours", all: "All time", custom: "Custom" } },
    since: { label: "From (UTC)", type: "date" },
    until: { label: "Until (UTC)", type: "date" },
    environment: { label: "Environment", options: ["", "production", "development"] },
    source: { label: "Source", present: "source" },
    device: { label: "Device", options: ["", "desktop", "mobile"] },
    language: { label: "Language", present: "language" },
    country: { label: "Country", present: "country" },
    sort: { label: "Sort by", options: ["", "last_activity", "started", "duration", "messages"],
      labels: { "": "Newest", last_activity: "Last activity", started: "Start", duration: "Duration", messages: "Messages" } },
    order: { label: "Order", options: ["", "asc"], labels: { "": "Descending", asc: "Ascending" } },
    customer_id: { label: "Customer", type: "text" },
    is_used: { label: "Used", options: ["", "true", "false"] },
    is_marked: { label: "Marked", options: ["", "true", "false"] },
    sentiment: { label: "Feedback", options: ["", "positive", "neutral", "negative"] },
    q: { label: "Text", type: "search", placeholder: "Search messages…" },
    score: { label: "Score", type: "text", placeholder: "name" },
    score_min: { label: "Score at least", type: "text", placeholder: "0.5" },
  };
  /* The values present in the project (GET /v1/filter-values), once per project and page load. */
  const presentValues = {};
  function present() {
    if (!presentValues[state.project]) {
      presentValues[state.project] = api("GET", "/v1/filter-values").catch(() => ({}));
    }
    return presentValues[state.project];
  }
  function pickList(name, spec, value) {
    const select = h("select", { name, "aria-label": spec.label }, h("option", { value: "", text: "Any" }));
    if (value) select.append(h("option", { value, text: value }));
    select.value = value;
    present().then((values) => {
      for (const entry of values[spec.present] || []) {
        if (entry.value === value) continue;
        const text = spec.present === "country" ? `${entry.value} · ${countryName(entry.value)}` : entry.value;
        select.append(h("option", { value: entry.value, text: `${text} (${fmt(entry.conversations)})` }));
      }
      select.dataset.loaded = "true";
    });
    return select;
  }
  function filterBar(names, values, onApply) {
    const inputs = {};
    const form = h("form", { class: "filters", id: "filters" });
    // On a phone the fields fold away behind this button (see app.css).
    const active = names.filter((name) => values[name]).length;
    form.appendChild(h("button", { type: "button", class: "filters-toggle ghost", id: "filters-toggle",
      "aria-expanded": "false", text: active ? `Filters (${active} set)` : "Filters",
      onclick: (event) => {
        const open = form.classList.toggle("open");
        event.currentTarget.setAttribute("aria-expanded", String(open));
      } }));
    for (const name of names) {
      const spec = FILTERS[name];
      let input;
      if (spec.present) {
        input = pickList(name, spec, values[name] || "");
      } else if (spec.options) {
        input = h("select", { name, "aria-label": spec.label },
          spec.options.map((o) => h("option", { value: o, text: (spec.labels && spec.labels[o]) || o || `Any` })));
      } else {
        input = h("input", { name, type: spec.type, placeholder: spec.placeholder || "", "aria-label": spec.label });
      }
      const value = values[name] || (name === "range" ? "30d" : "");
      if (!spec.present) input.value = spec.type === "date" ? value.slice(0, 10) : value;
      inputs[name] = input;
      form.appendChild(h("label", { class: "field" }, h("span", { text: spec.label }), input));
    }
    form.appendChild(h("div", { class: "field" }, h("span", { text: " " }),
      h("div", { class: "actions-bar" },
        h("button", { type: "submit", class: "primary", text: "Apply" }),
        h("button", { type: "button", class: "ghost", text: "Reset", onclick: () => onApply({}) }))));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const out = {};
      for (const [name, input] of Object.entries(inputs)) {
        let v = input.value.trim();
        if (!v) continue;
        if (FILTERS[name].type === "date") v = `${v}T00:00:00Z`;
        out[name] = v;
      }
      // Dates given make the period a custom one; a preset drops them.
      if (inputs.range) {
        if (out.range === "custom" || ((out.since || out.until) && inputs.range.value === (values.range || "30d"))) {
          out.range = "custom";
        } else {
          delete out.since;
          delete out.until;
        }
      }
      onApply(out);
    });
    return form;
  }

  /* ---------- overview ---------- */
  function tile(id, label, value, note, color) {
    return h("div", { class: "card tile", "data-metric": id, style: color ? { "--tile": color } : null },
      h("span", { class: "tile-label", text: label }),
      h("span", { class: "tile-value", "data-value": id, text: value }),
      h("span", { class: "tile-note", text: note || "" }));
  }
  /* A tile's change against the previous period, put before its note. */
  function addDelta(tiles, id, delta) {
    const note = tiles.querySelector(`[data-metric="${id}"] .tile-note`);
    if (delta && note) note.before(h("span", { class: `tile-delta ${delta.tone || ""}`, "data-delta": id, text: delta.text }));
  }
  function card(title, extra, ...body) {
    return h("section", { class: "card" },
      h("div", { class: "card-head" }, h("h2", { text: title }), extra || null), ...body);
  }
  function barList(entries, label) {
    if (!entries.length) return h("p", { class: "muted", text: "No data" });
    const max = Math.max(...entries.map((e) => e.conversations), 1);
    return h("div", { class: "bars" }, entries.slice(0, 8).map((e) =>
      h("div", { class: "bar-row" },
        h("span", { class: "bar-name", title: e.value === null ? "unknown" : String(e.value), text: e.value === null ? "unknown" : label(e.value) }),
        h("div", { class: "bar-track" }, h("div", { class: "bar-fill", style: { width: `${(100 * e.conversations) / max}%` } })),
        h("span", { class: "bar-count", text: fmt(e.conversations) }))));
  }

  const DAY_MS = 86400000;
  const RANGE_MS = { "24h": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS };
  /* The period a view's params name, and the previous period of the same length. */
  function periods(params) {
    const range = params.range || "30d";
    const iso = (ms) => new Date(ms).toISOString();
    if (RANGE_MS[range]) {
      const since = Date.now() - RANGE_MS[range];
      return { current: { since: iso(since) }, previous: { since: iso(since - RANGE_MS[range]), until: iso(since) } };
    }
    if (range === "custom" && params.since) {
      const since = Date.parse(params.since);
      const until = params.until ? Date.parse(params.until) : Date.now();
      const current = { since: params.since, until: params.until };
      return { current, previous: until > since ? { since: iso(since - (until - since)), until: params.since } : null };
    }
    if (range === "custom") return { current: { until: params.until }, previous: null };
    return { current: {}, previous: null };
  }
  function withoutPeriod(params) {
    const { range, since, until, ...rest } = params;
    return rest;
  }
  /* The change from *before* to *now*: relative for amounts, in points for rates.  Its
     tone says whether it is good news: *better* is "higher", "lower" (cost, waits,
     escalations) or null (neither: tokens, duration); no change has no tone. */
  function change(now, before, rate, better) {
    if (before === null || before === undefined || now === null || now === undefined) return null;
    const tone = (diff) => (!better || diff === 0 ? null : (diff > 0) === (better === "higher") ? "good" : "bad");
    const arrow = (diff) => (diff > 0 ? "▲" : diff < 0 ? "▼" : "=");
    if (rate) {
      const points = (now - before) * 100;
      return { text: `${arrow(points)} ${Math.abs(points).toFixed(1)} pt`, tone: tone(points) };
    }
    if (before === 0) return now === 0 ? { text: "= 0", tone: null } : { text: "▲ new", tone: tone(1) };
    const ratio = ((now - before) / before) * 100;
    const digits = ratio !== 0 && Math.abs(ratio) < 10 ? 1 : 0;
    return { text: `${arrow(ratio)} ${Math.abs(ratio).toFixed(digits)}%`, tone: tone(ratio) };
  }
  function figures(m) {
    const rt = m.response_time_ms;
    const t = m.totals;
    return [
      ["conversations", "Conversations", fmt(t.conversations), `${fmt(m.engagement.initialised_only)} only shown`, null, t.conversations, false, "higher"],
      ["messages", "Messages", fmt(t.messages), `${fmt(t.end_user_messages)} from users`, "#06b6d4", t.messages, false, "higher"],
      ["unique_users", "Unique users", fmt(t.unique_users), `${fmt(m.customers.returning)} returning`, "#8b5cf6", t.unique_users, false, "higher"],
      ["engagement", "Engagement", pct(m.engagement.rate), `${fmt(m.engagement.used)} of ${fmt(m.engagement.initialised)} used`, "#10b981", m.engagement.rate, true, "higher"],
      ["response_time", "Response time", duration(rt.avg), `p50 ${duration(rt.p50)} · p95 ${duration(rt.p95)}`, "#f59e0b", rt.avg, false, "lower"],
      ["duration", "Avg. duration", duration(m.conversation_duration_ms.avg), "first to last event", "#0ea5e9", m.conversation_duration_ms.avg],
      ["escalation", "Escalated", pct(m.escalation.rate), `${fmt(m.escalation.conversations)} to a human`, "#ef4444", m.escalation.rate, true, "lower"],
      ["feedback", "With feedback", pct(m.feedback.share), `${fmt(m.feedback.entries)} entries`, "#ec4899", m.feedback.share, true, "higher"],
      ["buttons", "Button presses", fmt(m.buttons.presses), `${fmt(m.buttons.rating.presses)} ratings`, "#14b8a6", m.buttons.presses, false, "higher"],
      ["tokens", "Tokens", Charts.compact(m.token_usage.totals.total_tokens), `${fmt(Math.round(m.token_usage.per_conversation.total_tokens || 0))} per conversation`, "#64748b", m.token_usage.totals.total_tokens],
      ["cost", "Cost", m.cost.usd === null ? "unknown" : LLM.usd(m.cost.usd),
        m.cost.unpriced_calls ? `${fmt(m.cost.unpriced_calls)} calls unpriced` : `${LLM.usd(m.cost.per_conversation_usd)} per conversation`, "#16a34a", m.cost.usd, false, "lower"],
    ];
  }

  async function overview(main, params) {
    const period = periods(params);
    const filters = withoutPeriod(params);
    main.append(
      h("div", { class: "page-head" },
        h("div", {}, h("h1", { text: "Overview" }),
          h("p", { class: "muted", text: `Conversations and what happened in them · days and hours in ${zone}` }))),
      filterBar(["range", "since", "until", "environment", "source", "device", "language", "country"], params, (f) => go("/", f)),
      h("div", { class: "loading", id: "overview-loading", text: "Loading metrics…" }));
    let m;
    try {
      m = await api("GET", "/v1/metrics", { ...filters, ...period.current, tz: zone });
    } catch (e) {
      $("overview-loading").textContent = `Could not load the metrics: ${e.message}`;
      return;
    }
    $("overview-loading").remove();
    const shown = figures(m);
    const tiles = h("div", { class: "grid tiles", id: "tiles" }, shown.map(([id, label, value, note, color]) =>
      tile(id, label, value, note, color)));
    main.append(tiles);
    // The period before is asked for once this one is shown: asked at once, the two
    // shared the collector's cores and the figures waited for both.  Its changes are
    // added to the tiles; data-compared marks the overview complete.
    const compared = (period.previous
      ? api("GET", "/v1/metrics/summary", { ...filters, ...period.previous, tz: zone }).catch(() => null)
      : Promise.resolve(null)
    ).then((before) => {
      if (!before) return;
      const earlier = Object.fromEntries(figures(before).map((f) => [f[0], f[5]]));
      for (const [id, , , , , number, rate, better] of shown) addDelta(tiles, id, change(number, earlier[id], rate, better));
      tiles.after(h("p", { class: "muted small compare-note", id: "compare-note", text: "▲▼ against the previous period of the same length" }));
    }).catch((e) => console.warn("the period before:", e)).finally(() => { tiles.dataset.compared = ""; });
    const legend = h("div", { class: "legend" },
      h("span", {}, h("i", { class: "swatch sw-accent" }), "messages"),
      h("span", {}, h("i", { class: "swatch sw-accent-2" }), "conversations"));
    const fb = m.feedback.by_sentiment;
    const fbTotal = Math.max(1, fb.positive + fb.neutral + fb.negative);
    main.append(h("div", { class: "grid two" },
      card("Daily volume", legend, Charts.barsAndLine(m.daily, { bar: "messages", line: "conversations", barLabel: "messages", lineLabel: "conversations", title: "Messages and conversations per day" })),
      card("Feedback", null,
        h("div", { class: "stack", id: "sentiment-bar" },
          h("div", { class: "good", style: { width: `${(100 * fb.positive) / fbTotal}%` }, title: `${fb.positive} positive` }),
          h("div", { class: "neutral", style: { width: `${(100 * fb.neutral) / fbTotal}%` }, title: `${fb.neutral} neutral` }),
          h("div", { class: "bad", style: { width: `${(100 * fb.negative) / fbTotal}%` }, title: `${fb.negative} negative` })),
        h("div", { class: "legend" },
          h("span", {}, h("i", { class: "swatch sw-good" }), `${fmt(fb.positive)} positive`),
          h("span", {}, h("i", { class: "swatch sw-warn" }), `${fmt(fb.neutral)} neutral`),
          h("span", {}, h("i", { class: "swatch sw-bad" }), `${fmt(fb.negative)} negative`)),
        h("h2", { class: "row-gap", text: "Environment" }),
        h("div", { class: "row-gap" }, barList(m.breakdowns.environment, String)))));

    main.append(h("div", { class: "grid two row-gap" },
      card("Peak hours", h("span", { class: "muted small", text: `messages · ${zone}` }), Charts.heatmap(m.peak_hours.counts)),
      card("Countries", null, countryTable(m.breakdowns.country))));

    main.append(h("div", { class: "grid thirds row-gap" },
      card("Sources", null, barList(m.breakdowns.source, String)),
      card("Devices", null, barList(m.breakdowns.device, String)),
      card("Languages", null, barList(m.breakdowns.language, String))));

    main.append(h("div", { class: "grid halves row-gap" },
      card("Tool usage", null, toolTable(m.tools)),
      card("Token usage", h("div", { class: "legend" },
        h("span", {}, h("i", { class: "swatch sw-accent" }), "prompt"),
        h("span", {}, h("i", { class: "swatch sw-accent-2" }), "completion")),
        Charts.stacked(m.token_usage.daily, [
          { key: "prompt_tokens", label: "prompt tokens", color: "#4f46e5" },
          { key: "completion_tokens", label: "completion tokens", color: "#06b6d4" },
          { key: "embedding_tokens", label: "embedding tokens", color: "#a5b4fc" },
        ]))));

    main.append(h("div", { class: "grid halves row-gap" }, LLM.modelsCard(card, m.cost), LLM.scoresCard(card, m.scores)));
    main.append(h("div", { class: "grid halves row-gap" },
      card("Buttons", h("span", { class: "muted small", text: "presses by event and label" }), buttonCard(m.buttons)),
      card("Returning customers", h("span", { class: "muted small", text: "weekly cohorts, by first conversation" }), retentionTable(m.customers, m.retention))));
    const unhandled = h("div", { id: "unhandled" }, h("p", { class: "muted", text: "Loading…" }));
    main.append(h("div", { class: "grid two row-gap" },
      card("Unhandled and escalated", h("span", { class: "muted small", text: "user messages before a hand-over or negative feedback" }), unhandled),
      card("Metadata", h("span", { class: "muted small", text: "top values of a key" }), metadataExplorer({ ...filters, ...period.current }, compared))));
    // After the comparison, which the tiles wait for (as the metadata keys do): the
    // requests at once would share the collector's cores.
    compared.then(() => api("GET", "/v1/metrics/unhandled", { ...filters, ...period.current, limit: 10 })).then((answer) => {
      clear(unhandled).append(unhandledTable(answer));
    }).catch((e) => { clear(unhandled).append(h("p", { class: "error", text: e.message })); });
  }

  function buttonCard(buttons) {
    if (!buttons.presses) return h("p", { class: "muted", text: "No buttons tracked" });
    const entries = buttons.by_label.map((b) => ({ value: `${b.button_event} · ${b.label}`, conversations: b.presses }));
    const ratings = buttons.rating.values.map((r) => ({ value: r.value, conversations: r.presses }));
    return h("div", { id: "buttons" }, barList(entries, String),
      h("h2", { class: "row-gap", text: `Ratings (${buttons.rating.events.join(", ")})` }),
      h("div", { class: "row-gap", id: "ratings" }, barList(ratings, String)));
  }

  function retentionTable(customers, retention) {
    const head = h("p", { class: "muted", id: "returning", text: `${fmt(customers.returning)} of ${fmt(customers.customers)} customers came back on another day (${pct(customers.returning_rate)})` });
    if (!retention.cohorts.length) return h("div", {}, head);
    const weeks = Math.min(8, Math.max(...retention.cohorts.map((c) => c.active.length)));
    const cohorts = retention.cohorts.slice(-8);
    return h("div", {}, head, h("div", { class: "scroll-x" }, h("table", { id: "cohort-table", class: "cohorts" },
      h("thead", {}, h("tr", {}, h("th", { text: "Week of" }), h("th", { class: "num", text: "Customers" }),
        Array.from({ length: weeks }, (_, n) => h("th", { class: "num", text: n ? `+${n}` : "0" })))),
      h("tbody", {}, cohorts.map((c) => h("tr", {},
        h("td", { text: c.week }), h("td", { class: "num", text: fmt(c.customers) }),
        Array.from({ length: weeks }, (_, n) => {
          const active = c.active[n];
          if (active === undefined) return h("td", {});
          const share = c.customers ? active / c.customers : 0;
          return h("td", { class: "num cohort", style: { "--share": share.toFixed(3) }, title: `${active} of ${c.customers}`, text: pct(share) });
        })))))));
  }

  function unhandledTable(answer) {
    if (!answer.groups.length) return h("p", { class: "muted", text: "Nothing escalated or rated negative" });
    return h("table", { id: "unhandled-table" },
      h("thead", {}, h("tr", {}, ["Message", "Times", "Escalated", "Negative"].map((t, i) => h("th", { class: i ? "num" : "", text: t })))),
      h("tbody", {}, answer.groups.map((g) => h("tr", {},
        h("td", {}, h("a", { href: `#/conversations?q=${encodeURIComponent(g.example.slice(0, 200))}`, class: "clip", title: g.example, text: g.example })),
        h("td", { class: "num", text: fmt(g.count) }),
        h("td", { class: "num", text: fmt(g.escalations) }),
        h("td", { class: "num", text: fmt(g.negative_feedback) })))));
  }

  /* after: what the keys' discovery waits for (the overview's comparison). */
  function metadataExplorer(query, after) {
    const key = h("input", { id: "metadata-key", list: "metadata-keys", placeholder: "metadata key", "aria-label": "Metadata key" });
    const keys = h("datalist", { id: "metadata-keys" });
    const of = h("select", { id: "metadata-of", "aria-label": "Of" },
      h("option", { value: "conversations", text: "of conversations" }), h("option", { value: "messages", text: "of messages" }));
    const out = h("div", { id: "metadata-values", class: "row-gap" });
    const look = async (event) => {
      event.preventDefault();
      if (!key.value.trim()) return;
      try {
        const answer = await api("GET", "/v1/metrics/metadata", { ...query, key: key.value.trim(), of: of.value });
        const entries = answer.values.map((v) => ({ value: typeof v.value === "string" ? v.value : JSON.stringify(v.value), conversations: v.count }));
        clear(out).append(barList(entries, String),
          h("p", { class: "muted small", text: `${fmt(answer.total - answer.missing)} of ${fmt(answer.total)} ${answer.of} have it` }));
      } catch (e) { clear(out).append(h("p", { class: "error", text: e.message })); }
    };
    const discover = () => api("GET", "/v1/metrics/metadata", { ...query, of: of.value }).then((answer) => {
      clear(keys).append(...answer.keys.map((k) => h("option", { value: k.key })));
    }).catch(() => {});
    of.addEventListener("change", discover);
    after.then(discover);
    return h("div", {}, h("form", { class: "inline-form", id: "metadata-form", onsubmit: look }, key, keys, of,
      h("button", { type: "submit", class: "primary", text: "Show" })), out);
  }

  function countryTable(entries) {
    if (!entries.length) return h("p", { class: "muted", text: "No data" });
    const max = Math.max(...entries.map((e) => e.conversations), 1);
    return h("table", { id: "country-table" },
      h("thead", {}, h("tr", {}, h("th", { text: "Country" }), h("th", { text: "" }), h("th", { class: "num", text: "Chats" }), h("th", { class: "num", text: "Messages" }))),
      h("tbody", {}, entries.slice(0, 10).map((e) => h("tr", {},
        h("td", {}, flag(e.value), e.other ? "Other" : countryName(e.value)),
        h("td", { style: { width: "22%" } }, h("div", { class: "bar-track" }, h("div", { class: "bar-fill", style: { width: `${(100 * e.conversations) / max}%` } }))),
        h("td", { class: "num", text: fmt(e.conversations) }),
        h("td", { class: "num", text: fmt(e.messages) })))));
  }

  function toolTable(tools) {
    if (!tools.length) return h("p", { class: "muted", text: "No actions tracked" });
    return h("table", { id: "tool-table" },
      h("thead", {}, h("tr", {}, ["Action", "Calls", "Errors", "Avg", "p95"].map((label, i) => h("th", { class: i ? "num" : "", text: label })))),
      h("tbody", {}, tools.slice(0, 12).map((tool) => h("tr", {},
        h("td", {}, h("span", { class: "mono", text: tool.action_name })),
        h("td", { class: "num", text: fmt(tool.count) }),
        h("td", { class: "num" }, tool.errors ? h("span", { class: "pill bad", text: `${fmt(tool.errors)} · ${pct(tool.error_rate)}` }) : h("span", { class: "muted", text: "0" })),
        h("td", { class: "num", text: duration(tool.avg_duration_ms) }),
        h("td", { class: "num", text: duration(tool.p95_duration_ms) })))));
  }

  /* ---------- live updates ---------- */
  // Polling: a view asks again every few seconds while it is on screen and the
  // tab is visible; it stops when the view is left (its element is detached).
  const POLL_MS = { list: 5000, transcript: 3000 };
  function poll(main, ms, job) {
    const tick = async () => {
      if (!main.isConnected) return;
      if (!document.hidden) {
        try { await job(); } catch (e) { /* the next tick tries again */ }
      }
      if (main.isConnected) setTimeout(tick, ms);
    };
    setTimeout(tick, ms);
  }
  function liveLabel(id) {
    return h("span", { class: "live muted small", id, text: "● live" });
  }
  function touched(label) {
    label.textContent = `● live · ${new Date().toLocaleTimeString("en-GB")}`;
  }

  /* ---------- conversation list ---------- */
  const totals = {};  // filters -> total, known from their first page
  function conversationRow(c) {
    const open = () => go(`/conversation/${encodeURIComponent(c.conversation_id)}`);
    const tone = { positive: "good", negative: "bad", neutral: "" };
    return h("tr", { class: "link", "data-cid": c.conversation_id, onclick: open },
      h("td", {},
        h("a", { class: "conv-name", href: `#/conversation/${encodeURIComponent(c.conversation_id)}`, text: c.name || c.conversation_id }),
        h("span", { class: "conv-id mono", text: c.conversation_id })),
      h("td", {}, h("span", { class: "clip", text: c.customer_id || "–" })),
      h("td", { text: when(c.started_at) }),
      h("td", { "data-col": "last-activity", text: when(c.ended_at) }),
      h("td", { class: "num", "data-col": "duration", text: duration(c.duration_ms) }),
      h("td", {}, c.source ? h("span", { class: "pill accent", text: c.source }) : "–"),
      h("td", {}, c.country ? flag(c.country) : "–"),
      h("td", { class: "num", text: fmt(c.message_count) }),
      h("td", { class: "num", text: fmt(c.token_usage.total_tokens) }),
      h("td", { class: "num", "data-cost": "", text: LLM.usd(c.cost.usd) }),
      h("td", { "data-col": "feedback" }, c.last_feedback ? h("span", { class: `pill ${tone[c.last_feedback] || ""}`, text: c.last_feedback }) : "–"),
      h("td", {}, c.escalated ? h("span", { class: "pill bad", "data-col": "escalated", text: "escalated" }) : null,
        c.is_marked ? h("span", { class: "pill warn", text: "★ marked" }) : null,
        c.is_used ? null : h("span", { class: "pill", text: "shown only" })));
  }
  const LIST_HEAD = ["Conversation", "Customer", "Started", "Last activity", "Duration", "Source", "Country", "Messages", "Tokens", "Cost", "Feedback", ""];
  async function conversations(main, params) {
    const { cursor, page, ...filters } = params;
    const key = JSON.stringify(filters);
    const count = h("span", { id: "total-count", text: "" });
    const live = liveLabel("list-live");
    main.append(
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Conversations ", h("span", { class: "muted count" }, count)),
        h("p", { class: "muted", text: "Click one to read its transcript." })), cursor ? null : live),
      filterBar(["q", "source", "device", "language", "country", "environment", "is_used", "is_marked", "sentiment", "customer_id", "since", "until", "score", "score_min", "sort", "order"],
        filters, (f) => go("/conversations", f)));
    const body = h("div", { class: "card" }, h("div", { class: "loading", text: "Loading…" }));
    main.append(body);
    // The rows first, the total after them: counting may read every matching
    // conversation, and the page should not wait for it.
    const load = () => api("GET", "/v1/conversations", { ...filters, cursor, limit: 25, total: "false" });
    const showTotal = () => { count.textContent = totals[key] === undefined ? "" : `· ${fmt(totals[key])}`; };
    const recount = () => api("GET", "/v1/conversations", { ...filters, limit: 1 }).then((counted) => {
      totals[key] = counted.total;
      showTotal();
    }).catch(() => {});
    let answer;
    try {
      answer = await load();
    } catch (e) {
      clear(body).append(h("p", { class: "error", text: e.message }));
      return;
    }
    clear(body);
    showTotal();
    if (totals[key] === undefined || !cursor) recount();
    const tbody = h("tbody", {}, answer.conversations.map(conversationRow));
    const empty = h("p", { class: "empty", text: "No conversations match these filters." });
    body.append(h("div", { class: "scroll-x" }, h("table", { id: "conversation-table" },
      h("thead", {}, h("tr", {}, LIST_HEAD.map((label, i) => h("th", { class: [4, 7, 8, 9].includes(i) ? "num" : "", text: label })))),
      tbody)), empty);
    empty.hidden = answer.conversations.length > 0;
    const index = Number(page || 1);
    const label = h("span", { class: "muted", id: "page-label", text: `Page ${index} · ${answer.conversations.length} shown` });
    body.append(h("div", { class: "pager" }, label,
      h("div", { class: "pager-buttons" },
        h("button", { id: "prev-page", disabled: index <= 1, text: "← Previous", onclick: () => history.back() }),
        h("button", { id: "next-page", disabled: !answer.next_cursor, text: "Next →",
          onclick: () => go("/conversations", { ...filters, cursor: answer.next_cursor, page: index + 1 }) }))));
    if (cursor) return;  // live updates on the first page only
    let shown = JSON.stringify(answer.conversations);
    poll(main, POLL_MS.list, async () => {
      const fresh = await load();
      touched(live);
      const text = JSON.stringify(fresh.conversations);
      if (text === shown || !main.isConnected) return;
      shown = text;
      recount();
      clear(tbody).append(...fresh.conversations.map(conversationRow));
      empty.hidden = fresh.conversations.length > 0;
      label.textContent = `Page 1 · ${fresh.conversations.length} shown`;
    });
  }

  /* ---------- customers ---------- */
  const CUSTOMER_SORTS = { last_seen: "Last seen", first_seen: "First seen", conversations: "Conversations", messages: "Messages", tokens: "Tokens", cost: "Cost" };
  async function customers(main, params) {
    const { offset, sort, ...rest } = params;
    const period = periods(rest);
    const filters = withoutPeriod(rest);
    const sorter = h("select", { id: "customer-sort", "aria-label": "Sort customers by" },
      Object.entries(CUSTOMER_SORTS).map(([value, text]) => h("option", { value, text: `Sort: ${text}` })));
    sorter.value = sort || "last_seen";
    sorter.addEventListener("change", () => go("/customers", { ...rest, sort: sorter.value }));
    main.append(
      h("div", { class: "page-head" }, h("div", {}, h("h1", { text: "Customers" }),
        h("p", { class: "muted", text: "Who talks to your agent: conversations, feedback and hand-overs per customer id." })), sorter),
      filterBar(["range", "since", "until", "environment", "source", "device", "language", "country"], rest, (f) => go("/customers", { ...f, sort: sorter.value })));
    const body = h("div", { class: "card" }, h("div", { class: "loading", text: "Loading…" }));
    main.append(body);
    const start = Number(offset || 0);
    let answer;
    try {
      answer = await api("GET", "/v1/customers", { ...filters, ...period.current, sort: sorter.value, offset: start, limit: 25 });
    } catch (e) {
      clear(body).append(h("p", { class: "error", text: e.message }));
      return;
    }
    clear(body);
    if (!answer.customers.length) {
      body.append(h("p", { class: "empty", text: "No customers in this period (conversations need a customer_id)." }));
    } else {
      body.append(h("div", { class: "scroll-x" }, h("table", { id: "customer-table" },
        h("thead", {}, h("tr", {}, ["Customer", "Conversations", "Messages", "First seen", "Last seen", "Feedback", "Escalated", "Tokens", "Cost"].map((t, i) =>
          h("th", { class: [1, 2, 6, 7, 8].includes(i) ? "num" : "", text: t })))),
        h("tbody", {}, answer.customers.map((c) => h("tr", { class: "link", "data-customer": c.customer_id,
          onclick: () => go("/conversations", { customer_id: c.customer_id }) },
          h("td", {}, h("a", { class: "clip", href: `#/conversations?customer_id=${encodeURIComponent(c.customer_id)}`, text: c.customer_id })),
          h("td", { class: "num", text: fmt(c.conversations) }),
          h("td", { class: "num", text: fmt(c.messages) }),
          h("td", { text: when(c.first_seen) }),
          h("td", { text: when(c.last_seen) }),
          h("td", {}, c.feedback.positive ? h("span", { class: "pill good", text: `+${c.feedback.positive}` }) : null,
            c.feedback.negative ? h("span", { class: "pill bad", text: `−${c.feedback.negative}` }) : null,
            c.feedback.neutral ? h("span", { class: "pill", text: `·${c.feedback.neutral}` }) : null),
          h("td", { class: "num", text: fmt(c.escalations) }),
          h("td", { class: "num", text: Charts.compact(c.total_tokens) }),
          h("td", { class: "num", "data-cost": c.customer_id, text: c.cost.priced_calls || c.cost.unpriced_calls ? LLM.costText(c.cost) : "–" })))))));
    }
    const last = Math.min(start + answer.customers.length, answer.total);
    body.append(h("div", { class: "pager" },
      h("span", { class: "muted", id: "customer-count", text: `${fmt(answer.total ? start + 1 : 0)}–${fmt(last)} of ${fmt(answer.total)} customers` }),
      h("div", { class: "pager-buttons" },
        h("button", { disabled: start <= 0, text: "← Previous", onclick: () => go("/customers", { ...params, offset: Math.max(0, start - 25) }) }),
        h("button", { id: "next-customers", disabled: last >= answer.total, text: "Next →", onclick: () => go("/customers", { ...params, offset: start + 25 }) }))));
  }

  /* ---------- transcript ---------- */
  function size(bytes) {
    if (typeof bytes !== "number") return "";
    return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;
  }
  // A file the collector keeps (it has a sha256) downloads through the API with the
  // session's project header; a link could not carry it.  Only described files (sent
  // elsewhere by their SDK) are shown as text.
  function fileNode(event, file, index) {
    const label = `${file.filename || "file"}${file.size !== undefined ? ` (${size(file.size)})` : ""}`;
    if (!file.sha256) return h("span", { class: "muted", "data-file": index, text: label });
    return h("button", { class: "link", "data-file": index, text: label, onclick: () => download(event, index, file) });
  }
  async function download(event, index, file) {
    const path = `/v1/conversations/${encodeURIComponent(event.conversation_id)}/attachments/${event.id}/${index}`;
    const headers = {};
    if (state.project !== null) headers["X-AgentSight-Project"] = encodeURIComponent(state.project);
    const response = await fetch(path, { headers, credentials: "same-origin" });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: file.filename || "attachment" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
  function eventNode(event) {
    const time = h("span", { class: "msg-meta", text: clock(event.timestamp) });
    switch (event.type) {
      case "message": {
        const who = event.sender === "agent" ? "Agent" : "User";
        const model = event.metadata && event.metadata.model ? ` · ${event.metadata.model}` : "";
        return h("div", { class: `msg ${event.sender}`, "data-event": "message", "data-seq": event.seq },
          h("div", { class: "bubble", text: event.content }),
          h("span", { class: "msg-meta", text: `${who} · ${clock(event.timestamp)}${model}${event.truncated ? " · truncated" : ""}` }));
      }
      case "action": {
        const failed = event.error_msg !== null && event.error_msg !== undefined;
        return h("div", { class: `event${failed ? " error" : ""}`, "data-event": "action" },
          h("span", { text: failed ? "⚠" : "⚙" }), h("b", { text: event.action_name }),
          event.duration_ms !== null && event.duration_ms !== undefined ? h("span", { text: duration(event.duration_ms) }) : null,
          failed ? h("span", { class: "error", text: String(event.error_msg) }) : (event.response ? h("span", { text: String(event.response).slice(0, 80) }) : null),
          time);
      }
      case "button":
        return h("div", { class: "event", "data-event": "button" }, h("span", { text: "◉" }),
          h("b", { text: event.label }), h("span", { text: `${event.button_event} = ${event.value}` }), time);
      case "token_usage":
        return h("div", { class: "event", "data-event": "token_usage" }, h("span", { text: "◔" }),
          h("span", { text: `${fmt(event.prompt_tokens)} prompt + ${fmt(event.completion_tokens)} completion = ${fmt(event.total_tokens)} tokens` }), time);
      case "attachment":
        return h("div", { class: "event", "data-event": "attachment" }, h("span", { text: "📎" }),
          ...(event.files || []).map((file, index) => fileNode(event, file, index)), time);
      case "conversation":
      case "interaction":
        return h("div", { class: "event start", "data-event": event.type }, h("span", { text: event.type === "interaction" ? "◌" : "●" }),
          h("span", { text: event.type === "interaction" ? "Widget shown" : "Conversation started" }), time);
      case "score":
        return LLM.scoreNode(event, time);
      default:
        return h("div", { class: "event", text: event.type });
    }
  }

  function attributes(c) {
    const rows = [
      ["Id", c.conversation_id], ["Customer", c.customer_id], ["Source", c.source], ["Device", c.device],
      ["Language", c.language], ["Country", c.country ? `${countryName(c.country)} (${c.country})` : null],
      ["Environment", c.environment], ["Started", c.started_at && new Date(c.started_at).toLocaleString("en-GB")],
      ["Last event", c.ended_at && new Date(c.ended_at).toLocaleString("en-GB")], ["Used", c.is_used ? "yes" : "only shown"],
      ["Messages", fmt(c.message_count)], ["Events", fmt(c.event_count)],
      ["Tokens", `${fmt(c.token_usage.prompt_tokens)} prompt · ${fmt(c.token_usage.completion_tokens)} completion · ${fmt(c.token_usage.total_tokens)} total`],
      ["Cost", LLM.costText(c.cost)],
    ];
    return h("dl", { class: "attrs", id: "attributes" }, rows.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v === null || v === undefined || v === "" ? "–" : String(v) })]));
  }

  async function transcript(main, cid) {
    main.append(h("div", { class: "loading", text: "Loading transcript…" }));
    let data;
    try {
      data = await api("GET", `/v1/conversations/${encodeURIComponent(cid)}`);
    } catch (e) {
      clear(main).append(h("p", { class: "error", text: e.message }), h("a", { href: "#/conversations", text: "← Back to conversations" }));
      return;
    }
    clear(main);
    const c = data.conversation;
    const nameInput = h("input", { id: "rename-input", value: c.name || "", placeholder: c.conversation_id, "aria-label": "Conversation name" });
    const rename = async (event) => {
      event.preventDefault();
      try {
        await api("PATCH", `/v1/conversations/${encodeURIComponent(cid)}`, null, { name: nameInput.value });
        toast("Renamed");
      } catch (e) { toast(`Rename failed: ${e.message}`); }
    };
    const mark = h("button", { id: "mark", class: c.is_marked ? "on" : "", text: c.is_marked ? "★ Marked" : "☆ Mark" });
    mark.addEventListener("click", async () => {
      try {
        const answer = await api("PATCH", `/v1/conversations/${encodeURIComponent(cid)}`, null, { is_marked: !c.is_marked });
        c.is_marked = answer.conversation.is_marked;
        mark.className = c.is_marked ? "on" : "";
        mark.textContent = c.is_marked ? "★ Marked" : "☆ Mark";
      } catch (e) { toast(`Mark failed: ${e.message}`); }
    });
    const del = h("button", { id: "delete", class: "danger", text: "Delete" });
    del.addEventListener("click", async () => {
      if (!del.classList.contains("armed")) {
        del.classList.add("armed");
        del.textContent = "Click again to delete";
        setTimeout(() => { del.classList.remove("armed"); del.textContent = "Delete"; }, 4000);
        return;
      }
      try {
        await api("DELETE", `/v1/conversations/${encodeURIComponent(cid)}`);
        toast("Conversation deleted");
        go("/conversations");
      } catch (e) { toast(`Delete failed: ${e.message}`); }
    });
    // A viewer reads: the collector refuses its changes, so none are offered.
    main.append(h("div", { class: "page-head" },
      h("div", {},
        h("a", { href: "#/conversations", class: "small", text: "← Conversations" }),
        isAdmin()
          ? h("form", { class: "rename", id: "rename-form", onsubmit: rename }, nameInput, h("button", { type: "submit", id: "rename-save", text: "Rename" }))
          : h("h1", { id: "conversation-name", text: c.name || c.conversation_id })),
      isAdmin() ? h("div", { class: "actions-bar" }, mark, del) : null));

    const chat = h("section", { class: "card chat", id: "chat" }, LLM.transcriptNodes(data.events, eventNode));
    const none = h("p", { class: "empty", text: "No events" });
    if (!data.events.length) chat.append(none);
    const live = liveLabel("transcript-live");
    let seen = new Set(data.events.map((e) => e.id));
    poll(main, POLL_MS.transcript, async () => {
      const fresh = await api("GET", `/v1/conversations/${encodeURIComponent(cid)}`);
      touched(live);
      const ids = fresh.events.map((e) => e.id);
      if (ids.every((id) => seen.has(id)) && ids.length === seen.size) return;
      // Events arrive out of order at times: redraw the whole transcript in the API's order.
      seen = new Set(ids);
      none.remove();
      append(clear(chat), [LLM.transcriptNodes(fresh.events, eventNode)]);
    });

    const feedbackList = h("div", { id: "feedback-list" }, (c.feedback || []).map(feedbackItem));
    const comment = h("input", { id: "feedback-comment", placeholder: "Comment (optional)" });
    const send = async (sentiment) => {
      try {
        const answer = await api("POST", `/v1/conversations/${encodeURIComponent(cid)}/feedback`, null, { sentiment, comment: comment.value || null });
        feedbackList.append(feedbackItem({ ...answer.feedback, created_at: new Date().toISOString() }));
        comment.value = "";
        toast("Feedback added");
      } catch (e) { toast(`Feedback failed: ${e.message}`); }
    };
    const side = h("aside", { class: "side" },
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", { text: "Attributes" })), attributes(c),
        c.metadata ? h("div", { class: "row-gap" }, h("h2", { text: "Metadata" }), h("pre", { class: "json row-gap", text: JSON.stringify(c.metadata, null, 2) })) : null),
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", { text: "Feedback" })),
        isAdmin() ? h("div", { class: "feedback-form" },
          h("div", { class: "sentiments" },
            h("button", { type: "button", "data-sentiment": "positive", text: "Positive", onclick: () => send("positive") }),
            h("button", { type: "button", "data-sentiment": "neutral", text: "Neutral", onclick: () => send("neutral") }),
            h("button", { type: "button", "data-sentiment": "negative", text: "Negative", onclick: () => send("negative") })),
          comment) : null,
        feedbackList));
    main.append(h("div", { class: "transcript-layout" }, h("div", {}, chat, h("div", { class: "live-row" }, live)), side));
  }

  function feedbackItem(f) {
    const tone = { positive: "good", negative: "bad", neutral: "" }[f.sentiment] || "";
    return h("div", { class: "feedback-item" },
      h("span", { class: `pill ${tone}`, text: f.sentiment }), " ",
      h("span", { class: "muted small", text: when(f.created_at) }),
      f.comment ? h("div", { text: f.comment }) : null);
  }

  /* ---------- settings (admins) ---------- */
  async function settings(main) {
    main.append(h("div", { class: "page-head" }, h("div", {}, h("h1", { text: "Settings" }),
      h("p", { class: "muted", text: `Project ${state.project || "–"}: retention, erasure and the audit log; the collector's users.` }))));
    if (state.project !== null) {
      main.append(h("div", { class: "grid two" }, await retentionCard(), erasureCard()));
      main.append(h("div", { class: "row-gap" }, await auditCard()));
    }
    main.append(h("div", { class: "row-gap" }, await usersCard()));
  }

  async function retentionCard() {
    const answer = await api("GET", "/v1/retention");
    const days = h("input", { id: "retention-days", type: "number", min: "1", max: "36500", placeholder: "for ever", "aria-label": "Days" });
    days.value = answer.retention_days === null ? "" : String(answer.retention_days);
    const save = async (event) => {
      event.preventDefault();
      const value = days.value.trim() === "" ? null : Number(days.value);
      try {
        const saved = await api("PUT", "/v1/retention", null, { retention_days: value });
        toast(saved.retention_days === null ? "Kept for ever" : `Kept ${saved.retention_days} days`);
      } catch (e) { toast(`Retention failed: ${e.message}`); }
    };
    return card("Retention", null,
      h("p", { class: "muted", text: "Days a conversation is kept after its last event; empty: for ever. The collector deletes older ones in the background." }),
      h("form", { class: "inline-form", id: "retention-form", onsubmit: save }, days, h("button", { type: "submit", class: "primary", text: "Save" })));
  }

  function erasureCard() {
    const customer = h("input", { id: "erase-customer", placeholder: "customer_id", "aria-label": "Customer id" });
    const result = h("p", { id: "erase-result", class: "muted" });
    const erase = async (event) => {
      event.preventDefault();
      const id = customer.value.trim();
      if (!id) return;
      if (!confirm(`Delete every conversation of ${id} in ${state.project}? This cannot be undone.`)) return;
      try {
        const done = await api("POST", "/v1/erasure", null, { customer_id: id });
        result.textContent = `Erased ${done.conversations} conversations, ${done.events} events, ${done.feedback} feedback.`;
        customer.value = "";
      } catch (e) { result.textContent = `Erasure failed: ${e.message}`; }
    };
    return card("Erase a customer", null,
      h("p", { class: "muted", text: "Every conversation, event and feedback of one customer_id in this project (GDPR article 17)." }),
      h("form", { class: "inline-form", id: "erase-form", onsubmit: erase }, customer, h("button", { type: "submit", class: "danger", text: "Erase" })), result);
  }

  async function auditCard() {
    const answer = await api("GET", "/v1/audit", { limit: 50 });
    const rows = answer.entries.map((e) => h("tr", {},
      h("td", { text: when(e.at) }), h("td", { text: e.actor }), h("td", {}, h("span", { class: "mono", text: e.action })),
      h("td", { class: "mono", text: e.target || "" }), h("td", { class: "mono", text: e.details ? JSON.stringify(e.details) : "" }),
      h("td", { text: e.address || "" })));
    return card("Audit log", h("span", { class: "muted small", text: "newest first" }),
      rows.length ? h("div", { class: "scroll-x" }, h("table", { id: "audit-table" },
        h("thead", {}, h("tr", {}, ["When", "Who", "What", "Target", "Details", "From"].map((t) => h("th", { text: t })))),
        h("tbody", {}, rows))) : h("p", { class: "muted", text: "Nothing yet" }));
  }

  async function usersCard() {
    const answer = await api("GET", "/v1/users");
    const body = h("tbody", {}, answer.users.map((u) => {
      const boxes = state.projects.map((name) => h("label", { class: "grant" },
        h("input", { type: "checkbox", value: name, checked: u.projects.includes(name), disabled: u.role === "admin" }), ` ${name}`));
      const save = async () => {
        const projects = boxes.map((b) => b.firstChild).filter((i) => i.checked).map((i) => i.value);
        try {
          await api("PUT", `/v1/users/${u.id}/projects`, null, { projects });
          toast(`Saved ${u.email}'s projects`);
        } catch (e) { toast(`Saving failed: ${e.message}`); }
      };
      return h("tr", { "data-user": u.email },
        h("td", { text: u.email }), h("td", { text: u.role }),
        h("td", {}, u.role === "admin" ? h("span", { class: "muted", text: "every project" }) : boxes),
        h("td", {}, u.role === "admin" ? null : h("button", { type: "button", class: "small", text: "Save", onclick: save })));
    }));
    return card("Users", h("span", { class: "muted small", text: "agentsight users create adds one" }),
      h("table", { id: "users-table" },
        h("thead", {}, h("tr", {}, ["User", "Role", "Projects", ""].map((t) => h("th", { text: t })))), body));
  }

  /* ---------- start ---------- */
  document.addEventListener("DOMContentLoaded", async () => {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", () => logout());
    $("project").addEventListener("change", pickProject);
    window.addEventListener("hashchange", route);
    const { response, data } = await request("GET", "/v1/session");
    if (response.ok) start(data); else showLogin();
  });
})();
