/**
 * The launcher, like PyTorch's `torchrun`: starts N `deno run -A script.ts` processes with `RANK`,
 * `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR` and `MASTER_PORT` set, prefixes each line of their output with
 * the rank, and when one fails, stops the others and exits with its status.
 *
 * ```sh
 * deno task launch --nproc 2 train.ts --epochs 3
 * deno run -A src/distributed/launch.ts --nproc 4 --master-port 29500 train.ts
 * ```
 * @module
 */

/** Options of {@linkcode launch}. */
export interface LaunchOptions {
  /** Number of processes. */
  nproc: number;
  /** The script every process runs. */
  script: string;
  /** Arguments after the script. */
  args?: string[];
  /** Host of rank 0's store (default 127.0.0.1). */
  masterAddr?: string;
  /** Port of rank 0's store (default: a free port). */
  masterPort?: number;
  /** Flags given to `deno run` (default ["-A"]). */
  denoFlags?: string[];
  /** Extra environment variables for every process. */
  env?: Record<string, string>;
  /** Receives each output line, prefixed with the rank (default: printed to stdout / stderr). */
  onLine?: (line: string, rank: number, stream: "stdout" | "stderr") => void;
  /** Milliseconds between asking the surviving processes to stop (SIGTERM) and killing them (default 3000). */
  killGraceMs?: number;
}

/** What {@linkcode launch} returns. */
export interface LaunchResult {
  /** 0 when every process succeeded, else the exit code of the first that failed (1 when it was killed). */
  code: number;
  /** The rank that failed first, or null. */
  failedRank: number | null;
  /** Every process's exit code (null for those killed by a signal). */
  codes: (number | null)[];
}

/**
 * A TCP port that was free a moment ago on `hostname` (listen on port 0, note the port, close).
 *
 * @example
 * ```ts
 * import { freePort } from "./launch.ts";
 * const port = freePort();
 * ```
 */
export function freePort(hostname = "127.0.0.1"): number {
  const l = Deno.listen({ hostname, port: 0, transport: "tcp" });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  emit: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    for (const p of parts) emit(p);
  }
  if (rest) emit(rest);
}

/**
 * Starts `nproc` processes of `script` and waits for them; when one exits with an error, the others are
 * stopped (SIGTERM, then SIGKILL after `killGraceMs`) and its code is returned.
 *
 * @example
 * ```ts
 * import { launch } from "./launch.ts";
 * const { code, failedRank } = await launch({ nproc: 2, script: "train.ts", env: { DENOGRAD_DEVICE: "cpu" } });
 * if (code !== 0) console.error(`rank ${failedRank} failed`);
 * ```
 */
