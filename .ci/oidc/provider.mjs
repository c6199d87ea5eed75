// A real OpenID provider for the workspace tests: oidc-provider (OpenID
// certified) on 127.0.0.1, configured for what the tests exercise.
//
//   OIDC_PORT   port to listen on (0 or unset: a free one)
//   OIDC_KEYS   a JSON file {"keys": [private JWKs]} to sign with; unset: a
//               fresh RSA 2048 key and a fresh P-256 key, so a restart is a
//               key rotation
//
// Prints "oidc-provider listening on http://127.0.0.1:PORT" once it accepts
// connections. Clients:
//   service-a / service-a-secret   client_credentials, scope "todos:read"
// Access tokens for the resource https://api.test are RS256 JWTs
// (RFC 9068, typ at+jwt), 300 s.
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
    ],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://api.test',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'todos:read todos:write',
          audience: 'https://api.test',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
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
