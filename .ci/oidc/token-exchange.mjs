// OAuth 2.0 Token Exchange (RFC 8693) for oidc-provider, which has no such
// grant built in but lets an application register one
// (`provider.registerGrantType`). Issues the provider's own AccessToken
// model, so the result is an RS256 JWT access token (RFC 9068, typ at+jwt)
// signed with the provider's keys and listed by its JWK Set, exactly like
// the tokens of its built-in grants.
//
// Rules (what the workspace tests exercise):
// - only a client with the grant in its `grant_types` may call it (others:
//   `unauthorized_client`; a wrong secret: `invalid_client`, as for every
//   grant);
// - `subject_token_type` is `access_token` or `jwt`; the subject token is
//   one this provider issued (a JWT verified with the provider's keys and
//   `iss`, typ at+jwt; or an opaque token found in its store), not
//   expired, with a non-empty `sub`, issued for the audience the
//   exchanging client serves (`exchangers`); anything else is
//   `invalid_request` (RFC 8693 §2.2.2);
// - an optional `actor_token` (with `actor_token_type`) is checked the same
//   way, except for the audience: its `sub` becomes the actor;
// - exactly one target, named by `resource` (an absolute URI) and/or
//   `audience` (the resource URI or one of its logical names); unknown,
//   several, or resource and audience naming different targets:
//   `invalid_target`;
// - `scope`, when given, must be within both the subject token's scope and
//   the target's (`invalid_scope`); absent, the token keeps the subject
//   token's scope within the target's;
// - `requested_token_type`, when given, is `access_token` or `jwt`
//   (`invalid_request` otherwise); `issued_token_type` echoes it
//   (`access_token` by default);
// - the issued token has the subject's `sub` and `act: {"sub": <actor>}`
//   (RFC 8693 §4.1): the actor is the actor token's `sub`, or the
//   exchanging client; an `act` already in the subject token is kept
//   nested inside the new one (delegation chains).
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { errors } from 'oidc-provider';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TYPE = 'urn:ietf:params:oauth:token-type:';
const ACCESS_TOKEN = `${TYPE}access_token`;
const JWT = `${TYPE}jwt`;

const { InvalidRequest, InvalidScope, InvalidTarget } = errors;

// Exchanged tokens -> their `act` claim, read by `extraTokenClaims` when
// the token is signed.
const acts = new WeakMap();

/** The `act` claim of `token` if this grant issued it, for `extraTokenClaims`. */
export function actClaims(token) {
  const act = acts.get(token);
  return act ? { act } : undefined;
}

function decodeSegment(segment, what) {
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error();
    return value;
  } catch {
    throw new InvalidRequest(`${what} is not a JWT issued by this provider`);
  }
}

function audiences(aud) {
  if (Array.isArray(aud)) return aud;
  return aud === undefined ? [] : [aud];
}

/**
 * Registers the grant on `provider`.
 *
 * @param provider   the oidc-provider instance
 * @param exchangers Map client id -> the audience that client serves: it
 *                   may exchange tokens issued for that audience only
 * @param targets    Map resource URI -> { audience, names, scope,
 *                   accessTokenFormat, accessTokenTTL, jwt }
 * @param keys       the provider's private JWKs (their public halves
 *                   verify subject tokens)
 */
