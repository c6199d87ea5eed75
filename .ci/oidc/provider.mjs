// A real OpenID provider for the workspace tests: oidc-provider (OpenID
// certified) on 127.0.0.1, configured for what the tests exercise.
//
//   OIDC_PORT   port to listen on (0 or unset: a free one)
//   OIDC_KEYS   a JSON file {"keys": [private JWKs]} to sign with; unset: a
//               fresh RSA 2048 key and a fresh P-256 key, so a restart is a
//               key rotation
//   OIDC_ACCESS_TOKEN_TTL  lifetime of JWT access tokens in seconds
//               (default 300)
//
// Prints "oidc-provider listening on http://127.0.0.1:PORT" once it accepts
// connections. Clients:
//   service-a / service-a-secret         client_credentials, scope "todos:read"
//   api-gateway / api-gateway-secret     a resource server: introspects and
//                                        revokes (RFC 7662, RFC 7009)
// Access tokens for the resource https://api.test (the default) are RS256
// JWTs (RFC 9068, typ at+jwt), 300 s (OIDC_ACCESS_TOKEN_TTL); for https://opaque.test they are
// opaque, checked by introspection.
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

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

const server = createServer();
server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    jwks: { keys },
    scopes: ['openid', 'todos:read', 'todos:write'],
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
    ],
    features: {
      devInteractions: { enabled: false },
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
  // The tests run over plain HTTP on loopback.
  provider.proxy = false;
  server.on('request', provider.callback());
  console.log(`oidc-provider listening on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
