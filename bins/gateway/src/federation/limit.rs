//! The rate limit of the federation verbs, as a tower layer between the auth
//! layer and the verbs: it reads the [`FederationContext`] the auth layer set
//! and counts the request against its grant's budget
//! ([`mosaic_federation::limit`]). Over budget, the verb does not run: 429
//! `rate_limited`, the message naming the grant's limit and the wait, details
//! `{"retryAfterSeconds", "requestsPerMinute", "burst"}` and `Retry-After` in
//! whole seconds.
//!
//! Without limiters in the state (a state built without
//! [`AppState::with_rate_limits`]) requests pass uncounted.

use crate::error::ApiError;
use crate::http::AppState;
use axum::extract::Request;
use axum::response::{IntoResponse as _, Response};
use mosaic_federation::limit::GrantLimiters;
use mosaic_scope::FederationContext;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Counts each authenticated request against its grant's budget.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiters: Option<Arc<GrantLimiters>>,
}

impl RateLimitLayer {
    /// The layer over the state's limiters (none: nothing is limited).
    pub fn new(state: &AppState) -> Self {
        Self {
            limiters: state.rate_limits().cloned(),
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            limiters: self.limiters.clone(),
        }
    }
}

/// See [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    limiters: Option<Arc<GrantLimiters>>,
}

impl<S> Service<Request> for RateLimit<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> BoxFuture {
        // No context means the auth layer did not accept the request; the
        // verb refuses it without one.
        let limited = match (
            &self.limiters,
            request.extensions().get::<FederationContext>(),
        ) {
            (Some(limiters), Some(ctx)) => limiters.check(ctx).err(),
            _ => None,
        };
        if let Some(limited) = limited {
            // Debug: a peer over its budget may send many; a line each at info
            // would flood the log.
            tracing::debug!(
                grant = %limited.grant_id,
                retry_after_secs = limited.retry_after_secs(),
                "federation request over its grant's rate limit"
            );
            let response = ApiError::from(limited.envelope())
                .with_retry_after(Duration::from_secs(limited.retry_after_secs()))
                .into_response();
            return Box::pin(std::future::ready(Ok(response)));
        }
        Box::pin(self.inner.call(request))
    }
}
