// nats.ws in headless Chromium, driven by playwright-core:
// `node browser_client.mjs <chromium> <ws(s)://url> [creds-json-file]`.
// The page and nats.ws are served from a loopback HTTP server; the browser
// trusts the test CA only through --ignore-certificate-errors.
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [browserPath, url, credsFile] = process.argv.slice(2);
const creds = credsFile ? JSON.parse(readFileSync(credsFile, "utf8")) : null;
const files = {
  "/client.mjs": join(here, "client.mjs"),
  "/nats.js": join(here, "node_modules/nats.ws/esm/nats.js"),
};
const page = `<!doctype html><script type="module">
import * as nats from "/nats.js";
import { scenario } from "/client.mjs";
window.result = scenario(nats, ${JSON.stringify(url)}, ${JSON.stringify(creds)})
  .catch((e) => "error: " + e);
</script>`;
const http = createServer((req, res) => {
  const f = files[req.url];
  if (f) {
    res.writeHead(200, { "content-type": "text/javascript" });
    res.end(readFileSync(f));
  } else {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(page);
  }
});
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const browser = await chromium.launch({
  executablePath: browserPath,
  args: ["--ignore-certificate-errors", "--no-sandbox"],
});
try {
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${http.address().port}/`);
  console.log(await tab.evaluate(() => window.result));
} catch (e) {
  console.log(`error: ${e}`);
} finally {
  await browser.close();
  http.close();
}
