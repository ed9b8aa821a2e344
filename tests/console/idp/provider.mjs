// The identity provider of the console's sign-in test: panva's oidc-provider (an OpenID Certified
// implementation from the npm registry) with its built-in development login form, where any login
// and password sign in as that login. Nothing here is Bindery's: it is the provider a real
// deployment would run, configured with one client, the console, which must use PKCE.
//
//   node provider.mjs <port> <console redirect URI> <client id>
import Provider from 'oidc-provider';

const [port, redirectUri, clientId] = process.argv.slice(2);
if (!port || !redirectUri || !clientId) {
  console.error('usage: node provider.mjs <port> <redirect uri> <client id>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    token_endpoint_auth_method: 'none', // a public client: the verifier, not a secret, proves it
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  pkce: { required: () => true },
  // Everyone who signs in belongs to one group, so the test can grant through `group:` too.
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, groups: ['fraud-reviewers'] }),
  }),
  claims: { openid: ['sub', 'groups'] },
  // Put the scope's claims in the ID token, which is what the console hands to the registry.
  conformIdTokenClaims: false,
  cookies: { keys: ['bindery-console-test-only'] },
});
provider.listen(Number(port), '127.0.0.1', () => console.log(`identity provider ready at ${issuer}`));
