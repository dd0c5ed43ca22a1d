"""FastAPI integration (the `fastapi` extra): protect routes with Delegate accounts and serve
Delegate's auth routes to your own frontend.

    from fastapi import Depends, FastAPI
    from delegate import Caller
    from delegate.fastapi import DelegateAuth

    auth = DelegateAuth(database_url="sqlite://app.db")
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router(), prefix="/api/v1/auth")

    @app.get("/hello")
    async def hello(me: Caller = Depends(auth.current_user)) -> dict[str, str]:
        return {"hello": me.user_id}

`current_user` answers 401 (with `WWW-Authenticate: Bearer`) for a missing, malformed,
expired or revoked token, 503 when the credentials cannot be checked; the body is
`{"detail": {"code", "message"}}`, as FastAPI shapes an HTTPException. The router's routes
answer as Delegate's HTTP API does: camelCase bodies, errors as `{"error": {"code", "message"}}`.
"""

from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, AsyncIterator, Optional, Union

from fastapi import APIRouter, Body, Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse, Response

from . import _native
from ._errors import (
    Conflict,
    DelegateError,
    Forbidden,
    Invalid,
    NotFound,
    QuotaExceeded,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from ._native import Caller, SignedIn

_STATUS: dict[type, int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    RateLimited: 429,
    QuotaExceeded: 429,
    Unavailable: 503,
}


def _status(error: DelegateError) -> int:
    for kind, status in _STATUS.items():
        if isinstance(error, kind):
            return status
    return 502 if error.code == "upstream_error" else 500


def _error_response(error: DelegateError) -> JSONResponse:
    headers = {"Retry-After": str(max(1, int(error.retry_after)))} if error.retry_after else None
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field is not None:
        body["field"] = error.field
    return JSONResponse({"error": body}, status_code=_status(error), headers=headers)


def _time(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user(signed: SignedIn) -> dict[str, Any]:
    u = signed.user
    return {
        "id": u.id,
        "email": u.email,
        "name": u.name,
        "tier": u.tier,
        "role": u.role,
        "createdAt": _time(u.created_at),
    }


def _auth_result(signed: SignedIn) -> dict[str, Any]:
    return {
        "user": _user(signed),
        "accessToken": signed.access_token,
        "refreshToken": signed.refresh_token,
        "expiresIn": signed.expires_in,
        "tokenType": "Bearer",
        "session": {"id": signed.session_id},
    }


class DelegateAuth:
    """Delegate accounts for a FastAPI app: the Delegate opened for the app's lifespan, a
    `current_user` dependency, and a router of the auth routes."""

    def __init__(self, **open_args: Any) -> None:
        """`open_args` go to `delegate.open` when the app starts."""
        self._open_args = open_args
        self._delegate: Optional[_native.Delegate] = None

    @property
    def delegate(self) -> _native.Delegate:
        """The open Delegate (a `RuntimeError` outside the app's lifespan)."""
        if self._delegate is None:
            raise RuntimeError("Delegate is not open: pass DelegateAuth.lifespan to FastAPI")
        return self._delegate

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """Opens the Delegate when the app starts and closes it when the app stops."""
        self._delegate = await _native.open(**self._open_args)
        try:
            yield
        finally:
            await self._delegate.close()
            self._delegate = None

    async def current_user(self, authorization: Optional[str] = Header(default=None)) -> Caller:
        """The caller of a request, from `Authorization: Bearer <token>`."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                401,
                detail={"code": "missing_token", "message": "a bearer token is required"},
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            return await self.delegate.auth.verify(token.strip())
        except DelegateError as e:
            headers = {"WWW-Authenticate": "Bearer"} if _status(e) == 401 else None
            raise HTTPException(
                _status(e), detail={"code": e.code, "message": e.message}, headers=headers
            ) from e

    def router(self) -> APIRouter:
        """The auth routes of Delegate's HTTP API (mount under `/api/v1/auth`): register,
        login, refresh, logout, logout-all, me, sessions (list, revoke) and password."""
        router = APIRouter()

        @router.post("/register", status_code=201, response_model=None)
        async def register(body: dict[str, Any] = Body(...)) -> Union[JSONResponse, dict[str, Any]]:
            try:
                signed = await self.delegate.auth.register(
                    email=str(body.get("email", "")),
                    password=str(body.get("password", "")),
                    name=body.get("name") if isinstance(body.get("name"), str) else None,
                )
            except DelegateError as e:
                return _error_response(e)
            return _auth_result(signed)

        @router.post("/login", response_model=None)
        async def login(body: dict[str, Any] = Body(...)) -> Union[JSONResponse, dict[str, Any]]:
            try:
                signed = await self.delegate.auth.login(
                    email=str(body.get("email", "")), password=str(body.get("password", ""))
                )
            except DelegateError as e:
                return _error_response(e)
            return _auth_result(signed)

        @router.post("/refresh", response_model=None)
        async def refresh(body: dict[str, Any] = Body(...)) -> Union[JSONResponse, dict[str, Any]]:
            try:
                tokens = await self.delegate.auth.refresh(str(body.get("refreshToken", "")))
            except DelegateError as e:
                return _error_response(e)
            return {
                "accessToken": tokens.access_token,
                "refreshToken": tokens.refresh_token,
                "expiresIn": tokens.expires_in,
                "tokenType": "Bearer",
            }

        @router.post("/logout", status_code=204, response_class=Response)
        async def logout(me: Caller = Depends(self.current_user)) -> Response:
            await self.delegate.auth.logout(me)
            return Response(status_code=204)

        @router.post("/logout-all")
        async def logout_all(me: Caller = Depends(self.current_user)) -> dict[str, int]:
            return {"revoked": await self.delegate.auth.logout_all(me)}

        @router.get("/sessions")
        async def sessions(me: Caller = Depends(self.current_user)) -> dict[str, Any]:
            live = await self.delegate.auth.sessions(me)
            return {
                "items": [
                    {
                        "id": s.id,
                        "device": {"name": s.device_name, "platform": s.platform},
                        "createdAt": _time(s.created_at),
                        "lastSeenAt": _time(s.last_seen_at),
                        "expiresAt": _time(s.expires_at),
                        "current": s.current,
                    }
                    for s in live
                ],
                "nextCursor": None,
            }

        @router.delete("/sessions/{session_id}", status_code=204, response_model=None)
        async def revoke(
            session_id: str, me: Caller = Depends(self.current_user)
        ) -> Union[JSONResponse, Response]:
            try:
                await self.delegate.auth.revoke_session(me, session_id)
            except DelegateError as e:
                return _error_response(e)
            return Response(status_code=204)

        @router.post("/password", status_code=204, response_model=None)
        async def password(
            body: dict[str, Any] = Body(...), me: Caller = Depends(self.current_user)
        ) -> Union[JSONResponse, Response]:
            try:
                await self.delegate.auth.change_password(
                    me,
                    current=str(body.get("currentPassword", "")),
                    new=str(body.get("newPassword", "")),
                )
            except DelegateError as e:
                return _error_response(e)
            return Response(status_code=204)

        @router.get("/me")
        async def me(caller: Caller = Depends(self.current_user)) -> dict[str, Any]:
            return {
                "user": {"id": caller.user_id, "tier": caller.tier, "role": caller.role},
                "session": {"id": caller.session_id},
            }

        return router
