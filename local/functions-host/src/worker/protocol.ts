/**
 * The subset of the `@azure/functions-core` RPC shapes this host exchanges with the
 * programming model (the real host speaks them over gRPC; here, over a Node IPC channel).
 */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
  collectionString?: { string?: string[] | null } | null;
}

export interface RpcNullableString {
  value?: string | null;
}

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: RpcNullableString | null;
  path?: RpcNullableString | null;
  expires?: { value?: { seconds?: number | null; nanos?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: 'none' | 'lax' | 'strict' | 'explicitNone' | null;
  maxAge?: { value?: number | null } | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  cookies?: RpcHttpCookie[] | null;
  enableContentNegotiation?: boolean | null;
}

export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  [property: string]: unknown;
}

export interface RpcRetryOptions {
  maxRetryCount?: number | null;
  retryStrategy?: 'exponentialBackoff' | 'fixedDelay' | null;
}

export interface FunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: RpcRetryOptions;
}

export interface RpcParameterBinding {
  name?: string | null;
  data?: RpcTypedData | null;
}

export interface RpcInvocationRequest {
  invocationId?: string | null;
  functionId?: string | null;
  inputData?: RpcParameterBinding[] | null;
  triggerMetadata?: Record<string, RpcTypedData> | null;
  retryContext?: { retryCount?: number | null; maxRetryCount?: number | null } | null;
}

export interface RpcException {
  message?: string | null;
  stackTrace?: string | null;
  source?: string | null;
}

export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: RpcParameterBinding[] | null;
  returnValue?: RpcTypedData | null;
  result?: { status?: 'success' | 'failure' | 'cancelled' | null; exception?: RpcException | null } | null;
}

export type RpcLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type RpcLogCategory = 'user' | 'system' | 'customMetric';

/** Host → worker. */
export type HostMessage =
  | { t: 'load'; appDir: string; files: string[] }
  | { t: 'invoke'; functionName: string; request: RpcInvocationRequest }
  | { t: 'shutdown' };

/** Worker → host. */
export type WorkerMessage =
  | { t: 'loaded'; functions: FunctionMetadata[]; programmingModel?: string; warnings: string[] }
  | { t: 'loadFailed'; message: string; stack?: string }
  | { t: 'log'; level: RpcLogLevel; category: RpcLogCategory; message: string; invocationId?: string; functionName?: string }
  | { t: 'response'; response: RpcInvocationResponse }
  | { t: 'shutdownDone' };
