"""A disabled proxy keeps its port: a bound socket that does not listen holds it.

Link proxies listen on ports the kernel chose (listen port 0), which come from the
same range as the local ports of outgoing connections. When a cut closed the
listener, any connection opened on the machine meanwhile (a node retrying a peer, a
client, the proxy's own upstream connections) could be given that port, and the heal
then failed with "address already in use" and ended the run (seen in the detection
runs). So ``park`` closes the listener and at once binds a new socket to the same
address without listening on it: the kernel refuses new connections exactly as
before, never hands the port to an outgoing connection, and ``unpark`` makes that
socket the listener again. (Only the microseconds between the close and the bind are
open to a race, instead of the whole cut.)
"""

from __future__ import annotations

import socket


def park(listener: socket.socket) -> socket.socket | None:
    """Close ``listener`` and hold its address with a bound socket that does not listen;
    None if the address was taken in between (the port is lost, as before)."""
    address = listener.getsockname()
    holder = socket.socket(listener.family, socket.SOCK_STREAM)
    listener.close()
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(address)
    except OSError:
        holder.close()
        return None
    return holder


def unpark(holder: socket.socket, backlog: int) -> socket.socket | None:
    """The held address listening again (non-blocking); None if it cannot listen."""
    try:
        holder.listen(backlog)
        holder.setblocking(False)
    except OSError:
        holder.close()
        return None
    return holder
