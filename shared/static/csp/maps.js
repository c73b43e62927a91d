/* Popups and tooltips for the suite's maps, built from data, never from markup.
 *
 * The server sends what a popup says as a JSON tree (["b", {"class": "x"}, "text", ...]) in a
 * <script type="application/json"> block; this file turns it into DOM nodes with createElement
 * and createTextNode, so a camera named "<img onerror=...>" or "{{ 7*7 }}" shows exactly that.
 * Only the tags and attributes listed below are made; anything else is shown as text.
 */
(function () {
  "use strict";
  var TAGS = {div: 1, span: 1, b: 1, small: 1, p: 1, br: 1, ul: 1, li: 1, table: 1, tr: 1,
              th: 1, td: 1, a: 1, strong: 1, em: 1};
  var ATTRS = {"class": 1, "title": 1, "data-testid": 1, "href": 1};

  function node(spec) {
    if (spec === null || spec === undefined) return document.createTextNode("");
    if (!Array.isArray(spec)) return document.createTextNode(String(spec));
    var tag = String(spec[0]).toLowerCase();
    if (!TAGS.hasOwnProperty(tag)) return document.createTextNode(JSON.stringify(spec));
    var el = document.createElement(tag);
    var attrs = spec.length > 1 && spec[1] && !Array.isArray(spec[1]) &&
                typeof spec[1] === "object" ? spec[1] : null;
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = String(attrs[k]);
        if (!ATTRS.hasOwnProperty(k)) return;
        // Links only to this site's own paths: never javascript:, data: or another host.
        if (k === "href" && !/^\/(?!\/)/.test(v)) return;
        el.setAttribute(k, v);
      });
    }
    for (var i = attrs ? 2 : 1; i < spec.length; i++) el.appendChild(node(spec[i]));
    return el;
  }

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function layerOf(name) {
    var layer = window[name];
    return layer && typeof layer.bindPopup === "function" ? layer : null;
  }

  /* bind({layerVar: {popup: tree, tooltip: tree, maxWidth: n}}): popups on folium's layers. */
  function bind(entries) {
    Object.keys(entries || {}).forEach(function (name) {
      var layer = layerOf(name), e = entries[name];
      if (!layer) return;
      if (e.popup !== undefined) layer.bindPopup(node(e.popup), {maxWidth: e.maxWidth || 320});
      if (e.tooltip !== undefined) layer.bindTooltip(node(e.tooltip));
    });
  }

  /* bindFeatures(layerVar, key, {value: {popup, tooltip}}): per-feature, by a property. */
  function bindFeatures(name, key, entries) {
    var layer = layerOf(name);
    if (!layer || typeof layer.eachLayer !== "function") return;
    layer.eachLayer(function (l) {
      var e = l.feature && entries[String(l.feature.properties[key])];
      if (!e) return;
      if (e.popup !== undefined) l.bindPopup(node(e.popup), {maxWidth: e.maxWidth || 320});
      if (e.tooltip !== undefined) l.bindTooltip(node(e.tooltip), {sticky: true});
    });
  }

  window.CSP_MAPS = {node: node, data: data, bind: bind, bindFeatures: bindFeatures};
})();
