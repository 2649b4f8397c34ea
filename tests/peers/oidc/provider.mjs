// A real, certified OpenID Provider (npm `oidc-provider`) for the identity tests: it issues
// RS256 JWT access tokens for the client_credentials grant, with Azure-style `tid` and
// `groups` claims, so Portcullis is proven to validate tokens it did not mint itself.
//
// Usage: node tests/peers/oidc/provider.mjs PORT   (PORT 0 picks a free port)
// Prints one line `listening <issuer>` on stdout once it serves.
// Settings from the environment (defaults in brackets):
//   OIDC_CLIENT_ID [portcullis-agent]  OIDC_CLIENT_SECRET [portcullis-agent-secret]
//   OIDC_AUDIENCE [api://portcullis]   OIDC_TENANT [11111111-2222-3333-4444-555555555555]
//   OIDC_GROUPS [comma list, empty]    OIDC_KID [portcullis-oidc-key]
// The signing key is generated at every start under the same kid, as PEERS.md describes.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const port = Number(process.argv[2] ?? 0);
const clientId = env('OIDC_CLIENT_ID', 'portcullis-agent');
const clientSecret = env('OIDC_CLIENT_SECRET', 'portcullis-agent-secret');
const audience = env('OIDC_AUDIENCE', 'api://portcullis');
const tenant = env('OIDC_TENANT', '11111111-2222-3333-4444-555555555555');
const groups = env('OIDC_GROUPS', '').split(',').filter(Boolean);
const kid = env('OIDC_KID', 'portcullis-oidc-key');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };

const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'api:read api:write',
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    scopes: ['api:read', 'api:write'],
    jwks: { keys: [jwk] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: 'api:read api:write',
          audience,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    extraTokenClaims: async () => ({ tid: tenant, groups }),
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
  server.on('request', provider.callback());
  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
