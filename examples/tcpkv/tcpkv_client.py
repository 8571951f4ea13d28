"""The chaoskit client for tcpkv: each workload op as one request line over TCP."""

import asyncio
import json

from chaoskit import OpFailed

REQUESTS = {"read": "GET", "get": "GET", "write": "PUT", "put": "PUT",
            "cas": "CAS", "add": "ADD", "read-set": "READSET"}  # fmt: skip


class TcpKvClient:
    async def open(self, node):
        self.reader, self.writer = await asyncio.open_connection(node.host, node.port)

    async def invoke(self, op):
        request = f"{REQUESTS[op['f']]} {op['key']}"
        if op["value"] is not None:
            request += " " + json.dumps(op["value"], separators=(",", ":"))
        self.writer.write(request.encode() + b"\n")
        answer = (await self.reader.readline()).decode().strip()
        word, _, rest = answer.partition(" ")
        if word == "OK":
            return json.loads(rest) if rest else None  # ok: the value read, if any
        if word == "NOTLEADER":
            raise OpFailed("not the leader", redirect=rest)  # refused: certainly not done
        if word == "MISMATCH":
            raise OpFailed(f"cas mismatch, value is {rest}")
        raise ConnectionError(answer or "connection closed")  # unknown: may have happened

    async def close(self):
        self.writer.close()
