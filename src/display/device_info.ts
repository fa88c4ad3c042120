/**
 * The WebGPU adapter as a small table: name, vendor, backend, whether it is a software adapter, f16, and the
 * key limits (what `gpu.info()` returns), plus the memory in use.
 * @module
 */
import type { AdapterInfo, MemoryInfo } from "../backend/gpu.ts";
import { gpu } from "../backend/gpu.ts";
import { escapeHtml, fmtBytes, fmtCount, MONO } from "./format.ts";
import { JUPYTER_DISPLAY, type MimeBundle } from "./jupyter.ts";

/**
 * Whether `x` looks like what `gpu.info()` returns.
 *
 * @example
 * ```ts
 * import { gpu } from "../../mod.ts";
 * import { isAdapterInfo } from "./device_info.ts";
 * isAdapterInfo(await gpu.info()); // true when WebGPU is available
 * ```
 */
export function isAdapterInfo(x: unknown): x is AdapterInfo {
  if (x === null || typeof x !== "object") return false;
  const o = x as Record<string, unknown>;
  return typeof o.name === "string" && typeof o.backend === "string" && typeof o.f16 === "boolean" &&
    typeof o.limits === "object" && o.limits !== null;
}

/**
 * A WebGPU adapter's description, shown as a table in notebooks and as aligned lines in a terminal.
 *
 * @example
 * ```ts
 * import { DeviceInfoView } from "../../mod.ts";
 * const view = await DeviceInfoView.current();
 * console.log(view.toString()); // adapter  llvmpipe (LLVM 15.0.6, 256 bits) ...
 * ```
 */
export class DeviceInfoView {
  /** A view of `info` (null with `reason` when WebGPU is unavailable), with optional memory figures. */
  constructor(
    /** The adapter (null when WebGPU is unavailable). */
    readonly info: AdapterInfo | null,
    /** Why WebGPU is unavailable, when it is. */
    readonly reason: string | null = null,
    /** GPU memory figures to show beside the adapter. */
    readonly memory: MemoryInfo | null = null,
  ) {}

  /** The current adapter, the reason when there is none, and the memory in use. */
  static async current(): Promise<DeviceInfoView> {
    const info = await gpu.info();
    return new DeviceInfoView(info, info ? null : gpu.unavailableReason(), info ? gpu.memory() : null);
  }

  /** The table's rows: label and value. */
  rows(): [string, string][] {
    const i = this.info;
    if (!i) return [["WebGPU", `unavailable (${this.reason ?? "no adapter"}): tensors run on the CPU`]];
    const rows: [string, string][] = [
      ["adapter", i.name || "(no description)"],
      ["vendor", i.vendor || "(not reported)"],
    ];
    if (i.architecture) rows.push(["architecture", i.architecture]);
    rows.push(
      ["backend", i.backend],
      [
        "software adapter",
        i.isSoftware ? "yes: runs on the CPU (e.g. Mesa's lavapipe)" : "no: a hardware GPU",
      ],
      ["float16 (shader-f16)", i.f16 ? "yes" : "no"],
      ["timestamp queries", i.timestamps ? "yes" : "no"],
      ["max buffer size", fmtBytes(i.limits.maxBufferSize)],
      ["max storage binding", fmtBytes(i.limits.maxStorageBufferBindingSize)],
      ["max workgroups per dim", fmtCount(i.limits.maxComputeWorkgroupsPerDimension)],
      ["max invocations per workgroup", fmtCount(i.limits.maxComputeInvocationsPerWorkgroup)],
      ["workgroup shared memory", fmtBytes(i.limits.maxComputeWorkgroupStorageSize)],
    );
    if (this.memory) {
      const m = this.memory;
      rows.push([
        "memory in use / peak / pooled",
        `${fmtBytes(m.inUse)} / ${fmtBytes(m.peak)} / ${fmtBytes(m.allocated)}`,
      ]);
    }
    return rows;
  }

  /** Aligned `label  value` lines. */
  toString(): string {
    const rows = this.rows();
    const w = Math.max(...rows.map(([k]) => k.length));
    return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
  }

  /** Shown by `deno jupyter`: an HTML table. */
  [JUPYTER_DISPLAY](): MimeBundle {
    const body = this.rows().map(([k, v]) =>
      `<tr><th style="text-align:left;font-weight:normal;color:#555;padding:1px 12px 1px 4px">${
        escapeHtml(k)
      }</th><td style="text-align:left;padding:1px 4px">${escapeHtml(v)}</td></tr>`
    ).join("");
    const title = this.info ? "WebGPU adapter" : "WebGPU";
    return {
      "text/plain": this.toString(),
      "text/html": `<table class="denograd-device" style="${MONO};font-size:12px;border-collapse:collapse">` +
        `<caption style="text-align:left;font-weight:bold;padding:2px 4px">${title}</caption>${body}</table>`,
    };
  }
}
