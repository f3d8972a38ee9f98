#!/usr/bin/env node
// Smoke test of a NATS Streaming server with the real Node client
// (node-nats-streaming 0.3.2, the last release).
//
//   node smoke.js [URL] [CLUSTER_ID] [--msgs N] [--verbose]
//   URL defaults to nats://127.0.0.1:4222, CLUSTER_ID to test-cluster.
//
// Every check runs in order against fresh, uniquely named channels and
// client IDs, so the server may hold other state. Every wait is bounded.
// Exit 0 and one JSON line {"ok":true,...} on stdout only when every
// check passed; otherwise a JSON line {"ok":false,"failed":CHECK,...} and
// exit 1 (2 when the whole run overran its deadline).
'use strict'

const stan = require('node-nats-streaming')
const nuid = require('nuid')

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2)
const positional = []
let N = 10
let verbose = false
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--msgs') {
    N = parseInt(argv[++i], 10)
  } else if (argv[i] === '--verbose' || argv[i] === '-v') {
    verbose = true
  } else if (argv[i] === '-h' || argv[i] === '--help') {
    console.log('usage: node smoke.js [URL] [CLUSTER_ID] [--msgs N] [--verbose]')
    process.exit(0)
  } else {
    positional.push(argv[i])
  }
}
if (!(N >= 3)) {
  console.error('--msgs must be at least 3')
  process.exit(64)
}
const URL = positional[0] || 'nats://127.0.0.1:4222'
const CLUSTER = positional[1] || 'test-cluster'
const RUN = nuid.next().slice(-8) // keeps names unique per run
const DEADLINE_MS = 90 * 1000

const results = []
const started = Date.now()
const openConns = new Set()

function log (...a) {
  if (verbose) console.error('[smoke]', ...a)
}

function finish (ok, extra) {
  const out = Object.assign({
    ok,
    client: 'node-nats-streaming@' + stan.version,
    url: URL,
    cluster_id: CLUSTER,
    msgs: N,
    elapsed_ms: Date.now() - started,
    checks: results
  }, extra || {})
  process.stdout.write(JSON.stringify(out) + '\n')
  for (const sc of openConns) {
    try { sc.close() } catch (_) {}
  }
  // Give the close requests a moment, then leave regardless.
  process.exitCode = ok ? 0 : (extra && extra.code) || 1
  setTimeout(() => process.exit(), 200)
}

const deadline = setTimeout(() => {
  finish(false, { failed: current, error: 'run exceeded ' + DEADLINE_MS + ' ms', code: 2 })
}, DEADLINE_MS)

// ---------------------------------------------------------------- helpers
class CheckError extends Error {}
function assert (cond, msg) {
  if (!cond) throw new CheckError(msg)
}
function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
function withTimeout (promise, ms, what) {
  let t
  const timeout = new Promise((resolve, reject) => {
    t = setTimeout(() => reject(new CheckError('timed out after ' + ms + ' ms waiting for ' + what)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t))
}
// Polls cond() until it is true; fails after ms.
async function waitFor (cond, ms, what) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new CheckError('timed out after ' + ms + ' ms waiting for ' + what)
    await sleep(10)
  }
}
function errText (e) {
  if (e === undefined || e === null) return String(e)
  if (typeof e === 'string') return e
  return e.message || String(e)
}

function connect (clientID, extra) {
  return withTimeout(new Promise((resolve, reject) => {
    const sc = stan.connect(CLUSTER, clientID, Object.assign({
      url: URL,
      connectTimeout: 3000,
      maxReconnectAttempts: 3,
      reconnectTimeWait: 250
    }, extra || {}))
    openConns.add(sc)
    sc.errors = []
    sc.on('connect', () => resolve(sc))
    sc.on('error', (e) => {
      sc.errors.push(errText(e))
      reject(new CheckError('connect ' + clientID + ': ' + errText(e)))
    })
    sc.on('close', () => openConns.delete(sc))
  }), 5000, 'connect of ' + clientID)
}

function closeConn (sc) {
  return withTimeout(new Promise((resolve, reject) => {
    sc.once('close', (err) => {
      openConns.delete(sc)
      if (err) reject(new CheckError('connection close answered: ' + errText(err)))
      else resolve()
    })
    sc.close()
  }), 5000, 'connection close')
}

function publish (sc, subject, data) {
  return withTimeout(new Promise((resolve, reject) => {
    let guid = null
    guid = sc.publish(subject, data, (err, ackGuid) => {
      if (err) return reject(new CheckError('publish ack error: ' + errText(err)))
      if (guid !== null && ackGuid !== guid) {
        return reject(new CheckError('ack guid ' + ackGuid + ' != published guid ' + guid))
      }
      resolve(ackGuid)
    })
  }), 5000, 'publish ack on ' + subject)
}

