#!/usr/bin/env python3
"""Where a call's time goes, hop by hop, from a loopback capture.

    bench/hops.py CAPTURE SERVER_PORT [STALL_US]

CAPTURE: a pcap(ng) of a `bench/compare.sh call` run taken on `lo`
(e.g. `taskset -c 0 dumpcap -i lo -f udp -a duration:10 -w CAPTURE`
during the equal-load run); SERVER_PORT: the server's UDP port (sipedge
5060, Kamailio 5080); the generator's UAS is 5070. Needs tshark.

Prints, from the capture's own timestamps (the kernel's, on the sending
side of each datagram):
- the server's residence per message kind: a message in, the same message
  (Call-ID, CSeq, method or status) out; 100 Trying, which the server
  makes itself, has none;
- the call's timeline: each span between a message leaving one side and
  the next one it causes arriving, the server's and the generator's turns
  apart, so that a difference in whole-call latency between two servers
  can be placed on one of them;
- stalls: residences over STALL_US (400), grouped when within 5 ms.
"""

import collections
import statistics
import subprocess
import sys


def messages(capture, port):
    """(time, direction 'in'|'out', call-id, cseq method, kind) per SIP datagram."""
    fields = ["frame.time_epoch", "udp.srcport", "udp.dstport", "sip.Call-ID", "sip.CSeq", "sip.Method", "sip.Status-Code"]
    cmd = ["tshark", "-r", capture, "-d", f"udp.port=={port},sip", "-d", "udp.port==5070,sip", "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        t, src, dst, call, cseq, method, status = (line.split("|") + [""] * 7)[:7]
        if not call:
            continue
        direction = "in" if dst == port else "out" if src == port else None
        if direction:
            yield float(t), direction, call, cseq.split()[-1] if cseq else "", method or status


def pct(values):
    v = sorted(values)
    n = len(v)
    return f"n={n:6} p50={v[n // 2]:7.1f} p90={v[int(n * .9)]:7.1f} p99={v[int(n * .99)]:7.1f} mean={statistics.mean(v):7.1f} us"


def main():
    capture, port = sys.argv[1], sys.argv[2]
    stall_us = float(sys.argv[3]) if len(sys.argv) > 3 else 400.0
    first = {}  # (call, cseq method, kind, direction) -> first time seen
    arrived = {}  # (call, cseq method, kind) -> time in, until it leaves
    residence = collections.defaultdict(list)
    stalls = []
    start = None
    for t, d, call, method, kind in messages(capture, port):
        start = start or t
        first.setdefault((call, method, kind, d), t)
        key = (call, method, kind)
        if d == "in":
            arrived.setdefault(key, t)
        elif key in arrived:
            us = (t - arrived.pop(key)) * 1e6
            residence[kind].append(us)
            if us > stall_us:
                stalls.append((t - start, us))

    print(f"server residence (message in -> the same message out), {capture}")
    for kind, v in sorted(residence.items()):
        print(f"  {kind:8} {pct(v)}")

    calls = collections.defaultdict(dict)
    for (call, method, kind, d), t in first.items():
        calls[call][f"{d} {kind}/{method}"] = t
    print("call timeline (who: s = server, g = generator)")
    spans = [
        ("s", "in INVITE/INVITE", "out INVITE/INVITE"),
        ("g", "out INVITE/INVITE", "in 180/INVITE"),
        ("g", "out INVITE/INVITE", "in 200/INVITE"),
        ("s", "in 200/INVITE", "out 200/INVITE"),
        ("g", "out 200/INVITE", "in ACK/ACK"),
        ("g", "out 200/INVITE", "in BYE/BYE"),
        ("s", "in BYE/BYE", "out BYE/BYE"),
        ("g", "out BYE/BYE", "in 200/BYE"),
        ("s", "in 200/BYE", "out 200/BYE"),
        ("*", "in INVITE/INVITE", "out 200/BYE"),
    ]
    for who, a, b in spans:
        v = [(c[b] - c[a]) * 1e6 for c in calls.values() if a in c and b in c]
        if v:
            print(f"  {who} {a:>18} -> {b:<16} {pct(v)}")

    groups = []
    for t, us in stalls:
        if groups and t - groups[-1][0] < 0.005:
            groups[-1][1] = max(groups[-1][1], us)
            groups[-1][2] += 1
        else:
            groups.append([t, us, 1])
    print(f"stalls: {len(groups)} with a residence over {stall_us:.0f} us")
    for t, us, n in groups:
        print(f"  at {t:8.3f} s: longest {us:6.0f} us, {n} message(s)")


if __name__ == "__main__":
    main()
