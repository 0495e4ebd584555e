// A real OpenID provider (panva's certified `oidc-provider`, pinned in package.json) for
// mlguard's SSO end-to-end tests. Test-only: plain HTTP, in-memory state, test-control
// endpoints anyone can call.
//
//   node tests/oidc/provider.mjs CONFIG.json [PORT]      (PORT also from $OIDC_PROVIDER_PORT)
//
// Issuer http://127.0.0.1:PORT; discovery at /.well-known/openid-configuration (authorize
// /auth, token /token, JWKS /jwks, userinfo /me, end_session /session/end).
//
// CONFIG.json (every key optional except the ones a test uses):
//   { "web_client": { "client_id", "client_secret", "redirect_uris": [..],
//                     "post_logout_redirect_uris": [..],
//                     "token_endpoint_auth_method": "client_secret_basic" | "client_secret_post" },
//     "machine_clients": [ { "client_id", "client_secret", "groups": [..], "username": ".." } ],
//     "users": { "alice": { "password", "groups": [..], "email", "name" } },
//     "audiences": ["mlguard"],            // the first one is the default resource server
//     "username_claim": "preferred_username",  // in access tokens
//     "access_token_ttl": 600, "id_token_ttl": 3600 }
//
// Authorization code flow (PKCE S256 is required):
//   GET /auth?response_type=code&client_id=..&redirect_uri=..&scope=openid profile email groups
//            &state=..&nonce=..&code_challenge=..&code_challenge_method=S256
//   The login page is a form: input[name=login], input[name=password], button[type=submit]
//   (id="submit"). A wrong password shows the form again with #error. Consent is granted
//   automatically. Then POST /token grant_type=authorization_code&code=..&redirect_uri=..
//   &code_verifier=.. with the client's secret (HTTP Basic, or client_id+client_secret in the
//   body: oidc-provider 9 accepts either whatever the registered method). The ID token has
//   sub (= username), preferred_username, name, email, email_verified, groups, nonce.
//   The redirect carries code, state and iss (RFC 9207). The access token is opaque (for
//   /me) unless `resource` is sent to both /auth and /token: then a JWT like the one below,
//   with sub = username. HTTP Basic credentials are form-urlencoded before base64 (RFC
//   6749 2.3.1): oidc-provider decodes them, so a '+' or '%' in a secret must be encoded.
//
// Logout: GET /session/end?id_token_hint=..&post_logout_redirect_uri=..&state=.. (client_id
//   may replace id_token_hint). The confirmation page submits itself (no JavaScript: POST
//   its form with logout=yes), then 303 to post_logout_redirect_uri?state=..
//
// Client credentials (JWT access token, RS256, typ at+jwt):
//   POST /token grant_type=client_credentials[&resource=urn:mlguard]   + HTTP Basic auth
//   `resource` must be an absolute URI (RFC 8707): audience A is requested as A itself when
//   it has a colon, else as "urn:A"; without `resource` the first audience is used.
//   Claims: iss, sub (= client_id), aud (= A), exp, iat, jti, client_id, groups, and the
//   username claim (= the client's "username", else its client_id).
//
// Test control (JSON):
//   GET  /__test/health                        -> {"ok": true, "issuer", "kids"}
//   POST /__test/users/<name>/groups {"groups": [..]}  user or machine client; later tokens
//   POST /__test/rotate-keys {"drop_old": false}  -> {"kid": new, "kids": all}; new key first
//
// Logs one line per request (method, path, status: no query strings, bodies or tokens).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const [configPath, portArg] = process.argv.slice(2);
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json [PORT]');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const port = Number(portArg || process.env.OIDC_PROVIDER_PORT || config.port || 0);
if (!Number.isInteger(port) || port <= 0) {
  console.error('a port is needed (argument, $OIDC_PROVIDER_PORT or "port" in the config)');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

// Mutable at run time through /__test/: groups of users and machine clients.
const users = config.users || {};
const machines = Object.fromEntries((config.machine_clients || []).map((m) => [m.client_id, m]));
const audiences = config.audiences || ['mlguard'];
const usernameClaim = config.username_claim || 'preferred_username';
const resourceFor = (audience) => (audience.includes(':') ? audience : `urn:${audience}`);
const audienceByResource = Object.fromEntries(audiences.map((a) => [resourceFor(a), a]));

const log = (...parts) => console.log(new Date().toISOString(), ...parts);
const html = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// -- keys --------------------------------------------------------------------------------

let keySerial = 0;
function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  keySerial += 1;
  const kid = `key-${keySerial}-${randomBytes(4).toString('hex')}`;
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}
let keys = [newSigningKey()];

