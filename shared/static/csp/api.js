/* The suite's JSON API, called from a page: the session cookie, the page's CSRF token (from
 * <meta name="csrf-token">), an Idempotency-Key or If-Match when asked. A 401 calls the page's
 * onSignedOut and throws CspApi.SignedOut; any other error answer throws CspApi.ApiError with
 * the problem's own words (field problems of a 422 named). With {blob: true} a good answer is
 * returned as a Blob (an image), not JSON. Used by the control room's pages. */
(function () {
  'use strict';

  function SignedOut() { this.message = 'signed out'; }

  function ApiError(status, body) {
    this.status = status;
    this.body = body || {};
    this.message = (body && (body.detail || body.title)) || ('HTTP ' + status);
    if (body && body.errors && body.errors.length && status === 422) {
      this.message += ' (' + body.errors.map(function (e) {
        return (e.field || 'input') + (e.message ? ': ' + e.message : '');
      }).join('; ') + ')';
    }
  }

  // A fresh Idempotency-Key. crypto.randomUUID is missing on plain-http LAN pages;
  // getRandomValues is not.
  function newKey() {
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); })
      .join('');
  }

  // api(path, {method, body, key, ifMatch, blob}) under ``root``; onSignedOut() runs on a 401.
  function client(root, onSignedOut) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var csrf = meta ? meta.content : '';
    return async function api(path, opts) {
      opts = opts || {};
      var headers = {'Accept': 'application/json', 'X-CSRF-Token': csrf};
      if (opts.body) headers['Content-Type'] = 'application/json';
      if (opts.key) headers['Idempotency-Key'] = opts.key;
      if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
      var r = await fetch(root + path, {method: opts.method || 'GET', headers: headers,
                                        credentials: 'same-origin',
                                        body: opts.body ? JSON.stringify(opts.body) : undefined});
      var data = null;
      if (opts.blob && r.ok) data = await r.blob();
      else { try { data = await r.json(); } catch (e) { data = null; } }
      if (r.status === 401) { if (onSignedOut) onSignedOut(); throw new SignedOut(); }
      if (!r.ok) throw new ApiError(r.status, data);
      return data;
    };
  }

  window.CspApi = {client: client, newKey: newKey, SignedOut: SignedOut, ApiError: ApiError};
})();
