// The straightforward single-threaded verifier that `bench/verify.sh` measures pack-verify
// against: what a registry operator writes with Node's standard library, following the
// contract's verification steps (§4.1) one version at a time, in the style of the reference
// registry's hand-run scripts. Written for this benchmark; no dependencies.
//
//   node bench/peers/naive-verify.mjs <registry-tree>
//
// Prints "<verified> verified, <failed> failed" and exits 1 if any version failed.
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

const root = process.argv[2];
if (!root) {
  console.error("usage: naive-verify.mjs <registry-tree>");
  process.exit(2);
}
const read = (p) => readFileSync(join(root, p));
const json = (p) => JSON.parse(read(p).toString("utf8"));

const discovery = json(".well-known/openwop-registry.json");
const keys = new Map();
for (const k of discovery.signingKeys ?? []) {
  const pem = read(`keys/${k.keyId}.pub`);
  keys.set(k.keyId, { key: createPublicKey(pem), namespaces: k.permittedNamespaces ?? [] });
}

const admits = (pattern, name) => (pattern.endsWith(".*") ? name.startsWith(pattern.slice(0, -1)) : pattern === name);

// Finds one file in an uncompressed ustar archive.
function tarEntry(tar, wanted) {
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (a, b) => header.subarray(a, b).toString("utf8").replace(/\0.*$/s, "");
    const prefix = field(345, 500);
    const name = (prefix ? `${prefix}/` : "") + field(0, 100);
    const size = parseInt(field(124, 136).trim() || "0", 8);
    const body = off + 512;
    if (name.replace(/^\.\//, "") === wanted) return tar.subarray(body, body + size);
    off = body + Math.ceil(size / 512) * 512;
  }
  return null;
}

function check(name, version) {
  const base = `v1/packs/${name}/-/${version}`;
  const manifest = json(`${base}.json`);
  const tgz = read(`${base}.tgz`);
  const sig = read(`${base}.sig`);
  const digest = "sha256-" + createHash("sha256").update(tgz).digest("base64");
  if (digest !== manifest.integrity) return "integrity";
  const signing = manifest.signing ?? {};
  const keyId = signing.keyId ?? signing.publicKeyRef;
  const entry = keys.get(keyId);
  if (!entry) return "unknown key";
  if (!entry.namespaces.some((p) => admits(p, name))) return "namespace";
  if (sig.length !== 64) return "signature length";
  let signed;
  if (signing.method === "ed25519") signed = tgz;
  else if (signing.method === "manual") signed = tarEntry(gunzipSync(tgz), "pack.json");
  else return "method";
  if (!signed) return "no pack.json";
  return verify(null, signed, entry.key, sig) ? null : "signature";
}

let ok = 0;
let failed = 0;
for (const { name } of json("v1/index.json").packs) {
  for (const { version } of json(`v1/packs/${name}/index.json`).versions) {
    const problem = check(name, version);
    if (problem) {
      failed++;
      console.error(`${name}@${version}: ${problem}`);
    } else ok++;
  }
}
console.log(`${ok} verified, ${failed} failed`);
process.exit(failed ? 1 : 0);
