"""Ports on 127.0.0.1. "Free" has one meaning everywhere: a server could bind it now."""

import socket

from .common import Fail, log, setting


def is_free(port):
    """True if a server could listen on 127.0.0.1:`port` now. SO_REUSEADDR, as the servers
    set it: a port whose last connections linger in TIME_WAIT is free."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def any_free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def explicit(variable):
    """The port the user asked for in `variable`, or None."""
    value = setting(variable)
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise Fail(f"{variable}={value!r} is not a port number")
    return int(value)


def pick(variable, default, who):
    """The port to start a server on: the one set in `variable`, which must be free; else
    `default`, or any free port when another program holds the default."""
    asked = explicit(variable)
    if asked is not None:
        if not is_free(asked):
            raise Fail(f"{variable}={asked}: port {asked} is taken by another program; "
                       f"choose another ({variable}={asked + 1} ...) or stop that program")
        return asked
    if is_free(default):
        return default
    port = any_free()
    log(who, f"port {default} is taken by another program; using {port} instead")
    return port
