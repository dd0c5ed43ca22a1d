//! The gates between routing and the handlers, as services of their own (a `from_fn`
//! middleware costs a boxed service clone and a boxed future per request; see
//! [`crate::edge`]), sharing the caller's one verification:
//!
//! - the admin gate, around every route: every path under /api/v1/admin, known or not, needs
//!   an admin (401 without a valid token, 403 for anyone else) before the router's 404 or 405
//!   is shown;
//! - the limit gate, around each API route's methods (so a 405 is not counted): the request
//!   counts against the caller (the user when a valid token is presented on an ordinary
//!   route; the client IP on login, register and refresh, and for anonymous requests), and
//!   its answer carries the `RateLimit-*` headers.

use crate::error::ApiError;
use crate::extract::{bearer_token, client_ip};
use crate::ratelimit::{no_connect_info, route_class, route_key, write_headers};
use crate::routes::admin::is_admin_path;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use delegate_core::admin::{Actor, AdminService};
use delegate_core::ratelimit::{RateClient, RouteClass};
use delegate_core::{AuthContext, Delegate, ErrorKind};
use futures::future::{BoxFuture, Either};
use std::convert::Infallible;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Headers an answer may gain past the gate: 3 rate-limit, up to 3 CORS, and the edge's 7.
const ANSWER_HEADERS: usize = 13;

/// Which gate (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Admin,
    Limit,
}

/// Puts a [`Gate`] in front of each route.
#[derive(Clone)]
pub(crate) struct GateLayer {
    delegate: Delegate,
    kind: Kind,
}

impl GateLayer {
    /// The admin gate, for every route (`Router::layer`).
    pub(crate) fn admin(delegate: Delegate) -> Self {
        Self {
            delegate,
            kind: Kind::Admin,
        }
    }

    /// The limit gate, for the API's routes (`Router::route_layer`).
    pub(crate) fn limit(delegate: Delegate) -> Self {
        Self {
            delegate,
            kind: Kind::Limit,
        }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            delegate: self.delegate.clone(),
            kind: self.kind,
            inner,
        }
    }
}

/// See the module docs.
#[derive(Clone)]
pub(crate) struct Gate<S> {
    delegate: Delegate,
    kind: Kind,
    inner: S,
}

impl<S> Service<Request> for Gate<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let (admin, limited) = match self.kind {
            Kind::Admin => (is_admin_path(req.uri().path()), false),
            Kind::Limit => (false, true),
        };
        if !admin && !limited {
            return Either::Left(self.inner.call(req));
        }
        // The service made ready goes with the request; its clone stays for the next one.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let delegate = self.delegate.clone();
        Either::Right(Box::pin(async move {
            Ok(pass(&delegate, admin, limited, req, inner).await)
        }))
    }
}

/// The gate's answer for one admin or rate-limited request: a refusal, or the inner service's
/// response with the rate-limit headers.
async fn pass<S>(
    delegate: &Delegate,
    admin: bool,
    limited: bool,
    req: Request,
    mut inner: S,
) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let (mut parts, body) = req.into_parts();
    let caller = match verify(delegate, admin, limited, &parts).await {
        Ok(caller) => caller,
        Err(refusal) => return refusal.into_response(),
    };
    let decision = if limited {
        let class = route_class(&parts);
        // The IP only when the request counts against it (a handler needing it resolves it
        // again from the same headers and peer address).
        let client = match &caller {
            Some(caller) if class != RouteClass::Auth => {
                RateClient::User(caller.user_id, caller.tier)
            }
            _ => match client_ip(&parts.headers, &parts.extensions, delegate) {
                Some(ip) => RateClient::Ip(ip),
                None => return no_connect_info().into_response(),
            },
        };
        let limits = delegate.limits();
        // The route's name is only looked up among per-route limits: not built without any.
        let route = if limits.has_route_limits() {
            route_key(&parts)
        } else {
            String::new()
        };
        match limits.check(&client, &route, class).await {
            Ok(decision) if decision.allowed => Some(decision),
            Ok(decision) => {
                let mut refusal = ApiError::rate_limited(decision.retry_after).into_response();
                write_headers(refusal.headers_mut(), &decision);
                return refusal;
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else {
        None
    };
    // `AuthUser` takes the verified caller from here instead of verifying again.
    if let Some(caller) = caller {
        crate::observe::CallerSlot::note(&parts.extensions, &caller);
        parts.extensions.insert(caller);
    }
    let Ok(mut response) = inner.call(Request::from_parts(parts, body)).await;
    // Room at once for what the gate, CORS and the edge add (see `edge::decorate`): each
    // growth of the map on the way rehashes it.
    response.headers_mut().reserve(ANSWER_HEADERS);
    if let Some(decision) = &decision {
        write_headers(response.headers_mut(), decision);
    }
    response
}

/// The verified caller, if the request needs or may use one:
/// - on an admin path, an admin, or the refusal (401 without a valid token, 403 otherwise);
/// - on an ordinary limited route, the token's caller, or `None` for a refused token (it
///   counts against the IP, and the handler answers 401 where one is needed);
/// - on login, register and refresh, never: a token does not move them off the IP's bucket
///   (they need no caller, and a valid token must not buy more guesses).
///
/// Credentials given twice are refused, and a store outage while verifying answers at once.
async fn verify(
    delegate: &Delegate,
    admin: bool,
    limited: bool,
    parts: &Parts,
) -> Result<Option<AuthContext>, ApiError> {
    let token = bearer_token(parts)?;
    if admin {
        let token = token.ok_or_else(ApiError::missing_token)?;
        let caller = delegate.auth().authenticate(token).await?;
        crate::observe::CallerSlot::note(&parts.extensions, &caller);
        AdminService::authorize(&Actor::Caller(caller.clone()))?;
        return Ok(Some(caller));
    }
    let verified = parts.extensions.get::<AuthContext>();
    match token {
        // The admin gate verified this caller already.
        Some(_) if verified.is_some() => Ok(verified.cloned()),
        Some(token) if limited && route_class(parts) != RouteClass::Auth => {
            match delegate.auth().authenticate(token).await {
                Ok(caller) => Ok(Some(caller)),
                Err(e) if e.kind() == ErrorKind::Unauthenticated => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
        _ => Ok(None),
    }
}
