#!/usr/bin/env python3
# reset.py RELAY ENGINE: a client that closes with unread bytes (ECONNRESET
# for the relay's read) must end the connection at once: the upstream sees
# its end within 200 ms though it never writes again.
# Then: an upstream whose listen queue is full -> "listen queue stayed full".
import os, socket, subprocess, sys, threading, time, tempfile
relay, engine = sys.argv[1], sys.argv[2]
d = tempfile.mkdtemp()
up, rp = d + "/up", d + "/relay.sock"
ls = socket.socket(socket.AF_UNIX); ls.bind(up); ls.listen(8)
log = open(d + "/relay.log", "w")
p = subprocess.Popen([relay, "-v", "run", "--engine", engine, "--listen", "unix:" + rp, "--connect", "unix:" + up,
                      "--connect-timeout", "0.3"], stderr=log)
for _ in range(200):
    if os.path.exists(rp): break
    time.sleep(0.02)
ok = True
c = socket.socket(socket.AF_UNIX); c.connect(rp)
u, _ = ls.accept()
u.sendall(b'y' * 1000)          # lands unread in the client's queue
c.sendall(b'x' * 10)
time.sleep(0.2)
t0 = time.monotonic()
c.close()                        # with unread data: the relay's recv says ECONNRESET
u.settimeout(2)
got = b''
try:
    while True:
        b = u.recv(100)
        if not b: break
        got += b
    dt = (time.monotonic() - t0) * 1000
except socket.timeout:
    dt = 2000
print("engine=%s reset: upstream saw the end after %.1f ms, got %d bytes" % (engine, dt, len(got)))
ok &= dt < 200 and got == b'x' * 10
u.close()
# full backlog: nobody accepts on a listener with a queue of 0/1
ls.close(); os.unlink(up)
ls = socket.socket(socket.AF_UNIX); ls.bind(up); ls.listen(0)
fill = []
for i in range(4):
    s = socket.socket(socket.AF_UNIX); s.setblocking(False)
    try: s.connect(up); fill.append(s)
    except BlockingIOError: break
c = socket.socket(socket.AF_UNIX); c.connect(rp); c.settimeout(3)
t0 = time.monotonic()
try:
    r = c.recv(10)
except (socket.timeout, ConnectionResetError) as ex:
    r = repr(ex)
dt = (time.monotonic() - t0) * 1000
time.sleep(0.1)
p.terminate(); p.wait(); log.close()
text = open(d + "/relay.log").read()
full = [l for l in text.splitlines() if "listen queue stayed full" in l]
print("engine=%s full backlog: client closed after %.0f ms (%r); log: %s" % (engine, dt, r, full[-1] if full else "NOTHING"))
ok &= bool(full) and dt < 2000
resets = [l for l in text.splitlines() if "reset" in l.lower()]
print("  reset log:", resets[:2])
sys.exit(0 if ok else 1)
