"""Ctrl-C during a run with a progress bar gives the terminal its cursor back.

    python3 check_cursor_after_interrupt.py ASD

Spectre.Console hides the cursor while it draws the bar (ESC [?25l) and shows it when the bar ends (ESC [?25h). A run
ended by SIGINT never ended its bar, and left the user's terminal without a cursor; asd's handler shows it again. Runs
asd on a pseudo-terminal (so the bar is drawn), sends SIGINT once the bar is up, and checks that the last cursor
sequence is "show" and that asd ended by SIGINT.
"""
import os
import pty
import select
import signal
import sys
import time

exe = os.path.abspath(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execv(exe, [exe, "sample", "--model", "builtin:mixture?dim=32", "--steps", "1000", "--samples", "100000", "--no-plot"])

out = b""
deadline = time.monotonic() + 120
while b"\x1b[?25l" not in out and time.monotonic() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            out += os.read(fd, 65536)
        except OSError:
            break
if b"\x1b[?25l" not in out:
    os.kill(pid, signal.SIGKILL)
    sys.exit("no progress bar appeared (is the output a terminal?)")
time.sleep(0.5)
os.kill(pid, signal.SIGINT)
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
ended = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT
shown = out.rfind(b"\x1b[?25h") > out.rfind(b"\x1b[?25l")
print(f"ended by SIGINT: {ended}; cursor shown after the bar hid it: {shown}")
sys.exit(0 if ended and shown else 1)