export function registerTokenExchange(provider, { exchangers, targets, keys }) {
  const publicKeys = new Map(keys.map((jwk) => [jwk.kid, {
    alg: jwk.alg,
    key: createPublicKey({ key: jwk, format: 'jwk' }),
  }]));

  // A JWT this provider signed, not expired: its header and payload.
  function verifyJwt(token, what) {
    const parts = token.split('.');
    if (parts.length !== 3) {
      throw new InvalidRequest(`${what} is not a JWT issued by this provider`);
    }
    const header = decodeSegment(parts[0], what);
    const payload = decodeSegment(parts[1], what);
    const entry = publicKeys.get(header.kid);
    if (!entry || header.alg !== entry.alg) {
      throw new InvalidRequest(`${what} is not signed by this provider`);
    }
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2], 'base64url');
    const key = entry.alg.startsWith('ES') ? { key: entry.key, dsaEncoding: 'ieee-p1363' } : entry.key;
    if (!verifySignature('sha256', data, key, signature)) {
      throw new InvalidRequest(`${what} is not signed by this provider`);
    }
    if (payload.iss !== provider.issuer) {
      throw new InvalidRequest(`${what} was issued by another issuer`);
    }
    if (typeof payload.exp !== 'number' || payload.exp <= Math.floor(Date.now() / 1000)) {
      throw new InvalidRequest(`${what} is expired`);
    }
    return { header, payload };
  }

  // { sub, aud: [..], scope: Set, act } of a token this provider issued.
  async function principal(token, type, what) {
    if (typeof token !== 'string' || token === '') {
      throw new InvalidRequest(`missing required parameter '${what}'`);
    }
    if (type !== ACCESS_TOKEN && type !== JWT) {
      throw new InvalidRequest(`${what}_type is not supported: use ${ACCESS_TOKEN} or ${JWT}`);
    }
    if (token.includes('.')) {
      const { header, payload } = verifyJwt(token, what);
      if (header.typ !== 'at+jwt') {
        throw new InvalidRequest(`${what} is not an access token (typ at+jwt)`);
      }
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        throw new InvalidRequest(`${what} has no subject`);
      }
      return {
        sub: payload.sub,
        aud: audiences(payload.aud),
        scope: new Set((payload.scope || '').split(' ').filter(Boolean)),
        act: payload.act,
      };
    }
    if (type === JWT) {
      throw new InvalidRequest(`${what} is not a JWT`);
    }
    const stored = await provider.AccessToken.find(token) || await provider.ClientCredentials.find(token);
    if (!stored || stored.isExpired) {
      throw new InvalidRequest(`${what} is not an active access token issued by this provider`);
    }
    return {
      sub: stored.accountId || stored.clientId,
      aud: audiences(stored.aud),
      scope: stored.scopes,
      act: undefined,
    };
  }

  function target(params) {
    const list = (v) => (v === undefined ? [] : [].concat(v));
    const resources = list(params.resource);
    const names = list(params.audience);
    if (resources.length + names.length === 0) {
      throw new InvalidTarget('a resource or an audience is required');
    }
    const found = new Set();
    for (const resource of resources) {
      if (!targets.has(resource)) throw new InvalidTarget('unknown resource');
      found.add(resource);
    }
    for (const name of names) {
      const match = [...targets].find(([id, t]) => id === name || t.audience === name || t.names.includes(name));
      if (!match) throw new InvalidTarget('unknown audience');
      found.add(match[0]);
    }
    if (found.size !== 1) {
      throw new InvalidTarget('exactly one target (resource and audience naming the same) is supported');
    }
    const [identifier] = found;
    const { names: _names, ...info } = targets.get(identifier);
    return new provider.ResourceServer(identifier, info);
  }

  async function tokenExchange(ctx) {
    const { client, params } = ctx.oidc;
    const exchangerAudience = exchangers.get(client.clientId);
    if (!exchangerAudience) {
      throw new errors.UnauthorizedClient('this client may not exchange tokens');
    }

    const subject = await principal(params.subject_token, params.subject_token_type, 'subject_token');
    if (!subject.aud.includes(exchangerAudience)) {
      throw new InvalidRequest('subject_token was not issued for this client');
    }

    let actor = client.clientId;
    if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
      if (params.actor_token === undefined || params.actor_token_type === undefined) {
        throw new InvalidRequest('actor_token and actor_token_type go together');
      }
      actor = (await principal(params.actor_token, params.actor_token_type, 'actor_token')).sub;
    }

    const requested = params.requested_token_type;
    if (requested !== undefined && requested !== ACCESS_TOKEN && requested !== JWT) {
      throw new InvalidRequest(`requested_token_type is not supported: use ${ACCESS_TOKEN} or ${JWT}`);
    }

    const resourceServer = target(params);
    const allowed = resourceServer.scopes;
    let scopes;
    if (params.scope !== undefined) {
      scopes = params.scope.split(' ').filter(Boolean);
      const outside = scopes.filter((s) => !subject.scope.has(s) || !allowed.has(s));
      if (outside.length) {
        throw new InvalidScope('requested scope is not within the subject token\'s scope for this target');
      }
    } else {
      scopes = [...subject.scope].filter((s) => allowed.has(s));
    }

    const token = new provider.AccessToken({
      accountId: subject.sub,
      client,
      gty: 'token_exchange',
      scope: scopes.join(' ') || undefined,
    });
    token.resourceServer = resourceServer;
    acts.set(token, subject.act ? { sub: actor, act: subject.act } : { sub: actor });

    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      issued_token_type: requested || ACCESS_TOKEN,
      token_type: token.tokenType,
      expires_in: token.expiration,
      ...(token.scope ? { scope: token.scope } : undefined),
    };
  }

  provider.registerGrantType(
    TOKEN_EXCHANGE,
    tokenExchange,
    ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type',
      'requested_token_type', 'resource', 'audience', 'scope'],
    ['resource', 'audience'],
  );

  // oidc-provider answers `invalid_request` to a client asking for a grant
  // type its registration does not list; RFC 6749 §5.2 (and RFC 8693
  // through it) says `unauthorized_client`.
  provider.use(async (ctx, next) => {
    await next();
    if (
      ctx.path === '/token'
      && ctx.status === 400
      && ctx.body?.error === 'invalid_request'
      && ctx.body.error_description === 'requested grant type is not allowed for this client'
      && ctx.oidc?.params?.grant_type === TOKEN_EXCHANGE
    ) {
      ctx.body = { ...ctx.body, error: 'unauthorized_client' };
    }
  });
}
