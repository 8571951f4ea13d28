"""Real sockets through the embedded proxy: each toxic's effect, and its removal.

Every toxic here is added to a connection that is already open (Toxiproxy's
semantics), and removing it must restore that same connection without restarting
anything. Bounds are generous: other work shares these two cores.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

pytestmark = pytest.mark.integration


def test_plain_forwarding_both_ways_and_half_close(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            reader, writer = await kit.connect(info.listen_port)
            payload = bytes(range(256)) * 4096  # 1 MiB
            writer.write(payload)
            writer.write_eof()  # the echo answers everything, then half-closes too
            assert await asyncio.wait_for(reader.read(), 20) == payload
            await kit.close(writer)

    kit.run(scenario())


def test_buffered_reads_keep_every_byte_behind_a_slow_reader(kit) -> None:  # type: ignore[no-untyped-def]
    """The proxy reads each socket into one reused buffer and forwards views of it.

    Here the upstream reads nothing for a while, so the proxy's writes back up and
    the source is paused and resumed; thousands of distinct chunks must still arrive
    whole and in order (a view queued by the transport and then overwritten by the
    next read would scramble them).
    """
    chunks = [i.to_bytes(4, "big") * 997 for i in range(3000)]  # about 12 MB, all distinct
    received: list[bytes] = []

    async def slow_sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1.0)  # let the proxy's write buffer fill and pause the source
        while data := await reader.read(1 << 16):
            received.append(data)
        writer.write(str(sum(map(len, received))).encode())
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        async with kit.upstream(slow_sink) as sink, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{sink}")
            reader, writer = await kit.connect(info.listen_port)
            for chunk in chunks:
                writer.write(chunk)
            await writer.drain()
            writer.write_eof()
            answer = await asyncio.wait_for(reader.read(), 30)
            assert int(answer) == sum(map(len, chunks))
            assert b"".join(received) == b"".join(chunks)
            await kit.close(writer)

    kit.run(scenario())


def test_latency_on_an_open_connection_and_its_removal(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            reader, writer = await kit.connect(info.listen_port)
            await kit.round_trip(reader, writer)
            await client.add_toxic("p", "latency", attributes={"latency": 300})
            delayed = await kit.round_trip(reader, writer)
            assert 0.29 <= delayed < 0.3 + 2.0
            await client.add_toxic("p", "latency", stream="upstream", attributes={"latency": 200})
            both = await kit.round_trip(reader, writer)
            assert 0.49 <= both < 0.5 + 2.0
            await client.remove_toxic("p", "latency_downstream")
            await client.remove_toxic("p", "latency_upstream")
            assert await kit.round_trip(reader, writer) < 0.25
            await kit.close(writer)

    kit.run(scenario())


def test_bandwidth_rate_within_20_percent_then_restored(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            reader, writer = await kit.connect(info.listen_port)
            await kit.round_trip(reader, writer)
            await client.add_toxic("p", "bandwidth", attributes={"rate": 200})  # 200 KB/s
            size = 200_000
            loop = asyncio.get_running_loop()
            start = loop.time()
            writer.write(b"b" * size)
            await kit.read_exactly(reader, size, timeout=20)
            rate = size / (loop.time() - start) / 1000
            assert 160 <= rate <= 240, f"{rate:.0f} KB/s through a 200 KB/s toxic"
            await client.remove_toxic("p", "bandwidth_downstream")
            start = loop.time()
            writer.write(b"c" * 2_000_000)
            await kit.read_exactly(reader, 2_000_000, timeout=20)
            assert loop.time() - start < 2.0  # unthrottled: far above 1 MB/s
            await kit.close(writer)

    kit.run(scenario())


def test_slow_close_holds_back_the_close(kit) -> None:  # type: ignore[no-untyped-def]
    async def greet_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hi")
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        async with kit.upstream(greet_and_close) as port, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{port}")
            await client.add_toxic("p", "slow_close", attributes={"delay": 400})
            loop = asyncio.get_running_loop()
            reader, writer = await kit.connect(info.listen_port)
            start = loop.time()
            assert await kit.read_exactly(reader, 2) == b"hi"
            assert await kit.closed_by_peer(reader) == "eof"
            assert loop.time() - start >= 0.39
            await kit.close(writer)
            await client.remove_toxic("p", "slow_close_downstream")
            reader, writer = await kit.connect(info.listen_port)
            start = loop.time()
            assert await kit.read_exactly(reader, 2) == b"hi"
            assert await kit.closed_by_peer(reader) == "eof"
            assert loop.time() - start < 0.35
            await kit.close(writer)

    kit.run(scenario())


def test_timeout_swallows_then_closes(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            reader, writer = await kit.connect(info.listen_port)
            await kit.round_trip(reader, writer)
            loop = asyncio.get_running_loop()
            start = loop.time()
            await client.add_toxic("p", "timeout", attributes={"timeout": 300})
            writer.write(b"lost")
            assert await kit.closed_by_peer(reader) == "eof"  # nothing came back first
            assert loop.time() - start >= 0.29
            await kit.close(writer)

    kit.run(scenario())


def test_hang_partition_keeps_tcp_open_and_heals_in_place(kit) -> None:  # type: ignore[no-untyped-def]
    """``hang`` = a timeout toxic of 0 on both streams: silent, connection kept."""

    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            reader, writer = await kit.connect(info.listen_port)
            await kit.round_trip(reader, writer)
            for stream in ("upstream", "downstream"):
                await client.add_toxic("p", "timeout", stream=stream, attributes={"timeout": 0})
            writer.write(b"swallowed")
            assert await kit.closed_by_peer(reader, timeout=0.6) == "open"
            late_reader, late_writer = await kit.connect(info.listen_port)  # accepted, silent
            late_writer.write(b"also swallowed")
            assert await kit.closed_by_peer(late_reader, timeout=0.3) == "open"
            for stream in ("upstream", "downstream"):
                await client.remove_toxic("p", f"timeout_{stream}")
            assert await kit.round_trip(reader, writer, b"healed") < 1.0
            assert await kit.round_trip(late_reader, late_writer, b"me too") < 1.0
            await kit.close(writer)
            await kit.close(late_writer)

    kit.run(scenario())


def test_reset_peer_is_seen_as_a_reset(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            reader, writer = await kit.connect(info.listen_port)
            await kit.round_trip(reader, writer)
            await client.add_toxic("p", "reset_peer", stream="upstream", attributes={"timeout": 0})
            writer.write(b"boom")
            assert await kit.closed_by_peer(reader) == "reset"
            await kit.close(writer)
            await client.remove_toxic("p", "reset_peer_upstream")
            reader, writer = await kit.connect(info.listen_port)
            await kit.round_trip(reader, writer)
            await kit.close(writer)

    kit.run(scenario())


def test_slicer_delivers_everything_in_small_pieces(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            reader, writer = await kit.connect(info.listen_port)
            attrs = {"average_size": 20, "size_variation": 10, "delay": 2000}
            await client.add_toxic("p", "slicer", attributes=attrs)
            payload = bytes(range(200)) * 5
            writer.write(payload)
            pieces: list[bytes] = []
            while sum(map(len, pieces)) < len(payload):
                pieces.append(await asyncio.wait_for(reader.read(65536), 10))
                assert pieces[-1]
            assert b"".join(pieces) == payload
            assert len(pieces) >= 5  # TCP may merge a few; far from one read
            await client.remove_toxic("p", "slicer_downstream")
            await kit.round_trip(reader, writer, payload)
            await kit.close(writer)

    kit.run(scenario())


def test_limit_data_cuts_after_that_many_bytes(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            await client.add_toxic("p", "limit_data", attributes={"bytes": 100})
            reader, writer = await kit.connect(info.listen_port)
            writer.write(b"z" * 300)
            assert await asyncio.wait_for(reader.read(), 10) == b"z" * 100
            await kit.close(writer)

    kit.run(scenario())


def test_toxicity_zero_leaves_the_link_alone(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            await client.add_toxic("p", "timeout", toxicity=0.0, attributes={"timeout": 0})
            reader, writer = await kit.connect(info.listen_port)
            assert await kit.round_trip(reader, writer) < 1.0
            await kit.close(writer)

    kit.run(scenario())


def test_toxicity_draws_follow_the_seed(kit) -> None:  # type: ignore[no-untyped-def]
    async def pattern(seed: int) -> list[bool]:
        async with kit.upstream() as echo, kit.proxy(seed=seed) as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            attrs = {"timeout": 0}
            await client.add_toxic("p", "timeout", toxicity=0.5, attributes=attrs)
            hit = []
            for _ in range(16):
                reader, writer = await kit.connect(info.listen_port)
                writer.write(b"?")
                hit.append(await kit.closed_by_peer(reader, timeout=0.3) == "open")
                await kit.close(writer)
            return hit

    async def scenario() -> None:
        first = await pattern(11)
        assert 0 < sum(first) < 16
        assert await pattern(11) == first

    kit.run(scenario())


def test_disabled_refuses_new_and_resets_open_connections(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            reader, writer = await kit.connect(info.listen_port)
            await kit.round_trip(reader, writer)
            await client.update_proxy("p", enabled=False)
            assert await kit.closed_by_peer(reader) in ("reset", "eof")
            with pytest.raises(ConnectionRefusedError):
                await kit.connect(info.listen_port)
            again = await client.update_proxy("p", enabled=True)
            assert again.listen == info.listen  # same port after re-enabling
            reader, writer = await kit.connect(info.listen_port)
            await kit.round_trip(reader, writer)
            await kit.close(writer)

    kit.run(scenario())


def test_upstream_connect_is_retried_while_a_node_restarts(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        with socket.socket() as placeholder:  # a port with nothing listening yet
            placeholder.bind(("127.0.0.1", 0))
            port = placeholder.getsockname()[1]
        async with kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{port}")
            reader, writer = await kit.connect(info.listen_port)
            writer.write(b"early")
            await asyncio.sleep(0.3)
            async with kit.upstream(port=port):
                assert await kit.read_exactly(reader, 5) == b"early"
                await kit.close(writer)

    kit.run(scenario())


def test_upstream_that_stays_down_gives_a_reset_not_an_eof(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        with socket.socket() as placeholder:
            placeholder.bind(("127.0.0.1", 0))
            port = placeholder.getsockname()[1]
        async with kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{port}")
            reader, writer = await kit.connect(info.listen_port)
            assert await kit.closed_by_peer(reader, timeout=10) == "reset"
            await kit.close(writer)

    kit.run(scenario())


def test_server_close_ends_every_listener_and_connection(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (server, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            reader, writer = await kit.connect(info.listen_port)
            await kit.round_trip(reader, writer)
            await server.close()
            assert await kit.closed_by_peer(reader) in ("reset", "eof")
            with pytest.raises(ConnectionRefusedError):
                await kit.connect(info.listen_port)
            with pytest.raises(ConnectionRefusedError):
                await kit.connect(server.port)
            await kit.close(writer)

    kit.run(scenario())


def test_a_disabled_proxy_keeps_its_port(kit) -> None:  # type: ignore[no-untyped-def]
    """A cut refuses connections but holds the port the kernel chose, so that nothing
    opened meanwhile can take it and the heal finds it free (it once failed a run
    with "address already in use")."""

    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            port = info.listen_port
            await client.update_proxy("p", enabled=False)
            with pytest.raises(ConnectionRefusedError):
                await kit.connect(port)
            squatter = socket.socket()  # no SO_REUSEADDR, as an outgoing connection binds
            with pytest.raises(OSError, match="in use"):
                squatter.bind(("127.0.0.1", port))
            squatter.close()
            for _ in range(2):  # disabled and enabled again, twice: the same port
                enabled = await client.update_proxy("p", enabled=True)
                assert enabled.listen_port == port
                reader, writer = await kit.connect(port)
                await kit.round_trip(reader, writer)
                await kit.close(writer)
                await client.update_proxy("p", enabled=False)
            await client.delete_proxy("p")  # deleting releases it
            free = socket.socket()
            free.bind(("127.0.0.1", port))
            free.close()

    kit.run(scenario())
