"""Small helpers over jupyter_client: start a kernel, run a cell and collect what it sent."""

import time
from dataclasses import dataclass, field
from queue import Empty

from jupyter_client.manager import KernelManager

KERNEL_NAME = "ferrolab"
# The first cell waits for evcxr and the engine to load (a few seconds; more on a busy CI box).
WARM_TIMEOUT = 180


@dataclass
class Cell:
    reply: dict
    outputs: list = field(default_factory=list)  # iopub messages other than status/execute_input
    arrivals: list = field(default_factory=list)  # time each output arrived
    reply_time: float = 0.0
    started: float = 0.0

    @property
    def status(self):
        return self.reply["content"]["status"]

    def of_type(self, msg_type):
        return [m for m in self.outputs if m["msg_type"] == msg_type]

    def stdout(self):
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stdout"
        )

    def result(self):
        results = self.of_type("execute_result")
        return results[0]["content"]["data"]["text/plain"] if results else None

    def error(self):
        errors = self.of_type("error")
        return errors[0]["content"] if errors else None


def start_kernel(warm=True):
    km = KernelManager(kernel_name=KERNEL_NAME)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        if warm:
            cell = run(kc, "1", timeout=WARM_TIMEOUT)
            assert cell.status == "ok", cell.outputs
    except BaseException:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return km, kc


def run(kc, code, timeout=60, **kwargs):
    """Executes `code` and returns its reply and iopub output (up to the `idle` status)."""
    started = time.time()
    msg_id = kc.execute(code, **kwargs)
    return collect(kc, msg_id, timeout, started)


def wait_for_stdout(kc, msg_id, text, timeout=60):
    """Waits until the cell `msg_id` has printed `text` (its earlier output is dropped)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except Empty:
            continue
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "stream"
            and text in msg["content"]["text"]
        ):
            return
    raise TimeoutError(f"the cell did not print {text!r} within {timeout} s")


def collect(kc, msg_id, timeout=60, started=None):
    """Collects the reply and iopub output of an execute request already sent."""
    started = started or time.time()
    cell = Cell(reply={}, started=started)
    deadline = started + timeout
    idle = False
    while not (idle and cell.reply):
        remaining = deadline - time.time()
        if remaining <= 0:
            raise TimeoutError(f"no reply within {timeout} s to {msg_id}")
        if not idle:
            try:
                msg = kc.get_iopub_msg(timeout=min(remaining, 0.2))
            except Empty:
                msg = None
            if msg and msg["parent_header"].get("msg_id") == msg_id:
                kind = msg["msg_type"]
                if kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
                elif kind not in ("status", "execute_input"):
                    cell.outputs.append(msg)
                    cell.arrivals.append(time.time())
        if not cell.reply:
            try:
                reply = kc.get_shell_msg(timeout=0.01 if not idle else min(remaining, 1))
            except Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                cell.reply = reply
                cell.reply_time = time.time()
    return cell
