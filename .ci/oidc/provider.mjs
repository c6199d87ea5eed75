// A real OpenID provider for the workspace tests: oidc-provider (OpenID
// certified) on 127.0.0.1, configured for what the tests exercise.
//
//   OIDC_PORT   port to listen on (0 or unset: a free one)
//   OIDC_KEYS   a JSON file {"keys": [private JWKs]} to sign with; unset: a
//               fresh RSA 2048 key and a fresh P-256 key, so a restart is a
//               key rotation
//   OIDC_ACCESS_TOKEN_TTL  lifetime of JWT access tokens in seconds
//               (default 300)
//   OIDC_LOGIN_REDIRECT_URIS  space-separated redirect URIs of the login
//               client todo-web (default http://127.0.0.1:1/auth/callback)
//   OIDC_LOGIN_POST_LOGOUT_URIS  space-separated post_logout_redirect_uris
//               of todo-web (default http://127.0.0.1:1/)
//   OIDC_TOKEN_EXCHANGE  "off": no RFC 8693 token exchange grant (and no
//               todo-api client); the discovery document then does not
//               list it
//
// Prints "oidc-provider listening on http://127.0.0.1:PORT" once it accepts
// connections. Clients:
//   service-a / service-a-secret         client_credentials, scope "todos:read"
//   api-gateway / api-gateway-secret     a resource server: introspects and
//                                        revokes (RFC 7662, RFC 7009)
//   todo-web / todo-web-secret           OpenID Connect login: authorization
//                                        code with PKCE (required), refresh
//                                        tokens, exact redirect URIs
//   other-web / other-web-secret         the same, a second login client
//   todo-api / todo-api-secret           RFC 8693 token exchange only: the
//                                        resource server https://api.test
//                                        calling downstream services on
//                                        behalf of its callers
// Logging in: the development interactions (devInteractions) at
// /interaction/:uid accept any login name and password (the account id is
// the login name); the consent form grants what the client asked for;
// /interaction/:uid/abort answers access_denied.
// Access tokens for the resource https://api.test (the default) are RS256
// JWTs (RFC 9068, typ at+jwt), 300 s (OIDC_ACCESS_TOKEN_TTL); for https://opaque.test they are
// opaque, checked by introspection.
// Token exchange (RFC 8693; oidc-provider has none built in, so it is a
// grant registered here, see token-exchange.mjs): todo-api exchanges an
// access token issued for https://api.test for a JWT access token for
// https://downstream.test (audience "downstream") or https://api.test,
// with the subject's `sub` and `act: {"sub": "todo-api"}`.
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';
import { TOKEN_EXCHANGE, actClaims, registerTokenExchange } from './token-exchange.mjs';

function freshKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const stamp = Date.now().toString(36);
  return [
    { ...rsa, kid: `rsa-${stamp}`, use: 'sig', alg: 'RS256' },
    { ...ec, kid: `ec-${stamp}`, use: 'sig', alg: 'ES256' },
  ];
}

const keys = process.env.OIDC_KEYS
  ? JSON.parse(readFileSync(process.env.OIDC_KEYS, 'utf8')).keys
  : freshKeys();

const accessTokenTTL = Number(process.env.OIDC_ACCESS_TOKEN_TTL || 300);
const list = (value, fallback) => (value || fallback).split(' ').filter(Boolean);
const loginRedirects = list(process.env.OIDC_LOGIN_REDIRECT_URIS, 'http://127.0.0.1:1/auth/callback');
const postLogout = list(process.env.OIDC_LOGIN_POST_LOGOUT_URIS, 'http://127.0.0.1:1/');
const loginClient = (id) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: loginRedirects,
  post_logout_redirect_uris: postLogout,
  token_endpoint_auth_method: 'client_secret_basic',
});

const tokenExchange = process.env.OIDC_TOKEN_EXCHANGE !== 'off';

const server = createServer();
server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    jwks: { keys },
    scopes: ['openid', 'email', 'todos:read', 'todos:write'],
    clients: [
      {
        client_id: 'service-a',
        client_secret: 'service-a-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'todos:read',
      },
      {
        client_id: 'api-gateway',
        client_secret: 'api-gateway-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      loginClient('todo-web'),
      loginClient('other-web'),
      ...(tokenExchange ? [{
        client_id: 'todo-api',
        client_secret: 'todo-api-secret',
        grant_types: [TOKEN_EXCHANGE],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      }] : []),
    ],
    // PKCE for every authorization code (RFC 9700 §2.1.1), S256 only (the
    // only method oidc-provider 9 offers).
    pkce: { required: () => true },
    // A refresh token for every login client, without offline_access.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // The `act` claim (RFC 8693 §4.1) of exchanged tokens; nothing else.
    extraTokenClaims: async (ctx, token) => actClaims(token),
    findAccount: (ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, email: `${id}@example.test`, email_verified: true }),
    }),
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      clientCredentials: { enabled: true },
      // The resource server (api-gateway) may introspect and revoke any
      // token; any other client only its own.
      introspection: {
        enabled: true,
        allowedPolicy: (ctx, client, token) => client.clientId === 'api-gateway' || token.clientId === client.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: (ctx, client, token) => client.clientId === 'api-gateway' || token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://api.test',
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => (resource === 'https://opaque.test'
          ? {
            scope: 'todos:read todos:write',
            audience: 'https://opaque.test',
            accessTokenFormat: 'opaque',
            accessTokenTTL: 300,
          }
          : {
            scope: 'todos:read todos:write',
            audience: 'https://api.test',
            accessTokenFormat: 'jwt',
            accessTokenTTL,
            jwt: { sign: { alg: 'RS256' } },
          }),
      },
    },
  });
  if (tokenExchange) {
    registerTokenExchange(provider, {
      // Which client may exchange tokens issued for which audience (the
      // resource server it is).
      exchangers: new Map([['todo-api', 'https://api.test']]),
      // What it may ask for: resource indicator -> resource server.
      targets: new Map([
        ['https://downstream.test', {
          audience: 'https://downstream.test',
          names: ['downstream'],
          scope: 'todos:read todos:write',
          accessTokenFormat: 'jwt',
          accessTokenTTL,
          jwt: { sign: { alg: 'RS256' } },
        }],
        ['https://api.test', {
          audience: 'https://api.test',
          names: ['api'],
          scope: 'todos:read todos:write',
          accessTokenFormat: 'jwt',
          accessTokenTTL,
          jwt: { sign: { alg: 'RS256' } },
        }],
      ]),
      keys,
    });
  }
  // The tests run over plain HTTP on loopback.
  provider.proxy = false;
  server.on('request', provider.callback());
  console.log(`oidc-provider listening on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
