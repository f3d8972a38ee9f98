#!/usr/bin/env python3
"""Smoke test of a NATS Streaming server with the real Python client,
asyncio-nats-streaming 0.4.0 (the last release) on asyncio-nats-client 0.11.5.

    .venv/bin/python smoke.py [URL] [CLUSTER_ID] [--msgs N] [--verbose]

URL defaults to nats://127.0.0.1:4222, CLUSTER_ID to test-cluster. Needs
Python 3.9 or older (setup.sh makes the venv): both clients pass loop= to
asyncio functions that dropped it in 3.10.

Same checks as ../node/smoke.js, on fresh uniquely named channels and client
IDs, every wait bounded. Exit 0 and one JSON line {"ok": true, ...} only when
every check passed; otherwise {"ok": false, "failed": CHECK, ...} and exit 1
(2 when the whole run overran its deadline).
"""
import argparse
import asyncio
import json
import sys
import time
import uuid

if sys.version_info >= (3, 10) and __name__ == "__main__":
    print("smoke.py: asyncio-nats-streaming 0.4.0 needs Python <= 3.9 (it passes loop= to asyncio); "
          "this is %s. Run setup.sh and use .venv/bin/python." % sys.version.split()[0], file=sys.stderr)
    sys.exit(2)

from nats.aio.client import Client as NATS
from stan.aio.client import Client as STAN
from stan.aio.client import __version__ as STAN_VERSION
from stan.aio.errors import StanError

DEADLINE_S = 90


class CheckError(Exception):
    pass


def check_that(cond, msg):
    if not cond:
        raise CheckError(msg)


async def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise CheckError("timed out after %.1f s waiting for %s" % (timeout, what))
        await asyncio.sleep(0.01)


class Collector:
    """Subscription callback that records every delivery."""

    def __init__(self, sc, ack=None):
        self.sc = sc
        self.msgs = []
        self.ack = ack  # None: auto-ack sub; else fn(rec) -> bool

    async def __call__(self, m):
        rec = {
            "seq": m.proto.sequence,
            "data": m.proto.data.decode(),
            "redelivered": m.proto.redelivered,
            # 0.4.0's protocol_pb2 predates MsgProto.redeliveryCount (field 7):
            # the field is skipped as unknown, so only `redelivered` is seen.
            "count": getattr(m.proto, "redeliveryCount", None),
            "ts": m.proto.timestamp,
            "subject": m.proto.subject,
        }
        self.msgs.append(rec)
        if self.ack is not None and self.ack(rec):
            await self.sc.ack(m)

    def seqs(self):
        return [m["seq"] for m in self.msgs]


