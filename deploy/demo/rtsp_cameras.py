"""Simulated CCTV cameras: a real RTSP server on loopback (GStreamer's RTSP server), for the
camera health tests, the bench and the demo stack.

Run by the SYSTEM python3 (Debian: python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-rtsp,
gstreamer1.0-plugins-base/-good/-ugly), never the project venv:

    /usr/bin/python3 rtsp_cameras.py PORT MOUNTS USER PASSWORD [--modes cam3=black,cam4=stall]
                                     [--keep-serving]

serves ``/cam0`` .. ``/cam{MOUNTS-1}`` (H.264, 320x240, 10 fps) and ``/secure`` on PORT+1 (a
picture behind Basic auth). Each mount draws a textured street-like scene (seeded per mount) with
sensor noise, a moving ball and a slow lighting change; a mount's mode is set from stdin, one
command a line, answered ``ok``:

    mode cam3 black|frozen|blurred|shifted|stall|healthy|dark|still|uniform

``stall`` stops sending frames (a hung encoder); ``frozen`` repeats one frame; ``dark`` is the
healthy scene at night (low light, more noise); ``still`` a live scene where nothing moves.
``remove cam3`` unmounts (a stream gone: 404). ``--modes`` sets modes at the start;
``--keep-serving`` keeps serving when stdin ends (the demo stack runs it in the background).
Prints ``ready PORT`` when listening.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import gi
import numpy as np

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

W, H, FPS = 320, 240, 10


def box_blur(img: np.ndarray, k: int) -> np.ndarray:
    """A k x k mean filter (separable, by cumulative sums)."""
    pad = k // 2
    a = np.pad(img, pad, mode="edge").astype(np.float64)
    c = np.cumsum(a, axis=0)
    a = (c[k - 1 :] - np.vstack([np.zeros((1, a.shape[1])), c[:-k]])) / k
    c = np.cumsum(a, axis=1)
    return (c[:, k - 1 :] - np.hstack([np.zeros((a.shape[0], 1)), c[:, :-k]])) / k


def make_scene(seed: int) -> np.ndarray:
    """A grey street-like scene, 2x the frame so it can be panned: blocks, windows, lines."""
    rng = np.random.default_rng(seed)
    h, w = 2 * H, 2 * W
    img = box_blur(rng.normal(110, 30, (h, w)), 7)
    for _ in range(60):
        x0, y0 = rng.integers(0, w - 20), rng.integers(0, h - 20)
        bw, bh = rng.integers(8, 90), rng.integers(8, 90)
        img[y0 : y0 + bh, x0 : x0 + bw] = rng.uniform(20, 235)
        if rng.random() < 0.5:  # windows in a block
            for yy in range(y0 + 3, min(y0 + bh, h) - 3, 9):
                for xx in range(x0 + 3, min(x0 + bw, w) - 3, 9):
                    img[yy : yy + 4, xx : xx + 4] = rng.uniform(0, 255)
    for _ in range(25):
        y = rng.integers(0, h)
        img[y : y + 2, :] = rng.uniform(0, 255)
    return np.clip(img, 0, 255)


class Mount:
    """One camera's picture and mode; frames are drawn on demand."""

    def __init__(self, seed: int) -> None:
        self.scene = make_scene(seed)
        self.blurred = box_blur(self.scene, 13)
        self.rng = np.random.default_rng(seed + 1000)
        self.mode = "healthy"
        self.t = 0
        self.frozen: np.ndarray | None = None
        self.off_x, self.off_y = W // 2, H // 2

    def frame(self) -> np.ndarray | None:
        """The next grey frame (uint8 H x W), or None while stalled."""
        self.t += 1
        mode = self.mode
        if mode == "stall":
            return None
        if mode == "black":
            return np.clip(self.rng.normal(2, 0.8, (H, W)), 0, 255).astype(np.uint8)
        if mode == "uniform":
            # A grey "no signal" screen (an encoder's output, never exactly flat).
            return np.clip(self.rng.normal(128, 2.0, (H, W)), 0, 255).astype(np.uint8)
        if mode == "frozen":
            if self.frozen is None:
                self.frozen = self._live("healthy")
            return self.frozen
        self.frozen = None
        return self._live(mode)

    def _live(self, mode: str) -> np.ndarray:
        src = self.blurred if mode == "blurred" else self.scene
        ox, oy = self.off_x, self.off_y
        if mode == "shifted":  # knocked about 20% of the frame to the right and down
            ox, oy = ox + W // 5, oy + H // 6
        view = src[oy : oy + H, ox : ox + W].copy()
        # The lighting drifts between 55% and 115% (a minute's cycle), day to dusk.
        gain = 0.85 + 0.3 * np.sin(2 * np.pi * self.t / (60 * FPS))
        noise = 4.0
        if mode == "dark":
            gain, noise = 0.3, 9.0
        if mode == "still":  # a live scene where nothing happens: only the sensor's noise
            gain = 1.0
        view = view * gain
        if mode != "still":
            # A person or car passing: a bright ball moving across the view.
            cx = int((self.t * 7) % (W + 60)) - 30
            cy = int(H * 0.6 + 30 * np.sin(self.t / 15))
            yy, xx = np.ogrid[:H, :W]
            view[(xx - cx) ** 2 + (yy - cy) ** 2 < 18**2] = 230 * gain
        view += self.rng.normal(0, noise, (H, W))
        return np.clip(view, 0, 255).astype(np.uint8)


