"""A real Socket.IO client (python-socketio's asyncio client) driven by the Socket.IO tests.

Usage: socketio_client.py URL AUTH_JSON OPTIONS_JSON

Connects to URL with the handshake auth AUTH_JSON; OPTIONS_JSON may name the transports
(["websocket"] or ["polling"]) and extra request headers (an Origin). Prints one JSON line
per happening on stdout: {"event": name, "args": [...]} for every event the server emits,
{"connected": sid}, {"connect_error": data}, {"disconnected": true}. Reads commands from stdin,
one JSON line each: {"emit": name, "data": value} or {"disconnect": true}; exits at the end
of stdin.
"""

import asyncio
import json
import sys

import socketio


def out(happening):
    print(json.dumps(happening, default=str), flush=True)


async def main():
    url, auth, options = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    # The asyncio client hands events over in the order they came (the threaded one does not).
    client = socketio.AsyncClient(reconnection=False)

    @client.on("*")
    def any_event(event, *args):
        out({"event": event, "args": list(args)})

    @client.event
    def connect_error(*data):
        out({"connect_error": data[0] if data else None})

    @client.event
    def disconnect(*_reason):
        out({"disconnected": True})

    loop = asyncio.get_running_loop()
    try:
        await client.connect(
            url,
            auth=auth,
            transports=options.get("transports"),
            headers=options.get("headers", {}),
            wait_timeout=10,
        )
    except socketio.exceptions.ConnectionError:
        # connect_error said why.
        await loop.run_in_executor(None, sys.stdin.read)
        return
    out({"connected": client.get_sid()})
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        if command.get("disconnect"):
            break
        await client.emit(command["emit"], command.get("data"))
    await client.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
