//! Turns the URL state into the services' request fields (generated types
//! only), and the answers' int64 counts into numbers for the page.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { type CivilDate, parseIsoDate } from "./format.js";
import type { PeriodSchema } from "./gen/tasknet/v1/common_pb.js";
import { ReportBasis, StatusClass, type StatusCounts } from "./gen/tasknet/v1/reporting_pb.js";
import { type Basis, type StatusClass as ClassName, type ViewState, parsePeriod } from "./state.js";

export function periodOf(period: string): MessageInitShape<typeof PeriodSchema> {
  const parsed = parsePeriod(period);
  if (parsed?.label) return { kind: { case: "label", value: parsed.label } };
  if (parsed) return { kind: { case: "range", value: parsed.range } };
  return { kind: { case: "label", value: period } };
}

export function asOfOf(state: ViewState): CivilDate {
  return parseIsoDate(state.asOf) ?? { year: 1970, month: 1, day: 1 };
}

export function basisOf(basis: Basis): ReportBasis {
  return basis === "historical" ? ReportBasis.HISTORICAL_STRUCTURE : ReportBasis.CURRENT_STRUCTURE;
}

export const CLASS_NAMES: Exclude<ClassName, "all">[] = [
  "completed_on_time",
  "completed_late",
  "open_within_deadline",
  "open_overdue",
];

export function statusClassOf(name: ClassName): StatusClass {
  switch (name) {
    case "completed_on_time":
      return StatusClass.COMPLETED_ON_TIME;
    case "completed_late":
      return StatusClass.COMPLETED_LATE;
    case "open_within_deadline":
      return StatusClass.OPEN_WITHIN_DEADLINE;
    case "open_overdue":
      return StatusClass.OPEN_OVERDUE;
    case "all":
      return StatusClass.UNSPECIFIED;
  }
}

export function classNameOf(cls: StatusClass): ClassName {
  switch (cls) {
    case StatusClass.COMPLETED_ON_TIME:
      return "completed_on_time";
    case StatusClass.COMPLETED_LATE:
      return "completed_late";
    case StatusClass.OPEN_WITHIN_DEADLINE:
      return "open_within_deadline";
    case StatusClass.OPEN_OVERDUE:
      return "open_overdue";
    default:
      return "all";
  }
}

export interface Counts {
  total: bigint;
  completed_on_time: bigint;
  completed_late: bigint;
  open_within_deadline: bigint;
  open_overdue: bigint;
}

export function countsOf(c: StatusCounts | undefined): Counts {
  return {
    total: c?.total ?? 0n,
    completed_on_time: c?.completedOnTime ?? 0n,
    completed_late: c?.completedLate ?? 0n,
    open_within_deadline: c?.openWithinDeadline ?? 0n,
    open_overdue: c?.openOverdue ?? 0n,
  };
}