MOUNTS: dict[str, Mount] = {}


class Factory(GstRtspServer.RTSPMediaFactory):
    """A media factory feeding an appsrc from one Mount."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        # A pipeline per client: a shared media torn down as its last client leaves races the
        # next client's join (503s and stalls), which no real camera does.
        self.set_shared(False)
        self.set_launch(
            f"( appsrc name=src is-live=true format=time do-timestamp=true "
            f"caps=video/x-raw,format=GRAY8,width={W},height={H},framerate={FPS}/1 "
            "! videoconvert ! video/x-raw,format=I420 "
            f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={FPS // 2} "
            "bitrate=600 ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        self.connect("media-configure", self._configure)

    def _configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        src = media.get_element().get_by_name_recurse_up("src")
        mount = MOUNTS[self.name]
        state = {"running": True}

        def feed() -> None:
            period = 1.0 / FPS
            nxt = time.monotonic()
            while state["running"]:
                frame = mount.frame()
                if frame is not None:
                    # Not OK while the media is still starting (flushing): keep feeding, or a
                    # camera that was slow to start would never send a frame.
                    src.emit("push-buffer", Gst.Buffer.new_wrapped(frame.tobytes()))
                nxt += period
                time.sleep(max(0.0, nxt - time.monotonic()))

        def stop(*_a: object) -> None:
            state["running"] = False

        media.connect("unprepared", stop)
        threading.Thread(target=feed, daemon=True).start()


def main() -> None:
    """Start the server and answer stdin commands."""
    ap = argparse.ArgumentParser(description="Simulated CCTV cameras over RTSP (loopback).")
    ap.add_argument("port", type=int)
    ap.add_argument("mounts", type=int)
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--modes", default="", help="mount=mode,... set at the start")
    ap.add_argument("--keep-serving", action="store_true", help="serve on when stdin ends")
    args = ap.parse_args()
    port, n, user, password = args.port, args.mounts, args.user, args.password
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    # A thread per client: a stalled camera's client waits for its first frame in its own
    # thread instead of holding up every other client in the main loop.
    server.get_thread_pool().set_max_threads(256)
    mounts = server.get_mount_points()
    for i in range(n):
        name = f"cam{i}"
        MOUNTS[name] = Mount(seed=i)
        mounts.add_factory(f"/{name}", Factory(name))
    # Behind Basic auth, on PORT+1: with no default token the server answers 401 (with one,
    # a refused client gets 404 and cannot tell a wrong password from a missing stream).
    secure = GstRtspServer.RTSPServer()
    secure.set_address("127.0.0.1")
    secure.set_service(str(port + 1))
    secure.get_thread_pool().set_max_threads(64)
    auth = GstRtspServer.RTSPAuth()
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), _token("user"))
    secure.set_auth(auth)
    MOUNTS["secure"] = Mount(seed=999)
    factory = Factory("secure")
    factory.add_role_from_structure(_role("user"))
    secure.get_mount_points().add_factory("/secure", factory)
    for pair in filter(None, args.modes.split(",")):
        name, _, mode = pair.partition("=")
        if name in MOUNTS:
            MOUNTS[name].mode = mode
    secure.attach(None)
    server.attach(None)
    loop = GLib.MainLoop()

    def commands() -> None:
        for line in sys.stdin:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "mode" and parts[1] in MOUNTS:
                MOUNTS[parts[1]].mode = parts[2]
            elif len(parts) == 2 and parts[0] == "remove":
                GLib.idle_add(mounts.remove_factory, f"/{parts[1]}")
            print("ok", flush=True)
        if not args.keep_serving:
            loop.quit()

    threading.Thread(target=commands, daemon=True).start()
    print(f"ready {port}", flush=True)
    loop.run()


def _token(role: str) -> GstRtspServer.RTSPToken:
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", role)
    return token


def _role(role: str) -> Gst.Structure:
    s = Gst.Structure.new_empty(role)
    s.set_value("media.factory.access", True)
    s.set_value("media.factory.construct", True)
    return s


if __name__ == "__main__":
    main()