async function publishAll (sc, subject, datas) {
  // Fire all at once (the client pipelines them) and wait for every ack.
  const guids = await Promise.all(datas.map((d) => publish(sc, subject, d)))
  assert(new Set(guids).size === guids.length, 'publish acks carried duplicate guids')
  return guids
}

// Subscribes and resolves once the server confirmed ('ready'). The
// returned sub has .msgs (every delivery, in arrival order) and .errors.
function subscribe (sc, subject, qGroup, opts, onMsg) {
  return withTimeout(new Promise((resolve, reject) => {
    const sub = qGroup ? sc.subscribe(subject, qGroup, opts) : sc.subscribe(subject, opts)
    sub.msgs = []
    sub.errors = []
    sub.on('message', (m) => {
      const rec = {
        seq: m.getSequence(),
        data: String(m.getData()),
        redelivered: m.isRedelivered(),
        count: m.getRedeliveryCount(),
        ts: m.getTimestamp().getTime(),
        subject: m.getSubject(),
        msg: m
      }
      sub.msgs.push(rec)
      if (onMsg) onMsg(rec, sub)
    })
    sub.on('ready', () => resolve(sub))
    sub.on('error', (e) => {
      sub.errors.push(errText(e))
      reject(new CheckError('subscribe ' + subject + ': ' + errText(e)))
    })
    sub.on('timeout', (e) => reject(new CheckError('subscribe ' + subject + ': ' + errText(e))))
  }), 5000, 'subscription to ' + subject)
}

function endSub (sub, close) {
  const ev = close ? 'closed' : 'unsubscribed'
  return withTimeout(new Promise((resolve, reject) => {
    sub.once(ev, resolve)
    sub.once('error', (e) => reject(new CheckError(ev + ': ' + errText(e))))
    sub.once('timeout', (e) => reject(new CheckError(ev + ': ' + errText(e))))
    if (close) sub.close()
    else sub.unsubscribe()
  }), 5000, 'subscription ' + ev)
}

function seqs (msgs) {
  return msgs.map((m) => m.seq)
}
function range (a, b) {
  const r = []
  for (let i = a; i <= b; i++) r.push(i)
  return r
}
function same (a, b) {
  return JSON.stringify(a) === JSON.stringify(b)
}
function datas (prefix, n, from) {
  return range(from || 1, (from || 1) + n - 1).map((i) => prefix + i)
}

// ---------------------------------------------------------------- checks
let current = 'setup'
async function check (name, fn) {
  current = name
  const t0 = Date.now()
  log('running', name)
  const detail = await fn()
  results.push(Object.assign({ name, ok: true, ms: Date.now() - t0 }, detail || {}))
}

