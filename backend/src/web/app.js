// factmem's page: checks claims through POST /verify, shows the memory's most-seen claims (/stats) and a
// live memory chart (/health). Plain DOM, no framework, no build step; text from the API is only ever
// inserted as text (textContent), never as HTML.
"use strict";

const HEALTH_EVERY_MS = 2000;
const HEALTH_DOWN_EVERY_MS = 5000;
const CHART_SECONDS = 300;
const MAX_RETRIES = 6;

const $ = (id) => document.getElementById(id);
const samples = []; // {t, rss, anon, limit}
let cancelRetry = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function safeLink(url, text) {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") {
      return el("a", { href: parsed.href, rel: "noopener noreferrer nofollow", target: "_blank" }, text || parsed.hostname);
    }
  } catch (_) { /* not a URL: shown as text */ }
  return el("span", {}, text || url);
}

function shortDate(stamp) {
  if (!stamp) return "";
  const date = new Date(stamp);
  return Number.isNaN(date.getTime()) ? String(stamp) : date.toISOString().slice(0, 10);
}

function setStatus(text, kind = "") {
  const status = $("status");
  status.textContent = text;
  status.className = "status " + kind;
}

function apiHeaders() {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const key = $("api-key").value.trim();
  if (key) headers.Authorization = "Bearer " + key;
  return headers;
}

// The API words its errors as {"detail": ...}; a 422 gives a list of {field, message}.
function describeError(status, body) {
  const detail = body && body.detail !== undefined ? body.detail : null;
  if (Array.isArray(detail)) return detail.map((d) => (d.field ? d.field + ": " : "") + d.message).join("; ");
  if (detail) return String(detail);
  return "the server answered " + status;
}

function wait(seconds, label) {
  // A countdown the user can stop; resolves true to retry, false when stopped.
  return new Promise((resolve) => {
    let left = seconds;
    const cancel = $("cancel");
    cancel.hidden = false;
    const tick = () => {
      setStatus(label + " — retrying in " + left + " s", "warn");
      if (left <= 0) { done(true); return; }
      left -= 1;
      timer = setTimeout(tick, 1000);
    };
    let timer = null;
    const done = (retry) => {
      clearTimeout(timer);
      cancel.hidden = true;
      cancelRetry = null;
      resolve(retry);
    };
    cancelRetry = () => done(false);
    tick();
  });
}

async function verifyOne(text) {
  // POST /verify, retrying what the server asks to be retried (503 busy, 429 rate limit) after Retry-After.
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch("/verify", { method: "POST", headers: apiHeaders(), body: JSON.stringify({ raw_text: text }) });
    } catch (error) {
      throw new Error("cannot reach the server (" + error.message + "); is it running?");
    }
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    if (response.ok) return body;
    if ((response.status === 503 || response.status === 429) && attempt < MAX_RETRIES) {
      const seconds = Math.min(60, parseInt(response.headers.get("Retry-After") || "5", 10) || 5);
      const label = response.status === 503 ? "Server busy: " + describeError(503, body) : "Rate limited";
      if (await wait(seconds, label)) continue;
      throw new Error(label + " (stopped retrying)");
    }
    if (response.status === 401) $("key-box").open = true;
    const id = body && body.request_id ? " (request " + body.request_id + ")" : "";
    throw new Error(describeError(response.status, body) + id);
  }
}

function verdictBadge(verdict, confidence) {
  const name = String(verdict || "Uncertain");
  return el("p", { class: "verdict verdict-" + name.toLowerCase() },
    el("span", { class: "verdict-word" }, name),
    el("span", { class: "confidence" }, Math.round((confidence || 0) * 100) + "% confidence"));
}

function traceList(result) {
  let steps = result.reasoning_trace;
  if (!Array.isArray(steps) || steps.length === 0) steps = result.reasoning ? [result.reasoning] : [];
  if (!steps.length) return null;
  return el("details", { class: "trace" }, el("summary", {}, "How it was decided"),
    el("ol", {}, ...steps.map((step) => el("li", {}, typeof step === "string" ? step : JSON.stringify(step)))));
}

