"""Called on the event loop's thread by the Rust runtime to settle an awaitable."""

import asyncio
from typing import Any


def settle(future: "asyncio.Future[Any]", value: Any, failed: bool) -> None:
    """Sets `future`'s result or exception, unless it was cancelled meanwhile."""
    if future.done():
        return
    if failed:
        future.set_exception(value)
    else:
        future.set_result(value)
