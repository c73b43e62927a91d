"""Start and drive the loopback RTSP camera simulator (``deploy/demo/rtsp_cameras.py``) from
the tests and the bench."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

from services.assets.health.causes import Cause

SERVER = Path(__file__).resolve().parents[3] / "deploy" / "demo" / "rtsp_cameras.py"
SYSTEM_PYTHON = "/usr/bin/python3"
USER, PASSWORD = "healthcheck", "s3cret-Ω pass"
# The faults the server can inject into a mount's picture, each with the cause a check must find.
FAULT_MODES: tuple[tuple[str, Cause], ...] = (
    ("black", Cause.NO_PICTURE),
    ("uniform", Cause.NO_PICTURE),
    ("frozen", Cause.FROZEN),
    ("blurred", Cause.OBSCURED),
    ("shifted", Cause.VIEW_MOVED),
    ("stall", Cause.TIMED_OUT),
)


def fault_mounts(first: int) -> dict[str, tuple[str, Cause]]:
    """Each injectable fault on its own mount from ``cam{first}``: mount -> (mode, cause)."""
    return {f"cam{first + i}": mode_cause for i, mode_cause in enumerate(FAULT_MODES)}


def free_port_pair() -> int:
    """A loopback port whose next port is free too (the server uses PORT and PORT+1)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return int(port)
    raise RuntimeError("no free pair of ports")


def server_available() -> str | None:
    """Why the server cannot run here (None when it can): the system packages it needs."""
    if not Path(SYSTEM_PYTHON).exists() or shutil.which("gst-inspect-1.0") is None:
        return "GStreamer (gstreamer1.0-tools) or the system python3 is missing"
    probe = (
        "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "assert Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('rtph264pay')"
    )
    done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30)
    if done.returncode != 0:
        return (
            "the RTSP server needs Debian packages python3-gi gir1.2-gst-rtsp-server-1.0 "
            "gstreamer1.0-rtsp gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
            "gstreamer1.0-plugins-ugly python3-numpy"
        )
    return None


class RtspServer:
    """One server process: ``/cam0..`` on ``port``, ``/secure`` (Basic auth) on ``port + 1``."""

    def __init__(self, mounts: int = 4, user: str = USER, password: str = PASSWORD) -> None:
        self.port = free_port_pair()
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), str(self.port), str(mounts), user, password],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._lock = threading.Lock()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"RTSP test server did not start: {line!r}")

    def url(self, mount: str) -> str:
        """The address of a mount (``secure`` is on the second port)."""
        port = self.port + 1 if mount == "secure" else self.port
        return f"rtsp://127.0.0.1:{port}/{mount}"

    def _say(self, line: str) -> None:
        with self._lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline().strip() == "ok"

    def mode(self, mount: str, mode: str) -> None:
        """Set a mount's picture: healthy, black, uniform, frozen, blurred, shifted, dark, still,
        stall."""
        self._say(f"mode {mount} {mode}")

    def remove(self, mount: str) -> None:
        """Unmount a stream (its address then answers 404)."""
        self._say(f"remove {mount}")

    def stop(self) -> None:
        """End the server process (this one only)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class SilentServer:
    """A TCP listener that accepts and never answers (a camera that hangs): timed out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"

    def stop(self) -> None:
        """Close the listener."""
        self.sock.close()
