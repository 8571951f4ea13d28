"""The chaoskit status probe for tcpkv: ``STATUS`` over the client port."""

import asyncio
import json


async def status(host, port, node_id):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"STATUS\n")
        answer = (await reader.readline()).decode().strip()
    finally:
        writer.close()
    word, _, rest = answer.partition(" ")
    if word != "OK":
        raise ConnectionError(f"{node_id} answered {answer!r}")
    return json.loads(rest)  # {"id": "n1", "role": "leader", "leader": "n1"}
