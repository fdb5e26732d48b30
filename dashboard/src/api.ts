//! One gRPC-Web transport for the page, created once at start and handed to
//! every view: the same tasknet.v1 services the CLI uses, on the address the
//! page came from. The bearer token is added by an interceptor; an
//! UNAUTHENTICATED answer (revoked or expired credential) calls `onSignedOut`.

import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { ReportingService } from "./gen/tasknet/v1/reporting_pb.js";
import { OrganisationService } from "./gen/tasknet/v1/organisation_pb.js";
import { TaskService } from "./gen/tasknet/v1/task_pb.js";

export interface Api {
  reporting: Client<typeof ReportingService>;
  organisation: Client<typeof OrganisationService>;
  task: Client<typeof TaskService>;
}

export function createTransport(
  baseUrl: string,
  token: () => string | null,
  onUnauthenticated: () => void,
): Transport {
  const auth: Interceptor = (next) => async (req) => {
    const bearer = token();
    if (bearer) req.header.set("authorization", `Bearer ${bearer}`);
    try {
      return await next(req);
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.Unauthenticated) onUnauthenticated();
      throw err;
    }
  };
  return createGrpcWebTransport({ baseUrl, useBinaryFormat: true, interceptors: [auth] });
}

export function createApi(transport: Transport): Api {
  return {
    reporting: createClient(ReportingService, transport),
    organisation: createClient(OrganisationService, transport),
    task: createClient(TaskService, transport),
  };
}

export function isPermissionDenied(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.PermissionDenied;
}