export async function launch(options: LaunchOptions): Promise<LaunchResult> {
  const { nproc, script } = options;
  if (!Number.isInteger(nproc) || nproc < 1) {
    throw new RangeError(`launch: nproc must be a positive integer, got ${nproc}`);
  }
  if (typeof script !== "string" || !script) throw new TypeError("launch: a script to run is needed");
  const masterAddr = options.masterAddr ?? "127.0.0.1";
  const masterPort = options.masterPort ?? freePort(masterAddr);
  const grace = options.killGraceMs ?? 3000;
  const width = String(nproc - 1).length;
  const onLine = options.onLine ?? ((line, _rank, stream) => {
    const bytes = new TextEncoder().encode(line + "\n");
    (stream === "stdout" ? Deno.stdout : Deno.stderr).writeSync(bytes);
  });
  const children = Array.from({ length: nproc }, (_, rank) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", ...(options.denoFlags ?? ["-A"]), script, ...(options.args ?? [])],
      env: {
        ...options.env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(nproc),
        LOCAL_WORLD_SIZE: String(nproc),
        MASTER_ADDR: masterAddr,
        MASTER_PORT: String(masterPort),
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn());
  const codes: (number | null)[] = new Array(nproc).fill(null);
  let failedRank: number | null = null;
  let failCode = 0;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const alive = new Set(children.keys());
  const stopOthers = () => {
    for (const r of alive) {
      try {
        children[r].kill("SIGTERM");
      } catch { /* exited */ }
    }
    killTimer = setTimeout(() => {
      for (const r of alive) {
        try {
          children[r].kill("SIGKILL");
        } catch { /* exited */ }
      }
    }, grace);
  };
  const onSignal = () => {
    if (failedRank === null) {
      failedRank = -1;
      failCode = 130;
    }
    stopOthers();
  };
  try {
    Deno.addSignalListener("SIGINT", onSignal);
  } catch { /* signals unsupported here */ }
  try {
    await Promise.all(children.map(async (child, rank) => {
      const tag = `[rank${String(rank).padStart(width, "0")}]`;
      const pumps = [
        pumpLines(child.stdout, (l) => onLine(`${tag} ${l}`, rank, "stdout")),
        pumpLines(child.stderr, (l) => onLine(`${tag} ${l}`, rank, "stderr")),
      ];
      const status = await child.status;
      alive.delete(rank);
      await Promise.all(pumps).catch(() => {});
      codes[rank] = status.signal ? null : status.code;
      if (!status.success && failedRank === null) {
        failedRank = rank;
        failCode = status.code || 1;
        const how = status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
        onLine(
          `launch: rank ${rank} ${how}; stopping the other ${alive.size} rank${alive.size === 1 ? "" : "s"}`,
          rank,
          "stderr",
        );
        stopOthers();
      }
    }));
  } finally {
    clearTimeout(killTimer);
    try {
      Deno.removeSignalListener("SIGINT", onSignal);
    } catch { /* signals unsupported here */ }
  }
  return {
    code: failedRank === null ? 0 : failCode,
    failedRank: failedRank === -1 ? null : failedRank,
    codes,
  };
}

const USAGE =
  "usage: deno task launch --nproc N [--master-addr HOST] [--master-port PORT] script.ts [args...]";

/**
 * Parses the launcher's command line (options before the script; everything after it goes to the script).
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * const opts = distributed.parseLaunchArgs(["--nproc", "2", "train.ts", "--epochs", "3"]);
 * console.log(opts.nproc, opts.script, opts.args); // 2 "train.ts" ["--epochs", "3"]
 * ```
 */
export function parseLaunchArgs(argv: readonly string[]): LaunchOptions {
  let nproc = 1;
  let masterAddr: string | undefined;
  let masterPort: number | undefined;
  let i = 0;
  const value = (name: string) => {
    const v = argv[++i];
    if (v === undefined) throw new Error(`launch: ${name} needs a value\n${USAGE}`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? a.split(/=(.*)/s, 2) : [a, undefined];
    const get = (name: string) => inline ?? value(name);
    if (flag === "--nproc" || flag === "--nproc-per-node" || flag === "--nproc_per_node") {
      nproc = Number(get(flag));
    } else if (flag === "--master-addr" || flag === "--master_addr") masterAddr = get(flag);
    else if (flag === "--master-port" || flag === "--master_port") masterPort = Number(get(flag));
    else if (flag === "-h" || flag === "--help") throw new Error(USAGE);
    else if (flag === "--") {
      i++;
      break;
    } else if (flag.startsWith("-")) throw new Error(`launch: unknown option ${flag}\n${USAGE}`);
    else break;
  }
  const script = argv[i];
  if (!script) throw new Error(`launch: no script given\n${USAGE}`);
  if (!Number.isInteger(nproc) || nproc < 1) {
    throw new Error(`launch: --nproc must be a positive integer\n${USAGE}`);
  }
  return { nproc, script, args: argv.slice(i + 1), masterAddr, masterPort };
}

if (import.meta.main) {
  let opts: LaunchOptions;
  try {
    opts = parseLaunchArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  const { code } = await launch(opts);
  Deno.exit(code);
}
