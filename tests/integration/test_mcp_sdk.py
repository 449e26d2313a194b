"""Optional: `dino mcp` driven by the real MCP TypeScript SDK client
(@modelcontextprotocol/sdk@1.32.2), which also validates every
structuredContent against the tool's outputSchema.  Skips unless the SDK
was installed for testing with:

    mkdir -p build/mcp-sdk && cd build/mcp-sdk &&
        npm install @modelcontextprotocol/sdk@1.32.2
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import tap  # noqa: E402
from fakeagent import FakeAgent  # noqa: E402

TOP = os.environ.get("DINO_TOP", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("DINO_BUILD", os.path.join(TOP, "build"))
SDK = os.environ.get("DINO_MCP_SDK", os.path.join(
    TOP, "build", "mcp-sdk", "node_modules", "@modelcontextprotocol", "sdk",
    "dist", "cjs"))

SCRIPT = r"""
const { Client } = require(process.env.SDK + "/client/index.js");
const { StdioClientTransport } = require(process.env.SDK + "/client/stdio.js");
(async () => {
  const out = {};
  const t = new StdioClientTransport({command: process.env.DINO,
    args: ["--socket", process.env.SOCK, "mcp"], stderr: "ignore"});
  const c = new Client({name: "sdk-test", version: "1"});
  await c.connect(t);
  out.version = c.getServerVersion();
  out.tools = (await c.listTools()).tools.map(x => x.name);
  const spend = (a, m) => c.callTool({name: "create_spend", arguments:
    {amount_cents: a, currency: "usd", merchant_name: m, reason: "sdk"}});
  out.approved = await spend(1200, "AWS");
  out.pending = await spend(60000, "AWS");
  out.waited = await c.callTool({name: "wait_for_decision", arguments:
    {id: out.pending.structuredContent.id, timeout_s: 1}});
  out.declined = await spend(1200, "Casino");
  out.refused = await spend(1200, "Blocked");
  out.balance = await c.callTool({name: "get_balance", arguments: {}});
  try {
    await c.callTool({name: "nope", arguments: {}});
    out.unknown = "no error";
  } catch (e) { out.unknown = e.code; }
  await c.close();
  console.log(JSON.stringify(out));
})().catch(e => { console.log(JSON.stringify({fatal: String(e)})); });
"""


def test_sdk_client():
    node = shutil.which("node")
    if node is None or not os.path.isdir(SDK):
        tap.check(True, "MCP SDK client # SKIP node or the SDK is absent")
        return
    with FakeAgent() as fa, tempfile.TemporaryDirectory() as d:
        js = os.path.join(d, "client.js")
        with open(js, "w") as f:
            f.write(SCRIPT)
        env = dict(os.environ, SDK=SDK, SOCK=fa.sock,
                   DINO=os.path.join(BUILD, "dino"))
        p = subprocess.run([node, js], capture_output=True, text=True,
                           timeout=45, env=env)
        try:
            out = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            out = {"fatal": p.stdout + p.stderr}
        tap.check("fatal" not in out, "the SDK client ran the whole "
                  "conversation%s" % ("" if "fatal" not in out else
                                       ": " + out["fatal"][:300]))
        if "fatal" in out:
            return
        tap.check(out["version"]["name"] == "dino", "initialize via the SDK")
        tap.check(out["tools"] == ["create_spend", "get_balance", "get_spend",
                                   "wait_for_decision"], "listTools")
        tap.check(out["approved"]["isError"] is False and
                  out["approved"]["structuredContent"]["status"] ==
                  "approved", "callTool approved (outputSchema validated)")
        tap.check(out["pending"]["isError"] is False and
                  out["pending"]["structuredContent"]["status"] ==
                  "needs_approval", "callTool needs_approval")
        tap.check(out["waited"]["structuredContent"].get("timed_out") is True,
                  "callTool wait_for_decision timed out")
        tap.check(out["declined"]["isError"] is True, "declined is isError")
        tap.check(out["refused"]["isError"] is True and
                  "structuredContent" not in out["refused"],
                  "refused is isError")
        tap.check(out["balance"]["structuredContent"]["currency"] == "usd",
                  "callTool get_balance")
        tap.check(out["unknown"] == -32602, "unknown tool: -32602 in the SDK")
        tap.check(fa.invalid == [], "every fake answer fits openapi.yaml")


tap.run(globals())
