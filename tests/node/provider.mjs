// A real OpenID provider for the SSO tests (the certified `oidc-provider` package), on loopback.
//
// Configured by the JSON in the environment variable OIDC_TEST_CONFIG:
//   { "port": 43123,                       listen on http://127.0.0.1:<port> (the issuer)
//     "clients": [{ "client_id", "client_secret", "redirect_uris": [...],
//                   "token_endpoint_auth_method": "client_secret_basic" | "client_secret_post" }],
//     "accounts": { "<login>": { "password": "...", "claims": { "name", "preferred_username",
//                   "email", "groups": [...], "roles": [...] } } },
//     "claims_in_id_token": false,         true: profile claims in the ID token too (as Entra
//                                          or Keycloak do); false: only at the userinfo endpoint
//     "basic_refused_for": ["<client_id>"] } these clients' client_secret_basic is refused at the
//                                          token endpoint (401 invalid_client), as by providers
//                                          that hold each client to its registered method
// Its own small login page (data-testid hooks, nothing from another host) replaces the
// development views, whose stylesheet loads a web font from the internet. Consent is implied
// (a first-party client). PKCE is required of every client. Storage is in memory: each run
// starts clean, with a freshly generated signing key. It exits when its parent process dies.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import { parse as parseQuery } from 'node:querystring';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG || '{}');
const port = Number(config.port);
if (!Number.isInteger(port) || port <= 0) {
  console.error('OIDC_TEST_CONFIG must give a port');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const accounts = config.accounts || {};
const scopes = ['openid', 'profile', 'email'];

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

const provider = new Provider(issuer, {
  clients: config.clients || [],
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomUUID()] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'groups', 'roles'],
    email: ['email', 'email_verified'],
  },
  scopes,
  conformIdTokenClaims: !config.claims_in_id_token,
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const account = accounts[sub];
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...(account.claims || {}) }) };
  },
  // First-party clients: the grant is implied, so there is no consent page.
  async loadExistingGrant(ctx) {
    const clientId = ctx.oidc.client.clientId;
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(scopes.join(' '));
    await grant.save();
    return grant;
  },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Partnership identity provider: sign in</title></head><body>
<main><h1>Partnership identity provider</h1>
${error ? `<p role="alert" data-testid="idp-error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="login">Account</label>
<input id="login" name="login" autocomplete="username" required data-testid="idp-login">
<label for="password">Password</label>
<input id="password" name="password" type="password" required data-testid="idp-password">
<button type="submit" data-testid="idp-submit">Sign in</button>
</form></main></body></html>`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10000) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(parseQuery(body)));
    req.on('error', reject);
  });
}

function send(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // No form-action: Chromium applies it to the redirects after the post, and those end at
    // the suite (another origin), as they must.
    'content-security-policy': "default-src 'none'",
  });
  res.end(html);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid || details.prompt.name !== 'login') {
    send(res, 400, '<!doctype html><p>This sign-in cannot continue here.</p>');
    return;
  }
  if (req.method === 'GET' && !action) {
    send(res, 200, loginPage(uid));
    return;
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const account = accounts[form.login];
    if (!account || account.password !== form.password) {
      send(res, 401, loginPage(uid, 'That account and password do not match.'));
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: form.login } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  send(res, 405, '<!doctype html><p>Not here.</p>');
}

const basicRefused = new Set(config.basic_refused_for || []);

function basicClientId(req) {
  const [scheme, value] = (req.headers.authorization || '').split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !value) return undefined;
  const pair = Buffer.from(value, 'base64').toString('utf8');
  return decodeURIComponent(pair.slice(0, pair.indexOf(':')));
}

const handle = provider.callback();
const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/token' && basicRefused.has(basicClientId(req))) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'invalid_client', error_description: 'use client_secret_post' }));
    return;
  }
  const match = /^\/interaction\/([\w-]+)(?:\/(\w+))?$/.exec(req.url.split('?')[0]);
  if (!match) {
    handle(req, res);
    return;
  }
  interaction(req, res, match[1], match[2]).catch((err) => {
    console.error(err);
    if (!res.headersSent) send(res, 400, `<!doctype html><p>${escape(err.message)}</p>`);
  });
});

server.listen(port, '127.0.0.1', () => console.log(`oidc test provider at ${issuer}`));

// Never outlive the test run that started us.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
