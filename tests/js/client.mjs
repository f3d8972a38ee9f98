// The scenario every WebSocket client runs, from Node or from a page:
// connect (with a user JWT when given), subscribe, publish, request/reply.
// Prints "ok" when everything arrived; anything else is a failure.
export async function scenario(nats, url, creds) {
  const { connect, StringCodec, jwtAuthenticator } = nats;
  const opts = { servers: url, timeout: 5000 };
  if (creds) {
    opts.authenticator = jwtAuthenticator(creds.jwt, new TextEncoder().encode(creds.seed));
  }
  const nc = await connect(opts);
  const sc = StringCodec();
  const got = nc.subscribe("hello.>", { max: 1 });
  const svc = nc.subscribe("svc", { max: 1 });
  (async () => {
    for await (const m of svc) m.respond(sc.encode(`re:${sc.decode(m.data)}`));
  })();
  nc.publish("hello.world", sc.encode("hi"));
  let seen = "";
  for await (const m of got) seen = `${m.subject} ${sc.decode(m.data)}`;
  const reply = await nc.request("svc", sc.encode("q"), { timeout: 5000 });
  await nc.drain();
  if (seen !== "hello.world hi") return `bad message: ${seen}`;
  if (sc.decode(reply.data) !== "re:q") return `bad reply: ${sc.decode(reply.data)}`;
  return "ok";
}