function matchesTable(allMatches) {
  // Claims the retriever judged unrelated (below any similarity an agent looks at) are only counted.
  const all = Array.isArray(allMatches) ? allMatches : [];
  const matches = all.filter((m) => m.relation !== "unrelated");
  const unrelated = all.length - matches.length;
  const more = unrelated ? " (" + unrelated + " unrelated " + (unrelated === 1 ? "claim" : "claims") + " not shown)" : "";
  if (matches.length === 0) return el("p", { class: "hint" }, "No related claim in memory" + more + ".");
  const rows = matches.map((m) => el("tr", {},
    el("td", {}, m.claim_text),
    el("td", {}, m.verdict),
    el("td", {}, m.relation || ""),
    el("td", { class: "num" }, (m.similarity_score ?? 0).toFixed(2)),
    el("td", { class: "num" }, m.seen_count ?? ""),
    el("td", { class: "date" }, shortDate(m.timestamp)),
    el("td", {}, m.source_url ? safeLink(m.source_url, m.source || undefined) : (m.source || ""))));
  return el("div", {}, el("div", { class: "table-wrap" }, el("table", {},
    el("caption", {}, "Memory matches"),
    el("thead", {}, el("tr", {}, ...["Claim", "Verdict", "Relation", "Similarity", "Seen", "Date", "Source"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows))),
    more ? el("p", { class: "hint" }, more.trim().replace(/^\(|\)$/g, "")) : null);
}

function webResults(results) {
  if (!Array.isArray(results) || results.length === 0) return null;
  return el("div", {}, el("h4", {}, "Web evidence"), el("ul", { class: "web" }, ...results.map((r) => el("li", {},
    r.url ? safeLink(r.url, r.title || r.url) : el("span", {}, r.title || ""),
    r.published_date || r.date ? el("span", { class: "hint" }, " · " + shortDate(r.published_date || r.date)) : null,
    r.content || r.snippet ? el("p", {}, r.content || r.snippet) : null))));
}

function resultCard(item) {
  const result = item.verification_result || {};
  const claim = item.normalized_claim || {};
  const origin = item.cache_hit ? "From memory (a claim verified before)" : "Reasoned now from memory and evidence";
  const web = result.web_search_used ?? item.web_search_used;
  return el("article", { class: "result" },
    el("h3", {}, claim.normalized_text || claim.original_text || ""),
    verdictBadge(result.verdict, result.confidence),
    el("p", { class: "explanation" }, result.explanation || ""),
    el("p", { class: "meta" }, origin + " · seen " + (item.seen_count ?? 1) + (item.seen_count === 1 ? " time" : " times") +
      " · " + (web ? "web search used" : "no web search")),
    traceList(result),
    matchesTable(item.retrieved_evidence),
    webResults(item.web_search_results),
    result.evidence_summary ? el("p", { class: "hint" }, "Evidence: " + result.evidence_summary) : null);
}

function summaryLine(summary) {
  // A text making several claims: the server split it and checked each (up to its MAX_CLAIMS_PER_REQUEST).
  const v = summary.verdicts || {};
  let text = "This text makes " + summary.claims + " claims: overall " + summary.overall_verdict + " (" +
    (v.True || 0) + " true, " + (v.False || 0) + " false, " + (v.Uncertain || 0) + " uncertain).";
  if (summary.skipped_claims) text += " " + summary.skipped_claims + " more were found but not checked: send them separately.";
  return el("p", { class: "summary" }, text);
}

async function onSubmit(event) {
  event.preventDefault();
  const text = $("claim").value.trim();
  if (!text) { setStatus("Type a claim to check.", "error"); $("claim").focus(); return; }
  const results = $("results");
  results.replaceChildren();
  $("check").disabled = true;
  setStatus("Checking…");
  try {
    // One request: the server splits a text that makes several claims (sentences, line breaks, "and"…).
    const body = await verifyOne(text);
    const several = Array.isArray(body.claims) && body.claims.length > 0;
    if (several && body.summary) results.append(summaryLine(body.summary));
    for (const item of several ? body.claims : [body]) results.append(resultCard(item));
    setStatus("Done.", "ok");
  } catch (error) {
    results.append(el("article", { class: "result failed" }, el("p", { class: "error" }, error.message)));
    setStatus("Could not check it.", "error");
  } finally {
    $("check").disabled = false;
    refreshTopClaims();
  }
}

async function refreshTopClaims() {
  const list = $("top-claims");
  try {
    const response = await fetch("/stats", { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(describeError(response.status, body));
    const claims = body.top_claims || [];
    list.replaceChildren(...(claims.length ? claims.map((c) => el("li", {},
      el("span", { class: "tag tag-" + String(c.verdict).toLowerCase() }, c.verdict), " ", c.claim_text,
      el("span", { class: "hint" }, " · seen " + c.seen_count + "×"))) : [el("li", {}, "The memory is empty.")]));
  } catch (error) {
    list.replaceChildren(el("li", { class: "error" }, "Could not load: " + error.message));
  }
}

function drawChart() {
  const svg = $("memory-chart");
  const ns = "http://www.w3.org/2000/svg";
  const title = svg.querySelector("title");
  svg.replaceChildren(title);
  if (samples.length === 0) return;
  const now = samples[samples.length - 1].t;
  // The time axis spans what has been sampled (at least 10 s), up to CHART_SECONDS.
  const spanMs = Math.min(CHART_SECONDS * 1000, Math.max(10000, now - samples[0].t));
  const top = Math.max(...samples.map((s) => Math.max(s.rss, s.limit || 0))) * 1.05 || 1;
  const x = (t) => 594 - ((now - t) / spanMs) * 588; // 6 units of margin: the latest dot stays whole
  const y = (v) => 196 - (v / top) * 190;
  const line = (key, cls) => {
    const points = samples.filter((s) => s[key] != null).map((s) => x(s.t).toFixed(1) + "," + y(s[key]).toFixed(1));
    if (points.length === 0) return;
    const path = document.createElementNS(ns, "polyline");
    path.setAttribute("points", points.join(" "));
    path.setAttribute("class", cls);
    svg.append(path);
    const [cx, cy] = points[points.length - 1].split(",");
    const dot = document.createElementNS(ns, "circle"); // the latest reading, visible from the first sample
    dot.setAttribute("cx", cx);
    dot.setAttribute("cy", cy);
    dot.setAttribute("r", "4");
    dot.setAttribute("class", "dot " + cls);
    svg.append(dot);
  };
  line("limit", "line-limit");
  line("rss", "line-rss");
  line("anon", "line-anon");
  const span = Math.round((now - samples[0].t) / 1000);
  $("chart-span").textContent = "· last " + (span >= 60 ? Math.round(span / 60) + " min" : span + " s") + ", scale 0–" + Math.round(top) + " MB";
}

async function pollHealth() {
  let delay = HEALTH_EVERY_MS;
  const state = $("server-state");
  try {
    const response = await fetch("/health", { headers: { Accept: "application/json" }, cache: "no-store" });
    const h = await response.json();
    const now = Date.now();
    samples.push({ t: now, rss: h.memory_mb, anon: h.rss_anon_mb, limit: h.memory_limit_mb });
    while (samples.length && now - samples[0].t > CHART_SECONDS * 1000) samples.shift();
    const limit = h.memory_limit_mb != null ? Math.round(h.memory_limit_mb) + " MB" + (h.limit_source ? " (" + h.limit_source + ")" : "") : "none";
    $("memory-numbers").textContent = "RSS " + h.memory_mb + " MB · anonymous " + h.rss_anon_mb + " MB · limit " + limit +
      " · peak " + h.peak_rss_mb + " MB · " + h.requests_admitted + " admitted, " + h.requests_shed + " shed";
    const word = h.shedding ? "shedding load" : !h.started ? "warming up" : h.status;
    state.textContent = "Server " + word + " · " + (h.store_backend || "") + " · v" + h.version;
    state.className = "pill " + (h.shedding || h.status !== "healthy" || !h.started ? "warn" : "ok");
    drawChart();
  } catch (error) {
    state.textContent = "Server unreachable — retrying every " + HEALTH_DOWN_EVERY_MS / 1000 + " s";
    state.className = "pill error";
    delay = HEALTH_DOWN_EVERY_MS;
  }
  setTimeout(pollHealth, delay);
}

document.addEventListener("DOMContentLoaded", () => {
  $("verify-form").addEventListener("submit", onSubmit);
  $("claim").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("verify-form").requestSubmit();
  });
  $("cancel").addEventListener("click", () => { if (cancelRetry) cancelRetry(); });
  pollHealth();
  refreshTopClaims();
});
