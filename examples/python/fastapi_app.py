"""A FastAPI app whose route is protected by Delegate accounts, and which serves Delegate's
auth routes (register, login, refresh, logout) to its frontend.

    pip install fastapi uvicorn
    DELEGATE_AI_PROVIDER=echo uvicorn fastapi_app:app   # from examples/python
"""

from fastapi import Depends, FastAPI

from delegate import Caller
from delegate.fastapi import DelegateAuth

# --- the glue: 5 lines ---------------------------------------------------------------------
auth = DelegateAuth(database_url="sqlite://fastapi-example.db")
app = FastAPI(lifespan=auth.lifespan)
app.include_router(auth.router(), prefix="/api/v1/auth")


@app.get("/api/hello")
async def hello(me: Caller = Depends(auth.current_user)) -> dict[str, str]:
    # ------------------------------------------------------------------------------------------
    return {"hello": me.user_id, "tier": me.tier}