// -- clients -----------------------------------------------------------------------------

const clients = [];
if (config.web_client) {
  const c = config.web_client;
  clients.push({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris || [],
    grant_types: c.grant_types || ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: c.token_endpoint_auth_method || 'client_secret_basic',
  });
}
for (const m of Object.values(machines)) {
  clients.push({
    client_id: m.client_id,
    client_secret: m.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: m.token_endpoint_auth_method || 'client_secret_basic',
  });
}

// -- provider configuration ---------------------------------------------------------------

const configuration = {
  clients,
  // Signs the provider's cookies; the same across key rotations (see build()).
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // Scope-requested claims go in the ID token too, not only to the userinfo endpoint.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: user.name ?? id,
          email: user.email ?? `${id}@example.test`,
          email_verified: true,
          groups: user.groups ?? [],
        };
      },
    };
  },
  // No consent page: grant whatever the request asks for (OIDC scopes, claims, and the
  // scopes of requested resource servers) to the existing or a new grant.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    const grant = (grantId && await oidc.provider.Grant.find(grantId))
      || new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    grant.addOIDCClaims([...oidc.requestParamClaims]);
    for (const [indicator, rs] of Object.entries(oidc.resourceServers)) {
      grant.addResourceScope(indicator, [...oidc.requestParamScopes].filter((s) => rs.scopes.has(s)).join(' '));
    }
    await grant.save();
    return grant;
  },
  // Groups and the username go into JWT access tokens (client credentials, or a code flow
  // that asked for a resource).
  async extraTokenClaims(ctx, token) {
    if (token.accountId) {
      return { [usernameClaim]: token.accountId, groups: users[token.accountId]?.groups ?? [] };
    }
    const m = machines[token.clientId];
    if (m) return { [usernameClaim]: m.username || m.client_id, groups: m.groups ?? [] };
    return undefined;
  },
  features: {
    devInteractions: { enabled: false }, // its login accepts any password; ours checks it
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        return machines[client.clientId] ? resourceFor(audiences[0]) : undefined;
      },
      async getResourceServerInfo(ctx, resourceIndicator) {
        const audience = audienceByResource[resourceIndicator];
        if (!audience) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        return {
          scope: '',
          audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: config.access_token_ttl || 600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
    rpInitiatedLogout: {
      enabled: true,
      // Confirms the logout by itself (a browser test has nothing to click); without
      // JavaScript, submit the form with button[name=logout][value=yes].
      async logoutSource(ctx, form) {
        ctx.body = `<!DOCTYPE html><html><head><title>Sign out</title></head><body>
          ${form.replace('</form>', '<input type="hidden" name="logout" value="yes"></form>')}
          <button type="submit" form="op.logoutForm" name="logout" value="yes" id="logout">Sign out</button>
          <script>document.getElementById('op.logoutForm').submit()</script></body></html>`;
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = '<!DOCTYPE html><html><head><title>Signed out</title></head><body><p id="signed-out">Signed out</p></body></html>';
      },
    },
  },
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 knows
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: config.access_token_ttl || 600,
    ClientCredentials: config.access_token_ttl || 600,
    AuthorizationCode: 60,
    IdToken: config.id_token_ttl || 3600,
    RefreshToken: 86400,
    Interaction: 600,
    Session: 86400,
    Grant: 86400,
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><title>Error</title></head><body><pre id="error">${html(JSON.stringify(out, null, 2))}</pre></body></html>`;
  },
};

// A Provider's keystore is fixed at construction, so a key rotation builds a new one. Its
// state (sessions, grants, codes, tokens) lives in oidc-provider's module-level memory
// adapter, which all instances share, and the cookie keys stay the same.
let current;
function build() {
  const provider = new Provider(issuer, { ...configuration, jwks: { keys } });
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'end_session.error']) {
    provider.on(event, (ctx, err) => log(`${event}:`, err.name, err.message, err.error_description || ''));
  }
  provider.on('grant.success', (ctx) => log('grant.success:', ctx.oidc.params.grant_type, ctx.oidc.client?.clientId));
  current = { provider, handle: provider.callback() };
}
build();

// -- login page (our own interactions) -------------------------------------------------

function loginPage(uid, message = '', login = '') {
  return `<!DOCTYPE html><html><head><title>Sign in</title></head><body>
    <h1>Sign in</h1>
    ${message ? `<p id="error">${html(message)}</p>` : ''}
    <form method="post" action="/interaction/${html(uid)}/login" id="login-form">
      <input type="text" name="login" id="login" value="${html(login)}" autofocus>
      <input type="password" name="password" id="password">
      <button type="submit" id="submit">Sign in</button>
    </form></body></html>`;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, body, type = 'application/json') {
  res.statusCode = status;
  res.setHeader('Content-Type', `${type}; charset=utf-8`);
  res.setHeader('Cache-Control', 'no-store');
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}

async function interaction(req, res, path) {
  const { provider } = current;
  const [, uid, action] = path.match(/^\/interaction\/([^/]+)(?:\/(login))?$/) || [];
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'interaction mismatch', 'text/plain');

  if (details.prompt.name === 'consent') {
    // loadExistingGrant grants everything, so this is only a fallback.
    const grant = details.grantId ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const result = { consent: { grantId: await grant.save() } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }
  if (details.prompt.name !== 'login') return send(res, 501, `prompt ${details.prompt.name}`, 'text/plain');

  if (req.method === 'GET' && !action) return send(res, 200, loginPage(uid), 'text/html');
  if (req.method !== 'POST' || action !== 'login') return send(res, 405, 'method not allowed', 'text/plain');

  const form = new URLSearchParams(await readBody(req));
  const login = form.get('login') || '';
  const user = Object.hasOwn(users, login) ? users[login] : undefined;
  if (!user || user.password !== form.get('password')) {
    log('login rejected:', login);
    return send(res, 200, loginPage(uid, 'Invalid username or password', login), 'text/html');
  }
  log('login:', login);
  return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
}

// -- test control ------------------------------------------------------------------------

async function testControl(req, res, path) {
  const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : {};
  if (req.method === 'GET' && path === '/__test/health') {
    return send(res, 200, { ok: true, issuer, kids: keys.map((k) => k.kid) });
  }
  const groups = path.match(/^\/__test\/users\/([^/]+)\/groups$/);
  if (req.method === 'POST' && groups) {
    const name = decodeURIComponent(groups[1]);
    const target = (Object.hasOwn(users, name) && users[name]) || (Object.hasOwn(machines, name) && machines[name]);
    if (!target) return send(res, 404, { error: `no user or machine client ${name}` });
    if (!Array.isArray(body.groups)) return send(res, 400, { error: 'groups must be a list' });
    target.groups = body.groups;
    log('groups set:', name, JSON.stringify(body.groups));
    return send(res, 200, { name, groups: body.groups });
  }
  if (req.method === 'POST' && path === '/__test/rotate-keys') {
    const key = newSigningKey();
    keys = body.drop_old ? [key] : [key, ...keys];
    build();
    log('keys rotated:', keys.map((k) => k.kid).join(' '));
    return send(res, 200, { kid: key.kid, kids: keys.map((k) => k.kid) });
  }
  return send(res, 404, { error: 'not found' });
}

// -- server ------------------------------------------------------------------------------

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  res.on('finish', () => log(req.method, path, res.statusCode));
  try {
    if (path.startsWith('/__test/')) return await testControl(req, res, path);
    if (path.startsWith('/interaction/')) return await interaction(req, res, path);
    return current.handle(req, res);
  } catch (err) {
    log('error:', path, err.name, err.message);
    if (!res.headersSent) send(res, err.statusCode || 500, { error: err.name, error_description: err.message });
  }
});

server.listen(port, '127.0.0.1', () => log(`oidc provider listening, issuer ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
