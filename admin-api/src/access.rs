//! Who may call the admin API: a caller whose token carries `admin: true`.

use auth::{AuthUser, Verifier};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use http_api::ApiError;

/// An authenticated caller with the `admin` claim.
///
/// Rejects with `401` (an `auth.*` code, as [`AuthUser`] does) without a valid token, and
/// with `403 auth.not_admin` when the token is valid but not an admin's. Handlers take it
/// first, so a caller who may not use the API learns nothing from the validation of the
/// rest of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(pub AuthUser);

impl Admin {
    /// The admin's user id (the token's `sub`), for the log of what admins did.
    pub fn user_id(&self) -> &str {
        &self.0.user_id
    }
}

impl<S> FromRequestParts<S> for Admin
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = AuthUser::from_request_parts(parts, state).await?;
        if !caller.admin {
            return Err(ApiError::forbidden(
                "auth.not_admin",
                "the admin API needs a token with the admin claim",
            ));
        }
        Ok(Self(caller))
    }
}
