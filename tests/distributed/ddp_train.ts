// DistributedDataParallel against one process with the full batch. Run under the launcher (DDP), or call
// `train({ worldSize: 1 })` in-process for the single-process reference. Prints "RESULT {...}".
import { report } from "./report.ts";
import {
  distributed,
  F,
  manualSeed,
  nn,
  noGrad,
  optim,
  randint,
  randn,
  type Tensor,
  tensor,
} from "../../mod.ts";

export interface TrainOptions {
  /** 1: the single-process reference (no process group). */
  worldSize: number;
  backend?: distributed.BackendName;
  device?: "cpu" | "webgpu";
  plainSteps?: number;
  accumulationSteps?: number;
}

const BATCH = 16;

function makeModel(seed: number, device: "cpu" | "webgpu"): nn.Sequential {
  manualSeed(seed);
  return new nn.Sequential(
    new nn.Linear(6, 16),
    new nn.Tanh(),
    new nn.Linear(16, 8),
    new nn.ReLU(),
    new nn.Linear(8, 3),
  )
    .to(device);
}

function batch(step: number, device: "cpu" | "webgpu"): [Tensor, Tensor] {
  manualSeed(1000 + step);
  const x = randn([BATCH, 6]);
  const y = randint(0, 3, [BATCH]);
  return [x.to(device), y.to(device)];
}

/** The rows this rank uses: micro-batch `k` of `micro` of its DistributedSampler share (all ranks when ws = 1). */
function rows(rank: number, worldSize: number, micro: number, k: number): number[] {
  const perRank =
    new distributed.DistributedSampler(BATCH, { numReplicas: 2, rank: 0, shuffle: false }).length;
  const m = perRank / micro;
  const out: number[] = [];
  const ranks = worldSize === 1 ? [0, 1] : [rank];
  for (const r of ranks) {
    const idx = new distributed.DistributedSampler(BATCH, { numReplicas: 2, rank: r, shuffle: false })
      .indices();
    out.push(...idx.slice(k * m, (k + 1) * m));
  }
  return out;
}

export async function train(opts: TrainOptions): Promise<Record<string, unknown>> {
  const device = opts.device ?? "cpu";
  const ws = opts.worldSize;
  let rank = 0;
  if (ws > 1) {
    await distributed.initProcessGroup({ backend: opts.backend ?? "tcp", timeoutMs: 30_000 });
    rank = distributed.getRank();
  }
  // every rank starts from different weights: DDP must broadcast rank 0's
  const model = makeModel(1 + rank, device);
  let net: nn.Module & { forward(x: Tensor): Tensor } = model;
  let ddp: distributed.DistributedDataParallel<nn.Sequential> | null = null;
  if (ws > 1) {
    ddp = new distributed.DistributedDataParallel(model, { bucketCapMb: 0.0002 }); // ~200 bytes: several buckets
    await ddp.ready;
    net = ddp;
  }
  const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const lossOf = (x: Tensor, y: Tensor, idx: number[]) => {
    const i = tensor(new Int32Array(idx), { device });
    const out = F.crossEntropy(net.forward(x.indexSelect(0, i)), y.indexSelect(0, i));
    i.dispose();
    return out;
  };
  const plain = opts.plainSteps ?? 3;
  const accum = opts.accumulationSteps ?? 2;
  for (let step = 0; step < plain + accum; step++) {
    opt.zeroGrad();
    const [x, y] = batch(step, device);
    if (step < plain) {
      lossOf(x, y, rows(rank, ws, 1, 0)).backward();
    } else {
      // gradient accumulation over two micro-batches: the first without synchronization
      const first = () => lossOf(x, y, rows(rank, ws, 2, 0)).backward();
      if (ddp) ddp.noSync(first);
      else first();
      lossOf(x, y, rows(rank, ws, 2, 1)).backward();
    }
    await ddp?.syncGradients();
    noGrad(() => opt.step());
  }
  const result: Record<string, unknown> = { rank, worldSize: ws };
  result.params = await Promise.all([...model.parameters()].map(async (p) => Array.from(await p.data())));
  if (ddp) {
    result.buckets = ddp.bucketNames.length;
    // forgetting syncGradients is an error on the next forward, not a silent desync
    const [x, y] = batch(99, device);
    lossOf(x, y, rows(rank, ws, 1, 0)).backward();
    try {
      lossOf(x, y, rows(rank, ws, 1, 0));
      result.forgotten = "no error";
    } catch (e) {
      result.forgotten = (e as Error).message;
    }
    await ddp.syncGradients();
    // a second backward before syncing: the hook throws, and the reductions in flight refuse to write back
    const again = lossOf(x, y, rows(rank, ws, 1, 0));
    again.backward(undefined, { retainGraph: true });
    try {
      again.backward();
    } catch (e) {
      result.doubleBackward = (e as Error).message;
    }
    try {
      await ddp.syncGradients();
    } catch (e) {
      result.doubleBackwardSync = (e as Error).message;
    }
    await distributed.destroyProcessGroup();
  }
  return result;
}

if (import.meta.main) {
  const [backend, device] = Deno.args as [distributed.BackendName, "cpu" | "webgpu"];
  const ws = Number(Deno.env.get("WORLD_SIZE") ?? Deno.env.get("OMPI_COMM_WORLD_SIZE") ?? 1);
  const r = await train({ worldSize: ws, backend, device });
  await report(r);
}
