//! What every view gets: the one API (one transport), the URL state, who the
//! reader is, and how to move to another state.

import type { Api } from "./api.js";
import type { ExportTable } from "./export.js";
import type { UnitLabel } from "./gen/tasknet/v1/reporting_pb.js";
import type { ViewState } from "./state.js";

export interface Scope {
  /** Nationwide readers get plans, the review paragraph and every unit. */
  nationwide: boolean;
  /** Without nationwide: the units covered. */
  units: UnitLabel[];
}

export interface Ctx {
  api: Api;
  state: ViewState;
  scope: Scope;
  /** Changes the state (and the URL); `push` adds a history entry. */
  navigate(patch: Partial<ViewState>, push?: boolean): void;
}

/** What a view rendered: the tables its exports contain, and the cursor its figures include. */
export interface Rendered {
  tables: ExportTable[];
  cursor: bigint;
}

export type ViewFn = (ctx: Ctx, main: HTMLElement) => Promise<Rendered>;
