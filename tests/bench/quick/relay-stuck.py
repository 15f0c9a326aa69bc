#!/usr/bin/env python3
# stuck.py RELAY_BIN ENGINE: 100 clients that never read while the upstream
# floods them; a new client must be answered within 100 ms.
import os, socket, subprocess, sys, threading, time, tempfile
relay, engine = sys.argv[1], sys.argv[2]
d = tempfile.mkdtemp()
up_path, relay_path = d + "/up", d + "/relay.sock"
ls = socket.socket(socket.AF_UNIX); ls.bind(up_path); ls.listen(512)
stop = False
def serve(c):
    try:
        k = c.recv(1)
        if k == b'S':
            blob = b'x' * 65536
            while not stop:
                c.sendall(blob)
        else:
            while True:
                b = c.recv(4096)
                if not b: break
                c.sendall(b)
    except OSError:
        pass
def acceptor():
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=acceptor, daemon=True).start()
p = subprocess.Popen([relay, "run", "--engine", engine, "--listen", "unix:" + relay_path,
                      "--connect", "unix:" + up_path, "--max-clients", "512"], stderr=subprocess.DEVNULL)
for _ in range(200):
    if os.path.exists(relay_path): break
    time.sleep(0.02)
stuck = []
for i in range(100):
    s = socket.socket(socket.AF_UNIX); s.connect(relay_path); s.sendall(b'S'); stuck.append(s)
time.sleep(2.0)   # let the flood fill every buffer
rss = [l for l in open("/proc/%d/status" % p.pid) if l.startswith(("VmRSS", "VmHWM"))]
worst = 0
for i in range(5):
    s = socket.socket(socket.AF_UNIX); s.settimeout(5)
    t0 = time.monotonic(); s.connect(relay_path); s.sendall(b'Phello')
    got = b''
    try:
        while len(got) < 5: got += s.recv(16)
        dt = (time.monotonic() - t0) * 1000
    except socket.timeout:
        dt = 5000
    worst = max(worst, dt); s.close()
print("engine=%s new-client worst=%.1f ms %s" % (engine, worst, " ".join(x.split()[0] + x.split()[1] for x in rss)))
stop = True
p.terminate(); p.wait()
sys.exit(0 if worst < 100 else 1)
