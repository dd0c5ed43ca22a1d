"""Delegate for Python apps: accounts, login sessions and streamed AI chat, asyncio-first.

    d = await delegate.open()            # embedded (SQLite or memory), or database_url=/redis_url=
    async with d:
        signed = await d.auth.register(email=..., password=...)
        me = await d.auth.verify(signed.access_token)
        async for event in d.chat.stream(me, chat_id, "hello"): ...

Every I/O method returns an awaitable; failures raise a `DelegateError` subclass whose
`code` is the HTTP API's error code.
"""

import atexit

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
    Upstream,
)
from ._native import (
    OPERATOR,
    Admin,
    AuditEvent,
    AuditPage,
    Auth,
    CacheLayer,
    CacheNamespace,
    Caller,
    Chat,
    ChatSession,
    ChatSessionPage,
    Cleanup,
    Delegate,
    Exchange,
    Export,
    Heard,
    LoginSession,
    Message,
    MessagePage,
    Operator,
    Realtime,
    ReplyEvent,
    ReplyStream,
    SearchHit,
    SearchPage,
    SignedIn,
    Spoken,
    Tokens,
    Transcript,
    TranscriptPage,
    Transcripts,
    Usage,
    User,
    UserDetail,
    UserPage,
    Users,
    Voice,
    VoiceUsage,
    open,
)

# At interpreter exit, no runtime thread may enter Python any more (see _native.shutdown).
atexit.register(_native.shutdown)

__all__ = [
    "OPERATOR",
    "Admin",
    "AuditEvent",
    "AuditPage",
    "Auth",
    "CacheLayer",
    "CacheNamespace",
    "Caller",
    "Chat",
    "ChatSession",
    "ChatSessionPage",
    "Cleanup",
    "Conflict",
    "Delegate",
    "DelegateError",
    "Exchange",
    "Export",
    "Forbidden",
    "Heard",
    "Invalid",
    "LoginSession",
    "Message",
    "MessagePage",
    "NotFound",
    "Operator",
    "QuotaExceeded",
    "RateLimited",
    "Realtime",
    "ReplyEvent",
    "ReplyStream",
    "SearchHit",
    "SearchPage",
    "SignedIn",
    "Spoken",
    "Tokens",
    "Transcript",
    "TranscriptPage",
    "Transcripts",
    "Unauthenticated",
    "Unavailable",
    "Upstream",
    "Usage",
    "User",
    "UserDetail",
    "UserPage",
    "Users",
    "Voice",
    "VoiceUsage",
    "open",
]
