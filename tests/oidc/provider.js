// The OpenID provider of docflow's sign-in tests: npm's oidc-provider (a certified
// implementation), with one client and the users below, on a free loopback port.
//
//   node provider.js --redirect URI --post-logout URI [--tamper aud|exp|nonce] [--port N]
//
// Prints one JSON line, {"issuer": "http://127.0.0.1:PORT"}, once it listens; stops when
// its standard input closes (the test that started it ended) or on SIGTERM.
//
// The packages come from DOCFLOW_OIDC_MODULES (a node_modules folder installed with `npm
// ci --ignore-scripts` from this folder's package-lock.json, outside the repository).
//
// Each start draws a new signing key: a provider started again on the same `--port` (0, a
// free one, by default) is the same issuer with rotated keys.
//
// `--tamper` makes every ID token the token endpoint returns wrong in one way, signed again
// with the provider's own key, so that only the check under test can refuse it:
// - aud: issued for another client;
// - exp: expired an hour ago;
// - nonce: for another sign-in;
// - sig: signed with another key (under the provider's key id).
//
// Logins (any password): see USERS. The dev login page of oidc-provider is the real one
// a person fills in; consent is granted without asking (docflow is a first-party client).

import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.DOCFLOW_OIDC_MODULES;
if (!modules) {
  console.error('DOCFLOW_OIDC_MODULES: the node_modules folder of tests/oidc/package-lock.json');
  process.exit(2);
}
const resolve = createRequire(path.join(modules, 'package.json')).resolve;
const load = async (name) => import(pathToFileURL(resolve(name)).href);
const { default: Provider } = await load('oidc-provider');
const jose = await load('jose');

/** The users: the login is the subject. */
export const USERS = {
  ada: {
    name: 'Ada Lovelace',
    preferred_username: 'ada',
    email: 'ada@school.example',
    groups: ['staff', 'docflow-evaluators'],
  },
  // A user name with a '/' (some directories have them): it must not become a folder.
  'maths/bob': {
    name: 'Bob Teacher',
    preferred_username: 'maths/bob',
    email: 'bob@school.example',
    groups: ['staff', 'docflow-teachers'],
  },
  // Signs in at the provider, but no group gives a docflow role.
  nora: { name: 'Nora Norole', preferred_username: 'nora', email: 'nora@school.example', groups: ['students'] },
};

const args = process.argv.slice(2);
const option = (name) => {
  const values = [];
  args.forEach((arg, i) => arg === `--${name}` && values.push(args[i + 1]));
  return values;
};
const redirects = option('redirect');
const postLogout = option('post-logout');
const [tamper] = option('tamper');
const [port] = option('port');
if (redirects.length === 0) {
  console.error('--redirect URI: docflow\'s /ui/oidc/callback');
  process.exit(2);
}

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

const server = http.createServer();
await new Promise((ready) => server.listen(Number(port ?? 0), '127.0.0.1', ready));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'docflow',
      client_secret: 'docflow-test-secret',
      redirect_uris: redirects,
      post_logout_redirect_uris: postLogout,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: ['docflow test provider cookie key'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // The claims of the scopes go into the ID token too (what docflow reads), as Keycloak's
  // and Authentik's mappers can be told to.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(_ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, email_verified: true, ...user }) };
  },
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});

provider.use(async (ctx, next) => {
  await next();
  if (!tamper || ctx.path !== '/token' || typeof ctx.body?.id_token !== 'string') return;
  const claims = jose.decodeJwt(ctx.body.id_token);
  const now = Math.floor(Date.now() / 1000);
  if (tamper === 'aud') claims.aud = 'another-client';
  else if (tamper === 'exp') Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  else if (tamper === 'nonce') claims.nonce = 'a-nonce-of-another-sign-in';
  else if (tamper !== 'sig') throw new Error(`--tamper ${tamper}: aud, exp, nonce or sig`);
  const key = tamper === 'sig' ? (await jose.generateKeyPair('RS256')).privateKey : privateKey;
  ctx.body = {
    ...ctx.body,
    id_token: await new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid }).sign(key),
  };
});

server.on('request', provider.callback());
// A test that stopped reading must not stop the provider.
process.stdout.on('error', () => {});
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
