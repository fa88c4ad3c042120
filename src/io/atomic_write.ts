/**
 * Atomic file replacement: write a temporary file beside the target, fsync it, rename it over the target,
 * fsync the folder. A reader (or a crash) sees the old file or the new one, never a mix.
 * @module
 */
import { basename, dirname } from "node:path";

/**
 * Writes `chunks` to `path` atomically. When anything fails (a chunk source that throws, a full disk), the
 * temporary file is removed and a previous file at `path` is left intact.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic_write.ts";
 * await writeFileAtomic("/tmp/example.bin", [new Uint8Array([1, 2, 3])]);
 * ```
 */
export async function writeFileAtomic(
  path: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const dir = dirname(path);
  const tmp = `${dir}/.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let file: Deno.FsFile | null;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
  } catch (e) {
    throw new Error(`${path}: can't create a temporary file in ${dir} (${(e as Error).message})`);
  }
  try {
    for await (const chunk of chunks) {
      for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
    }
    await file.sync();
    file.close();
    file = null;
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      file?.close();
    } catch { /* already closed */ }
    try {
      await Deno.remove(tmp);
    } catch { /* already gone */ }
    throw e;
  }
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync(); // makes the rename durable
    } finally {
      d.close();
    }
  } catch { /* folders can't be synced on every platform */ }
}
