/* Map context from the suite's own boundaries: ward lines with their names, and LSOA outlines
 * when zoomed in close, so a map without tiles (a closed network, or tiles off) is readable.
 *
 * The areas come from /boundaries/{layer}.geojson on the page's own origin (every service
 * serves them). They are drawn as SVG vectors (they print) in panes under the data layers, and
 * take no pointer events, so a click always reaches the camera, box or hotspot under it.
 * Names become text nodes (textContent), never markup. Labels are thinned so none overlap:
 * larger wards keep their name first.
 *
 * make_map (shared/maps.py) calls CSP_CONTEXT.draw(map, options) after the map is made.
 */
(function () {
  "use strict";
  var DEFAULTS = {
    base: "/boundaries",
    labelMinZoom: 10,   // below this a district is too small for names
    lsoaMinZoom: 14,    // LSOAs (a few hundred metres across) only when close
    wardStyle: {color: "#4b3a78", weight: 1.6, opacity: 0.85, fill: false, dashArray: null},
    lsoaStyle: {color: "#5f6b73", weight: 0.8, opacity: 0.8, fill: false, dashArray: "4 3"}
  };
  var PANES = {"csp-lsoa": 360, "csp-wards": 370, "csp-labels": 380};  // tiles 200, data 400+

  function pane(map, name) {
    var p = map.getPane(name) || map.createPane(name);
    p.style.zIndex = String(PANES[name]);
    p.style.pointerEvents = "none";
    return p;
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/geo+json"}})
      .then(function (r) {
        if (!r.ok) throw new Error(url + " answered " + r.status);
        return r.json();
      });
  }

  function lines(data, paneName, style, className) {
    return L.geoJSON(data, {
      pane: paneName,
      interactive: false,
      style: function () {
        var s = {};
        Object.keys(style).forEach(function (k) { s[k] = style[k]; });
        s.className = className;
        return s;
      }
    });
  }

  function spanOf(name) {
    var span = document.createElement("span");
    span.className = "csp-area-name";
    span.textContent = String(name);
    return span;
  }

  function labelFor(feature, layer) {
    var p = feature.properties || {};
    var at = Array.isArray(p.label) && p.label.length === 2
      ? L.latLng(p.label[1], p.label[0]) : layer.getBounds().getCenter();
    var b = layer.getBounds();
    var size = Math.abs((b.getNorth() - b.getSouth()) * (b.getEast() - b.getWest()));
    var span = spanOf(p.name || p.code || "");
    var marker = L.marker(at, {
      icon: L.divIcon({className: "csp-area-label", html: span, iconSize: [0, 0]}),
      interactive: false, keyboard: false, pane: "csp-labels"
    });
    return {marker: marker, span: span, size: size, name: String(p.name || p.code || "")};
  }

  function overlaps(a, list) {
    for (var i = 0; i < list.length; i++) {
      var b = list[i];
      if (a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1) return true;
    }
    return false;
  }

  /* Show each name unless it would overlap one already shown (larger wards first). */
  function declutter(map, labels, opts) {
    var zoom = map.getZoom(), placed = [], gap = 4;
    var container = map.getContainer();
    container.classList.toggle("csp-zoom-close", zoom >= opts.lsoaMinZoom);
    labels.forEach(function (l) {
      var show = zoom >= opts.labelMinZoom;
      if (show) {
        var pt = map.latLngToContainerPoint(l.marker.getLatLng());
        var w = l.span.offsetWidth, h = l.span.offsetHeight;
        var box = {x0: pt.x - w / 2 - gap, x1: pt.x + w / 2 + gap,
                   y0: pt.y - h / 2 - gap, y1: pt.y + h / 2 + gap};
        show = !overlaps(box, placed);
        if (show) placed.push(box);
      }
      l.span.classList.toggle("csp-area-name-hidden", !show);
    });
    container.setAttribute("data-csp-labels", String(placed.length));
  }

  function draw(map, options) {
    if (!map || typeof L === "undefined") return;
    var opts = {};
    Object.keys(DEFAULTS).forEach(function (k) { opts[k] = DEFAULTS[k]; });
    Object.keys(options || {}).forEach(function (k) { opts[k] = options[k]; });
    Object.keys(PANES).forEach(function (name) { pane(map, name); });
    var container = map.getContainer();
    var labels = [], lsoa = null, lsoaLoading = false;

    function onZoom() {
      declutter(map, labels, opts);
      if (map.getZoom() >= opts.lsoaMinZoom) {
        if (lsoa) { if (!map.hasLayer(lsoa)) lsoa.addTo(map); return; }
        if (lsoaLoading) return;
        lsoaLoading = true;
        getJSON(opts.base + "/lsoa.geojson").then(function (data) {
          lsoa = lines(data, "csp-lsoa", opts.lsoaStyle, "csp-lsoa");
          if (map.getZoom() >= opts.lsoaMinZoom) lsoa.addTo(map);
          container.setAttribute("data-csp-lsoa", String((data.features || []).length));
        }).catch(function (e) { lsoaLoading = false; warn(e); });
      } else if (lsoa && map.hasLayer(lsoa)) {
        map.removeLayer(lsoa);
      }
    }

    getJSON(opts.base + "/ward.geojson").then(function (data) {
      var wards = lines(data, "csp-wards", opts.wardStyle, "csp-ward").addTo(map);
      wards.eachLayer(function (layer) {
        if (layer.feature) labels.push(labelFor(layer.feature, layer));
      });
      labels.sort(function (a, b) { return b.size - a.size || (a.name < b.name ? -1 : 1); });
      labels.forEach(function (l) { l.marker.addTo(map); });
      map.on("zoomend", onZoom);
      map.on("resize", function () { declutter(map, labels, opts); });
      onZoom();
      container.setAttribute("data-csp-wards", String((data.features || []).length));
      container.setAttribute("data-csp-context", "ready");
    }).catch(function (e) {
      container.setAttribute("data-csp-context", "failed");
      warn(e);
    });
  }

  function warn(e) {
    if (window.console && console.warn) console.warn("map context:", e && e.message ? e.message : e);
  }

  window.CSP_CONTEXT = {draw: draw, declutter: declutter};
})();
