// Every management operation, in the order tool lists and the OpenAPI document show them.
import { agentCheck } from "./agent-check.ts";
import { agentCreate, agentDelete, agentGet, agentList, agentUpdate } from "./agents.ts";
import { apiKeyCreate, apiKeyDelete, apiKeyGet, apiKeyList, apiKeyRotate, apiKeyUpdate } from "./api-keys.ts";
import { auditList } from "./audit.ts";
import {
  connectionCreate,
  connectionDelete,
  connectionGet,
  connectionList,
  connectionRefresh,
  connectionTest,
  connectionUpdate,
} from "./connections.ts";
import { connectionOAuthDisconnect, connectionOAuthLinks, oauthAccountsList } from "./connection-oauth.ts";
import { monitoringKeyActivity, monitoringLogGet, monitoringLogsList, monitoringStats } from "./monitoring.ts";
import { oauthClientDelete, oauthClientList, oauthGrantList, oauthGrantRevoke } from "./oauth.ts";
import { catalogOf, type Operation } from "./registry.ts";
import { serverStats } from "./stats.ts";
import { toolList } from "./tools.ts";
import { userCreate, userDelete, userInviteCreate, userInviteList, userInviteRevoke, userList, userUpdate } from "./users.ts";
import { whoami } from "./whoami.ts";

// A tuple, not an array: each entry keeps its own input and output types.
export const OPERATIONS = [
  whoami,
  connectionList,
  connectionGet,
  connectionCreate,
  connectionUpdate,
  connectionDelete,
  connectionTest,
  connectionRefresh,
  connectionOAuthLinks,
  oauthAccountsList,
  connectionOAuthDisconnect,
  agentList,
  agentGet,
  agentCreate,
  agentUpdate,
  agentDelete,
  agentCheck,
  toolList,
  apiKeyCreate,
  apiKeyList,
  apiKeyGet,
  apiKeyUpdate,
  apiKeyRotate,
  apiKeyDelete,
  userList,
  userCreate,
  userUpdate,
  userDelete,
  userInviteCreate,
  userInviteList,
  userInviteRevoke,
  serverStats,
  oauthGrantList,
  oauthGrantRevoke,
  oauthClientList,
  oauthClientDelete,
  monitoringLogsList,
  monitoringLogGet,
  monitoringStats,
  monitoringKeyActivity,
  auditList,
] as const satisfies readonly Operation[];

export const OPERATIONS_BY_NAME: ReadonlyMap<string, Operation> = new Map(OPERATIONS.map((op): [string, Operation] => [op.name, op]));

export const CATALOG = catalogOf(OPERATIONS);
