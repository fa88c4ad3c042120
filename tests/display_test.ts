/**
 * src/display: the mime bundles of tensors (text and HTML content, NaN/Inf call-outs, the heat-map PNG's
 * pixels), statistics, autograd graphs (DOT and SVG), the live plot's update messages and files, the
 * progress bar's three modes, the device table and model summaries.
 */
import assert from "node:assert/strict";
import {
  DeviceInfoView,
  display,
  drawGraph,
  gpu,
  LivePlot,
  manualSeed,
  type MimeBundle,
  mimeBundle,
  nn,
  progress,
  ProgressBar,
  rand,
  randn,
  summary,
  type Tensor,
  tensor,
  tensorStats,
  toDot,
  zeros,
} from "../mod.ts";
import type { AdapterInfo } from "../mod.ts";
import { getRngState } from "../src/tensor/random.ts";
import { imageLayout } from "../src/display/tensor_image.ts";
import { formatValues } from "../src/display/tensor_display.ts";
import { fmtBytes, fmtDuration, fmtNum } from "../src/display/format.ts";
import { sparkline } from "../src/display/sparkline.ts";
import { smoothSeries } from "../src/display/live_plot.ts";
import type { DisplayMessageOptions, JupyterSink } from "../src/display/jupyter.ts";
import { assertClose, assertRejectsMessage, assertThrowsMessage } from "./helpers/assert_close.ts";
import { ALL_DEVICES, hasWebGpu, type TestDevice } from "./helpers/devices.ts";

/** A fake `Deno.jupyter` that records every display message. */
class RecordingSink implements JupyterSink {
  messages: { bundle: MimeBundle; options: DisplayMessageOptions }[] = [];
  display(bundle: unknown, options: DisplayMessageOptions = {}): Promise<void> {
    this.messages.push({ bundle: bundle as MimeBundle, options });
    return Promise.resolve();
  }
}

/** A clock the tests move by hand (milliseconds). */
function fakeClock(start = 1000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Decodes an 8-bit RGBA, unfiltered PNG (what src/display/png.ts writes) into its pixels. */
async function decodePng(b64: string): Promise<{ width: number; height: number; rgba: Uint8Array }> {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(bytes.buffer);
  let off = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  while (off < bytes.length) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    const data = bytes.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") {
      width = view.getUint32(off + 8);
      height = view.getUint32(off + 12);
      assert.deepEqual([...data.subarray(8, 10)], [8, 6], "8-bit RGBA");
    } else if (type === "IDAT") idat.push(data);
    off += 12 + len;
  }
  const all = new Uint8Array(idat.reduce((s, d) => s + d.length, 0));
  let o = 0;
  for (const d of idat) {
    all.set(d, o);
    o += d.length;
  }
  const stream = new Blob([all]).stream().pipeThrough(new DecompressionStream("deflate"));
  const raw = new Uint8Array(await new Response(stream).arrayBuffer());
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (width * 4 + 1)], 0, "filter type none");
    rgba.set(raw.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1)), y * width * 4);
  }
  return { width, height, rgba };
}

function pngOf(html: string): string {
  const m = /data:image\/png;base64,([A-Za-z0-9+/=]+)/.exec(html);
  assert.ok(m, "the HTML embeds a PNG");
  return m[1];
}

const pixel = (
  img: { width: number; rgba: Uint8Array },
  x: number,
  y: number,
) => [...img.rgba.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4)];

function deviceTest(name: string, fn: (t: Deno.TestContext, device: TestDevice) => Promise<void>): void {
  for (const device of ALL_DEVICES) {
    Deno.test({
      name: `${name} [${device}]`,
      ignore: device === "webgpu" && !hasWebGpu,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: (t) => fn(t, device),
    });
  }
}

// ---------------------------------------------------------------- tensors