class Smoke:
    def __init__(self, url, cluster, n, verbose):
        self.url, self.cluster, self.n, self.verbose = url, cluster, n, verbose
        self.run = uuid.uuid4().hex[:8]
        self.results = []
        self.current = "setup"
        self.conns = []  # (nc, sc)
        self.sub_errors = []

    def log(self, *a):
        if self.verbose:
            print("[smoke]", *a, file=sys.stderr)

    def chan(self, what):
        return "smoke.%s.%s" % (self.run, what)

    async def connect(self, client_id):
        nc = NATS()
        await asyncio.wait_for(
            nc.connect(self.url, max_reconnect_attempts=3, reconnect_time_wait=0.25,
                       connect_timeout=3), 5)
        sc = STAN()
        try:
            await asyncio.wait_for(sc.connect(self.cluster, client_id, nats=nc, connect_timeout=3), 5)
        except Exception:
            await nc.close()
            raise
        self.conns.append((nc, sc))
        return sc

    async def close(self, sc):
        await asyncio.wait_for(sc.close(), 5)
        for pair in list(self.conns):
            if pair[1] is sc:
                self.conns.remove(pair)
                await pair[0].close()

    async def publish_all(self, sc, subject, datas):
        acks = await asyncio.wait_for(
            asyncio.gather(*[sc.publish(subject, d.encode(), ack_wait=5) for d in datas]), 10)
        for a in acks:
            check_that(a.error == "", "publish ack error: %s" % a.error)
        check_that(len({a.guid for a in acks}) == len(acks), "duplicate ack guids")
        return acks

    async def sub(self, sc, subject, cb, **kw):
        async def on_error(e):
            # The client reports exceptions of the message callback here.
            self.sub_errors.append("%s: %s" % (type(e).__name__, e))
        return await asyncio.wait_for(sc.subscribe(subject, cb=cb, error_cb=on_error, **kw), 5)

    async def check(self, name, fn):
        self.current = name
        self.log("running", name)
        t0 = time.monotonic()
        detail = await fn() or {}
        check_that(not self.sub_errors, "subscription callback errors: %s" % self.sub_errors[:3])
        rec = {"name": name, "ok": True, "ms": int((time.monotonic() - t0) * 1000)}
        rec.update(detail)
        self.results.append(rec)

    async def main(self):
        n = self.n
        pub = None

        async def connect():
            nonlocal pub
            pub = await self.connect("smoke-pub-" + self.run)
            check_that(pub._pub_prefix and pub._sub_req_subject and pub._unsub_req_subject
                       and pub._close_req_subject and pub._sub_close_req_subject,
                       "ConnectResponse is missing request subjects")
            check_that(getattr(pub, "_ping_requests", None), "ConnectResponse has no pingRequests")
            return {"pubPrefix": pub._pub_prefix}
        await self.check("connect", connect)

        async def dup():
            cid = "smoke-dup-" + self.run
            a = await self.connect(cid)
            err = None
            try:
                await self.connect(cid)
            except StanError as e:
                err = str(e)
            check_that(err is not None, "second connect with a live client ID succeeded")
            check_that("stan: clientID already registered" in err, "unexpected error: %s" % err)
            await self.close(a)
            return {"error": err}
        await self.check("duplicate_client_id_rejected", dup)

        P = self.chan("pos")
        datas = ["m%d" % i for i in range(1, n + 1)]

        async def publish():
            await self.publish_all(pub, P, datas)
            return {"published": n}
        await self.check("publish_with_acks", publish)

        async def all_available():
            c = Collector(pub)
            s = await self.sub(pub, P, c, deliver_all_available=True)
            await wait_for(lambda: len(c.msgs) >= n, 5, "%d messages" % n)
            await asyncio.sleep(0.2)
            check_that(c.seqs() == list(range(1, n + 1)), "sequences %s" % c.seqs())
            check_that([m["data"] for m in c.msgs] == datas, "payloads wrong")
            check_that(all(not m["redelivered"] and m["count"] in (0, None) for m in c.msgs), "first delivery flagged redelivered")
            check_that(all(m["subject"] == P for m in c.msgs), "message subject is not the channel")
            ts = [m["ts"] for m in c.msgs]
            check_that(ts == sorted(ts), "timestamps go backwards")
            check_that(abs(ts[0] / 1e9 - time.time()) < 60, "timestamp not near now: %d" % ts[0])
            await s.unsubscribe()
        await self.check("start_all_available", all_available)

        async def at_sequence():
            c = Collector(pub)
            s = await self.sub(pub, P, c, start_at="sequence", sequence=3)
            await wait_for(lambda: len(c.msgs) >= n - 2, 5, "%d messages" % (n - 2))
            await asyncio.sleep(0.2)
            check_that(c.seqs() == list(range(3, n + 1)), "sequences %s" % c.seqs())
            await s.unsubscribe()
        await self.check("start_at_sequence", at_sequence)

        async def last_received():
            c = Collector(pub)
            s = await self.sub(pub, P, c, start_at="last_received")
            await wait_for(lambda: len(c.msgs) >= 1, 5, "the last message")
            await asyncio.sleep(0.3)
            check_that(c.seqs() == [n], "got %s, want only %d" % (c.seqs(), n))
            await s.unsubscribe()
        await self.check("start_with_last_received", last_received)

        async def new_only():
            c = Collector(pub)
            s = await self.sub(pub, P, c, start_at="new_only")
            await asyncio.sleep(0.3)
            check_that(c.msgs == [], "new-only sub got old sequences %s" % c.seqs())
            await self.publish_all(pub, P, ["fresh"])
            await wait_for(lambda: len(c.msgs) >= 1, 5, "the new message")
            await asyncio.sleep(0.2)
            check_that(c.seqs() == [n + 1] and c.msgs[0]["data"] == "fresh", "got %s" % c.msgs)
            await s.unsubscribe()
        await self.check("start_new_only", new_only)

        async def time_start():
            # This client sends int(now - time) whole seconds: old batch 3 s back, start 1 s back.
            T = self.chan("time")
            await self.publish_all(pub, T, ["old1", "old2", "old3"])
            await asyncio.sleep(3.2)
            await self.publish_all(pub, T, ["new1", "new2"])
            c = Collector(pub)
            s = await self.sub(pub, T, c, start_at="time", time=time.time() - 1.5)
            await wait_for(lambda: len(c.msgs) >= 2, 5, "2 messages")
            await asyncio.sleep(0.2)
            check_that([m["data"] for m in c.msgs] == ["new1", "new2"], "time start delivered %s" % [m["data"] for m in c.msgs])
            check_that(c.seqs() == [4, 5], "sequences %s" % c.seqs())
            await s.unsubscribe()
        await self.check("start_time_delta", time_start)

        async def durable():
            D = self.chan("durable")
            cid = "smoke-dur-" + self.run
            sc = await self.connect(cid)
            c1 = Collector(sc, ack=lambda r: r["seq"] <= 3)
            await self.sub(sc, D, c1, deliver_all_available=True, durable_name="dur", manual_acks=True, ack_wait=30)
            await self.publish_all(pub, D, ["d%d" % i for i in range(1, 6)])
            await wait_for(lambda: len(c1.msgs) >= 5, 5, "5 durable messages")
            await asyncio.sleep(0.2)
            await self.close(sc)
            await self.publish_all(pub, D, ["d6", "d7"])
            sc = await self.connect(cid)
            c2 = Collector(sc, ack=lambda r: True)
            s2 = await self.sub(sc, D, c2, deliver_all_available=True, durable_name="dur", manual_acks=True, ack_wait=30)
            await wait_for(lambda: len(c2.msgs) >= 4, 5, "4 messages after resume")
            await asyncio.sleep(0.3)
            check_that(sorted(c2.seqs()) == [4, 5, 6, 7], "resumed durable got %s, want 4,5,6,7" % c2.seqs())
            by = {m["seq"]: m for m in c2.msgs}
            check_that(by[4]["redelivered"] and by[5]["redelivered"], "unacked 4,5 not flagged redelivered")
            check_that(c2.seqs().index(4) < c2.seqs().index(6), "pending not resent before new")
            await asyncio.sleep(0.2)
            await asyncio.wait_for(s2.close(), 5)
            await self.publish_all(pub, D, ["d8"])
            c3 = Collector(sc, ack=lambda r: True)
            s3 = await self.sub(sc, D, c3, deliver_all_available=True, durable_name="dur", manual_acks=True, ack_wait=30)
            await wait_for(lambda: len(c3.msgs) >= 1, 5, "the new message after sub close + resume")
            await asyncio.sleep(0.3)
            check_that(c3.seqs() == [8], "after sub close + resume got %s, want 8" % c3.seqs())
            await asyncio.sleep(0.2)
            await asyncio.wait_for(s3.unsubscribe(), 5)
            c4 = Collector(sc)
            s4 = await self.sub(sc, D, c4, deliver_all_available=True, durable_name="dur")
            await wait_for(lambda: len(c4.msgs) >= 8, 5, "a fresh durable to replay all 8")
            check_that(c4.seqs() == list(range(1, 9)), "after unsubscribe the durable restarted at %s" % c4.seqs())
            await asyncio.wait_for(s4.unsubscribe(), 5)
            await self.close(sc)
            return {"resumed": c2.seqs()}
        await self.check("durable_resume_after_connection_close", durable)

        async def queue():
            Q = self.chan("queue")
            total = max(n, 20)
            s1 = await self.connect("smoke-q1-" + self.run)
            s2 = await self.connect("smoke-q2-" + self.run)
            a, b, plain = Collector(s1), Collector(s2), Collector(pub)
            await self.sub(s1, Q, a, queue="workers", deliver_all_available=True)
            await self.sub(s2, Q, b, queue="workers", deliver_all_available=True)
            ps = await self.sub(pub, Q, plain, deliver_all_available=True)
            await self.publish_all(pub, Q, ["q%d" % i for i in range(1, total + 1)])
            await wait_for(lambda: len(a.msgs) + len(b.msgs) >= total, 5, "%d queue deliveries" % total)
            await wait_for(lambda: len(plain.msgs) >= total, 5, "%d plain deliveries" % total)
            await asyncio.sleep(0.3)
            got = sorted(a.seqs() + b.seqs())
            check_that(got == list(range(1, total + 1)), "queue members got duplicates or gaps: %s" % got)
            check_that(a.msgs and b.msgs, "one member got nothing: %d/%d" % (len(a.msgs), len(b.msgs)))
            check_that(plain.seqs() == list(range(1, total + 1)), "plain subscriber got %s" % plain.seqs())
            await ps.unsubscribe()
            await self.close(s1)
            await self.close(s2)
            return {"split": [len(a.msgs), len(b.msgs)]}
        await self.check("queue_group_two_members", queue)

        async def redelivery():
            R = self.chan("redeliver")
            sc = await self.connect("smoke-ack-" + self.run)
            acked = []

            def ack(rec):
                if rec["redelivered"] and not acked:
                    acked.append(time.monotonic())
                    return True
                return False
            c = Collector(sc, ack=ack)
            s = await self.sub(sc, R, c, deliver_all_available=True, manual_acks=True, ack_wait=1, max_inflight=10)
            t0 = time.monotonic()
            await self.publish_all(pub, R, ["r1"])
            await wait_for(lambda: len(c.msgs) >= 1, 3, "first delivery")
            f = c.msgs[0]
            check_that(f["seq"] == 1 and not f["redelivered"] and f["count"] in (0, None), "first delivery %s" % f)
            await wait_for(lambda: len(c.msgs) >= 2, 4, "a redelivery after the 1 s ack wait")
            after = time.monotonic() - t0
            r = c.msgs[1]
            check_that(r["seq"] == 1 and r["redelivered"], "redelivery %s" % r)
            check_that(r["count"] is None or r["count"] >= 1, "redelivery count %s" % r["count"])
            check_that(after >= 0.8, "redelivered after only %.3f s" % after)
            await asyncio.sleep(2.3)
            check_that(len(c.msgs) == 2, "kept redelivering after the ack: %d deliveries" % len(c.msgs))
            await s.unsubscribe()
            await self.close(sc)
            return {"redelivered_after_ms": int(after * 1000), "redelivery_count": r["count"]}
        await self.check("manual_ack_redelivery", redelivery)

        async def close():
            await self.close(pub)
        await self.check("close", close)

    def report(self, ok, **extra):
        if self.sub_errors:
            extra["subscription_errors"] = self.sub_errors[:10]
        out = {"ok": ok, "client": "asyncio-nats-streaming@" + STAN_VERSION,
               "python": sys.version.split()[0], "url": self.url, "cluster_id": self.cluster,
               "msgs": self.n, "checks": self.results}
        out.update(extra)
        print(json.dumps(out), flush=True)


