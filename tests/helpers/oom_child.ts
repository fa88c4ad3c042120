/**
 * The child of the out-of-memory test in tests/faults_test.ts, run under a data-size limit (`ulimit -d`)
 * so that lavapipe's device memory (host memory) runs out: allocates 64 MiB WebGPU tensors until an
 * operation or a read fails, then frees them and checks that the library still computes. Prints one JSON
 * line: how many tensors fit, the error's name and message, and whether the library recovered.
 * @module
 */
import { gpu, type Tensor, tensor, zeros } from "../../mod.ts";

const held: Tensor[] = [];
let error: { name: string; message: string } | null = null;
const MIB64 = 16 * 2 ** 20; // float32 elements in 64 MiB
for (let i = 0; i < 1000 && !error; i++) {
  try {
    const t = zeros([MIB64], { device: "webgpu" });
    held.push(t);
    await t.narrow(0, 0, 1).data(); // a read surfaces errors the GPU reports asynchronously
  } catch (e) {
    error = { name: (e as Error).name, message: (e as Error).message };
  }
}
for (const t of held) t.dispose();
gpu.emptyCache();
let recovered = false;
let after = "";
try {
  const x = tensor([1, 2, 3], { device: "webgpu" });
  after = JSON.stringify(await x.mul(2).toArray());
  recovered = after === "[2,4,6]";
} catch (e) {
  after = `${(e as Error).name}: ${(e as Error).message}`;
}
console.log(JSON.stringify({ fitted: held.length, error, recovered, after }));
