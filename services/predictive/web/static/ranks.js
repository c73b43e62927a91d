/* Rank labels for the crews' maps that never overlap one another, the map's edge or its controls.
 *
 * Boxes are 150 m squares: on a district map a few pixels wide, often side by side, so a label
 * on each box would cover its neighbours' labels. Each label goes on its box when there is room,
 * otherwise nearby with a leader line to the box (rank 1 chooses first), and, when no place near
 * the box is free, in a free place along the map's edge, still with its leader line.
 *
 * The layout is plain arithmetic on pixel rectangles (``layout``, exposed for tests); ``draw``
 * fits the map to the boxes, measures them and draws the labels as Leaflet markers and the
 * leaders as vector lines (both print). Ranks are numbers and become text nodes (textContent):
 * nothing here parses markup.
 */
(function () {
  "use strict";

  var PANES = {"csp-rank-leaders": 610, "csp-rank-labels": 620};  // over the boxes (400)
  // Rings of candidate places around a box, in label diameters; 16 directions each, starting
  // up and to the right (where a map reader looks first) and going round.
  var RINGS = [0.85, 1.25, 1.7, 2.3, 3.1, 4.2, 5.6];
  var DIRECTIONS = 16;

  function box(x, y, half) {
    return {x0: x - half, y0: y - half, x1: x + half, y1: y + half};
  }

  function hits(a, b, gap) {
    var g = gap || 0;
    return a.x0 < b.x1 + g && b.x0 < a.x1 + g && a.y0 < b.y1 + g && b.y0 < a.y1 + g;
  }

  function inside(r, w, h, margin) {
    return r.x0 >= margin && r.y0 >= margin && r.x1 <= w - margin && r.y1 <= h - margin;
  }

  function cross(ax, ay, bx, by, cx, cy, dx, dy) {
    function side(px, py, qx, qy, rx, ry) { return (qx - px) * (ry - py) - (qy - py) * (rx - px); }
    var d1 = side(ax, ay, bx, by, cx, cy), d2 = side(ax, ay, bx, by, dx, dy);
    var d3 = side(cx, cy, dx, dy, ax, ay), d4 = side(cx, cy, dx, dy, bx, by);
    return d1 * d2 < 0 && d3 * d4 < 0;
  }

  function segmentHitsBox(ax, ay, bx, by, r) {
    if (Math.max(ax, bx) < r.x0 || Math.min(ax, bx) > r.x1 ||
        Math.max(ay, by) < r.y0 || Math.min(ay, by) > r.y1) return false;
    var inA = ax > r.x0 && ax < r.x1 && ay > r.y0 && ay < r.y1;
    var inB = bx > r.x0 && bx < r.x1 && by > r.y0 && by < r.y1;
    return inA || inB ||
      cross(ax, ay, bx, by, r.x0, r.y0, r.x1, r.y0) || cross(ax, ay, bx, by, r.x1, r.y0, r.x1, r.y1) ||
      cross(ax, ay, bx, by, r.x1, r.y1, r.x0, r.y1) || cross(ax, ay, bx, by, r.x0, r.y1, r.x0, r.y0);
  }

  /* Where each label goes.
   *
   * anchors: [{x, y, half}] box centres in container pixels (half: half the box's width), by
   * rank; opts: {size: label diameter, width, height, margin, gap, obstacles: [{x0, y0, x1, y1}]}.
   * Returns [{x, y, leader}] in the same order: label centres, and whether a leader is drawn.
   */
  function layout(anchors, opts) {
    var size = opts.size, half = size / 2, gap = opts.gap === undefined ? 2 : opts.gap;
    var w = opts.width, h = opts.height, margin = opts.margin === undefined ? 2 : opts.margin;
    var obstacles = opts.obstacles || [];
    var boxes = anchors.map(function (a) { return box(a.x, a.y, Math.max(a.half, 1)); });
    var placed = [], leaders = [], out = [];

    function free(r) {
      if (!inside(r, w, h, margin)) return false;
      for (var i = 0; i < placed.length; i++) if (hits(r, placed[i], gap)) return false;
      for (var j = 0; j < obstacles.length; j++) if (hits(r, obstacles[j], gap)) return false;
      return true;
    }

    function cost(i, x, y, distance) {
      var r = box(x, y, half), c = distance, a = anchors[i];
      for (var k = 0; k < boxes.length; k++) {
        if (k !== i && hits(r, boxes[k], 1)) c += 2 * size;  // a label hiding another box
      }
      if (distance > 0) {
        for (var m = 0; m < leaders.length; m++) {
          var l = leaders[m];
          if (cross(a.x, a.y, x, y, l[0], l[1], l[2], l[3])) c += size;  // leaders crossing
        }
        for (var n = 0; n < placed.length; n++) {
          if (segmentHitsBox(a.x, a.y, x, y, placed[n])) c += size;  // a leader under a label
        }
      }
      for (var p = 0; p < leaders.length; p++) {
        var q = leaders[p];
        if (segmentHitsBox(q[0], q[1], q[2], q[3], r)) c += size;  // a label over a leader
      }
      return c;
    }

    function nearby(i) {
      var a = anchors[i], best = null;
      // On the box only when the box is larger than its label: a small box stays in sight.
      var candidates = 2 * a.half >= size ? [[a.x, a.y, 0]] : [];
      RINGS.forEach(function (ring) {
        var radius = ring * size + a.half;
        for (var d = 0; d < DIRECTIONS; d++) {
          var angle = -Math.PI / 4 + (2 * Math.PI * d) / DIRECTIONS;
          candidates.push([a.x + radius * Math.cos(angle), a.y + radius * Math.sin(angle), radius]);
        }
      });
      candidates.forEach(function (c) {
        if (!free(box(c[0], c[1], half))) return;
        var score = cost(i, c[0], c[1], c[2]);
        if (best === null || score < best[2]) best = [c[0], c[1], score];
      });
      return best;
    }

    function alongEdge(i) {
      // Down the left and right edges (and along the top and bottom), nearest the box first.
      var a = anchors[i], best = null, step = 2;
      var lines = [
        {x: margin + half, vertical: true}, {x: w - margin - half, vertical: true},
        {y: margin + half, vertical: false}, {y: h - margin - half, vertical: false}
      ];
      lines.forEach(function (line) {
        var length = line.vertical ? h : w;
        for (var t = margin + half; t <= length - margin - half; t += step) {
          var x = line.vertical ? line.x : t, y = line.vertical ? t : line.y;
          if (!free(box(x, y, half))) continue;
          var distance = Math.sqrt((x - a.x) * (x - a.x) + (y - a.y) * (y - a.y));
          if (best === null || distance < best[2]) best = [x, y, distance];
        }
      });
      return best;
    }

    anchors.forEach(function (a, i) {
      var at = nearby(i) || alongEdge(i) || [a.x, a.y];
      var leader = Math.abs(at[0] - a.x) > 0.5 || Math.abs(at[1] - a.y) > 0.5;
      placed.push(box(at[0], at[1], half));
      if (leader) leaders.push([a.x, a.y, at[0], at[1]]);
      out.push({x: at[0], y: at[1], leader: leader});
    });
    return out;
  }

  function pane(map, name) {
    var p = map.getPane(name) || map.createPane(name);
    p.style.zIndex = String(PANES[name]);
    p.style.pointerEvents = "none";
    return p;
  }

  function relative(el, to) {
    var r = el.getBoundingClientRect();
    return {x0: r.left - to.left, y0: r.top - to.top, x1: r.right - to.left, y1: r.bottom - to.top};
  }

  /* The map's controls (scale, attribution, zoom) and any element of opts.obstacles. */
  function obstaclesOf(map, selectors) {
    var container = map.getContainer(), frame = container.getBoundingClientRect(), out = [];
    var els = [].slice.call(container.querySelectorAll(".leaflet-control"));
    (selectors || []).forEach(function (s) {
      els = els.concat([].slice.call(document.querySelectorAll(s)));
    });
    els.forEach(function (el) {
      var r = relative(el, frame);
      if (r.x1 > r.x0 && r.y1 > r.y0) out.push(r);
    });
    return out;
  }

  function label(rank, size) {
    var el = document.createElement("div");
    el.className = "rank-label";
    el.setAttribute("data-rank", String(rank));
    el.style.width = el.style.height = size + "px";
    el.style.lineHeight = (size - 4) + "px";
    el.style.fontSize = Math.round(size * 0.5) + "px";
    el.textContent = String(rank);
    return el;
  }

  /* Fit ``map`` to the boxes (once), then label them; again whenever the view changes. */
  function draw(map, boxes, opts) {
    if (!map || typeof L === "undefined" || !boxes || !boxes.length) return;
    var size = opts.size || 24, group = L.layerGroup().addTo(map);
    var drawn = {labels: [], leaders: []};
    Object.keys(PANES).forEach(function (name) { pane(map, name); });
    if (opts.fit) {
      var bounds = L.latLngBounds([]);
      boxes.forEach(function (b) { bounds.extend(b.bounds); });
      map.fitBounds(bounds, {
        paddingTopLeft: opts.fit.topLeft, paddingBottomRight: opts.fit.bottomRight,
        maxZoom: opts.fit.maxZoom || 16, animate: false
      });
    }

    function redraw() {
      group.clearLayers();
      var view = map.getSize(), shown = [], anchors = [];
      boxes.forEach(function (b) {
        var c = map.latLngToContainerPoint(L.latLng(b.lat, b.lon));
        var sw = map.latLngToContainerPoint(L.latLng(b.bounds[0][0], b.bounds[0][1]));
        var ne = map.latLngToContainerPoint(L.latLng(b.bounds[1][0], b.bounds[1][1]));
        if (c.x < 0 || c.y < 0 || c.x > view.x || c.y > view.y) return;  // panned out of view
        shown.push(b);
        anchors.push({x: c.x, y: c.y, half: Math.abs(ne.x - sw.x) / 2});
      });
      var places = layout(anchors, {
        size: size, width: view.x, height: view.y, margin: opts.margin, gap: opts.gap,
        obstacles: obstaclesOf(map, opts.obstacles)
      });
      var leaders = 0;
      drawn = {labels: [], leaders: []};
      places.forEach(function (p, i) {
        var a = anchors[i];
        drawn.labels.push(box(p.x, p.y, size / 2));
        if (p.leader) {
          drawn.leaders.push([a.x, a.y, p.x, p.y]);
          var dx = p.x - a.x, dy = p.y - a.y, d = Math.sqrt(dx * dx + dy * dy) || 1;
          var end = L.point(p.x - (dx / d) * (size / 2), p.y - (dy / d) * (size / 2));
          L.polyline([map.containerPointToLatLng(L.point(a.x, a.y)),
                      map.containerPointToLatLng(end)], {
            pane: "csp-rank-leaders", interactive: false, color: "#111", weight: 1.3,
            opacity: 0.9, className: "rank-leader"
          }).addTo(group);
          L.circleMarker(map.containerPointToLatLng(L.point(a.x, a.y)), {
            pane: "csp-rank-leaders", interactive: false, radius: 1.8, weight: 0,
            fillColor: "#111", fillOpacity: 1, className: "rank-leader-end"
          }).addTo(group);
          leaders += 1;
        }
        L.marker(map.containerPointToLatLng(L.point(p.x, p.y)), {
          icon: L.divIcon({className: "rank-marker", html: label(shown[i].rank, size),
                           iconSize: [size, size], iconAnchor: [size / 2, size / 2]}),
          pane: "csp-rank-labels", interactive: false, keyboard: false
        }).addTo(group);
      });
      var container = map.getContainer();
      container.setAttribute("data-rank-labels", String(places.length));
      container.setAttribute("data-rank-leaders", String(leaders));
      clearNames(map, drawn);
    }

    redraw();
    if (opts.follow) map.on("moveend resize", redraw);
    // Ward names arrive with the map's context (fetched): clear them off the labels then too.
    if (typeof MutationObserver !== "undefined") {
      new MutationObserver(function () { clearNames(map, drawn); }).observe(
        map.getContainer(), {attributes: true, attributeFilter: ["data-csp-context"]});
    }
  }

  /* Hide the ward names a rank label or leader line would cover (the table names each box's
   * ward). Its own class, so the context's own thinning of names is left as it is.
   * ``drawn``: the labels' rectangles and the leaders' segments, in container pixels. */
  function clearNames(map, drawn) {
    var container = map.getContainer(), frame = container.getBoundingClientRect();
    [].slice.call(container.querySelectorAll(".csp-area-name")).forEach(function (name) {
      var r = relative(name, frame), covered = false;
      drawn.labels.forEach(function (l) { if (hits(r, l, 1)) covered = true; });
      drawn.leaders.forEach(function (s) {
        if (segmentHitsBox(s[0], s[1], s[2], s[3], r)) covered = true;
      });
      name.classList.toggle("rank-covered", covered);
    });
  }

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  window.CSP_RANKS = {draw: draw, layout: layout, data: data};
})();
