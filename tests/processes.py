"""What processes of a local Airflow are alive, and where they listen (Linux /proc)."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def processes_of(home: Path, port: int | None = None) -> list[int]:
    """Live processes of the local Airflow in ``home`` (API server on ``port``).

    Airflow sets process titles, which overwrites /proc/<pid>/environ for some processes (the
    API server's); so a process belongs if its environment names ``home``, its title names
    the API port, or it shares a process session with one that does.
    """
    marker = f"AIRFLOW_HOME={home}".encode() + b"\0"
    title = f"port:{port}".encode() if port else None
    sessions: dict[int, int] = {}
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        stat = _read(entry / "stat")
        if not stat or stat.rsplit(b")", 1)[1].split()[0] == b"Z":
            continue  # gone, or a zombie
        sessions[int(entry.name)] = int(stat.rsplit(b")", 1)[1].split()[3])
        if marker in _read(entry / "environ") or (title and title in _read(entry / "cmdline")):
            found.add(int(entry.name))
    leaders = {sessions[pid] for pid in found if pid in sessions}
    return sorted(found | {pid for pid, sid in sessions.items() if sid in leaders and sid != 0})


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # four little-endian 32-bit words
        ip = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
    return ip, int(port, 16)


def listening_addresses(pids: list[int]) -> set[tuple[str, int]]:
    """TCP addresses the given processes listen on."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.add(_address(fields[1]))
    return found