deviceTest("display: tensor mime bundles", async (t, device) => {
  await t.step("text/plain is one line with shape, dtype, device, stats and small values", async () => {
    const b = await mimeBundle(tensor([[1, -2], [3, 4]], { device, dtype: "float32" }));
    assert.equal(
      b["text/plain"],
      `Tensor[2, 2] float32 ${device} n=4 x∈[-2, 4] μ=1.5 σ=2.646 [[1, -2], [3, 4]]`,
    );
    const html = b["text/html"] as string;
    assert.match(html, /<b>Tensor\[2, 2\]<\/b>/);
    assert.match(html, new RegExp(`>float32<.*>${device}<`));
    assert.match(html, /n=4 · 16 B/);
    assert.match(html, /x∈\[-2, 4\] {2}μ=1\.5 {2}σ=2\.646/);
    assert.match(html, /<pre[^>]*>\[\[ 1, -2\],\n \[ 3, {2}4\]\]<\/pre>/);
  });

  await t.step(
    "NaN and infinities are counted, called out in red, and left out of the statistics",
    async () => {
      const b = await mimeBundle(tensor([1, NaN, 3, Infinity, -Infinity, NaN], { device }));
      assert.equal(
        b["text/plain"],
        `Tensor[6] float32 ${device} n=6 x∈[1, 3] μ=2 σ=1.414 NaN!×2 +Inf!×1 -Inf!×1 [1, NaN, 3, +Inf, -Inf, NaN]`,
      );
      const html = b["text/html"] as string;
      assert.match(html, /<span style="color:#c00[^"]*">NaN ×2<\/span>/);
      assert.match(html, /<span style="color:#c00[^"]*">\+Inf ×1<\/span>/);
      assert.match(html, /<span style="color:#c00[^"]*">-Inf ×1<\/span>/);
    },
  );

  await t.step("autograd state: requiresGrad leaves and gradFn", async () => {
    const w = tensor([1, 2, 3], { device, requiresGrad: true });
    assert.match((await mimeBundle(w))["text/plain"] as string, / requiresGrad \[1, 2, 3\]$/);
    const y = w.mul(2);
    const b = await mimeBundle(y);
    assert.match(b["text/plain"] as string, / gradFn=MulBackward0 \[2, 4, 6\]$/);
    assert.match(b["text/html"] as string, />gradFn=MulBackward0</);
    y.sum().backward();
    assert.match((await mimeBundle(w))["text/plain"] as string, /requiresGrad, has \.grad/);
  });

  await t.step("large tensors: a histogram instead of the values", async () => {
    manualSeed(3);
    const x = randn([40, 30], { device });
    const b = await mimeBundle(x);
    const text = b["text/plain"] as string;
    assert.match(
      text,
      /^Tensor\[40, 30\] float32 \S+ n=1,200 x∈\[\S+, \S+\] μ=\S+ σ=\S+ \|[ ▁▂▃▄▅▆▇█]{24}\|$/,
    );
    const html = b["text/html"] as string;
    assert.doesNotMatch(html, /<pre/);
    assert.match(html, /<svg [^>]*>.*<rect .*<\/svg>/);
    const data = await x.data();
    const s = tensorStats(data);
    assert.ok(html.includes(`μ=${fmtNum(s.mean)}`));
  });

  await t.step(
    "a 2-D tensor is drawn as a heat-map: white at 0, blue below, red above, NaN magenta",
    async () => {
      const b = await mimeBundle(tensor([[-1, 0, 1], [NaN, 0.5, -0.5]], { device }));
      const html = b["text/html"] as string;
      assert.match(html, /heat-map: blue &lt; 0 &lt; red, white at 0/);
      const img = await decodePng(pngOf(html));
      assert.equal(img.width, 3);
      assert.equal(img.height, 2);
      assert.deepEqual(pixel(img, 1, 0), [247, 247, 247, 255], "0 is white");
      assert.deepEqual(pixel(img, 0, 1), [255, 0, 255, 255], "NaN is magenta");
      const [r0, , b0] = pixel(img, 0, 0);
      const [r2, , b2] = pixel(img, 2, 0);
      assert.ok(b0 > r0, "-1 is blue");
      assert.ok(r2 > b2, "1 is red");
      assert.match(html, /width="72" height="48" style="width:72px;height:48px;image-rendering:pixelated/);
    },
  );

  await t.step("image-shaped tensors: an RGB image, and a grid for a batch", async () => {
    const img = zeros([3, 8, 8], { device }).add(tensor([1, 0, 0.5], { device }).reshape(3, 1, 1));
    const html = (await mimeBundle(img))["text/html"] as string;
    assert.match(html, /RGB image: values in \[0, 1\]/);
    const png = await decodePng(pngOf(html));
    assert.deepEqual([png.width, png.height], [8, 8]);
    assert.deepEqual(pixel(png, 5, 5), [255, 0, 128, 255]);

    const batch = rand([4, 1, 6, 6], { device });
    const gridHtml = (await mimeBundle(batch))["text/html"] as string;
    assert.match(gridHtml, /batch of 4 grey images: values in \[0, 1\]/);
    const grid = await decodePng(pngOf(gridHtml));
    assert.deepEqual([grid.width, grid.height], [13, 13], "2×2 panels of 6 px with a 1 px gap");
    assert.deepEqual(pixel(grid, 6, 0), [224, 224, 224, 255], "the gap");
    const first = (await batch.data())[0];
    assert.deepEqual(pixel(grid, 0, 0).slice(0, 3), Array(3).fill(Math.round(first * 255)));
  });

  await t.step("scalars, booleans, empty and disposed tensors", async () => {
    assert.equal((await mimeBundle(tensor(3.5, { device })))["text/plain"], `Tensor[] float32 ${device} 3.5`);
    assert.equal(
      (await mimeBundle(tensor([true, false, true], { device })))["text/plain"],
      `Tensor[3] bool ${device} n=3 true=2 false=1 [true, false, true]`,
    );
    assert.equal(
      (await mimeBundle(zeros([0, 3], { device })))["text/plain"],
      `Tensor[0, 3] float32 ${device} empty`,
    );
    const gone = tensor([1.5, 2], { device });
    gone.dispose();
    const b = await mimeBundle(gone);
    assert.equal(b["text/plain"], `Tensor[2] float32 ${device} disposed`);
    assert.match(b["text/html"] as string, /disposed: its memory was freed/);
  });

  await t.step("a tensor displays itself in deno jupyter (the hook mod.ts installs)", async () => {
    const x = tensor([[1, 2], [3, 4]], { device });
    const hook = (x as unknown as Record<symbol, () => Promise<MimeBundle>>)[Symbol.for("Jupyter.display")];
    assert.equal(typeof hook, "function");
    const b = await hook.call(x);
    assert.deepEqual(b, await mimeBundle(x));
  });

  await t.step("display() sends the bundle to the kernel, or prints the text line outside one", async () => {
    const sink = new RecordingSink();
    const x = tensor([5, 6], { device });
    await display(x, { jupyter: sink });
    assert.equal(sink.messages.length, 1);
    assert.deepEqual(sink.messages[0].options, { raw: true });
    assert.equal(
      sink.messages[0].bundle["text/plain"],
      `Tensor[2] int32 ${device} n=2 x∈[5, 6] μ=5.5 σ=0.7071 [5, 6]`,
    );
    const printed: unknown[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void printed.push(...a);
    try {
      await display(x, { jupyter: null });
    } finally {
      console.log = log;
    }
    assert.deepEqual(printed, [sink.messages[0].bundle["text/plain"]]);
  });
});

Deno.test("display: statistics, layouts and formatting", async (t) => {
  await t.step("tensorStats: finite min/max/mean/std (Bessel), counts, histogram", () => {
    const s = tensorStats(new Float32Array([2, 4, 4, 4, 5, 5, 7, 9, NaN, -Infinity]), 4);
    assert.deepEqual([s.n, s.finite, s.min, s.max, s.nan, s.posInf, s.negInf], [10, 8, 2, 9, 1, 0, 1]);
    assertClose(s.mean, 5);
    assertClose(s.std, Math.sqrt(32 / 7));
    assert.deepEqual(s.histogram, [1, 5, 1, 1]); // bins of width 1.75 from 2: [2, 3.75), [3.75, 5.5), ...
    const ints = tensorStats(new Int32Array([0, 1, 1, 3]), 24, true);
    assert.deepEqual(ints.histogram, [1, 2, 0, 1], "one bin per integer");
    const none = tensorStats(new Float32Array([NaN]));
    assert.ok(Number.isNaN(none.min) && Number.isNaN(none.mean) && Number.isNaN(none.std));
  });

  await t.step("imageLayout: which shapes are drawn, and how", () => {
    assert.equal(imageLayout([10]), null);
    assert.equal(imageLayout([1, 1]), null);
    assert.equal(imageLayout([5, 7])?.what, "heat-map");
    assert.equal(imageLayout([3, 32, 32])?.what, "RGB image");
    assert.equal(imageLayout([1, 28, 28])?.what, "grey image");
    assert.equal(imageLayout([32, 32, 3])?.what, "RGB image (H, W, C)");
    assert.equal(imageLayout([2, 8, 8])?.what, "2 heat-maps");
    assert.equal(imageLayout([16, 1, 28, 28])?.what, "batch of 16 grey images");
    assert.equal(imageLayout([2, 16, 8, 8])?.what, "2×16 feature maps");
  });

  await t.step("number, byte, duration and value formatting", () => {
    assert.equal(fmtNum(3.14159), "3.142");
    assert.equal(fmtNum(1e-7), "1.000e-7");
    assert.equal(fmtNum(123456.7), "1.235e+5");
    assert.equal(fmtNum(-Infinity), "-Inf");
    assert.equal(fmtBytes(1536), "1.5 KiB");
    assert.equal(fmtBytes(128 * 2 ** 20), "128 MiB");
    assert.equal(fmtDuration(75), "01:15");
    assert.equal(fmtDuration(3725), "1:02:05");
    assert.equal(sparkline([0, 1, 4, 2]), " ▂█▄");
    assert.equal(
      formatValues([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], false),
      "[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]",
    );
    assert.equal(formatValues([1, 20, 3, 4], [2, 2], false, true), "[[ 1, 20],\n [ 3,  4]]");
  });
});

// ---------------------------------------------------------------- autograd graphs

deviceTest("display: autograd graphs", async (t, device) => {
  await t.step(
    "toDot: ops grey, leaves blue with names and shapes, saved tensors orange, shapes on edges",
    () => {
      const w = tensor([1, 2], { device, requiresGrad: true });
      const b = tensor([0.5], { device, requiresGrad: true });
      const loss = w.mul(3).add(b).square().sum();
      const dot = toDot(loss, { params: { w, b } });
      assert.match(dot, /^digraph autograd \{/);
      for (const op of ["SumBackward1", "MulBackward0", "AddBackward0"]) {
        assert.match(dot, new RegExp(`label="${op}", shape=box, style="filled", fillcolor=lightgrey`));
      }
      assert.match(dot, /label="w\\n\[2\]", shape=box, style="filled, rounded", fillcolor=lightblue/);
      assert.match(dot, /label="b\\n\[1\]", shape=box, style="filled, rounded", fillcolor=lightblue/);
      assert.match(dot, /label="output\\n\[\]", shape=box, style="filled", fillcolor=darkolivegreen1/);
      assert.equal(
        [...dot.matchAll(/fillcolor=orange/g)].length,
        3,
        "x·3 saves 1, the square saves its operand twice",
      );
      assert.match(dot, /-> n\d+ \[label=" 2 × \[2\]"\]/, "x.mul(x): one edge labelled twice");
      assert.match(dot, /-> n\d+ \[label=" \[1\]"\]/);
    },
  );

  await t.step("drawGraph: SVG through Graphviz; after backward the saved tensors are gone", async () => {
    const x = randn([4, 3], { device });
    const w = randn([3, 1], { device, requiresGrad: true });
    const loss = x.matmul(w).relu().mean();
    const g = await drawGraph(loss, { params: { w } });
    assert.deepEqual(g.counts, { ops: 3, leaves: 1, saved: 2 });
    assert.equal(g.toString(), "autograd graph: 3 ops, 1 leaf, 2 saved tensors");
    assert.match(g.svg, /^<svg /);
    for (const label of ["MmBackward0", "ReluBackward0", "MeanBackward1", "w"]) {
      assert.ok(g.svg.includes(`>${label}<`));
    }
    const bundle = (g as unknown as Record<symbol, () => MimeBundle>)[Symbol.for("Jupyter.display")]();
    assert.equal(bundle["image/svg+xml"], g.svg);
    loss.backward();
    const after = await drawGraph(loss);
    assert.equal(after.counts.saved, 0);
    assert.match(after.dot, /style="filled, dashed"/);
  });

  await t.step("a tensor without a graph, and a non-tensor", async () => {
    const leaf = tensor([1, 2], { device });
    assert.equal((await drawGraph(leaf)).counts.ops, 0);
    await assertRejectsMessage(
      () => drawGraph(null as unknown as Tensor),
      /drawGraph: expected a Tensor, got null/,
    );
  });
});

// ---------------------------------------------------------------- live plot

Deno.test({
  name: "display: LivePlot",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await t.step("notebook: one display, then updates of the same display_id", async () => {
      const sink = new RecordingSink();
      const plot = new LivePlot({ title: "run", jupyter: sink, minIntervalMs: 0 });
      for (let step = 0; step < 3; step++) await plot.add({ step, loss: 1 / (step + 1), acc: step / 2 });
      assert.equal(sink.messages.length, 3);
      assert.deepEqual(sink.messages.map((m) => m.options), [
        { raw: true, display_id: plot.displayId, update: false },
        { raw: true, display_id: plot.displayId, update: true },
        { raw: true, display_id: plot.displayId, update: true },
      ]);
      const last = sink.messages[2].bundle;
      const spec = last["application/vnd.vegalite.v5+json"] as {
        $schema: string;
        title: string;
        data: { values: { step: number; series: string; value: number }[] };
        vconcat: unknown[];
      };
      assert.equal(spec.$schema, "https://vega.github.io/schema/vega-lite/v5.json");
      assert.equal(spec.title, "run");
      assert.equal(spec.data.values.length, 6);
      assert.deepEqual(spec.data.values.filter((v) => v.series === "acc").map((v) => v.value), [0, 0.5, 1]);
      assert.equal(spec.vconcat.length, 2, "one panel per series");
      assert.match(last["image/svg+xml"] as string, /^<svg [^>]*class="marks"/);
      assert.equal(last["text/plain"], 'LivePlot "run": 3 points; step 2: loss=0.3333 acc=1');
      const first = sink.messages[0].bundle["application/vnd.vegalite.v5+json"] as typeof spec;
      assert.equal(first.data.values.length, 2);
    });

    await t.step("throttled: adds inside minIntervalMs are drawn by flush()", async () => {
      const sink = new RecordingSink();
      const plot = new LivePlot({ jupyter: sink, minIntervalMs: 60_000, svgFallback: false });
      for (let step = 0; step < 5; step++) await plot.add({ loss: 5 - step });
      assert.equal(sink.messages.length, 1, "only the first add is drawn at once");
      await plot.flush();
      assert.equal(sink.messages.length, 2);
      assert.equal(sink.messages[1].options.update, true);
      assert.equal(sink.messages[1].bundle["image/svg+xml"], undefined);
      const spec = sink.messages[1].bundle["application/vnd.vegalite.v5+json"] as {
        data: { values: unknown[] };
      };
      assert.equal(spec.data.values.length, 5);
      await plot.flush();
      assert.equal(sink.messages.length, 2, "nothing new, nothing sent");
    });

    await t.step("groups, log scale and smoothing in the spec", async () => {
      const plot = new LivePlot({
        jupyter: new RecordingSink(),
        svgFallback: false,
        groups: [["loss", "val"]],
        logY: ["loss"],
        smoothing: 0.5,
      });
      await plot.add({ step: 0, loss: 0, val: 10, acc: 0.1 });
      const spec = plot.spec() as unknown as {
        data: { values: { series: string; smoothed: number | null }[] };
        vconcat: {
          layer: {
            mark: { opacity?: number };
            encoding: { y: { field: string; scale: { type?: string } } };
          }[];
        }[];
      };
      assert.equal(spec.vconcat.length, 2);
      const [losses, acc] = spec.vconcat;
      assert.equal(losses.layer.length, 2, "raw (faint) and smoothed");
      assert.equal(losses.layer[0].mark.opacity, 0.25);
      assert.equal(losses.layer[1].encoding.y.field, "smoothed");
      assert.equal(losses.layer[1].encoding.y.scale.type, "log");
      assert.equal(acc.layer[1].encoding.y.scale.type, undefined);
      assert.deepEqual(smoothSeries([1, 1, 1], 0.9), [1, 1, 1]);
      assertClose(smoothSeries([0, 10], 0.5) as number[], [0, 20 / 3]);
      assert.deepEqual(smoothSeries([1, null, 3], 0), [1, null, 3]);
    });

    await t.step("script: the file is rewritten (SVG or HTML)", async () => {
      const dir = await Deno.makeTempDir();
      try {
        const svgPlot = new LivePlot({ jupyter: null, path: `${dir}/curve.svg`, minIntervalMs: 0 });
        await svgPlot.add({ step: 1, loss: 2 });
        await svgPlot.add({ step: 2, loss: 1 });
        assert.equal(svgPlot.redraws, 2);
        assert.match(await Deno.readTextFile(`${dir}/curve.svg`), /^<svg /);
        const htmlPlot = new LivePlot({ jupyter: null, path: `${dir}/curve.html`, title: "a <title>" });
        await htmlPlot.add({ loss: tensor(0.25) }); // a one-element tensor is read back
        await htmlPlot.flush();
        const page = await Deno.readTextFile(`${dir}/curve.html`);
        assert.match(page, /^<!doctype html>/);
        assert.match(page, /<title>a &lt;title&gt;<\/title>/);
        assert.match(page, /<svg /);
        assert.match(page, /step 0: loss=0\.25/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });

    await t.step("bad options and points are named", async () => {
      assertThrowsMessage(() => new LivePlot({ smoothing: 1 }), /smoothing must be in \[0, 1\), got 1/);
      assertThrowsMessage(() => new LivePlot({ path: "plot.png" }), /path must end with \.svg or \.html/);
      const plot = new LivePlot({ jupyter: new RecordingSink() });
      await assertRejectsMessage(
        () => plot.add({ loss: "low" as unknown as number }),
        /"loss" must be a number or a one-element Tensor, got string/,
      );
      await assertRejectsMessage(() => plot.add({ step: NaN, loss: 1 }), /step must be a finite number/);
    });
  },
});

// ---------------------------------------------------------------- progress

Deno.test({
  name: "display: progress",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await t.step("tty: one line redrawn with \\r, rate and ETA, throttled, ended by close()", () => {
      const out: string[] = [];
      const clock = fakeClock();
      const bar = new ProgressBar({
        total: 4,
        desc: "train",
        mode: "tty",
        write: (s) => out.push(s),
        now: clock.now,
      });
      assert.equal(out.length, 1, "drawn at once");
      assert.equal(out[0], "\rtrain:   0%|                    | 0/4 [00:00<?, ?it/s]\x1b[K");
      clock.advance(500);
      bar.update();
      clock.advance(10);
      bar.update(); // within minIntervalMs (100): not drawn
      assert.equal(out.length, 2);
      clock.advance(490);
      bar.setPostfix({ loss: 0.5 });
      bar.update(); // 3 items in 1 s
      assert.equal(out[2], "\rtrain:  75%|███████████████     | 3/4 [00:01<00:00, 3it/s, loss=0.5]\x1b[K");
      clock.advance(1000);
      bar.update();
      bar.close();
      bar.close();
      assert.equal(
        out.at(-1),
        "\rtrain: 100%|████████████████████| 4/4 [00:02<00:00, 2it/s, loss=0.5]\x1b[K\n",
      );
      assert.ok(out.every((s) => s.startsWith("\r") && !s.slice(0, -1).includes("\n")));
    });

    await t.step("plain: a line per quarter and a final one, no \\r", () => {
      const out: string[] = [];
      const clock = fakeClock();
      const bar = new ProgressBar({ total: 100, mode: "plain", write: (s) => out.push(s), now: clock.now });
      for (let i = 0; i < 100; i++) {
        clock.advance(10);
        bar.update();
      }
      bar.close();
      assert.deepEqual(out.map((s) => s.slice(0, s.indexOf("|"))), [" 25%", " 50%", " 75%", "100%"]);
      assert.ok(out.every((s) => s.endsWith("\n") && !s.includes("\r")));
      assert.match(out[3], /100\/100 \[00:01<00:00, 100it\/s\]\n$/);

      const slow: string[] = [];
      const c2 = fakeClock();
      const open = new ProgressBar({
        mode: "plain",
        plainIntervalMs: 1000,
        write: (s) => slow.push(s),
        now: c2.now,
      });
      for (let i = 0; i < 10; i++) {
        c2.advance(400);
        open.update();
      }
      open.close();
      assert.deepEqual(slow, [
        "3it [00:01, 2.5it/s]\n",
        "6it [00:02, 2.5it/s]\n",
        "9it [00:04, 2.5it/s]\n",
        "10it [00:04, 2.5it/s]\n",
      ]);
    });

    await t.step("jupyter: an HTML bar updated in place, green when done", async () => {
      const sink = new RecordingSink();
      const clock = fakeClock();
      const seen: number[] = [];
      for await (
        const x of progress([10, 20, 30], { desc: "epochs", jupyter: sink, now: clock.now, minIntervalMs: 0 })
      ) {
        clock.advance(1000);
        seen.push(x);
      }
      assert.deepEqual(seen, [10, 20, 30]);
      const ids = new Set(sink.messages.map((m) => m.options.display_id));
      assert.equal(ids.size, 1);
      assert.deepEqual(sink.messages.map((m) => m.options.update), [false, true, true, true, true]);
      const last = sink.messages.at(-1)!.bundle;
      assert.equal(last["text/plain"], "epochs: 100%|████████████████████| 3/3 [00:03<00:00, 1it/s]");
      const html = last["text/html"] as string;
      assert.match(html, /<b>epochs<\/b> 100%/);
      assert.match(html, /width:100\.0%;height:100%;background:#2ca02c/);
      assert.match(html, /3\/3 \[00:03&lt;00:00, 1it\/s\]/);
      assert.match(sink.messages[1].bundle["text/html"] as string, /width:33\.3%;[^"]*background:#4c72b0/);
    });

    await t.step("sync and async sources, counts, totals from length, break closes the bar", async () => {
      const none = { mode: "none" as const };
      assert.deepEqual([...progress(4, none)], [0, 1, 2, 3]);
      const arr = progress(["a", "b", "c"], none);
      assert.equal(arr.total, 3);
      for (const x of arr) if (x === "b") break;
      assert.equal(arr.n, 1, "the item the loop broke on is not counted");
      async function* gen() {
        yield 1;
        yield 2;
      }
      const asyncBar = progress(gen(), none);
      assert.equal(asyncBar.total, undefined);
      const got: number[] = [];
      for await (const x of asyncBar) got.push(x);
      assert.deepEqual([got, asyncBar.n], [[1, 2], 2]);
      assertThrowsMessage(() => [...progress(gen(), none)], /async iterable; use `for await/);
      assertThrowsMessage(() => progress(2.5), /a count must be a non-negative integer, got 2\.5/);
      assertThrowsMessage(() => progress({} as unknown as number[]), /expected an iterable/);
      assertThrowsMessage(
        () => new ProgressBar({ mode: "jupyter", jupyter: null }),
        /mode "jupyter" needs a running deno jupyter kernel/,
      );
    });
  },
});

// ---------------------------------------------------------------- device table and summaries

Deno.test("display: the adapter table", async (t) => {
  const info: AdapterInfo = {
    name: "llvmpipe (LLVM 15.0.6, 256 bits)",
    vendor: "65541",
    architecture: "",
    backend: "vulkan",
    isSoftware: true,
    f16: true,
    timestamps: false,
    limits: {
      maxBufferSize: 2 ** 31,
      maxStorageBufferBindingSize: 2 ** 27,
      maxComputeWorkgroupsPerDimension: 65535,
      maxComputeInvocationsPerWorkgroup: 1024,
      maxComputeWorkgroupStorageSize: 32768,
    },
  };
  await t.step("rows, text and HTML", async () => {
    const view = new DeviceInfoView(info, null, { allocated: 4096, inUse: 1024, peak: 2048 });
    const text = view.toString();
    assert.match(text, /^adapter {24}llvmpipe \(LLVM 15\.0\.6, 256 bits\)$/m);
    assert.match(text, /^software adapter {15}yes: runs on the CPU/m);
    assert.match(text, /^max storage binding {12}128 MiB$/m);
    assert.match(text, /^memory in use \/ peak \/ pooled {2}1 KiB \/ 2 KiB \/ 4 KiB$/m);
    assert.doesNotMatch(text, /architecture/, "empty fields are left out");
    const html = (await mimeBundle(view))["text/html"] as string;
    assert.match(html, /<caption[^>]*>WebGPU adapter<\/caption>/);
    assert.match(html, /float16 \(shader-f16\)<\/th><td[^>]*>yes<\/td>/);
    assert.match(html, /timestamp queries<\/th><td[^>]*>no<\/td>/);
  });
  await t.step("no adapter: the reason", () => {
    const view = new DeviceInfoView(null, "navigator.gpu found no adapter");
    assert.equal(
      view.toString(),
      "WebGPU  unavailable (navigator.gpu found no adapter): tensors run on the CPU",
    );
  });
  await t.step("what gpu.info() returns displays as the table", async () => {
    const live = await gpu.info();
    if (!live) return;
    const b = await mimeBundle(live);
    assert.match(b["text/html"] as string, /<table class="denograd-device"/);
    assert.ok((b["text/plain"] as string).includes(live.name));
  });
});

deviceTest("display: model summary", async (t, device) => {
  const build = () =>
    new nn.Sequential(
      new nn.Linear(4, 8),
      new nn.ReLU(),
      new nn.Sequential(new nn.Linear(8, 2), new nn.Tanh()),
    ).to(
      device,
    );

  await t.step("rows: tree, output shapes, parameter counts; totals and memory", () => {
    const model = build();
    const s = summary(model, [16, 4]);
    assert.deepEqual(
      s.rows.map((r) => [r.name, r.type, r.depth, r.outputShapes, r.totalParams]),
      [
        ["", "Sequential", 0, [[16, 2]], 58],
        ["0", "Linear", 1, [[16, 8]], 40],
        ["1", "ReLU", 1, [[16, 8]], 0],
        ["2", "Sequential", 1, [[16, 2]], 18],
        ["2.0", "Linear", 2, [[16, 2]], 18],
        ["2.1", "Tanh", 2, [[16, 2]], 0],
      ],
    );
    assert.deepEqual(s.totals, {
      params: 58,
      trainable: 58,
      nonTrainable: 0,
      paramBytes: 232,
      bufferBytes: 0,
      inputBytes: 256,
      activationBytes: (128 + 128 + 32 + 32) * 4,
    });
    const text = s.toString();
    assert.match(text, /^└─Sequential \(2\) {3}\[16, 2\] {13}-- {10}--$/m);
    assert.match(text, /^ {2}├─Linear \(0\) {5}\[16, 2\] {13}18 {9}256$/m);
    assert.match(text, /^Total params {21}: 58$/m);
    const html =
      (s as unknown as Record<symbol, () => MimeBundle>)[Symbol.for("Jupyter.display")]()["text/html"];
    assert.match(html as string, /<td[^>]*>└─Sequential \(2\)<\/td><td[^>]*>\[16, 2\]<\/td>/);
  });

  await t.step("frozen layers, depth limit; the model is left as it was", () => {
    const model = build();
    const inner = model.at(2) as nn.Sequential;
    inner.requiresGrad_(false);
    model.train();
    const rng = getRngState();
    const s = summary(model, [3, 4], { depth: 1 });
    assert.deepEqual([s.totals.trainable, s.totals.nonTrainable], [40, 18]);
    assert.deepEqual(s.rows.map((r) => r.name), ["", "0", "1", "2"]);
    assert.match(
      s.toString(),
      /^└─Sequential \(2\) {3}\[3, 2\] {14}18 {10}48$/m,
      "a collapsed container shows its total",
    );
    assert.ok([...model.modules()].every((m) => m.training), "training flags restored");
    assert.ok([...model.modules()].every((m) => !Object.hasOwn(m, "forward")), "forward unwrapped");
    assert.deepEqual(getRngState(), rng, "the random stream is untouched");
    const y = model.forward(randn([2, 4], { device }));
    assert.deepEqual(y.shape, [2, 2]);
  });

  await t.step("errors", () => {
    assertThrowsMessage(() => summary({} as unknown as nn.Module, [1]), /summary: expected an nn\.Module/);
    const model = build();
    assertThrowsMessage(
      () => summary(model, [2, 5]),
      /input of shape \[2, 5\] does not match weight of shape \[8, 4\]/,
    );
    assert.ok(
      [...model.modules()].every((m) => !Object.hasOwn(m, "forward") && m.training),
      "restored after a throw",
    );
  });
});
