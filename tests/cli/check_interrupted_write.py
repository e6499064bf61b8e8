"""A signal that ends asd while it writes an output leaves neither a partial file nor a stray temporary one.

    python3 check_interrupted_write.py ASD SIGNAL [asd arguments, with --out OUT inside an empty folder]

Runs asd in OUT's folder, waits until the output's temporary file appears (AtomicFile names it OUT.PID-N.tmp), sends
SIGNAL, and checks: asd ended by that signal (as a shell sees 128 + its number), said which output it cut short, and
the folder is empty again. A try whose signal came too late to cut the write short (asd handles it on a thread of its
own, after the write's current system call) must still leave no temporary file and the output whole; it is tried
again, up to 5 times, and no try that cuts the write short counts as a failure, never as a pass.
"""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time


def attempt(exe, sig, args, folder, out):
    # Python's children inherit its SIGINT disposition; a shell's background job would ignore SIGINT altogether.
    p = subprocess.Popen([exe] + args, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # OUT.PID-N.tmp (OUT.tmp before AtomicFile named them so), not its manifest's OUT.json.PID-N.tmp
    temp = re.compile(re.escape(os.path.basename(out)) + r"(\.[0-9]+-[0-9]+)?\.tmp")
    sent = False
    deadline = time.monotonic() + 300
    while p.poll() is None and time.monotonic() < deadline:
        if any(temp.fullmatch(f) for f in os.listdir(folder)):
            p.send_signal(sig)
            sent = True
            break
        time.sleep(0.0002)
    if not sent and p.poll() is None:
        p.kill()
    stdout, stderr = p.communicate(timeout=120)
    return sent, p.returncode, stderr.decode(errors="replace")


def main():
    exe, name, args = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3:]
    sig = getattr(signal, name)
    out = os.path.abspath(args[args.index("--out") + 1])
    folder = os.path.dirname(out)
    assert not os.listdir(folder), f"{folder} must start empty"
    cut = f"{name} while writing {out}: its unfinished copy was removed"
    for i in range(TRIES):
        sent, rc, stderr = attempt(exe, sig, args, folder, out)
        left = sorted(os.listdir(folder))
        print(f"try {i + 1}: signal sent: {sent}, exit status {rc}, files left: {left}")
        print(stderr.strip())
        if sent and rc != -sig:
            sys.exit(f"asd did not end by {name} (exit status {rc})")
        if not sent and rc != 0:
            sys.exit(f"asd failed before writing (exit status {rc})")
        if any(f.endswith(".tmp") for f in left):
            sys.exit("a temporary file was left behind")
        if cut in stderr:
            # Cut short: nothing of the output may remain.
            sys.exit(0 if not left else f"the output was said to be removed, yet {left} remain")
        # Not cut short: the signal came too late (the handler runs only after the write's current system call, on a
        # thread of its own) or asd finished first. Whatever is there must then be whole: the .npy at its full size.
        if os.path.basename(out) in left and os.path.getsize(out) != expected_size(out):
            sys.exit(f"{out} is partial: {os.path.getsize(out)} bytes")
        # And the .npy and its manifest land together: both or neither, the manifest's data hash the .npy's.
        manifest = os.path.basename(out) + ".json"
        if (os.path.basename(out) in left) != (manifest in left):
            sys.exit(f"the .npy and its manifest did not land together: {left}")
        if manifest in left and data_sha256(out) != json.load(open(out + ".json"))["data_sha256"]:
            sys.exit(f"{out}.json's data_sha256 is not the .npy's")
        for f in left:
            os.remove(os.path.join(folder, f))
    sys.exit(f"no try in {TRIES} caught the write in progress (too quick here: give more --samples)")


def data_sha256(path):
    with open(path, "rb") as f:
        head = f.read(10)
        f.read(int.from_bytes(head[8:10], "little"))
        return hashlib.sha256(f.read()).hexdigest()


def expected_size(path):
    with open(path, "rb") as f:
        head = f.read(10)
        header_len = int.from_bytes(head[8:10], "little")
        header = f.read(header_len).decode("latin1")
    shape = [int(d) for d in header.split("'shape': (")[1].split(")")[0].split(",") if d.strip()]
    count = 1
    for d in shape:
        count *= d
    return 10 + header_len + 4 * count


TRIES = 5
main()
