/* "Does it repeat nearby?" on the backtest page: Knox near-repeat tables, one per category.
 *
 * The section follows the agency and period last chosen (in the backtest form, or by opening a
 * backtest). "Check" asks POST /near-repeat one category at a time (the session cookie and the
 * page's CSRF token, through the page's own ``api``), so the page can say how far it has got;
 * each request has a time limit and can be stopped. Every number becomes text (textContent):
 * nothing here parses markup. ``sentence`` and ``bandWords`` are pure and exposed for tests.
 */
(function () {
  "use strict";

  function add(parent, tag, s, cls) {
    var el = document.createElement(tag);
    if (s !== undefined && s !== null) el.textContent = s;
    if (cls) el.className = cls;
    parent.appendChild(el);
    return el;
  }
  function num(v) { return Number(v).toLocaleString("en-GB", {maximumFractionDigits: 2}); }
  function metres(v) { return num(v) + " m"; }
  function days(v) { return num(v) + (Number(v) === 1 ? " day" : " days"); }
  function pairs(n) { return n.toLocaleString("en-GB") + (n === 1 ? " pair" : " pairs"); }
  function expected(v) { return v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString("en-GB"); }
  function ratio(r) {
    if (r === 0) return "0";
    return r >= 10 ? Math.round(r).toLocaleString("en-GB") : r.toFixed(1);
  }
  /* p is a multiple of 1 / (1 + shuffles): as many decimals as that needs, at least two. */
  function pText(p, perms) {
    var digits = Math.max(2, Math.ceil(Math.log10(perms + 1)));
    return "p = " + Number(p).toFixed(digits);
  }
  /* "within 100 m and 7 days" for the bands from 0; "100–200 m and 7–14 days apart" else. */
  function bandWords(cell) {
    var d = cell.distance_m, t = cell.time_days;
    if (d[0] === 0 && t[0] === 0) return "within " + metres(d[1]) + " and " + days(t[1]);
    var dw = d[0] === 0 ? "within " + metres(d[1]) : num(d[0]) + "–" + metres(d[1]) + " apart";
    var tw = t[0] === 0 ? "within " + days(t[1]) : num(t[0]) + "–" + days(t[1]) + " apart";
    return dw + " and " + tw;
  }
  function cellAt(cells, i, j, dEdges, tEdges) {
    for (var k = 0; k < cells.length; k++) {
      var c = cells[k];
      if (c.distance_m[0] === dEdges[i] && c.time_days[0] === tEdges[j]) return c;
    }
    return null;
  }
  /* How far (distance, in the first time band) and how long (time, in the first distance band)
   * the significant cells reach without a gap from the nearest, soonest one. */
  function reach(table) {
    var d = table.distance_edges_m, t = table.time_edges_days, cells = table.cells;
    var i = 0, j = 0;
    while (i + 1 < d.length - 1 && (cellAt(cells, i + 1, 0, d, t) || {}).significant) i++;
    while (j + 1 < t.length - 1 && (cellAt(cells, 0, j + 1, d, t) || {}).significant) j++;
    return {distance_m: d[i + 1], time_days: t[j + 1], wider: i > 0, longer: j > 0};
  }
  /* One plain-English sentence on a category's table (the API's answer for it). */
  function sentence(tab) {
    var cat = tab.category;
    if (!tab.table) return cat + ": " + (tab.note || "no table") + ".";
    var table = tab.table, perms = table.permutations, cells = table.cells;
    var first = cellAt(cells, 0, 0, table.distance_edges_m, table.time_edges_days);
    if (!first) return cat + ": no table.";
    var where = bandWords(first), p = pText(first.p_value, perms);
    if (first.significant) {
      var times = first.ratio === null ?
        "there were " + pairs(first.observed) + " and none expected (" + p + ")" :
        "there were " + ratio(first.ratio) + " times the pairs expected (" + pairs(first.observed) +
        " against " + expected(first.expected) + ", " + p + ")";
      var s = cat + " repeats nearby: " + where + " " + times + ".";
      var r = reach(table), more = [];
      if (r.wider) more.push(metres(r.distance_m) + " (within " + days(first.time_days[1]) + ")");
      if (r.longer) more.push(days(r.time_days) + " (within " + metres(first.distance_m[1]) + ")");
      if (more.length) s += " The excess reaches out to " + more.join(" and ") + ".";
      return s;
    }
    var others = cells.filter(function (c) { return c !== first && c.significant; }).length;
    var s2;
    if (first.expected < 1) {
      s2 = cat + ": too few incidents to tell: under one pair was expected " + where + " (" +
        pairs(first.observed) + " seen).";
    } else {
      s2 = cat + ": no sign of near repeats: " + where + " there were " + pairs(first.observed) +
        " against " + expected(first.expected) + " expected (" + p + ").";
    }
    if (others) {
      s2 += " " + others + " of the other " + (cells.length - 1) + " cells had more pairs than " +
        "expected (marked); by chance alone about 1 cell in 20 would.";
    }
    return s2;
  }

  function drawTable(parent, tab) {
    var table = tab.table, d = table.distance_edges_m, t = table.time_edges_days;
    var wrap = add(parent, "div", null, "table-wrap");
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", "Near-repeat table of " + tab.category);
    var el = add(wrap, "table", null, "bt-table nr-table");
    el.setAttribute("data-testid", "nr-table");
    add(el, "caption", tab.category + ": pairs of incidents by distance apart (rows) and days " +
      "apart (columns); in each cell the ratio seen / expected, the pairs seen of those " +
      "expected, and the Monte Carlo p.", "sr-only");
    var head = add(add(el, "thead"), "tr");
    add(head, "th", "Distance apart").scope = "col";
    for (var j = 0; j + 1 < t.length; j++) add(head, "th", num(t[j]) + "–" + days(t[j + 1])).scope = "col";
    var body = add(el, "tbody");
    for (var i = 0; i + 1 < d.length; i++) {
      var tr = add(body, "tr");
      add(tr, "th", num(d[i]) + "–" + metres(d[i + 1])).scope = "row";
      for (var k = 0; k + 1 < t.length; k++) {
        var c = cellAt(table.cells, i, k, d, t), td = add(tr, "td");
        td.setAttribute("data-testid", "nr-cell");
        td.dataset.d = String(i);
        td.dataset.t = String(k);
        if (!c) { td.textContent = "–"; continue; }
        add(td, "span", c.ratio === null ? "–" : ratio(c.ratio) + "×", "r");
        add(td, "span", c.observed.toLocaleString("en-GB") + " of " + expected(c.expected), "n");
        add(td, "span", pText(c.p_value, table.permutations), "p");
        if (c.significant) {
          td.className = "sig";
          add(td, "span", "More than chance", "mark");
        }
      }
    }
    var extra = tab.n_events.toLocaleString("en-GB") + " incidents, " +
      pairs(table.n_pairs_within_reach) + " within " + metres(d[d.length - 1]) +
      " (counted when also within " + days(t[t.length - 1]) + "); expected from " +
      table.permutations.toLocaleString("en-GB") + " shuffles of the days among the places.";
    add(parent, "p", extra + (tab.note ? " " + tab.note + "." : ""), "nr-key");
  }

  function edges(text) {
    var parts = text.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
    var out = parts.map(Number);
    return out.some(function (v) { return !isFinite(v); }) ? null : out;
  }

  /* Mount the section: ``opts`` = {api, SessionEnded, agencies (code -> agency), settings, day}. */
  function mount(opts) {
    var $ = function (id) { return document.getElementById(id); };
    var S = opts.settings, ctx = null, running = null;

    function addDays(iso, n) {
      var d = new Date(iso + "T00:00:00Z");
      d.setUTCDate(d.getUTCDate() + n);
      return d.toISOString().slice(0, 10);
    }
    /* The window asked for: the chosen period clipped to the agency's data. */
    function window_() {
      if (!ctx) return null;
      var a = opts.agencies[ctx.agency];
      if (!a || !a.first || !ctx.from || !ctx.to || ctx.to < ctx.from) return null;
      var from = $("nr-period").value === "fit" ? addDays(ctx.from, -S.training_days) : ctx.from;
      if (from < a.first) from = a.first;
      var to = ctx.to > a.last ? a.last : ctx.to;
      return {agency: a, from: from, to: to};
    }
    function usable(a) { return (a.near || []).filter(function (c) { return c.by_day > 0; }); }
    function fillCategories(a) {
      var sel = $("nr-category"), keep = sel.value;
      sel.replaceChildren();
      var ok = usable(a);
      if (ok.length > 1) {
        var n = Math.min(ok.length, S.max_categories);
        var all = add(sel, "option", ok.length > S.max_categories ?
          "The " + n + " with most incidents" : "All " + n + " categories");
        all.value = "";
      }
      (a.near || []).forEach(function (c) {
        var label = c.name + " (" + c.by_day.toLocaleString("en-GB") + " dated to the day)";
        if (!c.by_day) label = c.name + " (dated by month only)";
        var o = add(sel, "option", label);
        o.value = c.name;
        o.disabled = !c.by_day;
      });
      if (keep !== null && Array.prototype.some.call(sel.options, function (o) { return o.value === keep && !o.disabled; })) sel.value = keep;
      else if (ok.length === 1) sel.value = ok[0].name;
    }
    function describe() {
      var el = $("nr-context"), w = window_(), a = ctx && opts.agencies[ctx.agency];
      var bad = "";
      el.className = "";
      if (!a) bad = "Choose an agency and a period above.";
      else if (!a.first) bad = "There is no incident data for " + a.name + " yet.";
      else if (!usable(a).length) bad = a.name + "'s incidents are dated by month only: a " +
        "near-repeat analysis needs the day of each incident.";
      else if (!w) bad = "Choose the first and the last origin day above.";
      else if (w.from > w.to) bad = "No incident data for this period: " + a.name + "'s data run from " +
        opts.day(a.first) + " to " + opts.day(a.last) + ".";
      $("nr-run").disabled = Boolean(bad) || Boolean(running);
      if (bad) { el.className = "none"; el.textContent = bad; return; }
      el.textContent = a.name + ", incidents from " + opts.day(w.from) + " to " + opts.day(w.to) +
        " (" + ctx.source + ").";
    }
    function clear() {
      $("nr-out").replaceChildren();
      $("nr-status").textContent = "";
      $("nr-msg").textContent = "";
      $("nr-key").hidden = true;
    }
    function follow(next) {
      var same = ctx && ctx.agency === next.agency && ctx.from === next.from && ctx.to === next.to;
      var agencyChanged = !ctx || ctx.agency !== next.agency;
      if (same) { describe(); return; }  /* the same period: keep saying where it came from */
      ctx = next;
      if (agencyChanged && opts.agencies[next.agency]) fillCategories(opts.agencies[next.agency]);
      if (!running) clear();
      describe();
    }
    function chosen(a) {
      var v = $("nr-category").value;
      if (v) return [v];
      return usable(a).slice(0, S.max_categories).map(function (c) { return c.name; });
    }
    function request(cat, w) {
      var body = {categories: [cat], from: w.from, to: w.to,
                  distance_bands_m: edges($("nr-distances").value),
                  time_bands_days: edges($("nr-times").value),
                  permutations: Number($("nr-permutations").value)};
      return body;
    }
    function rising(e) {
      return e[0] >= 0 && e.every(function (v, i) { return i === 0 || v > e[i - 1]; });
    }
    function check(b) {
      var d = b.distance_bands_m, t = b.time_bands_days;
      if (!d || d.length < 2) return "Give at least two distance band edges, such as 0, 100, 200.";
      if (!t || t.length < 2) return "Give at least two time band edges, such as 0, 7, 14.";
      if (!rising(d)) return "The distance band edges must start at 0 or more and increase.";
      if (!rising(t)) return "The time band edges must start at 0 or more and increase.";
      if (d[d.length - 1] > S.max_distance_m) return "The last distance edge may be at most " + metres(S.max_distance_m) + ".";
      if (t[t.length - 1] > S.max_time_days) return "The last time edge may be at most " + days(S.max_time_days) + ".";
      return "";
    }
    function showOne(tab) {
      var sec = add($("nr-out"), "section", null, "nr-cat");
      sec.setAttribute("data-testid", "nr-category-result");
      sec.dataset.category = tab.category;
      add(sec, "h3", tab.category);
      var sent = add(sec, "p", sentence(tab), "nr-sentence" + (tab.near_repeat ? " yes" : ""));
      sent.setAttribute("data-testid", "nr-sentence");
      if (tab.table) { drawTable(sec, tab); $("nr-key").hidden = false; }
    }
    function showProblem(cat, message) {
      var sec = add($("nr-out"), "section", null, "nr-cat");
      sec.setAttribute("data-testid", "nr-category-result");
      sec.dataset.category = cat;
      add(sec, "h3", cat);
      add(sec, "p", "Could not be analysed: " + message, "nr-sentence").setAttribute("data-testid", "nr-sentence");
    }
    async function run() {
      var w = window_();
      if (!w || running) return;
      var cats = chosen(w.agency), first = request(cats[0], w), bad = check(first);
      clear();
      if (bad) { $("nr-msg").textContent = bad; return; }
      var me = {stopped: false, ctrl: null};
      running = me;
      $("nr-run").disabled = true;
      $("nr-stop").hidden = false;
      $("nr-working").hidden = false;
      var bar = $("nr-progress");
      if (cats.length > 1) { bar.max = cats.length; bar.value = 0; } else bar.removeAttribute("value");
      var done = 0, failed = 0, end = "";
      try {
        for (var i = 0; i < cats.length && !me.stopped; i++) {
          $("nr-status").textContent = "Counting pairs: " + cats[i] +
            (cats.length > 1 ? " (" + (i + 1) + " of " + cats.length + ")" : "") + "…";
          me.ctrl = new AbortController();
          var timer = setTimeout(function () { me.timedOut = true; me.ctrl.abort(); }, S.time_limit_ms);
          try {
            var r = await opts.api("/near-repeat", {method: "POST", signal: me.ctrl.signal,
              headers: {"Content-Type": "application/json"}, body: JSON.stringify(request(cats[i], w))});
            var answer = await r.json();
            answer.tables.forEach(showOne);
          } catch (e) {
            if (e instanceof opts.SessionEnded) { end = "Your session has ended."; break; }
            if (e.name === "AbortError") {
              end = me.timedOut ? "Stopped: " + cats[i] + " took longer than " +
                Math.round(S.time_limit_ms / 1000) + " s. Try a shorter period or fewer shuffles." :
                "Stopped.";
              break;
            }
            var why = e.body && e.body.errors && e.body.errors.length ? e.body.errors[0].message : "";
            showProblem(cats[i], why || e.message);
            failed++;
          } finally { clearTimeout(timer); }
          done = i + 1;
          if (cats.length > 1) bar.value = done;
        }
      } finally {
        running = null;
        $("nr-stop").hidden = true;
        $("nr-working").hidden = true;
        describe();
      }
      $("nr-status").textContent = end ? end + " " + done + " of " + cats.length + " done." :
        "Done: " + (cats.length === 1 ? "1 category" : cats.length + " categories") + ", " +
        opts.day(w.from) + " to " + opts.day(w.to) +
        (failed ? " (" + failed + " could not be analysed)" : "") + ".";
    }
    $("nr-form").addEventListener("submit", function (ev) { ev.preventDefault(); run(); });
    $("nr-stop").addEventListener("click", function () {
      if (running) { running.stopped = true; if (running.ctrl) running.ctrl.abort(); }
    });
    $("nr-period").addEventListener("change", function () { if (!running) clear(); describe(); });
    return {follow: follow};
  }

  window.CspNearRepeat = {mount: mount, sentence: sentence, bandWords: bandWords};
})();
