// Decodes HEP packets with sipcapture's hep-js (an implementation
// independent of sipedge's encoder) for tests/hep.rs: one packet per input
// line in hex, one JSON object per output line ({rcinfo, payload}, or
// false for a packet hep-js could not decode).
const hep = require("hep-js");
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.length > 0);
for (const line of lines) {
  console.log(JSON.stringify(hep.decapsulate(Buffer.from(line, "hex"))));
}