async function main () {
  let pub
  const chan = (what) => 'smoke.' + RUN + '.' + what

  await check('connect', async () => {
    pub = await connect('smoke-pub-' + RUN)
    assert(pub.pubPrefix && pub.subRequests && pub.unsubRequests && pub.closeRequests,
      'ConnectResponse is missing request subjects')
    assert(pub.subCloseRequests, 'ConnectResponse has no subCloseRequests')
    assert(pub.pingRequests, 'ConnectResponse has no pingRequests (protocol 1)')
    return { pubPrefix: pub.pubPrefix, pingInterval_ms: pub.stanPingInterval }
  })

  await check('duplicate_client_id_rejected', async () => {
    const id = 'smoke-dup-' + RUN
    const a = await connect(id)
    let err = null
    try {
      await connect(id)
    } catch (e) {
      err = errText(e)
    }
    assert(err !== null, 'second connect with a live client ID succeeded')
    assert(err.indexOf('stan: clientID already registered') >= 0, 'unexpected error text: ' + err)
    await closeConn(a)
    return { error: err }
  })

  const P = chan('pos')
  await check('publish_with_acks', async () => {
    const guids = await publishAll(pub, P, datas('m', N))
    return { published: guids.length }
  })

  await check('start_all_available', async () => {
    const o = pub.subscriptionOptions().setDeliverAllAvailable()
    const sub = await subscribe(pub, P, null, o)
    await waitFor(() => sub.msgs.length >= N, 5000, N + ' messages')
    await sleep(200)
    assert(same(seqs(sub.msgs), range(1, N)), 'sequences ' + seqs(sub.msgs) + ' != 1..' + N)
    assert(same(sub.msgs.map((m) => m.data), datas('m', N)), 'payloads out of order or wrong')
    assert(sub.msgs.every((m) => !m.redelivered && m.count === 0), 'a first delivery was flagged redelivered')
    assert(sub.msgs.every((m) => m.subject === P), 'message subject is not the channel')
    for (let i = 1; i < sub.msgs.length; i++) {
      assert(sub.msgs[i].ts >= sub.msgs[i - 1].ts, 'timestamps go backwards')
    }
    assert(Math.abs(sub.msgs[0].ts - Date.now()) < 60000, 'timestamp not near now: ' + sub.msgs[0].ts)
    await endSub(sub, false)
  })

  await check('start_at_sequence', async () => {
    const start = 3
    const o = pub.subscriptionOptions().setStartAtSequence(start)
    const sub = await subscribe(pub, P, null, o)
    await waitFor(() => sub.msgs.length >= N - start + 1, 5000, (N - start + 1) + ' messages')
    await sleep(200)
    assert(same(seqs(sub.msgs), range(start, N)), 'sequences ' + seqs(sub.msgs) + ' != ' + start + '..' + N)
    await endSub(sub, false)
  })

  await check('start_with_last_received', async () => {
    const o = pub.subscriptionOptions().setStartWithLastReceived()
    const sub = await subscribe(pub, P, null, o)
    await waitFor(() => sub.msgs.length >= 1, 5000, 'the last message')
    await sleep(300)
    assert(same(seqs(sub.msgs), [N]), 'got sequences ' + seqs(sub.msgs) + ', want only ' + N)
    assert(sub.msgs[0].data === 'm' + N, 'last message payload ' + sub.msgs[0].data)
    await endSub(sub, false)
  })

  await check('start_new_only', async () => {
    const o = pub.subscriptionOptions().setStartAt(stan.StartPosition.NEW_ONLY)
    const sub = await subscribe(pub, P, null, o)
    await sleep(300)
    assert(sub.msgs.length === 0, 'new-only sub got old sequences ' + seqs(sub.msgs))
    await publish(pub, P, 'fresh')
    await waitFor(() => sub.msgs.length >= 1, 5000, 'the new message')
    await sleep(200)
    assert(same(seqs(sub.msgs), [N + 1]) && sub.msgs[0].data === 'fresh',
      'got ' + JSON.stringify(sub.msgs.map((m) => [m.seq, m.data])))
    await endSub(sub, false)
  })

  await check('start_time_delta', async () => {
    const T = chan('time')
    await publishAll(pub, T, ['old1', 'old2', 'old3'])
    await sleep(1500)
    await publishAll(pub, T, ['new1', 'new2'])
    const o = pub.subscriptionOptions().setStartAtTimeDelta(1000)
    const sub = await subscribe(pub, T, null, o)
    await waitFor(() => sub.msgs.length >= 2, 5000, '2 messages')
    await sleep(200)
    assert(same(sub.msgs.map((m) => m.data), ['new1', 'new2']),
      'time delta 1s delivered ' + sub.msgs.map((m) => m.data))
    assert(same(seqs(sub.msgs), [4, 5]), 'sequences ' + seqs(sub.msgs))
    await endSub(sub, false)
    // Same with an absolute start time (the client turns it into a delta).
    const o2 = pub.subscriptionOptions().setStartTime(new Date(Date.now() - 1000))
    const sub2 = await subscribe(pub, T, null, o2)
    await waitFor(() => sub2.msgs.length >= 2, 5000, '2 messages (start time)')
    await sleep(200)
    assert(same(sub2.msgs.map((m) => m.data), ['new1', 'new2']),
      'start time now-1s delivered ' + sub2.msgs.map((m) => m.data))
    await endSub(sub2, false)
  })

  await check('durable_resume_after_connection_close', async () => {
    const D = chan('durable')
    const id = 'smoke-dur-' + RUN
    const durable = 'dur'
    const acked = 3
    let sc = await connect(id)
    const mk = (c) => c.subscriptionOptions().setDeliverAllAvailable()
      .setDurableName(durable).setManualAckMode(true).setAckWait(30000)
    const sub1 = await subscribe(sc, D, null, mk(sc), (m) => {
      if (m.seq <= acked) m.msg.ack()
    })
    await publishAll(pub, D, datas('d', 5))
    await waitFor(() => sub1.msgs.length >= 5, 5000, '5 durable messages')
    await sleep(200) // let the acks reach the server before the close
    await closeConn(sc)
    await publishAll(pub, D, datas('d', 2, 6))

    sc = await connect(id)
    const sub2 = await subscribe(sc, D, null, mk(sc), (m) => m.msg.ack())
    await waitFor(() => sub2.msgs.length >= 4, 5000, '4 messages after resume (2 unacked + 2 new)')
    await sleep(300)
    const got = seqs(sub2.msgs).slice().sort((a, b) => a - b)
    assert(same(got, [4, 5, 6, 7]), 'resumed durable got sequences ' + seqs(sub2.msgs) + ', want 4,5,6,7')
    const r4 = sub2.msgs.find((m) => m.seq === 4)
    const r5 = sub2.msgs.find((m) => m.seq === 5)
    assert(r4.redelivered && r5.redelivered, 'unacked messages 4,5 not flagged redelivered on resume')
    assert(seqs(sub2.msgs).indexOf(4) < seqs(sub2.msgs).indexOf(6), 'pending messages not resent before new ones')

    // sub.close() keeps the durable: resume on the same connection sees only new messages.
    await sleep(200)
    await endSub(sub2, true)
    await publish(pub, D, 'd8')
    const sub3 = await subscribe(sc, D, null, mk(sc), (m) => m.msg.ack())
    await waitFor(() => sub3.msgs.length >= 1, 5000, 'the new message after sub close + resume')
    await sleep(300)
    assert(same(seqs(sub3.msgs), [8]), 'after sub close + resume got ' + seqs(sub3.msgs) + ', want 8')

    // unsubscribe removes the durable: a new one starts from its start position.
    await sleep(200)
    await endSub(sub3, false)
    const sub4 = await subscribe(sc, D, null, mk(sc).setManualAckMode(false))
    await waitFor(() => sub4.msgs.length >= 8, 5000, 'a fresh durable to replay all 8')
    assert(same(seqs(sub4.msgs), range(1, 8)), 'after unsubscribe the durable restarted at ' + seqs(sub4.msgs))
    await endSub(sub4, false)
    await closeConn(sc)
    return { resumed: seqs(sub2.msgs) }
  })

  await check('queue_group_two_members', async () => {
    const Q = chan('queue')
    const total = Math.max(N, 20)
    const c1 = await connect('smoke-q1-' + RUN)
    const c2 = await connect('smoke-q2-' + RUN)
    const o = (c) => c.subscriptionOptions().setDeliverAllAvailable()
    const a = await subscribe(c1, Q, 'workers', o(c1))
    const b = await subscribe(c2, Q, 'workers', o(c2))
    // A plain subscriber on the same channel still sees everything.
    const plain = await subscribe(pub, Q, null, o(pub))
    await publishAll(pub, Q, datas('q', total))
    await waitFor(() => a.msgs.length + b.msgs.length >= total, 5000, total + ' queue deliveries')
    await waitFor(() => plain.msgs.length >= total, 5000, total + ' plain deliveries')
    await sleep(300)
    const all = seqs(a.msgs).concat(seqs(b.msgs)).sort((x, y) => x - y)
    assert(same(all, range(1, total)), 'queue members got ' + all.length + ' msgs, duplicates or gaps: ' + all)
    assert(a.msgs.length > 0 && b.msgs.length > 0, 'one member got nothing: ' + a.msgs.length + '/' + b.msgs.length)
    assert(same(seqs(plain.msgs), range(1, total)), 'plain subscriber beside the group got ' + seqs(plain.msgs))
    await endSub(plain, false)
    await closeConn(c1)
    await closeConn(c2)
    return { split: [a.msgs.length, b.msgs.length] }
  })

  await check('manual_ack_redelivery', async () => {
    const R = chan('redeliver')
    const c = await connect('smoke-ack-' + RUN)
    const o = c.subscriptionOptions().setDeliverAllAvailable()
      .setManualAckMode(true).setAckWait(1000).setMaxInFlight(10)
    let ackAt = null
    const sub = await subscribe(c, R, null, o, (m, s) => {
      // Ack only the first redelivery.
      if (m.redelivered && ackAt === null) {
        ackAt = Date.now()
        m.msg.ack()
      }
    })
    const t0 = Date.now()
    await publish(pub, R, 'r1')
    await waitFor(() => sub.msgs.length >= 1, 3000, 'first delivery')
    const first = sub.msgs[0]
    assert(first.seq === 1 && !first.redelivered && first.count === 0, 'first delivery ' + JSON.stringify([first.seq, first.redelivered, first.count]))
    await waitFor(() => sub.msgs.length >= 2, 4000, 'a redelivery after the 1 s ack wait')
    const second = sub.msgs[1]
    const after = Date.now() - t0
    assert(second.seq === 1, 'redelivered sequence ' + second.seq)
    assert(second.redelivered === true, 'redelivery not flagged isRedelivered()')
    assert(second.count >= 1, 'redelivery count ' + second.count)
    assert(after >= 800, 'redelivered after only ' + after + ' ms with a 1 s ack wait')
    // Acked: nothing more comes within two more ack waits.
    await sleep(2300)
    assert(sub.msgs.length === 2, 'kept redelivering after the ack: ' + sub.msgs.length + ' deliveries')
    await endSub(sub, false)
    await closeConn(c)
    return { redelivered_after_ms: after, redelivery_count: second.count }
  })

  await check('close', async () => {
    await closeConn(pub)
  })
}

main().then(() => {
  clearTimeout(deadline)
  finish(true)
}, (e) => {
  clearTimeout(deadline)
  finish(false, { failed: current, error: errText(e), stack: (e instanceof CheckError) ? undefined : (e && e.stack) })
})
