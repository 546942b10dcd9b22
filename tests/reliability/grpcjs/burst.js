// Send a burst of calls at once on one connection with @grpc/grpc-js and print the outcome as
// JSON: {"codes": {"OK": n, "CANCELLED": m, ...}, "seconds": s, "p99": s}.
//
//   node burst.js ADDRESS unary METHOD COUNT REQUEST.bin
//   node burst.js ADDRESS stream METHOD COUNT HEADER.bin INPUTS.bin
//
// Requests are pre-serialized protobuf messages (written by the Python test), so this client
// needs no .proto files: it sends bytes and counts statuses.
"use strict";
const fs = require("fs");
const grpc = require("@grpc/grpc-js");

const [address, kind, method, countText, ...files] = process.argv.slice(2);
const count = Number(countText);
const payloads = files.map((f) => fs.readFileSync(f));
const identity = (b) => b;
const client = new grpc.Client(address, grpc.credentials.createInsecure(), {
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
});
const codeNames = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
const deadline = () => new Date(Date.now() + 300 * 1000);

function one() {
  return new Promise((resolve) => {
    const began = process.hrtime.bigint();
    const done = (err) => resolve({ code: err ? codeNames[err.code] : "OK", began });
    if (kind === "unary") {
      client.makeUnaryRequest(method, identity, identity, payloads[0], { deadline: deadline() }, done);
    } else {
      let answered = false;
      const call = client.makeBidiStreamRequest(method, identity, identity, { deadline: deadline() });
      call.on("data", () => { answered = true; });
      call.on("error", (err) => done(err));
      call.on("status", (status) => {
        if (status.code === grpc.status.OK) done(answered ? null : { code: grpc.status.UNKNOWN });
      });
      call.write(payloads[0]);
      call.write(payloads[1]);
      call.end();
    }
  }).then((r) => ({ code: r.code, seconds: Number(process.hrtime.bigint() - r.began) / 1e9 }));
}

client.waitForReady(deadline(), async (err) => {
  if (err) {
    console.error(`not ready: ${err.message}`);
    process.exit(2);
  }
  const began = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: count }, one));
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  const codes = {};
  for (const r of results) codes[r.code] = (codes[r.code] || 0) + 1;
  const latencies = results.map((r) => r.seconds).sort((a, b) => a - b);
  const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))];
  console.log(JSON.stringify({ codes, seconds, p99 }));
  client.close();
});
