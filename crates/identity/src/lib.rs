//! OIDC token validation, JWKS cache, principals, grant-token signing.