async def amain(args):
    s = Smoke(args.url, args.cluster, args.msgs, args.verbose)
    code = 0
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(s.main(), DEADLINE_S)
        s.report(True)
    except CheckError as e:
        s.report(False, failed=s.current, error=str(e))
        code = 1
    except asyncio.TimeoutError as e:
        if time.monotonic() - t0 >= DEADLINE_S - 0.5:
            s.report(False, failed=s.current, error="run exceeded %d s" % DEADLINE_S)
            code = 2
        else:
            s.report(False, failed=s.current, error="timed out: %s" % (str(e) or type(e).__name__))
            code = 1
    except Exception as e:  # noqa: BLE001 - any failure fails the check
        s.report(False, failed=s.current, error="%s: %s" % (type(e).__name__, e))
        code = 1
    for nc, sc in s.conns:
        try:
            await asyncio.wait_for(nc.close(), 2)
        except Exception:
            pass
    return code


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", nargs="?", default="nats://127.0.0.1:4222")
    ap.add_argument("cluster", nargs="?", default="test-cluster")
    ap.add_argument("--msgs", type=int, default=10)
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    if args.msgs < 3:
        ap.error("--msgs must be at least 3")
    sys.exit(asyncio.run(amain(args)))


if __name__ == "__main__":
    main()
