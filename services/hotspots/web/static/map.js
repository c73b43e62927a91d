/* The analyst map (/map): start a surface or a comparison of two periods, watch it finish,
   and read its map, tables and downloads. Text from the API is only ever set as textContent
   (never parsed as markup); calls go with the session cookie and, for changes, the page's CSRF
   token. */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const DATA = JSON.parse($("hotspots-data").textContent);
  const meta = document.querySelector('meta[name="csrf-token"]');
  const CSRF = meta ? meta.getAttribute("content") : "";
  const LABELS = {}, MONTHLY = {};
  DATA.periods.forEach((p) => { LABELS[p.source] = p.label; MONTHLY[p.source] = p.by_month; });
  const MAX_LISTED = 50, POLL_MS = 1500;
  const CHANGE_WORDS = {appeared: "appeared", grew: "grew", shrank: "shrank", gone: "went",
                        stayed: "stayed about the same", none: "none in either period"};
  let chosen = null, shown = null, ended = false, checks = 0, listTimer = null;
  const watching = new Set();

  class SessionEnded extends Error {}

  function text(el, s) { el.textContent = s; return el; }
  function add(parent, tag, s, cls) {
    const el = document.createElement(tag);
    if (s !== undefined && s !== null) el.textContent = s;
    if (cls) el.className = cls;
    parent.appendChild(el);
    return el;
  }
  function day(iso) {
    if (!iso) return "";
    return new Date(iso + "T00:00:00Z").toLocaleDateString("en-GB",
      {day: "numeric", month: "long", year: "numeric", timeZone: "UTC"});
  }
  function isoDay(d) { return d.toISOString().slice(0, 10); }
  function shift(iso, days) {
    const d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return isoDay(d);
  }
  function monthsBack(iso, n) {
    const d = new Date(iso + "T00:00:00Z");
    d.setUTCMonth(d.getUTCMonth() - n, 1);
    return isoDay(d);
  }
  function monthEnd(iso) {
    const d = new Date(iso + "T00:00:00Z");
    d.setUTCMonth(d.getUTCMonth() + 1, 0);
    return isoDay(d);
  }
  /* How many calendar months [from, to] spans when it is whole months, else 0. */
  function wholeMonths(from, to) {
    if (from.slice(8) !== "01" || monthEnd(to) !== to) return 0;
    return (Number(to.slice(0, 4)) - Number(from.slice(0, 4))) * 12 +
      Number(to.slice(5, 7)) - Number(from.slice(5, 7)) + 1;
  }
  function daysBetween(a, b) {
    return Math.round((new Date(b + "T00:00:00Z") - new Date(a + "T00:00:00Z")) / 86400000);
  }
  function count(n, one, many) { return n.toLocaleString("en-GB") + " " + (n === 1 ? one : many); }
  function number(v) {
    if (typeof v !== "number" || !isFinite(v)) return "";
    return Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-GB") : v.toPrecision(3);
  }
  function km2(v) { return typeof v === "number" ? v.toFixed(v >= 10 ? 1 : 2) : ""; }
  /* Units as people write them: "incidents per km2" -> "incidents per km²". */
  function unitText(u) { return String(u || "").replace(/km2\b/g, "km²"); }

  function sessionEnded() {
    ended = true;
    clearTimeout(listTimer);
    $("expired").hidden = false;
  }
  async function api(path, opts) {
    if (ended) throw new SessionEnded("signed out");
    opts = Object.assign({credentials: "same-origin"}, opts || {});
    opts.headers = Object.assign({"Accept": "application/json"}, opts.headers || {});
    if (opts.method && opts.method !== "GET") opts.headers["X-CSRF-Token"] = CSRF;
    const r = await fetch(path, opts);
    if (r.status === 401) { sessionEnded(); throw new SessionEnded("signed out"); }
    if (!r.ok) {
      let detail = r.statusText;
      try { detail = (await r.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(detail);
    }
    return r;
  }
  function problem(where, e) {
    if (e instanceof SessionEnded) return;
    text($("msg"), where + ": " + e.message);
  }
  function newKey() {
    return window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  }

  /* The surface form: source and type choices, and whether the chosen window holds incidents. */
  const form = $("new-run");
  function filters() {
    const f = new FormData(form);
    return {source: f.get("source") || "", category: f.get("category") || "",
            from: f.get("from") || "", to: f.get("to") || ""};
  }
  function fillTypes() {
    const src = $("f-source").value, sel = $("f-category"), keep = sel.value;
    const counts = new Map(), names = new Map();
    Object.keys(DATA.categories).forEach((s) => {
      if (src && s !== src) return;
      DATA.categories[s].forEach(([c, n]) => {
        const k = c.toLowerCase();
        counts.set(k, (counts.get(k) || 0) + n);
        if (!names.has(k)) names.set(k, c);
      });
    });
    sel.replaceChildren(new Option("All types", ""));
    [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .forEach(([k, n]) => sel.appendChild(
        new Option(names.get(k) + " (" + n.toLocaleString("en-GB") + ")", names.get(k))));
    const again = [...sel.options].find((o) => o.value.toLowerCase() === keep.toLowerCase());
    if (again) sel.value = again.value;
  }
  function span(f) {
    if (f.from && f.to) return "from " + day(f.from) + " to " + day(f.to);
    if (f.from) return "from " + day(f.from) + " on";
    if (f.to) return "up to " + day(f.to);
    return "in all the data";
  }
  function monthlyNote(f) {
    const monthly = f.source ? [f.source].filter((s) => MONTHLY[s])
                             : Object.keys(MONTHLY).filter((s) => MONTHLY[s]);
    if (!monthly.length) return "";
    return " " + monthly.map((s) => LABELS[s] || s).join(", ") +
      " are recorded by month, each dated the 1st: a window holds a month only if it includes its 1st.";
  }
  function showWindow(w, f) {
    const status = $("window"), fix = $("window-fix"), start = $("start-run");
    status.className = "wide status-line";
    if (w.incidents > 0) {
      text(status, count(w.incidents, "incident", "incidents") + " " + span(f) + ".");
      fix.hidden = true; start.disabled = false;
      return;
    }
    status.className = "wide status-line none";
    start.disabled = true;
    if (!w.newest_day) {
      text(status, "There are no incidents of this source and type at all: choose another.");
      fix.hidden = true;
      return;
    }
    text(status, "No incidents " + span(f) + ". The newest incidents of this choice are dated " +
      day(w.newest_day) + "." + monthlyNote(f));
    const b = $("use-newest");
    text(b, "Use " + day(w.suggested_from) + " to " + day(w.suggested_to));
    b.dataset.from = w.suggested_from; b.dataset.to = w.suggested_to;
    fix.hidden = false;
  }
  async function checkWindow() {
    const mine = ++checks, f = filters();
    prefillCompare();
    if (f.from && f.to && f.to < f.from) {
      $("window").className = "wide status-line none";
      text($("window"), "The window ends before it starts: " + span(f) + ".");
      $("window-fix").hidden = true; $("start-run").disabled = true;
      return;
    }
    const q = new URLSearchParams();
    if (f.from) q.set("from", f.from);
    if (f.to) q.set("to", f.to);
    if (f.source) q.append("sources", f.source);
    if (f.category) q.append("categories", f.category);
    try {
      const data = await (await api("/incidents/coverage?" + q.toString())).json();
      if (mine === checks) showWindow(data.window, f);
    } catch (e) {
      if (mine !== checks) return;
      if (e instanceof SessionEnded) text($("window"), "Sign in again to check this window.");
      else problem("Could not check the window", e);
    }
  }
  /* What both forms share: the incidents, the type and the KDE settings. */
  function settings() {
    const body = {};
    for (const [k, v] of new FormData(form).entries()) {
      if (v === "" || k === "from" || k === "to") continue;
      if (["radius_m", "cell_m", "percentile"].includes(k)) body[k] = Number(v);
      else if (k === "gistar") body.gistar = true;
      else if (k === "source") body.sources = [v];
      else if (k === "category") body.categories = [v];
      else body[k] = v;
    }
    return body;
  }
  async function startRun(ev) {
    ev.preventDefault();
    const body = settings(), f = filters();
    if (f.from) body.from = f.from;
    if (f.to) body.to = f.to;
    text($("msg"), "");
    try {
      const r = await api("/surfaces", {method: "POST", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", "Idempotency-Key": newKey()}});
      const run = await r.json();
      select("run", run);
      watch("run", run);
      loadLists();
    } catch (e) { problem("Could not start the surface", e); }
  }

  /* The comparison form: "after" follows the window above, "before" the same length just
     before it (whole months when the window is whole months, as monthly police data are),
     until the person types dates of their own. */
  const cmp = $("compare");
  const CMP = ["c-before-from", "c-before-to", "c-after-from", "c-after-to"];
  function prefillCompare() {
    if (!cmp || cmp.dataset.touched) return;
    const f = filters();
    if (!(f.from && f.to) || f.to < f.from) return;
    const months = wholeMonths(f.from, f.to), days = daysBetween(f.from, f.to) + 1;
    $("c-after-from").value = f.from; $("c-after-to").value = f.to;
    $("c-before-to").value = shift(f.from, -1);
    $("c-before-from").value = months ? monthsBack(f.from, months) : shift(f.from, -days);
    checkCompare();
  }
  function periods() {
    const g = (id) => $(id).value;
    return {before: {from: g("c-before-from"), to: g("c-before-to")},
            after: {from: g("c-after-from"), to: g("c-after-to")}};
  }
  function checkCompare() {
    const p = periods(), status = $("compare-status"), start = $("start-compare");
    status.className = "wide status-line none";
    start.disabled = true;
    const given = [p.before.from, p.before.to, p.after.from, p.after.to].filter(Boolean).length;
    if (given === 0) {
      status.className = "wide status-line";
      text(status, "Choose dates above: \"after\" is the window chosen there and \"before\" " +
        "the same length just before it. Or give both periods here.");
      return;
    }
    if (given < 4) { text(status, "Give both periods: the first and last day of each."); return; }
    if (p.before.to < p.before.from || p.after.to < p.after.from) {
      text(status, "A period ends before it starts."); return;
    }
    if (p.after.from <= p.before.to) {
      text(status, "The period after must start after the period before ends."); return;
    }
    status.className = "wide status-line";
    text(status, "Before: " + day(p.before.from) + " to " + day(p.before.to) + ". After: " +
      day(p.after.from) + " to " + day(p.after.to) + ".");
    start.disabled = false;
  }
  async function startCompare(ev) {
    ev.preventDefault();
    const body = settings();
    delete body.gistar;
    Object.assign(body, periods());
    text($("msg"), "");
    try {
      const r = await api("/comparisons", {method: "POST", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", "Idempotency-Key": newKey()}});
      const c = await r.json();
      select("comparison", c);
      watch("comparison", c);
      loadLists();
    } catch (e) {
      if (e instanceof SessionEnded) return;
      $("compare-status").className = "wide status-line none";
      text($("compare-status"), "Could not compare: " + e.message);
    }
  }
  if (form) {
    fillTypes();
    $("f-source").addEventListener("change", () => { fillTypes(); checkWindow(); });
    ["f-category", "f-from", "f-to"].forEach((id) => $(id).addEventListener("change", checkWindow));
    $("use-newest").addEventListener("click", (ev) => {
      $("f-from").value = ev.currentTarget.dataset.from;
      $("f-to").value = ev.currentTarget.dataset.to;
      checkWindow();
      $("f-from").focus();
    });
    form.addEventListener("submit", startRun);
    CMP.forEach((id) => $(id).addEventListener("change", () => {
      cmp.dataset.touched = "1"; checkCompare();
    }));
    cmp.addEventListener("submit", startCompare);
    checkWindow();
    checkCompare();
    prefillCompare();
  }

  /* What a run or a comparison was of, in words. */
  function about(p, c) {
    const bits = [];
    bits.push(p.categories && p.categories.length ? p.categories.join(", ") : "All types");
    bits.push(p.sources && p.sources.length ? p.sources.map((s) => LABELS[s] || s).join(", ")
                                            : "all sources");
    if (p.before && p.after) {
      bits.push(day(p.before.from) + " to " + day(p.before.to) + " against " +
                day(p.after.from) + " to " + day(p.after.to));
    } else {
      bits.push(p.from || p.to ? span({from: p.from || "", to: p.to || ""}) : "all dates");
    }
    const how = [p.gistar ? "Gi*" : "KDE " + (p.method || "") + " " + (p.kernel || "")];
    const radius = c.radius_m || p.radius_m, cell = c.cell_m || p.cell_m;
    if (!p.gistar && radius) how.push("radius " + Math.round(radius) + " m");
    if (cell) how.push("cell " + Math.round(cell) + " m");
    bits.push(how.join(", "));
    return bits.join(" · ");
  }
  function path(kind, id) { return (kind === "run" ? "/surfaces/" : "/comparisons/") + id; }
  function row(kind, item) {
    const li = document.createElement("li");
    const b = add(li, "button");
    b.type = "button"; b.dataset.id = item.id; b.dataset.kind = kind;
    if (kind === "run") b.dataset.run = item.id;
    b.setAttribute("data-testid", kind === "run" ? "run-row" : "comparison-row");
    b.setAttribute("aria-current", String(!!chosen && chosen.kind === kind && chosen.id === item.id));
    const head = add(b, "span");
    add(head, "strong", (kind === "run" ? "Run " : "Comparison ") + item.id + " ");
    add(head, "span", item.status + (item.status === "running" ? " " +
      Math.round(item.progress * 100) + "%" : ""), "status " + item.status);
    add(b, "span", about(item.parameters || {}, (item.stats && item.stats.computed) || {}), "meta");
    const s = item.stats || {};
    let extra = item.message || item.error || "";
    if (item.status === "done") {
      extra = kind === "run"
        ? count(s.incidents || 0, "incident", "incidents") + " · " + count(s.hotspots || 0, "hotspot", "hotspots")
        : count(s.incidents_before || 0, "incident", "incidents") + " before, " +
          count(s.incidents_after || 0, "incident", "incidents") + " after · " +
          count(s.areas || 0, "area", "areas");
    }
    if (extra) add(b, "span", extra, "meta");
    b.addEventListener("click", () => select(kind, item));
    return li;
  }
  async function loadList(kind) {
    const ul = $(kind === "run" ? "runs" : "comparisons");
    const page = await (await api(kind === "run" ? "/surfaces?limit=100" : "/comparisons?limit=100")).json();
    ul.replaceChildren();
    if (!page.items.length) add(ul, "li", kind === "run" ? "No runs yet." : "No comparisons yet.", "muted");
    page.items.forEach((item) => ul.appendChild(row(kind, item)));
    return page.items;
  }
  async function loadLists() {
    try {
      const [runs, comparisons] = await Promise.all([loadList("run"), loadList("comparison")]);
      const busy = [...runs, ...comparisons].some((r) => r.status === "queued" || r.status === "running");
      clearTimeout(listTimer);
      if (busy && !ended) listTimer = setTimeout(loadLists, 3000);
      if (chosen === null) {
        const first = runs.find((r) => r.status === "done");
        if (first) select("run", first);
      }
    } catch (e) { problem("Could not load the runs", e); }
  }
  /* Poll a run or comparison this page started until it finishes, then open it. */
  function watch(kind, item) {
    const key = kind + item.id;
    if (item.status === "done" || item.status === "failed" || watching.has(key)) return;
    watching.add(key);
    const tick = async () => {
      try {
        const now = await (await api(path(kind, item.id))).json();
        if (now.status === "done" || now.status === "failed") {
          watching.delete(key);
          if (chosen && chosen.kind === kind && chosen.id === now.id) select(kind, now);
          loadLists();
          return;
        }
        if (chosen && chosen.kind === kind && chosen.id === now.id) waiting(kind, now);
        setTimeout(tick, POLL_MS);
      } catch (e) { watching.delete(key); problem("Could not follow the run", e); }
    };
    setTimeout(tick, POLL_MS);
  }
  function waiting(kind, item) {
    const name = (kind === "run" ? "Run " : "Comparison ") + item.id;
    const ph = $("placeholder");
    ph.hidden = false; $("map").hidden = true; $("map").removeAttribute("srcdoc");
    text(ph, item.status === "failed" ? name + " failed: " + (item.error || "see the log") + "."
      : name + " is " + item.status + (item.status === "running" ? " (" +
        Math.round(item.progress * 100) + "%)" : "") + "; it opens here when it is done.");
  }
  function link(ul, href, label, testid, file) {
    const li = add(ul, "li"), a = add(li, "a", label);
    a.href = href; a.setAttribute("data-testid", testid);
    if (file) a.setAttribute("download", file);
  }
  function downloads(kind, item) {
    const ul = $("downloads"), id = item.id;
    ul.replaceChildren();
    if (kind === "run") {
      link(ul, "/surfaces/" + id + ".tif", "Surface (COG)", "download-cog", "surface-" + id + ".tif");
      link(ul, "/surfaces/" + id + "/polygons", "Hotspots (GeoJSON)", "download-geojson", "hotspots-run-" + id + ".geojson");
      link(ul, "/surfaces/" + id + "/polygons.gpkg", "Hotspots (GeoPackage)", "download-gpkg", "hotspots-run-" + id + ".gpkg");
      link(ul, "/surfaces/" + id + "/hotspots.csv", "Table (CSV)", "download-csv", "hotspots-run-" + id + ".csv");
    } else {
      link(ul, "/comparisons/" + id + ".tif", "Difference (COG)", "download-cog", "difference-" + id + ".tif");
      link(ul, "/comparisons/" + id + "/areas", "Areas (GeoJSON)", "download-geojson", "changes-" + id + ".geojson");
      link(ul, "/comparisons/" + id + "/areas.gpkg", "Areas (GeoPackage)", "download-gpkg", "changes-" + id + ".gpkg");
      link(ul, "/comparisons/" + id + "/areas.csv", "By hotspot (CSV)", "download-csv", "changes-" + id + ".csv");
      link(ul, "/comparisons/" + id + "/wards.csv", "By ward (CSV)", "download-wards-csv", "wards-" + id + ".csv");
    }
  }
  function select(kind, item) {
    chosen = {kind: kind, id: item.id};
    document.querySelectorAll("ul.runs button").forEach((b) => b.setAttribute("aria-current",
      String(b.dataset.kind === kind && Number(b.dataset.id) === item.id)));
    const name = (kind === "run" ? "Run " : "Comparison ") + item.id;
    $("map").title = "Map of " + name.toLowerCase();
    if (item.status !== "done") {
      shown = null; $("chosen").hidden = true;
      waiting(kind, item);
      return;
    }
    if (shown === kind + item.id) return;
    shown = kind + item.id;
    $("map").hidden = true; $("map").removeAttribute("srcdoc");
    $("chosen").hidden = false;
    text($("chosen-h"), name);
    text($("chosen-about"), about(item.parameters || {}, (item.stats && item.stats.computed) || {}));
    $("open-map").href = path(kind, item.id) + "/map";
    downloads(kind, item);
    $("run-part").hidden = kind !== "run";
    $("compare-part").hidden = kind === "run";
    if (kind === "run") listHotspots(item); else listChanges(item);
    loadMap(kind, item);
  }
  async function loadMap(kind, item) {
    const frame = $("map"), ph = $("placeholder"), key = kind + item.id;
    text(ph, "Loading the map…"); ph.hidden = false;
    try {
      const html = await (await api(path(kind, item.id) + "/map", {headers: {"Accept": "text/html"}})).text();
      if (shown !== key) return;
      frame.srcdoc = html; frame.hidden = false; ph.hidden = true;
    } catch (e) { if (!(e instanceof SessionEnded)) text(ph, "Could not load the map: " + e.message); }
  }
  function cells(tr, values) {
    values.forEach(([v, cls]) => add(tr, "td", v, cls));
  }
  async function listHotspots(run) {
    const body = $("hotspots"), note = $("hotspots-note"), table = $("hotspot-table");
    body.replaceChildren(); table.hidden = true; text(note, "Loading the hotspots…");
    try {
      const fc = await (await api("/surfaces/" + run.id + "/polygons")).json();
      if (shown !== "run" + run.id) return;
      const units = (run.stats && run.stats.units) || "";
      text($("peak-h"), "Peak density (" + unitText(units) + ")");
      const feats = fc.features || [];
      feats.slice(0, MAX_LISTED).forEach((f) => {
        const p = f.properties || {}, tr = add(body, "tr");
        tr.setAttribute("data-testid", "hotspot-row");
        cells(tr, [[String(p.rank), "num"], [p.ward || "Ward not known", ""],
                   [km2(p.area_km2), "num"],
                   [typeof p.incidents === "number" ? p.incidents.toLocaleString("en-GB") : "not counted", "num"],
                   [number(p.peak), "num"], [p.grid_ref || "", "ref"]]);
      });
      table.hidden = feats.length === 0;
      text(note, feats.length
        ? count(feats.length, "hotspot", "hotspots") + ", hottest first (ward and OS grid reference of each centre)" +
          (feats.length > MAX_LISTED ? "; the first " + MAX_LISTED + " listed, all are on the map and in the downloads." : ".")
        : "No hotspots above the cut-off.");
    } catch (e) { if (!(e instanceof SessionEnded)) text(note, "Could not load the hotspots: " + e.message); }
  }
  function arrow(a, b, fmt) { return fmt(a) + " → " + fmt(b); }
  function changeCell(tr, change) {
    const td = add(tr, "td", CHANGE_WORDS[change] || change, "change " + change);
    return td;
  }
  async function listChanges(c) {
    const body = $("changes"), wards = $("wards"), summary = $("change-summary");
    body.replaceChildren(); wards.replaceChildren(); text(summary, "Loading what changed…");
    try {
      const [fc, wt] = await Promise.all([
        (await api("/comparisons/" + c.id + "/areas")).json(),
        (await api("/comparisons/" + c.id + "/wards")).json()]);
      if (shown !== "comparison" + c.id) return;
      const n = (c.stats && c.stats.changes) || {};
      const said = ["appeared", "grew", "shrank", "gone", "stayed"].filter((k) => n[k])
        .map((k) => n[k] + " " + CHANGE_WORDS[k]);
      text(summary, said.length ? "Hotspots: " + said.join(", ") + " (rates per 30 days, so periods of different lengths compare)."
                                : "No hotspot in either period.");
      const whole = (v) => v.toLocaleString("en-GB");
      (fc.features || []).slice(0, MAX_LISTED).forEach((f) => {
        const p = f.properties || {}, tr = add(body, "tr");
        tr.setAttribute("data-testid", "change-row");
        add(tr, "td", String(p.rank), "num");
        changeCell(tr, p.change);
        cells(tr, [[p.ward || "Ward not known", ""],
                   [arrow(p.incidents_before, p.incidents_after, whole), "num"],
                   [arrow(p.area_before_km2, p.area_after_km2, km2), "num"], [p.grid_ref || "", "ref"]]);
      });
      (wt.items || []).forEach((w) => {
        const tr = add(wards, "tr");
        tr.setAttribute("data-testid", "ward-change-row");
        cells(tr, [[w.ward, ""], [arrow(w.incidents_before, w.incidents_after, whole), "num"],
                   [arrow(w.hotspot_before_km2, w.hotspot_after_km2, km2), "num"]]);
        changeCell(tr, w.change);
      });
    } catch (e) { if (!(e instanceof SessionEnded)) text(summary, "Could not load what changed: " + e.message); }
  }
  loadLists();
})();
