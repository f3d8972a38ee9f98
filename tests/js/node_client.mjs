// nats.ws from Node: `node node_client.mjs <ws(s)://url> [creds-json-file]`.
// For wss, NODE_EXTRA_CA_CERTS names the CA that signed the server.
import WebSocket from "ws";
import { readFileSync } from "node:fs";
import { scenario } from "./client.mjs";

globalThis.WebSocket = WebSocket;
const nats = await import("nats.ws");
const creds = process.argv[3] ? JSON.parse(readFileSync(process.argv[3], "utf8")) : null;
try {
  console.log(await scenario(nats, process.argv[2], creds));
} catch (e) {
  console.log(`error: ${e}`);
}
process.exit(0);
