/**
 * The public API's documentation: every function, class and constant that `mod.ts` exports, directly or
 * through its namespaces (`nn`, `F`, `optim`, `nn.init`...), has JSDoc with an `@example` (the examples
 * themselves are type-checked by `deno task check`, which runs `deno check --doc`).
 * @module
 */
import assert from "node:assert/strict";

/** What `deno doc --json` prints for one module (the parts read here). */
interface DocJson {
  nodes: Record<string, { symbols: DocSymbol[] }>;
}
interface DocSymbol {
  name: string;
  declarations: {
    kind: string;
    jsDoc?: { tags?: { kind: string }[] };
  }[];
}

const root = new URL("../", import.meta.url);

async function docOf(path: string): Promise<DocJson> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", path],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno doc ${path} failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** `mod.ts` and every module it exposes as a namespace (`export * as name from "path"`), recursively. */
async function publicModules(): Promise<Map<string, string>> {
  const found = new Map<string, string>([["mod.ts", ""]]);
  const queue = ["mod.ts"];
  while (queue.length) {
    const path = queue.shift()!;
    const source = await Deno.readTextFile(new URL(path, root));
    for (const m of source.matchAll(/^export \* as (\w+) from "(.+)";$/gm)) {
      const target = new URL(m[2], new URL(path, root)).pathname.slice(root.pathname.length);
      if (found.has(target)) continue;
      found.set(target, `${found.get(path)}${m[1]}.`);
      queue.push(target);
    }
  }
  return found;
}

Deno.test("every public function, class and constant has an @example", async () => {
  const modules = await publicModules();
  assert.ok(modules.size >= 10, `expected mod.ts and its namespaces, found ${[...modules.keys()]}`);
  const missing: string[] = [];
  let checked = 0;
  for (const [path, prefix] of modules) {
    const doc = await docOf(path);
    for (const { symbols } of Object.values(doc.nodes)) {
      for (const s of symbols) {
        const values = s.declarations.filter((d) => ["function", "class", "variable"].includes(d.kind));
        if (values.length === 0) continue;
        checked++;
        const documented = s.declarations.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example"));
        if (!documented) missing.push(`${prefix}${s.name} (${path})`);
      }
    }
  }
  assert.ok(checked > 200, `only ${checked} public functions, classes and constants found`);
  assert.deepEqual(missing, [], `public exports without an @example:\n${missing.join("\n")}`);
});
