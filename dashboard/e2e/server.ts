// Starts a real `tasknet up --demo` for the browser tests: its own data
// directory in a temp dir, a free port (127.0.0.1:0, read back from the
// banner), and killed (then its directory removed) when the tests end.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { ReportingService } from "../src/gen/tasknet/v1/reporting_pb.js";

const run = promisify(execFile);

export const BIN = path.resolve(process.env.TASKNET_BIN ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "../../target/debug/tasknet"));

export interface Reader {
  token: string;
  credentialId: string;
  /** The sign-in link (docs/dashboard-contract.md: /#/signin?token=…). */
  link: string;
}

export interface Server {
  url: string;
  dataDir: string;
  adminToken: string;
  /** Runs a tasknet client command against this server as the administrator. */
  cli(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  reader(unit?: string): Promise<Reader>;
  /** The generated client over gRPC-Web, as the page uses it, with a given token. */
  reporting(token: string): Client<typeof ReportingService>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

export async function startTasknet(size: "small" | "seed", readyTimeoutMs: number): Promise<Server> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "tasknet-dashboard-"));
  const child = spawn(
    BIN,
    ["up", "--demo", "--demo-size", size, "--listen", "127.0.0.1:0", "--data-dir", dataDir],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" } },
  );
  children.add(child);
  let out = "";
  let err = "";
  const url = await new Promise<string>((resolve, reject) => {
    let address = "";
    const timer = setTimeout(() => reject(new Error(`tasknet up did not finish loading within ${readyTimeoutMs} ms\n${out}\n${err.slice(-4000)}`)), readyTimeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /tasknet is up on (\S+)/.exec(out);
      if (m) address = m[1];
      if (address && /demo data loaded/.test(out)) {
        clearTimeout(timer);
        resolve(`http://${address}`);
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      if (err.length > 100_000) err = err.slice(-50_000);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tasknet up exited (${code}) before it was ready\n${out}\n${err.slice(-4000)}`));
    });
  });
  return serverAt(url, dataDir, async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    children.delete(child);
    rmSync(dataDir, { recursive: true, force: true });
  });
}

/**
 * A tasknet already running (e.g. a seed demo loaded once for the benchmark
 * and the seed test): TASKNET_URL and its TASKNET_DATA_DIR (for admin.token).
 * Left running at the end.
 */
export function runningTasknet(): Server | null {
  const url = process.env.TASKNET_URL;
  const dataDir = process.env.TASKNET_DATA_DIR;
  if (!url || !dataDir) return null;
  return serverAt(url.replace(/\/$/, ""), dataDir, async () => undefined);
}

function serverAt(url: string, dataDir: string, stop: () => Promise<void>): Server {
  const adminFile = path.join(dataDir, "admin.token");
  const cli = async (...args: string[]) => run(BIN, [...args, "--endpoint", url, "--token-file", adminFile], { maxBuffer: 64 << 20 });
  const adminToken = readFileSync(adminFile, "utf8").trim();
  return {
    url,
    dataDir,
    adminToken,
    cli,
    async reader(unit?: string) {
      // The link exactly as the CLI prints it for an administrator to hand out.
      const args = ["admin", "token", "create", "--role", "dashboard-reader", "--label", "browser test", "--link"];
      if (unit) args.push("--unit", unit);
      const { stdout, stderr } = await cli(...args);
      const link = stdout.trim();
      const token = /#\/signin\?token=([^&\s]+)$/.exec(link)?.[1];
      const credentialId = /issued credential (\S+)/.exec(stderr)?.[1];
      if (!link.startsWith(`${url}/`) || !token || !credentialId) throw new Error(`no sign-in link in: ${stdout} ${stderr}`);
      return { token: decodeURIComponent(token), credentialId, link };
    },
    reporting(token: string) {
      const auth: Interceptor = (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      };
      return createClient(ReportingService, createGrpcWebTransport({ baseUrl: url, interceptors: [auth] }));
    },
    stop,
  };
}
